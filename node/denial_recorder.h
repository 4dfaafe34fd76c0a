#pragma once

// Denied requests as ledger entries. An authenticated caller's denied
// request becomes an `access.denied` entry (ledger/FORMAT.md section 8.6),
// written by the node like key.registered, so that the ledger itself shows
// who tried what. So that denials cannot flood the ledger:
//
// - per identity, at most one entry per `interval`; the entry carries in
//   its `count` attribute how many denials it stands for (those since the
//   identity's previous entry), and the method and reason of the latest;
// - all identities together, at most `max_entries_per_interval` entries per
//   `interval`; identities over the cap wait (their count keeps growing)
//   for a later interval.
//
// Only identities of the access policy are recorded, so the state is
// bounded by the policy's size. Record() never blocks on the ledger: a
// thread of the recorder's own writes the entries (through `append`, which
// the node points at its sequencer), every `poll` or sooner when an
// identity's entry is due. Stop() writes what is still pending, regardless
// of the interval (best effort: the sequencer may already refuse).

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "base/sync.h"
#include "ledger/event.h"
#include "node/access_policy.h"
#include "node/clock.h"

namespace ledger::node {

struct DenialRecorderOptions {
  absl::Duration interval = absl::Seconds(10);
  size_t max_entries_per_interval = 64;
  // How often the writer thread looks for entries that fell due (real
  // time; the interval itself is measured on the recorder's clock).
  absl::Duration poll = absl::Seconds(1);
};

// The access.denied event about `count` denials of `caller`, the latest
// for `method` because of `reason`: type, tenant (the caller's first
// tenant, or "_ledger"), attributes count, method and reason (non-printable
// bytes replaced by '?', at most 512 bytes each), outcome failure
// "permission_denied". The caller stamps event_id, occurred_at, producer
// and the actor (StampLedgerEvent: the identity, its role).
Event AccessDeniedEvent(const Caller& caller, std::string_view method,
                        std::string_view reason, uint64_t count);

class DenialRecorder {
 public:
  // Appends one ledger event (to be signed by the node key) and returns
  // once it is durable, or why not.
  using Append = std::function<absl::Status(Event)>;

  // `clock` must outlive the recorder.
  DenialRecorder(const Clock* clock, DenialRecorderOptions options,
                 Append append);
  ~DenialRecorder();  // Stop()
  DenialRecorder(const DenialRecorder&) = delete;
  DenialRecorder& operator=(const DenialRecorder&) = delete;

  void Start();
  // Writes every pending denial, then joins the thread. Idempotent.
  void Stop();

  // Notes one denied request. Thread-safe; never waits for the ledger.
  void Record(const Caller& caller, std::string_view method,
              std::string_view reason);

  // Denials noted; entries written; denials those entries stand for.
  uint64_t denials() const;
  uint64_t entries_written() const;
  uint64_t denials_written() const;
  // Waits until entries_written() >= n or `timeout`; true in the first
  // case.
  bool WaitForEntriesWritten(uint64_t n, absl::Duration timeout);
  // Makes the thread look for due entries now and waits until it has
  // written them (tests move a FakeClock); false after `timeout` or if the
  // thread is not running.
  bool Flush(absl::Duration timeout);

 private:
  struct Pending {
    Caller caller;  // a copy: the recorder does not depend on the policy
    std::string method;
    std::string reason;
    uint64_t count = 0;
    int64_t last_written_ns = 0;
    bool ever_written = false;
  };
  struct Due {
    Event event;
    uint64_t count;
  };

  void Run();
  // The entries due now (all pending ones if `final`), marking them
  // written.
  std::vector<Due> TakeDueLocked(bool final) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock* const clock_;
  const DenialRecorderOptions options_;
  const Append append_;
  std::thread thread_;

  mutable Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  // Flush requests made, and the last one a finished pass has served.
  uint64_t flush_requested_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t flush_served_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, Pending> pending_ ABSL_GUARDED_BY(mu_);
  int64_t window_start_ns_ ABSL_GUARDED_BY(mu_) = 0;
  size_t window_entries_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t denials_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t entries_written_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t denials_written_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ledger::node
