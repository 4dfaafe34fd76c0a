// The preparation phase of `ledgerctl append`: key loading, parsing,
// encoding and signing on several threads.

#include <google/protobuf/arena.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <limits>
#include <mutex>
#include <thread>

#include "base/strings.h"
#include "crypto/aead.h"
#include "crypto/key_file.h"
#include "ledger/batch.h"
#include "ledger/event.h"
#include "tools/ledgerctl/append.h"
#include "tools/ledgerctl/event_lines.h"

namespace ledger::ctl {
namespace {

// Events per work item in single mode (each still becomes its own request).
constexpr size_t kSingleGroup = 256;

// The lowest-numbered failure seen by any worker. Workers skip groups that
// start after it: they cannot change the answer.
class FirstError {
 public:
  void Record(uint64_t line, absl::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    if (line < line_) {
      line_ = line;
      status_ = std::move(status);
      lowest_.store(line, std::memory_order_relaxed);
    }
  }
  uint64_t lowest() const { return lowest_.load(std::memory_order_relaxed); }
  absl::Status status() {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }

 private:
  std::mutex mu_;
  uint64_t line_ = std::numeric_limits<uint64_t>::max();
  absl::Status status_;
  std::atomic<uint64_t> lowest_{std::numeric_limits<uint64_t>::max()};
};

void SetSignature(v1::EmitterSignature* sig, const Hash& key_id,
                  const crypto::Ed25519Signature& signature) {
  sig->set_key_id(std::string(crypto::AsView(key_id)));
  sig->set_signature(std::string(crypto::AsView(signature)));
}

// Prepares the requests of one group of lines; on a bad line records it
// and returns what it has (which the caller then discards). The messages
// live on an arena: per-field heap allocation and destruction were a
// quarter of the preparation time.
std::vector<PreparedRequest> PrepareGroup(absl::Span<const NumberedLine> lines,
                                          const crypto::Ed25519PrivateKey& key,
                                          const Hash& key_id, bool single,
                                          PayloadKeySource* payload_keys,
                                          FirstError& first_error) {
  using google::protobuf::Arena;
  std::vector<PreparedRequest> out;
  Arena arena;
  auto* batch = Arena::CreateMessage<v1::AppendBatchRequest>(&arena);
  PreparedRequest prepared;
  std::vector<std::string> bytes;
  bytes.reserve(single ? 1 : lines.size());
  Event event;
  PlaintextPayload plain;
  for (const NumberedLine& line : lines) {
    v1::AppendRequest* request =
        single ? Arena::CreateMessage<v1::AppendRequest>(&arena) : nullptr;
    v1::Event* target = single ? request->mutable_event() : batch->add_events();
    bool has_plain = false;
    absl::Status s = ParseEventLine(line, target, &event, &plain, &has_plain);
    if (s.ok() && has_plain) {
      s = payload_keys == nullptr
              ? absl::InvalidArgumentError(
                    "payload_plaintext needs the node's payload keys")
              : EncryptPayload(plain, *payload_keys, &event, target);
      crypto::Wipe(plain.plaintext);
      if (!s.ok()) s = Annotate(s, StrCat("line ", line.number));
    }
    if (!s.ok()) {
      first_error.Record(line.number, std::move(s));
      return out;
    }
    bytes.push_back(EncodeEvent(event));
    prepared.lines.push_back(line.number);
    prepared.event_ids.push_back(target->event_id());
    if (single) {
      SetSignature(request->mutable_signature(), key_id, SignBatch(key, bytes));
      request->SerializeToString(&prepared.serialized);
      out.push_back(std::move(prepared));
      prepared = PreparedRequest();
      bytes.clear();
    }
  }
  if (!single && !lines.empty()) {
    SetSignature(batch->mutable_signature(), key_id, SignBatch(key, bytes));
    batch->SerializeToString(&prepared.serialized);
    out.push_back(std::move(prepared));
  }
  return out;
}

}  // namespace

absl::StatusOr<crypto::NoteSigner> LoadEmitterKey(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) {
    return crypto::ReadSignerKeyFile(path);
  }
  std::vector<std::string> keys;
  for (std::filesystem::directory_iterator it(path, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->path().extension() == ".key") keys.push_back(it->path().string());
  }
  if (ec) {
    return absl::PermissionDeniedError(
        StrCat("cannot list ", path, ": ", ec.message()));
  }
  if (keys.size() != 1) {
    return absl::FailedPreconditionError(
        StrCat(path, " holds ", keys.size(),
               " *.key files; it must hold exactly one (or pass the .key "
               "file itself to --emitter-key)"));
  }
  return crypto::ReadSignerKeyFile(keys.front());
}

absl::StatusOr<std::vector<PreparedRequest>> PrepareRequests(
    std::string_view text, const crypto::Ed25519PrivateKey& key,
    uint32_t batch_size, bool single, unsigned threads,
    PayloadKeySource* payload_keys) {
  if (batch_size == 0 || batch_size > kMaxBatchSize) {
    return absl::InvalidArgumentError(
        StrCat("--batch-size must be between 1 and ", kMaxBatchSize));
  }
  const std::vector<NumberedLine> lines = SplitLines(text);
  const size_t group = single ? kSingleGroup : batch_size;
  const size_t groups = (lines.size() + group - 1) / group;
  const Hash key_id = KeyIdOf(key.public_key());
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<size_t>(threads, groups));

  std::vector<std::vector<PreparedRequest>> results(groups);
  std::atomic<size_t> next{0};
  FirstError first_error;
  auto work = [&] {
    for (size_t g = next++; g < groups; g = next++) {
      const size_t begin = g * group;
      const size_t end = std::min(lines.size(), begin + group);
      if (lines[begin].number > first_error.lowest()) continue;
      results[g] =
          PrepareGroup(absl::MakeConstSpan(lines).subspan(begin, end - begin),
                       key, key_id, single, payload_keys, first_error);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  if (absl::Status s = first_error.status(); !s.ok()) return s;

  std::vector<PreparedRequest> out;
  out.reserve(single ? lines.size() : groups);
  for (std::vector<PreparedRequest>& r : results) {
    for (PreparedRequest& p : r) out.push_back(std::move(p));
  }
  return out;
}

}  // namespace ledger::ctl
