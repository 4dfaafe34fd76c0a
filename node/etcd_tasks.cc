// The keep-alive and watch threads of EtcdClient (see etcd_client.h).

#include <thread>
#include <utility>

#include "base/strings.h"
#include "base/sync.h"
#include "node/etcd_client_internal.h"
#include "spdlog/spdlog.h"

namespace ledger::node::etcd_internal {
namespace {

// Keeps one lease alive (see the header): its own thread.
class KeepAliveTask : public EtcdTask {
 public:
  KeepAliveTask(EtcdClient* client, EtcdLease lease,
                std::function<void(const absl::Status&)> on_lost)
      : client_(client), lease_(lease), on_lost_(std::move(on_lost)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~KeepAliveTask() override {
    {
      MutexLock lock(&mu_);
      stop_ = true;
      if (ctx_ != nullptr) ctx_->TryCancel();
    }
    thread_.join();
  }

 private:
  void Run() {
    // Counted from when the grant was sent, so the local expiry comes no
    // later than etcd's (a lease of unknown grant time: from now).
    const absl::Time start = lease_.granted_at == absl::InfinitePast()
                                 ? absl::Now()
                                 : lease_.granted_at;
    absl::Time expiry = start + lease_.ttl;
    absl::Time next = start + lease_.ttl / 3;
    absl::Duration backoff;
    while (true) {
      {
        MutexLock lock(&mu_);
        const absl::Time wake = std::min(next, expiry);
        mu_.AwaitWithDeadline(
            [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; },
            wake);
        if (stop_) return;
      }
      const absl::Time sent = absl::Now();
      if (sent >= expiry) {
        on_lost_(client_->Error("LeaseKeepAlive",
                                absl::DeadlineExceededError(StrCat(
                                    "lease ", lease_.id,
                                    " could not be renewed before it "
                                    "expired (TTL ",
                                    absl::ToInt64Seconds(lease_.ttl), " s)"))));
        return;
      }
      absl::StatusOr<int64_t> ttl =
          RenewOnce(std::min(expiry, sent + client_->call_timeout()));
      if (ttl.ok() && *ttl <= 0) {
        on_lost_(client_->Error(
            "LeaseKeepAlive",
            absl::NotFoundError(StrCat("lease ", lease_.id,
                                       " expired or was revoked (etcd "
                                       "answered TTL 0)"))));
        return;
      }
      if (ttl.ok()) {
        expiry = sent + absl::Seconds(*ttl);
        next = sent + absl::Seconds(*ttl) / 3;
        backoff = absl::ZeroDuration();
      } else {
        // Cancelled: the task is being destroyed; nothing to report.
        if (!absl::IsCancelled(ttl.status())) {
          spdlog::warn("{}", ttl.status().ToString());
        }
        backoff = NextBackoff(backoff);
        next = absl::Now() + backoff;
      }
    }
  }

  // One renewal on a fresh stream: the remaining TTL etcd answered.
  absl::StatusOr<int64_t> RenewOnce(absl::Time deadline) {
    std::shared_ptr<EtcdClient::Connection> conn = client_->connection();
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(deadline));
    ctx.AddMetadata("hasleader", "true");
    {
      MutexLock lock(&mu_);
      if (stop_) return absl::CancelledError("stopping");
      ctx_ = &ctx;
    }
    auto stream = conn->lease->LeaseKeepAlive(&ctx);
    etcdserverpb::LeaseKeepAliveRequest request;
    request.set_id(lease_.id);
    etcdserverpb::LeaseKeepAliveResponse response;
    const bool exchanged = stream->Write(request) && stream->Read(&response);
    if (exchanged) ctx.TryCancel();  // one answer is all we wanted
    stream->WritesDone();
    const grpc::Status status = stream->Finish();
    {
      MutexLock lock(&mu_);
      ctx_ = nullptr;
    }
    if (exchanged) return response.ttl();
    if (IsRetryable(status.error_code())) client_->Rotate(conn);
    return client_->Error(
        StrCat("LeaseKeepAlive of lease ", lease_.id),
        status.ok() ? absl::UnavailableError("stream closed without an answer")
                    : FromGrpcStatus(status));
  }

  EtcdClient* const client_;
  const EtcdLease lease_;
  const std::function<void(const absl::Status&)> on_lost_;
  Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* ctx_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
};

// Watches one key (see the header): its own thread.
class WatchTask : public EtcdTask {
 public:
  WatchTask(EtcdClient* client, std::string key, int64_t start_revision,
            EtcdWatchCallbacks callbacks)
      : client_(client),
        key_(std::move(key)),
        next_revision_(start_revision),
        callbacks_(std::move(callbacks)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~WatchTask() override {
    {
      MutexLock lock(&mu_);
      stop_ = true;
      if (ctx_ != nullptr) ctx_->TryCancel();
    }
    thread_.join();
  }

 private:
  void Run() {
    absl::Duration backoff;
    while (true) {
      const bool delivered = RunStream();
      MutexLock lock(&mu_);
      if (stop_) return;
      backoff = delivered ? kMinBackoff : NextBackoff(backoff);
      mu_.AwaitWithTimeout(
          [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; },
          backoff);
      if (stop_) return;
    }
  }

  // One stream, until it breaks or the task stops. True if it got as far as
  // etcd's "created" answer (the backoff restarts).
  bool RunStream() {
    std::shared_ptr<EtcdClient::Connection> conn = client_->connection();
    grpc::ClientContext ctx;
    ctx.AddMetadata("hasleader", "true");
    {
      MutexLock lock(&mu_);
      if (stop_) return false;
      ctx_ = &ctx;
    }
    auto stream = conn->watch->Watch(&ctx);
    etcdserverpb::WatchRequest request;
    auto* create = request.mutable_create_request();
    create->set_key(key_);
    create->set_start_revision(next_revision_);
    bool created = false;
    std::string why;
    if (stream->Write(request)) {
      etcdserverpb::WatchResponse response;
      while (stream->Read(&response)) {
        if (response.created()) {
          created = true;
          // "From now": events after the revision the watch was created at.
          if (next_revision_ == 0) {
            next_revision_ = response.header().revision() + 1;
          }
        }
        Deliver(response);
        if (response.canceled()) {
          if (response.compact_revision() > 0) {
            next_revision_ = response.compact_revision();
            if (callbacks_.on_compacted) {
              callbacks_.on_compacted(response.compact_revision());
            }
            why = StrCat("start revision compacted; resuming from ",
                         response.compact_revision());
          } else {
            why = StrCat("canceled by etcd: ", response.cancel_reason());
          }
          break;
        }
      }
    }
    // A stream that ended by itself carries the reason in Finish; one we
    // leave (etcd canceled the watch) must be canceled first.
    if (!why.empty()) ctx.TryCancel();
    const grpc::Status status = stream->Finish();
    bool stopping;
    {
      MutexLock lock(&mu_);
      ctx_ = nullptr;
      stopping = stop_;
    }
    if (!stopping) {
      if (why.empty()) why = FromGrpcStatus(status).ToString();
      spdlog::info("{}: watch of {} reopens from revision {}: {}",
                   client_->description(), key_, next_revision_, why);
      if (IsRetryable(status.error_code()) || !created) client_->Rotate(conn);
    }
    return created;
  }

  void Deliver(const etcdserverpb::WatchResponse& response) {
    std::vector<EtcdEvent> events;
    for (const mvccpb::Event& e : response.events()) {
      // After a reopen etcd starts at next_revision_; anything older was
      // delivered before.
      if (e.kv().mod_revision() < next_revision_) continue;
      EtcdEvent event;
      event.type = e.type() == mvccpb::Event::DELETE ? EtcdEvent::Type::kDelete
                                                     : EtcdEvent::Type::kPut;
      event.kv = FromProto(e.kv());
      next_revision_ = e.kv().mod_revision() + 1;
      events.push_back(std::move(event));
    }
    if (!events.empty() && callbacks_.on_events) callbacks_.on_events(events);
  }

  EtcdClient* const client_;
  const std::string key_;
  int64_t next_revision_;  // the task's thread only
  const EtcdWatchCallbacks callbacks_;
  Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* ctx_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<EtcdTask> StartKeepAlive(
    EtcdClient* client, EtcdLease lease,
    std::function<void(const absl::Status&)> on_lost) {
  return std::make_unique<KeepAliveTask>(client, lease, std::move(on_lost));
}

std::unique_ptr<EtcdTask> StartWatch(EtcdClient* client, std::string key,
                                     int64_t start_revision,
                                     EtcdWatchCallbacks callbacks) {
  return std::make_unique<WatchTask>(client, std::move(key), start_revision,
                                     std::move(callbacks));
}

}  // namespace ledger::node::etcd_internal
