#pragma once

// The gateway's way into the ledger: requests' events grouped into one
// signed AppendBatch (group commit), each request answered only once the
// node acknowledged its events or refused them.
//
// A request's events are a group: they are appended together or not at
// all. Groups waiting while a batch is in flight go out together in the
// next one (up to max_batch_events events), signed once with the gateway's
// emitter key. If the node refuses a batch of several groups, each group is
// sent again alone, so that one request's bad event fails only that
// request. Pushback (RESOURCE_EXHAUSTED) and a node still opening are
// retried for up to retry_for, then reported.

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/sync.h"
#include "crypto/ed25519.h"
#include "ledger/event.h"
#include "ledger/v1/ingest.grpc.pb.h"

namespace ledger::gateway {

// One AppendBatch call: the seam a test fakes.
class LedgerClient {
 public:
  virtual ~LedgerClient() = default;
  // The node's acknowledgements in request order, or its refusal. When the
  // refusal is RESOURCE_EXHAUSTED, *retry_after is the wait the node
  // suggested (grpc-retry-pushback-ms), else it is left alone.
  virtual absl::StatusOr<std::vector<v1::EntryRef>> AppendBatch(
      const v1::AppendBatchRequest& request, absl::Duration* retry_after) = 0;
};

// AppendBatch over `channel` with `timeout` per call.
std::unique_ptr<LedgerClient> NewGrpcLedgerClient(
    std::shared_ptr<grpc::Channel> channel, absl::Duration timeout);

struct AppenderOptions {
  uint32_t max_batch_events = 1000;  // events per AppendBatch
  int senders = 2;                   // AppendBatch calls in flight at once
  absl::Duration retry_for = absl::Seconds(5);
};

class Appender {
 public:
  // `key` signs every batch; it must be registered with the node as an
  // emitter key of the events' tenant (and producer).
  Appender(std::unique_ptr<LedgerClient> client, crypto::Ed25519PrivateKey key,
           AppenderOptions options);
  // Refuses new work, lets the queued groups be sent, joins the senders.
  ~Appender();
  Appender(const Appender&) = delete;
  Appender& operator=(const Appender&) = delete;

  // Appends `events` (valid, as the mappings make them) as one group and
  // blocks until the node acknowledged them: the EntryRefs in order. The
  // node's refusal otherwise, with its code (InvalidArgument,
  // AlreadyExists, PermissionDenied, ResourceExhausted after retry_for,
  // Unavailable, ...). Thread-safe.
  absl::StatusOr<std::vector<v1::EntryRef>> Append(std::vector<Event> events);

  // Batches taken so far (each sent, successfully or not, as one
  // AppendBatch, or again group by group after a refusal).
  uint64_t batches() const;
  // Groups waiting for a sender.
  size_t queued() const;

 private:
  struct Group;
  void SenderLoop();
  // Sends `groups` as one batch (retrying pushback) and returns the
  // outcome for all of them.
  absl::StatusOr<std::vector<v1::EntryRef>> Send(
      const std::vector<Group*>& groups);
  void Finish(const std::vector<Group*>& groups);

  std::unique_ptr<LedgerClient> client_;
  const crypto::Ed25519PrivateKey key_;
  const crypto::Hash key_id_;
  const AppenderOptions options_;

  mutable Mutex mu_;
  std::deque<Group*> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t batches_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::thread> senders_;
};

}  // namespace ledger::gateway
