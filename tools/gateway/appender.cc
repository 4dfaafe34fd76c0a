#include "tools/gateway/appender.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "base/strings.h"
#include "crypto/bytes.h"
#include "ledger/batch.h"
#include "ledger/entry.h"
#include "node/convert.h"

namespace ledger::gateway {

// One request's events, waiting for their outcome. Lives on the stack of
// the Append call that waits for it.
//
// Each group has its own mutex and condition variable: the request waits
// for its group alone. (Waiting on the Appender's mutex would wake every
// waiting request on every release of it, since base/sync.h's Mutex
// notifies all waiters; with one request per HTTP connection that cost
// more CPU than mapping and signing the events.)
struct Appender::Group {
  std::vector<v1::Event> events;
  std::vector<std::string> encoded;  // EncodeEvent of each, for the signature

  // Sets the outcome and wakes the waiting request. Notifies with the lock
  // held: the request, once it sees `done`, destroys the group.
  void Complete(absl::StatusOr<std::vector<v1::EntryRef>> outcome) {
    std::lock_guard<std::mutex> lock(mu);
    result = std::move(outcome);
    done = true;
    cv.notify_one();
  }
  absl::StatusOr<std::vector<v1::EntryRef>> Wait() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [this] { return done; });
    return std::move(result);
  }

 private:
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;                                 // guarded by mu
  absl::StatusOr<std::vector<v1::EntryRef>> result;  // guarded by mu
};

namespace {

class GrpcLedgerClient : public LedgerClient {
 public:
  GrpcLedgerClient(std::shared_ptr<grpc::Channel> channel,
                   absl::Duration timeout)
      : stub_(v1::Ingest::NewStub(std::move(channel))), timeout_(timeout) {}

  absl::StatusOr<std::vector<v1::EntryRef>> AppendBatch(
      const v1::AppendBatchRequest& request,
      absl::Duration* retry_after) override {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    v1::AppendBatchResponse response;
    const grpc::Status s = stub_->AppendBatch(&ctx, request, &response);
    if (!s.ok()) {
      const auto& trailers = ctx.GetServerTrailingMetadata();
      if (auto it = trailers.find("grpc-retry-pushback-ms");
          it != trailers.end()) {
        if (std::optional<uint64_t> ms = ParseCanonicalUint64(
                std::string_view(it->second.data(), it->second.size()))) {
          *retry_after = absl::Milliseconds(static_cast<int64_t>(*ms));
        }
      }
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                          s.error_message());
    }
    return std::vector<v1::EntryRef>(response.entries().begin(),
                                     response.entries().end());
  }

 private:
  std::unique_ptr<v1::Ingest::Stub> stub_;
  const absl::Duration timeout_;
};

// Worth sending again: pushback, or a node that has not opened for
// appends yet. Appends are idempotent by event_id, so a resend never adds
// an entry twice.
bool Retryable(const absl::Status& s) {
  return absl::IsResourceExhausted(s) ||
         (absl::IsUnavailable(s) &&
          s.message().find("verifying its indexes") != absl::string_view::npos);
}

}  // namespace

std::unique_ptr<LedgerClient> NewGrpcLedgerClient(
    std::shared_ptr<grpc::Channel> channel, absl::Duration timeout) {
  return std::make_unique<GrpcLedgerClient>(std::move(channel), timeout);
}

Appender::Appender(std::unique_ptr<LedgerClient> client,
                   crypto::Ed25519PrivateKey key, AppenderOptions options)
    : client_(std::move(client)),
      key_(std::move(key)),
      key_id_(KeyIdOf(key_.public_key())),
      options_(options) {
  for (int i = 0; i < std::max(1, options_.senders); ++i) {
    senders_.emplace_back([this] { SenderLoop(); });
  }
}

Appender::~Appender() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : senders_) t.join();
}

uint64_t Appender::batches() const {
  MutexLock lock(&mu_);
  return batches_;
}

size_t Appender::queued() const {
  MutexLock lock(&mu_);
  return queue_.size();
}

absl::StatusOr<std::vector<v1::EntryRef>> Appender::Append(
    std::vector<Event> events) {
  if (events.empty()) return std::vector<v1::EntryRef>();
  if (events.size() >
      std::min<uint32_t>(options_.max_batch_events, kMaxBatchSize)) {
    return absl::OutOfRangeError(
        StrCat(events.size(), " events in one request; at most ",
               options_.max_batch_events, " (max_batch_events)"));
  }
  Group group;
  group.events.reserve(events.size());
  group.encoded.reserve(events.size());
  for (const Event& e : events) {
    group.encoded.push_back(EncodeEvent(e));
    group.events.push_back(node::EventToProto(e));
  }
  {
    MutexLock lock(&mu_);
    if (stopping_) {
      return absl::UnavailableError("the gateway is shutting down");
    }
    queue_.push_back(&group);
  }
  return group.Wait();
}

void Appender::SenderLoop() {
  while (true) {
    std::vector<Group*> take;
    {
      MutexLock lock(&mu_);
      mu_.Await([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !queue_.empty();
      });
      if (queue_.empty()) return;  // stopping, and nothing left to send
      size_t n = 0;
      while (!queue_.empty() &&
             (take.empty() ||
              n + queue_.front()->events.size() <= options_.max_batch_events)) {
        n += queue_.front()->events.size();
        take.push_back(queue_.front());
        queue_.pop_front();
      }
      ++batches_;
    }
    Finish(take);
  }
}

void Appender::Finish(const std::vector<Group*>& groups) {
  absl::StatusOr<std::vector<v1::EntryRef>> all = Send(groups);
  std::vector<absl::StatusOr<std::vector<v1::EntryRef>>> results;
  if (all.ok() || groups.size() == 1 || Retryable(all.status()) ||
      absl::IsUnavailable(all.status()) ||
      absl::IsDeadlineExceeded(all.status())) {
    // One outcome for all: success, or a refusal that is not about one
    // group's events.
    size_t at = 0;
    for (Group* g : groups) {
      if (!all.ok()) {
        results.push_back(all.status());
        continue;
      }
      results.emplace_back(std::vector<v1::EntryRef>(
          all->begin() + at, all->begin() + at + g->events.size()));
      at += g->events.size();
    }
  } else {
    // Refused for some group's events: each group alone gets its own
    // verdict.
    for (Group* g : groups) results.push_back(Send({g}));
  }
  for (size_t i = 0; i < groups.size(); ++i) {
    groups[i]->Complete(std::move(results[i]));
  }
}

absl::StatusOr<std::vector<v1::EntryRef>> Appender::Send(
    const std::vector<Group*>& groups) {
  v1::AppendBatchRequest request;
  std::vector<std::string> encoded;
  size_t n = 0;
  for (const Group* g : groups) n += g->events.size();
  request.mutable_events()->Reserve(static_cast<int>(n));
  encoded.reserve(n);
  for (const Group* g : groups) {
    for (size_t i = 0; i < g->events.size(); ++i) {
      *request.add_events() = g->events[i];
      encoded.push_back(g->encoded[i]);
    }
  }
  v1::EmitterSignature* sig = request.mutable_signature();
  sig->set_key_id(std::string(crypto::AsView(key_id_)));
  sig->set_signature(std::string(crypto::AsView(SignBatch(key_, encoded))));

  const absl::Time give_up = absl::Now() + options_.retry_for;
  absl::Duration wait = absl::Milliseconds(100);
  while (true) {
    absl::StatusOr<std::vector<v1::EntryRef>> r =
        client_->AppendBatch(request, &wait);
    if (r.ok()) {
      if (r->size() != n) {
        return absl::InternalError(
            StrCat("the node acknowledged ", r->size(), " of ", n, " events"));
      }
      return r;
    }
    wait = std::clamp(wait, absl::Milliseconds(1), absl::Seconds(1));
    if (!Retryable(r.status()) || absl::Now() + wait > give_up) return r;
    absl::SleepFor(wait);  // the node asked for it (pushback)
  }
}

}  // namespace ledger::gateway
