#include "tests/ledger_history.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <random>
#include <thread>
#include <utility>

#include "base/strings.h"
#include "crypto/rfc6962.h"
#include "ledger/checkpoint.h"
#include "ledger/event.h"
#include "ledger/merkle.h"

namespace ledger::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Mismatches of one kind reported in full before the rest are counted.
constexpr int kReportLimit = 10;

std::string Hex(const std::string& bytes) { return crypto::HexEncode(bytes); }
std::string Bytes(const crypto::Hash& h) {
  return std::string(crypto::AsView(h));
}
std::string RefText(const v1::EntryRef& ref) {
  return StrCat("{index ", ref.index(), ", leaf ", Hex(ref.leaf_hash()),
                ref.duplicate() ? ", duplicate" : "", ", event ",
                ref.event_id(), "}");
}

// Counts a kind of mismatch and reports the first few in full.
class Mismatches {
 public:
  explicit Mismatches(std::string what) : what_(std::move(what)) {}
  ~Mismatches() {
    if (count_ > kReportLimit) {
      ADD_FAILURE() << count_ << " " << what_ << " in all";
    }
  }
  void Add(const std::string& detail) {
    if (++count_ <= kReportLimit) ADD_FAILURE() << what_ << ": " << detail;
  }

 private:
  std::string what_;
  int count_ = 0;
};

}  // namespace

LedgerHistory::LedgerHistory(std::string tenant, uint64_t event_seed,
                             const Emitter& emitter)
    : tenant_(std::move(tenant)), event_seed_(event_seed), emitter_(emitter) {}

void LedgerHistory::SetVerifiers(std::vector<crypto::NoteVerifier> verifiers,
                                 std::string origin) {
  verifiers_ = std::move(verifiers);
  origin_ = std::move(origin);
}

std::string LedgerHistory::Id(uint64_t n) const {
  return StrCat(tenant_, "/", TestEventId(event_seed_, n));
}

void LedgerHistory::AddCheckpoints(
    const std::vector<v1::Checkpoint>& checkpoints) {
  checkpoints_.insert(checkpoints_.end(), checkpoints.begin(),
                      checkpoints.end());
}

void LedgerHistory::RecordCalls(const std::vector<AppendCall>& calls,
                                SteadyTime node_down, LoadStats* stats) {
  Mismatches early("append failed while the node was up");
  Mismatches bad_receipt("bad receipt");
  stats->calls += calls.size();
  for (const AppendCall& call : calls) {
    const std::string what =
        StrCat(AppendRpcName(call.rpc), " of client ", call.client,
               " with events ", call.events.front(), "..", call.events.back());
    if (!call.status.ok() && call.end < node_down) {
      early.Add(StrCat(what, ": ", call.status.ToString()));
    }
    switch (call.outcome()) {
      case AppendOutcome::kAcknowledged:
        ++stats->acked_calls;
        break;
      case AppendOutcome::kUnknown:
        ++stats->unknown_calls;
        continue;
      case AppendOutcome::kRejected:
        ++stats->refused_calls;
        refused_.insert(call.events.begin(), call.events.end());
        continue;
    }
    if (call.refs.size() != call.events.size()) {
      bad_receipt.Add(StrCat(what, ": ", call.refs.size(), " receipts"));
      continue;
    }
    for (size_t i = 0; i < call.events.size(); ++i) {
      const v1::EntryRef& ref = call.refs[i];
      const uint64_t n = call.events[i];
      if (ref.event_id() != TestEventId(event_seed_, n) || ref.duplicate() ||
          ref.leaf_hash().size() != crypto::kHashSize) {
        bad_receipt.Add(StrCat(what, ": ", RefText(ref)));
      }
      acked_[n] = ref;
      ++stats->acked_events;
    }
  }
}

void LedgerHistory::CheckEntries(LedgerClient& client, LedgerScan* scan,
                                 CheckStats* stats) {
  absl::StatusOr<v1::NodeInfo> info = client.GetNodeInfo();
  ASSERT_TRUE(info.ok()) << info.status();
  stats->size = info->size();
  uint64_t must_hold = 0;
  for (const auto& [n, ref] : acked_) {
    must_hold = std::max(must_hold, ref.index() + 1);
  }
  for (const v1::Checkpoint& cp : checkpoints_) {
    must_hold = std::max(must_hold, cp.size());
  }
  EXPECT_GE(stats->size, must_hold) << "the ledger shrank";

  Mismatches twice("event in the ledger twice");
  Mismatches stranger("entry that was never sent");
  absl::Status scanned = client.ScanEntries(
      0, stats->size, [&](const v1::Entry& entry) -> absl::Status {
        const crypto::Hash leaf = crypto::HashLeaf(entry.entry_bytes());
        if (Bytes(leaf) != entry.leaf_hash()) {
          return absl::DataLossError(
              StrCat("entry ", entry.index(), ": leaf hash ",
                     Hex(entry.leaf_hash()), " is not its bytes' hash"));
        }
        std::string id =
            StrCat(entry.event().tenant(), "/", entry.event().event_id());
        auto [it, fresh] = scan->index_of.emplace(id, entry.index());
        if (!fresh) {
          twice.Add(StrCat(id, " at ", it->second, " and ", entry.index()));
        }
        // Every event of the tenant is one of ours (key registrations
        // aside), with the number it was sent with.
        if (entry.event().tenant() == tenant_ &&
            !IsLedgerInternalType(entry.event().type())) {
          auto attribute = entry.event().attributes().find("n");
          const uint64_t n =
              attribute == entry.event().attributes().end()
                  ? next_event_.load()
                  : std::strtoull(attribute->second.c_str(), nullptr, 10);
          if (n >= next_event_ ||
              entry.event().event_id() != TestEventId(event_seed_, n)) {
            stranger.Add(StrCat(id, " at ", entry.index()));
          }
        }
        scan->leaves.push_back(leaf);
        scan->ids.push_back(std::move(id));
        return absl::OkStatus();
      });
  ASSERT_TRUE(scanned.ok()) << scanned;
  ASSERT_EQ(scan->leaves.size(), stats->size);

  Mismatches lost("acknowledged event not at its receipt's index");
  for (const auto& [n, ref] : acked_) {
    const std::string id = Id(n);
    if (ref.index() >= stats->size || scan->ids[ref.index()] != id ||
        Bytes(scan->leaves[ref.index()]) != ref.leaf_hash()) {
      auto found = scan->index_of.find(id);
      lost.Add(StrCat("event ", n, " acknowledged at ", ref.index(), " (leaf ",
                      Hex(ref.leaf_hash()), "), found at ",
                      found == scan->index_of.end() ? std::string("no index")
                                                    : StrCat(found->second)));
    }
  }
  Mismatches stored("refused event in the ledger");
  for (uint64_t n : refused_) {
    if (scan->index_of.contains(Id(n))) {
      stored.Add(StrCat("event ", n));
    }
  }
  // GetEntry agrees with the scan for a few receipts.
  std::mt19937_64 rng(event_seed_ + stats->size);
  for (int i = 0; i < 8 && !acked_.empty(); ++i) {
    auto it = acked_.lower_bound(rng() % next_event_);
    if (it == acked_.end()) continue;
    absl::StatusOr<v1::Entry> entry = client.GetEntry(it->second.index());
    ASSERT_TRUE(entry.ok()) << entry.status();
    EXPECT_EQ(Bytes(crypto::HashLeaf(entry->entry_bytes())),
              it->second.leaf_hash())
        << "GetEntry(" << it->second.index() << ")";
  }
}

void LedgerHistory::CheckCheckpoints(LedgerClient& client,
                                     const LedgerScan& scan,
                                     CheckStats* stats) {
  // The checkpoint covering everything the restarted node holds.
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(60);
  absl::StatusOr<v1::Checkpoint> newest = client.GetCheckpoint(stats->size);
  while (!newest.ok() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    newest = client.GetCheckpoint(stats->size);
  }
  ASSERT_TRUE(newest.ok()) << newest.status();
  absl::StatusOr<ledger::Checkpoint> latest =
      OpenCheckpointProto(*newest, verifiers_, origin_);
  ASSERT_TRUE(latest.ok()) << latest.status();
  // Nothing appends now, but a checkpoint past the scan would do no harm.
  ASSERT_GE(latest->size, stats->size);
  stats->checkpoint_size = latest->size;
  checkpoints_.push_back(*newest);

  // Every checkpoint seen: signed, the root of the entries it covers (from
  // the scan), and consistent with the latest (from the node's proof).
  Mismatches bad("checkpoint");
  std::map<uint64_t, std::set<std::string>> roots;  // size -> roots seen
  for (const v1::Checkpoint& cp : checkpoints_) {
    absl::StatusOr<ledger::Checkpoint> opened =
        OpenCheckpointProto(cp, verifiers_, origin_);
    if (!opened.ok()) {
      bad.Add(StrCat(opened.status().ToString(), "\n", cp.note()));
      continue;
    }
    if (roots[opened->size].insert(Bytes(opened->root)).second) {
      if (absl::Status s = CheckConsistency(client, *opened, *latest);
          !s.ok()) {
        bad.Add(StrCat(s.ToString(), "\n", cp.note()));
      }
      ++stats->checkpoints_checked;
    }
  }
  CompactRange range;
  for (const auto& [size, roots_of_size] : roots) {
    // Past the scan: a shrink (reported already) or a newer checkpoint.
    if (size > scan.leaves.size()) break;
    while (range.size() < size) range.Append(scan.leaves[range.size()]);
    if (roots_of_size.size() != 1 ||
        *roots_of_size.begin() != Bytes(range.Root())) {
      std::string signed_roots;
      for (const std::string& root : roots_of_size) {
        signed_roots += StrCat(" ", Hex(root));
      }
      bad.Add(StrCat("size ", size, ": signed root(s)", signed_roots,
                     "; the root of the entries read back is ",
                     crypto::HexEncode(range.Root())));
    }
  }
  // A few receipts proven against the latest checkpoint.
  std::mt19937_64 rng(event_seed_ ^ stats->size);
  for (int i = 0; i < 16 && !acked_.empty(); ++i) {
    auto it = acked_.lower_bound(rng() % next_event_);
    if (it == acked_.end()) continue;
    absl::StatusOr<crypto::Hash> leaf =
        crypto::ToArray<crypto::kHashSize>(it->second.leaf_hash(), "leaf_hash");
    ASSERT_TRUE(leaf.ok()) << leaf.status();
    absl::Status included =
        CheckInclusion(client, it->second.index(), *leaf, *latest);
    EXPECT_TRUE(included.ok()) << included;
  }
}

void LedgerHistory::Resend(LedgerClient& client, const LedgerScan& scan,
                           CheckStats* stats) {
  constexpr uint64_t kChunk = 200;
  const uint64_t total = next_event_;
  Mismatches wrong("resend");
  for (uint64_t first = 0; first < total; first += kChunk) {
    const uint64_t end = std::min(total, first + kChunk);
    // Alternate AppendBatch (one batch) and AppendStream (batches of 50).
    const bool stream = (first / kChunk) % 2 == 1;
    const uint64_t per_batch = stream ? 50 : kChunk;
    std::vector<v1::AppendBatchRequest> batches;
    for (uint64_t b = first; b < end; b += per_batch) {
      std::vector<v1::Event> events;
      for (uint64_t n = b; n < std::min(end, b + per_batch); ++n) {
        events.push_back(TestEvent(tenant_, event_seed_, n));
      }
      absl::StatusOr<v1::AppendBatchRequest> batch =
          SignBatch(emitter_, std::move(events));
      ASSERT_TRUE(batch.ok()) << batch.status();
      batches.push_back(*std::move(batch));
    }
    absl::StatusOr<std::vector<v1::EntryRef>> refs =
        stream ? client.AppendStream(batches) : client.AppendBatch(batches[0]);
    ASSERT_TRUE(refs.ok()) << "resending " << first << ".." << end - 1 << ": "
                           << refs.status();
    ASSERT_EQ(refs->size(), end - first);
    for (uint64_t n = first; n < end; ++n) {
      const v1::EntryRef& ref = (*refs)[n - first];
      const std::string id = TestEventId(event_seed_, n);
      auto acked = acked_.find(n);
      auto found = scan.index_of.find(StrCat(tenant_, "/", id));
      bool ok = ref.event_id() == id;
      if (acked != acked_.end()) {
        ok = ok && ref.duplicate() && ref.index() == acked->second.index() &&
             ref.leaf_hash() == acked->second.leaf_hash();
      } else if (found != scan.index_of.end()) {
        ok = ok && ref.duplicate() && ref.index() == found->second;
      } else {
        ok = ok && !ref.duplicate() && ref.index() >= stats->size;
      }
      if (!ok) {
        wrong.Add(StrCat(
            "event ", n, " came back as ", RefText(ref),
            acked != acked_.end()
                ? StrCat("; acknowledged before as ", RefText(acked->second))
                : std::string("; never acknowledged")));
      }
      if (!ref.duplicate()) ++stats->resent_new;
      if (acked == acked_.end() && found != scan.index_of.end()) {
        ++stats->durable_unacked;
      }
      if (acked == acked_.end()) acked_[n] = ref;
    }
    stats->resent += end - first;
  }
  refused_.clear();  // resent, so now in the ledger
}

}  // namespace ledger::testing
