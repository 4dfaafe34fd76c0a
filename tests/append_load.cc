#include "tests/append_load.h"

#include <algorithm>
#include <random>
#include <utility>

#include "absl/time/time.h"
#include "base/strings.h"

namespace ledger::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Codes with which a node that received the request refuses it; a refused
// Append or AppendBatch stores nothing (ingest.proto).
bool IsRefusal(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kUnimplemented:
    case absl::StatusCode::kUnauthenticated:
      return true;
    default:
      return false;
  }
}

int Between(std::mt19937_64& rng, int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}

}  // namespace

std::string_view AppendRpcName(AppendRpc rpc) {
  switch (rpc) {
    case AppendRpc::kAppend:
      return "Append";
    case AppendRpc::kAppendBatch:
      return "AppendBatch";
    case AppendRpc::kAppendStream:
      return "AppendStream";
  }
  return "?";
}

AppendOutcome AppendCall::outcome() const {
  if (status.ok()) return AppendOutcome::kAcknowledged;
  // A stream refused at batch k keeps the batches before it.
  if (rpc != AppendRpc::kAppendStream && IsRefusal(status.code())) {
    return AppendOutcome::kRejected;
  }
  return AppendOutcome::kUnknown;
}

AppendLoad::AppendLoad(AppendLoadOptions options, const Emitter& emitter,
                       std::atomic<uint64_t>* next_event,
                       std::chrono::milliseconds connect_timeout)
    : options_(std::move(options)), emitter_(emitter), next_event_(next_event) {
  for (int c = 0; c < options_.clients; ++c) {
    ledgers_.push_back(
        std::make_unique<LedgerClient>(options_.target, options_.call_timeout));
    // A client that cannot connect fails its calls, which the test sees.
    (void)ledgers_.back()->WaitForConnected(connect_timeout);
  }
  for (int c = 0; c < options_.clients; ++c) {
    threads_.emplace_back([this, c] { RunClient(c, *ledgers_[c]); });
  }
}

AppendLoad::~AppendLoad() { Stop(); }

std::vector<AppendCall> AppendLoad::Stop() {
  stop_ = true;
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  MutexLock lock(&mu_);
  return std::exchange(calls_, {});
}

void AppendLoad::RunClient(int client, LedgerClient& ledger) {
  std::mt19937_64 rng(options_.rng_seed * 1'000'003 + client);
  const SteadyTime deadline = Clock::now() + options_.max_duration;
  std::vector<AppendCall> calls;
  for (int i = 0;
       i < options_.max_calls_per_client && !stop_ && Clock::now() < deadline;
       ++i) {
    calls.push_back(Send(client, ledger, rng));
    // No answer: the node is gone. Calls after it would only be refused
    // connections, events the node never saw.
    if (calls.back().outcome() == AppendOutcome::kUnknown) break;
  }
  MutexLock lock(&mu_);
  for (AppendCall& call : calls) calls_.push_back(std::move(call));
}

AppendCall AppendLoad::Send(int client, LedgerClient& ledger,
                            std::mt19937_64& rng) {
  AppendCall call;
  call.client = client;
  const int pick = Between(rng, 0, 99);
  // Batch sizes: one event (Append), 2-16 (AppendBatch), or a stream of
  // 2-5 batches of 1-8 events.
  std::vector<int> batches;
  if (pick < 40) {
    call.rpc = AppendRpc::kAppend;
    batches = {1};
  } else if (pick < 75) {
    call.rpc = AppendRpc::kAppendBatch;
    batches = {Between(rng, 2, 16)};
  } else {
    call.rpc = AppendRpc::kAppendStream;
    for (int b = Between(rng, 2, 5); b > 0; --b) {
      batches.push_back(Between(rng, 1, 8));
    }
  }
  std::vector<v1::AppendBatchRequest> requests;
  for (int size : batches) {
    std::vector<v1::Event> events;
    for (int k = 0; k < size; ++k) {
      const uint64_t n = next_event_->fetch_add(1);
      call.events.push_back(n);
      events.push_back(TestEvent(options_.tenant, options_.event_seed, n));
    }
    absl::StatusOr<v1::AppendBatchRequest> signed_batch =
        SignBatch(emitter_, std::move(events));
    if (!signed_batch.ok()) {
      call.start = call.end = Clock::now();
      call.status = absl::InternalError(StrCat(
          "not sent, signing failed: ", signed_batch.status().ToString()));
      return call;
    }
    requests.push_back(*std::move(signed_batch));
  }

  call.start = Clock::now();
  absl::StatusOr<std::vector<v1::EntryRef>> refs;
  switch (call.rpc) {
    case AppendRpc::kAppend: {
      v1::AppendRequest single;
      *single.mutable_event() = requests[0].events(0);
      *single.mutable_signature() = requests[0].signature();
      absl::StatusOr<v1::EntryRef> ref = ledger.Append(single);
      if (ref.ok()) {
        refs = std::vector<v1::EntryRef>{*std::move(ref)};
      } else {
        refs = ref.status();
      }
      break;
    }
    case AppendRpc::kAppendBatch:
      refs = ledger.AppendBatch(requests[0]);
      break;
    case AppendRpc::kAppendStream:
      refs = ledger.AppendStream(requests);
      break;
  }
  call.end = Clock::now();
  call.status = refs.status();
  if (refs.ok()) call.refs = *std::move(refs);
  return call;
}

CheckpointPoller::CheckpointPoller(const std::string& target,
                                   std::chrono::milliseconds interval,
                                   std::chrono::milliseconds max_duration)
    : ledger_(target, std::chrono::seconds(5)) {
  thread_ = std::thread(
      [this, interval, max_duration] { Run(interval, max_duration); });
}

CheckpointPoller::~CheckpointPoller() { Stop(); }

std::vector<v1::Checkpoint> CheckpointPoller::Stop() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
  MutexLock lock(&mu_);
  return seen_;
}

void CheckpointPoller::Run(std::chrono::milliseconds interval,
                           std::chrono::milliseconds max_duration) {
  const SteadyTime deadline = Clock::now() + max_duration;
  const int64_t max_polls = max_duration / interval + 1;
  std::string last_note;
  for (int64_t i = 0; i < max_polls && Clock::now() < deadline; ++i) {
    // Errors (no checkpoint yet, the node gone) are expected here; the
    // test checks the checkpoints it did get.
    absl::StatusOr<v1::Checkpoint> checkpoint = ledger_.GetCheckpoint();
    MutexLock lock(&mu_);
    if (checkpoint.ok() && checkpoint->note() != last_note) {
      last_note = checkpoint->note();
      seen_.push_back(*std::move(checkpoint));
    }
    auto stopped = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; };
    if (mu_.AwaitWithTimeout(stopped, absl::FromChrono(interval))) return;
  }
}

}  // namespace ledger::testing
