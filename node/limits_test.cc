// One tenant's emitter abuses a node over mutual TLS with its authorizer
// on (node/authz_testing.h) while another tenant's emitter appends: a
// flood of refused appends (bad signatures, an unregistered key, a
// malformed signature, another tenant's key, another tenant's events,
// messages over max_message_bytes), and an identity over its rate limit.
// Every refused call gets its documented code and message and leaves
// nothing in the ledger; the other tenant's every event is acknowledged,
// in the ledger, signed and proven; the write path stays SERVING; the
// counters and access.denied entries say what node/authorizer.h and
// node/denial_recorder.h say they do.
//
// The two emitters' calls interleave by construction (Interleave below),
// not by timing: no sleeps, every wait has a deadline.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <iterator>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/strings.h"
#include "base/sync.h"
#include "crypto/note.h"
#include "crypto/rfc6962.h"
#include "ledger/entry.h"
#include "ledger/entry_keys.h"
#include "ledger/tlog_proof.h"
#include "node/authz_testing.h"
#include "node/convert.h"
#include "node/node_testing.h"

namespace ledger::node {
namespace {

using testing::AuthzFixture;
using testing::Client;
using testing::Context;
using testing::EmitterKeyPair;
using ::testing::HasSubstr;
using testing::kAcme;
using testing::kBeta;
using testing::kWait;
using testing::MakeEventProto;
using testing::SignedBatch;

constexpr char kIngestService[] = "ledger.v1.Ingest";
constexpr char kAppendBatch[] = "/ledger.v1.Ingest/AppendBatch";

// Runs `attacks` calls attack(0 .. attacks-1) on `threads` threads while
// one more thread runs victim(0 .. steps-1) in order, interleaved: attack
// n starts only once the victim has finished n / lead steps (or all of
// them), and victim step i only once attack min(i * lead, attacks - 1)
// has started. So the victim's steps are spread over the attack, whatever
// the speed of either. False if a wait passed kWait (the node stalled).
bool Interleave(int attacks, int threads, int lead,
                const std::function<void(int)>& attack, int steps,
                const std::function<void(int)>& victim) {
  Mutex mu;
  int started = 0;      // attacks taken by a thread
  int victim_done = 0;  // victim steps finished
  bool timed_out = false;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      // Each pass takes one of the `attacks` calls or returns.
      for (int pass = 0; pass <= attacks; ++pass) {
        int n = 0;
        {
          MutexLock lock(&mu);
          const bool may = mu.AwaitWithTimeout(
              [&] {
                return timed_out || started >= attacks ||
                       victim_done >= steps ||
                       started < (victim_done + 1) * lead;
              },
              kWait);
          if (!may) timed_out = true;
          if (timed_out || started >= attacks) return;
          n = started++;
        }
        attack(n);
      }
    });
  }
  std::thread victim_thread([&] {
    for (int i = 0; i < steps; ++i) {
      {
        MutexLock lock(&mu);
        const int want = std::min(i * lead + 1, attacks);
        if (!mu.AwaitWithTimeout([&] { return timed_out || started >= want; },
                                 kWait)) {
          timed_out = true;
        }
        if (timed_out) return;
      }
      victim(i);
      MutexLock lock(&mu);
      ++victim_done;
    }
  });
  victim_thread.join();
  for (std::thread& t : pool) t.join();
  MutexLock lock(&mu);
  return !timed_out && started == attacks && victim_done == steps;
}

// (tenant, event_id): an event's identity in the ledger.
using EventKey = std::pair<std::string, std::string>;

EventKey KeyOf(const v1::Event& event) {
  return {event.tenant(), event.event_id()};
}

std::string IngestHealth(Client& c) {
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(kIngestService);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status s = c.health->Check(Context().get(), request, &response);
  if (!s.ok()) {
    return StrCat("error ", static_cast<int>(s.error_code()), ": ",
                  s.error_message());
  }
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
      response.status());
}

// What emitter-acme tries, and how the node answers each.
enum class Abuse {
  kBadSignature,        // its own key, a signature bit flipped
  kUnregisteredKey,     // a key nobody registered
  kMalformedSignature,  // 63 signature bytes
  kOtherTenantsKey,     // its own tenant's events, beta's (stolen) key
  kOtherTenantsEvents,  // beta's events, signed with beta's key
  kOversize,            // a well-signed batch over max_message_bytes
};

// Mostly bad signatures, some of everything else.
constexpr Abuse kSchedule[] = {
    Abuse::kBadSignature,       Abuse::kOversize,
    Abuse::kBadSignature,       Abuse::kUnregisteredKey,
    Abuse::kBadSignature,       Abuse::kOtherTenantsKey,
    Abuse::kBadSignature,       Abuse::kOtherTenantsEvents,
    Abuse::kMalformedSignature, Abuse::kOversize,
};

class LimitsTest : public AuthzFixture {
 protected:
  static constexpr size_t kMaxMessageBytes = 64 << 10;

  void Configure(NodeConfig& config) override {
    config.max_message_bytes = kMaxMessageBytes;
  }

  // `count` events of `tenant`, numbered from next_.
  std::vector<v1::Event> Events(const std::string& tenant, int count) {
    std::vector<v1::Event> events;
    for (int i = 0; i < count; ++i) {
      events.push_back(MakeEventProto(tenant, next_++));
    }
    return events;
  }

  // Checks that each acknowledged event of `sent` is the entry its ref
  // names, with the leaf hash the ref gave, signed by `key`.
  void ExpectSignedEntries(const std::vector<v1::Event>& sent,
                           const std::vector<v1::EntryRef>& refs,
                           const EmitterKeyPair& key) {
    ASSERT_EQ(sent.size(), refs.size());
    for (size_t i = 0; i < refs.size(); ++i) {
      SCOPED_TRACE(StrCat("entry ", refs[i].index()));
      absl::StatusOr<std::string> bytes =
          node_->ledger().GetEntry(refs[i].index());
      ASSERT_TRUE(bytes.ok()) << bytes.status();
      EXPECT_EQ(std::string(crypto::AsView(crypto::HashLeaf(*bytes))),
                refs[i].leaf_hash());
      absl::StatusOr<ledger::Entry> entry = ledger::DecodeEntry(*bytes);
      ASSERT_TRUE(entry.ok()) << entry.status();
      EXPECT_TRUE(
          ledger::VerifyEntrySignature(*entry, key.key.public_key()).ok());
      absl::StatusOr<v1::Entry> decoded = EntryToProto(*bytes);
      ASSERT_TRUE(decoded.ok()) << decoded.status();
      EXPECT_EQ(KeyOf(decoded->event()), KeyOf(sent[i]));
      EXPECT_EQ(refs[i].event_id(), sent[i].event_id());
      EXPECT_FALSE(refs[i].duplicate());
    }
  }

  // A request of `abuse` by emitter-acme, on fresh events.
  v1::AppendBatchRequest AbusiveRequest(Abuse abuse) {
    v1::AppendBatchRequest r;
    switch (abuse) {
      case Abuse::kBadSignature:
        r = SignedBatch(key_acme_.key, Events(kAcme, 3));
        (*r.mutable_signature()->mutable_signature())[7] ^= 0x10;
        break;
      case Abuse::kUnregisteredKey:
        r = SignedBatch(intruder_.key, Events(kAcme, 3));
        break;
      case Abuse::kMalformedSignature:
        r = SignedBatch(key_acme_.key, Events(kAcme, 3));
        r.mutable_signature()->mutable_signature()->resize(63);
        break;
      case Abuse::kOtherTenantsKey:
        r = SignedBatch(key_beta_.key, Events(kAcme, 3));
        break;
      case Abuse::kOtherTenantsEvents:
        r = SignedBatch(key_beta_.key, Events(kBeta, 3));
        break;
      case Abuse::kOversize: {
        // Events until the request is over the limit (a few hundred bytes
        // each: a dozen rounds).
        std::vector<v1::Event> events;
        for (int round = 0; round < 100; ++round) {
          for (v1::Event& e : Events(kAcme, 16)) events.push_back(e);
          r = SignedBatch(key_acme_.key, events);
          if (r.ByteSizeLong() > kMaxMessageBytes) break;
        }
        EXPECT_GT(r.ByteSizeLong(), kMaxMessageBytes);
        break;
      }
    }
    return r;
  }

  // The code and message the node documents for `abuse`.
  void ExpectRefused(Abuse abuse, const grpc::Status& s) {
    const std::string& message = s.error_message();
    switch (abuse) {
      case Abuse::kBadSignature:
        EXPECT_EQ(s.error_code(), grpc::UNAUTHENTICATED) << message;
        EXPECT_THAT(message,
                    HasSubstr(StrCat("batch signature does not verify for key ",
                                     KeyIdLabel(key_acme_.key_id()))));
        break;
      case Abuse::kUnregisteredKey:
        EXPECT_EQ(s.error_code(), grpc::UNAUTHENTICATED) << message;
        EXPECT_THAT(message, HasSubstr(StrCat("emitter key ",
                                              KeyIdLabel(intruder_.key_id()),
                                              " is not registered")));
        break;
      case Abuse::kMalformedSignature:
        EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT) << message;
        EXPECT_THAT(message,
                    HasSubstr("signature.signature must be 64 bytes, got 63"));
        break;
      case Abuse::kOtherTenantsKey:
        EXPECT_EQ(s.error_code(), grpc::PERMISSION_DENIED) << message;
        EXPECT_THAT(message, HasSubstr(StrCat("events[0].tenant: emitter key ",
                                              KeyIdLabel(key_beta_.key_id()))));
        EXPECT_THAT(message,
                    HasSubstr("may write only tenant \"beta\", not \"acme\""));
        break;
      case Abuse::kOtherTenantsEvents:
        EXPECT_EQ(s.error_code(), grpc::PERMISSION_DENIED) << message;
        EXPECT_THAT(message,
                    HasSubstr(StrCat("events[0]: ", Id("emitter-acme").uri)));
        EXPECT_THAT(message,
                    HasSubstr("may not write events of tenant \"beta\""));
        break;
      case Abuse::kOversize:
        EXPECT_EQ(s.error_code(), grpc::RESOURCE_EXHAUSTED) << message;
        // gRPC's own words: "Received message larger than max (68102 vs.
        // 65536)".
        EXPECT_THAT(message, HasSubstr("larger than max"));
        EXPECT_THAT(message, HasSubstr(StrCat(" vs. ", kMaxMessageBytes, ")")));
        break;
    }
  }

  // Whether the node counts and records `abuse` as a denial: refused for
  // the caller's tenant or for the signing key, not for bad input.
  static bool IsDenial(Abuse abuse) {
    return abuse != Abuse::kMalformedSignature && abuse != Abuse::kOversize;
  }

  // Whether `reason` is an access.denied reason of a denial above, naming
  // the key (or the tenant) it was refused for.
  bool IsDenialReason(const std::string& reason) {
    const std::string expected[] = {
        StrCat("batch signature does not verify for key ",
               KeyIdLabel(key_acme_.key_id())),
        StrCat("emitter key ", KeyIdLabel(intruder_.key_id()),
               " is not registered"),
        StrCat("events[0].tenant: emitter key ",
               KeyIdLabel(key_beta_.key_id())),
        "write events of tenant \"beta\" (not the caller's)",
    };
    return std::any_of(std::begin(expected), std::end(expected),
                       [&](const std::string& e) {
                         return reason.find(e) != std::string::npos;
                       });
  }

  v1::NodeInfo NodeInfoAs(const std::string& label) {
    v1::NodeInfo info;
    grpc::Status s = As(label).admin->GetNodeInfo(Context().get(), {}, &info);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return info;
  }

  // A key nobody registered.
  const EmitterKeyPair intruder_{"intruder", 0x66};
};

TEST_F(LimitsTest, FloodOfRefusedAppendsLeavesAnotherTenantUnhurt) {
  constexpr int kAttacks = 300;
  constexpr int kAttackThreads = 4;
  constexpr int kVictimBatches = 20;
  constexpr int kVictimBatchEvents = 5;
  constexpr int kLead = kAttacks / kVictimBatches;

  // The attacker's requests, built up front.
  std::vector<Abuse> abuse(kAttacks);
  std::vector<v1::AppendBatchRequest> attack_requests(kAttacks);
  std::set<EventKey> attack_events;
  for (int n = 0; n < kAttacks; ++n) {
    abuse[n] = kSchedule[n % std::size(kSchedule)];
    attack_requests[n] = AbusiveRequest(abuse[n]);
    for (const v1::Event& e : attack_requests[n].events()) {
      attack_events.insert(KeyOf(e));
    }
  }
  // The victim's batches.
  std::vector<std::vector<v1::Event>> victim_events(kVictimBatches);
  for (auto& batch : victim_events) {
    batch = Events(kBeta, kVictimBatchEvents);
  }

  Client& attacker = As("emitter-acme");
  Client& victim = As("emitter-beta");
  const uint64_t size_before = node_->ledger().head().size;
  std::vector<grpc::Status> attack_results(kAttacks);
  std::vector<grpc::Status> victim_results(kVictimBatches);
  std::vector<v1::AppendBatchResponse> victim_responses(kVictimBatches);
  std::vector<std::string> health(kVictimBatches);
  ASSERT_TRUE(Interleave(
      kAttacks, kAttackThreads, kLead,
      [&](int n) {
        v1::AppendBatchResponse unused;
        attack_results[n] = attacker.ingest->AppendBatch(
            Context().get(), attack_requests[n], &unused);
      },
      kVictimBatches,
      [&](int i) {
        victim_results[i] = victim.ingest->AppendBatch(
            Context().get(), SignedBatch(key_beta_.key, victim_events[i]),
            &victim_responses[i]);
        health[i] = IngestHealth(victim);
      }));

  // Every refused call, with its code and what it says.
  const std::string attacker_uri = Id("emitter-acme").uri;
  int denials = 0;
  for (int n = 0; n < kAttacks; ++n) {
    SCOPED_TRACE(
        StrCat("attack ", n, " (abuse ", static_cast<int>(abuse[n]), ")"));
    if (IsDenial(abuse[n])) ++denials;
    ExpectRefused(abuse[n], attack_results[n]);
  }

  // The victim: every batch acknowledged, the write path SERVING
  // throughout.
  std::vector<v1::Event> victim_sent;
  std::vector<v1::EntryRef> victim_refs;
  for (int i = 0; i < kVictimBatches; ++i) {
    SCOPED_TRACE(StrCat("victim batch ", i));
    ASSERT_TRUE(victim_results[i].ok()) << victim_results[i].error_message();
    ASSERT_EQ(victim_responses[i].entries_size(), kVictimBatchEvents);
    EXPECT_EQ(health[i], "SERVING");
    for (int j = 0; j < kVictimBatchEvents; ++j) {
      victim_sent.push_back(victim_events[i][j]);
      victim_refs.push_back(victim_responses[i].entries(j));
    }
  }
  ExpectSignedEntries(victim_sent, victim_refs, key_beta_);

  // ... and each of its events proven in a signed checkpoint, as the
  // victim itself asks for it.
  ASSERT_TRUE(
      node_->sequencer().WaitForCheckpoint(node_->ledger().head().size, kWait));
  const v1::NodeInfo info = NodeInfoAs("admin");
  std::vector<crypto::NoteVerifier> verifiers;
  for (const std::string& vkey : info.note_verifier_keys()) {
    absl::StatusOr<crypto::NoteVerifier> v = crypto::ParseVerifierKey(vkey);
    ASSERT_TRUE(v.ok()) << v.status();
    verifiers.push_back(*v);
  }
  for (const v1::EntryRef& ref : victim_refs) {
    SCOPED_TRACE(StrCat("receipt for entry ", ref.index()));
    v1::GetReceiptRequest request;
    request.set_index(ref.index());
    v1::Receipt receipt;
    grpc::Status s =
        victim.proof->GetReceipt(Context().get(), request, &receipt);
    ASSERT_TRUE(s.ok()) << s.error_message();
    absl::StatusOr<ledger::TlogProof> tlog =
        ledger::ParseTlogProof(receipt.tlog_proof());
    ASSERT_TRUE(tlog.ok()) << tlog.status();
    absl::StatusOr<ledger::VerifiedTlogProof> verified =
        ledger::VerifyTlogProof(
            *tlog, verifiers, crypto::HashLeaf(receipt.entry()), info.origin());
    ASSERT_TRUE(verified.ok()) << verified.status();
    EXPECT_EQ(verified->index, ref.index());
    EXPECT_EQ(std::string(crypto::AsView(verified->leaf_hash)),
              ref.leaf_hash());
  }
  EXPECT_EQ(IngestHealth(victim), "SERVING");

  // Denials: the calls refused for the caller's tenant or for the signing
  // key (authorizer.h); malformed and oversize requests are bad input, not
  // denials. The first denial is recorded at once; the rest, while the
  // recorder's clock stands still, wait for the interval and then make one
  // entry, whose reason is its latest denial's.
  ASSERT_GT(denials, 1);
  EXPECT_EQ(info.denied_requests(), static_cast<uint64_t>(denials));
  EXPECT_EQ(info.unauthenticated_requests(), 0u);
  EXPECT_EQ(info.rate_limited_requests(), 0u);
  ASSERT_TRUE(node_->denial_recorder()->Flush(kWait));
  std::vector<v1::Entry> denied = EntriesOfType("access.denied");
  ASSERT_EQ(denied.size(), 1u);
  access_clock_.Advance(
      absl::ToInt64Nanoseconds(config_.access_denied_interval));
  ASSERT_TRUE(node_->denial_recorder()->Flush(kWait));
  denied = EntriesOfType("access.denied");
  ASSERT_GE(denied.size(), 1u);
  ASSERT_LE(denied.size(), 2u);
  uint64_t counted = 0;
  for (const v1::Entry& entry : denied) {
    EXPECT_EQ(entry.event().actor().id(), attacker_uri);
    EXPECT_EQ(entry.event().tenant(), kAcme);
    EXPECT_EQ(Attribute(entry, "method"), kAppendBatch);
    EXPECT_TRUE(IsDenialReason(Attribute(entry, "reason")))
        << Attribute(entry, "reason");
    counted += std::stoull(Attribute(entry, "count"));
  }
  EXPECT_EQ(counted, static_cast<uint64_t>(denials));

  // The ledger grew by the victim's events (each where its ref says,
  // checked above) and the denial records, and by nothing of the
  // attacker's.
  const std::vector<v1::Entry> entries = AllEntries();
  ASSERT_EQ(entries.size(), size_before + victim_sent.size() + denied.size());
  for (const v1::Entry& entry : entries) {
    EXPECT_FALSE(attack_events.contains(KeyOf(entry.event())))
        << "attacker's event at entry " << entry.index();
  }
}

// ---- The rate limit ----

class LimitsRateTest : public LimitsTest {
 protected:
  static constexpr uint64_t kBurst = 5;

  void Configure(NodeConfig& config) override {
    LimitsTest::Configure(config);
    config.rate_limit_per_identity = 1;
    config.rate_limit_burst = kBurst;
  }
};

TEST_F(LimitsRateTest, OverRateEmitterIsToldWhenToRetryAndOthersAreNot) {
  constexpr int kAttacks = 40;
  constexpr int kAttackThreads = 4;
  constexpr int kVictimBatches = static_cast<int>(kBurst);
  constexpr int kLead = kAttacks / kVictimBatches;
  // SetUp's calls took tokens; a minute later every bucket is full.
  access_clock_.Advance(absl::ToInt64Nanoseconds(absl::Minutes(1)));

  // The attacker's calls are all well-formed and well-signed: only the
  // rate refuses them.
  std::vector<std::vector<v1::Event>> attack_events(kAttacks);
  for (auto& batch : attack_events) batch = Events(kAcme, 2);
  std::vector<std::vector<v1::Event>> victim_events(kVictimBatches);
  for (auto& batch : victim_events) batch = Events(kBeta, 2);

  Client& attacker = As("emitter-acme");
  Client& victim = As("emitter-beta");
  const uint64_t size_before = node_->ledger().head().size;
  std::vector<grpc::Status> attack_results(kAttacks);
  std::vector<v1::AppendBatchResponse> attack_responses(kAttacks);
  std::vector<grpc::Status> victim_results(kVictimBatches);
  std::vector<v1::AppendBatchResponse> victim_responses(kVictimBatches);
  ASSERT_TRUE(Interleave(
      kAttacks, kAttackThreads, kLead,
      [&](int n) {
        attack_results[n] = attacker.ingest->AppendBatch(
            Context().get(), SignedBatch(key_acme_.key, attack_events[n]),
            &attack_responses[n]);
      },
      kVictimBatches,
      [&](int i) {
        victim_results[i] = victim.ingest->AppendBatch(
            Context().get(), SignedBatch(key_beta_.key, victim_events[i]),
            &victim_responses[i]);
      }));

  // The attacker: its burst admitted, every other call told when to
  // retry. The authorizer's clock (access_clock_) stands still, so the
  // wait is a whole token's: 1000 ms at 1 request/s.
  std::vector<v1::Event> admitted;
  std::vector<v1::EntryRef> admitted_refs;
  std::set<EventKey> refused;
  for (int n = 0; n < kAttacks; ++n) {
    SCOPED_TRACE(StrCat("attack ", n));
    const grpc::Status& s = attack_results[n];
    if (s.ok()) {
      ASSERT_EQ(attack_responses[n].entries_size(), 2);
      for (int j = 0; j < 2; ++j) {
        admitted.push_back(attack_events[n][j]);
        admitted_refs.push_back(attack_responses[n].entries(j));
      }
      continue;
    }
    EXPECT_EQ(s.error_code(), grpc::RESOURCE_EXHAUSTED) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(Id("emitter-acme").uri));
    EXPECT_THAT(s.error_message(),
                HasSubstr("exceeded its rate limit of 1 requests/s (burst 5)"));
    EXPECT_THAT(s.error_message(), HasSubstr("retry in 1000 ms"));
    for (const v1::Event& e : attack_events[n]) refused.insert(KeyOf(e));
  }
  EXPECT_EQ(admitted.size(), 2 * kBurst);
  ExpectSignedEntries(admitted, admitted_refs, key_acme_);

  // The victim, within its own rate: every batch acknowledged and stored.
  std::vector<v1::Event> victim_sent;
  std::vector<v1::EntryRef> victim_refs;
  for (int i = 0; i < kVictimBatches; ++i) {
    SCOPED_TRACE(StrCat("victim batch ", i));
    ASSERT_TRUE(victim_results[i].ok()) << victim_results[i].error_message();
    ASSERT_EQ(victim_responses[i].entries_size(), 2);
    for (int j = 0; j < 2; ++j) {
      victim_sent.push_back(victim_events[i][j]);
      victim_refs.push_back(victim_responses[i].entries(j));
    }
  }
  ExpectSignedEntries(victim_sent, victim_refs, key_beta_);

  // Nothing refused was stored; rate-limited calls are counted, not
  // recorded as denials.
  ASSERT_TRUE(node_->denial_recorder()->Flush(kWait));
  const std::vector<v1::Entry> entries = AllEntries();
  EXPECT_EQ(entries.size(), size_before + admitted.size() + victim_sent.size());
  for (const v1::Entry& entry : entries) {
    EXPECT_FALSE(refused.contains(KeyOf(entry.event())))
        << "refused event at entry " << entry.index();
    EXPECT_NE(entry.event().type(), "access.denied");
  }
  EXPECT_EQ(IngestHealth(As("node")), "SERVING");
  const v1::NodeInfo info = NodeInfoAs("admin");
  EXPECT_EQ(info.rate_limited_requests(),
            static_cast<uint64_t>(kAttacks) - kBurst);
  EXPECT_EQ(info.denied_requests(), 0u);

  // Retrying after the hint works, once. The victim, which spent its own
  // burst during the flood, gets its second's token too: the buckets are
  // the identities' own.
  access_clock_.Advance(absl::ToInt64Nanoseconds(absl::Milliseconds(1000)));
  v1::AppendBatchResponse response;
  grpc::Status s = attacker.ingest->AppendBatch(
      Context().get(), SignedBatch(key_acme_.key, Events(kAcme, 1)), &response);
  EXPECT_TRUE(s.ok()) << s.error_message();
  s = attacker.ingest->AppendBatch(
      Context().get(), SignedBatch(key_acme_.key, Events(kAcme, 1)), &response);
  EXPECT_EQ(s.error_code(), grpc::RESOURCE_EXHAUSTED) << s.error_message();
  s = victim.ingest->AppendBatch(
      Context().get(), SignedBatch(key_beta_.key, Events(kBeta, 1)), &response);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

}  // namespace
}  // namespace ledger::node
