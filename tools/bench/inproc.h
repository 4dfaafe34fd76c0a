#pragma once

// In-process ledgers for the benchmarks that measure the library without
// gRPC (`ledger-bench provenance`, `ledger-bench risk`): bench keys, a
// fresh ledger with its genesis and emitter key, signed batches, and timed
// ingest on a fresh directory.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/ed25519.h"
#include "crypto/note.h"
#include "ledger/batch.h"
#include "ledger/event.h"
#include "ledger/ledger.h"

namespace ledger::bench {

using InprocClock = std::chrono::steady_clock;

int64_t WallNowNs();
// Nanoseconds since `t0`.
uint64_t NsSince(InprocClock::time_point t0);

// A version-4 UUID numbered `n` (distinct from the generator's, which are
// random).
Uuid BenchUuid(uint64_t n);

absl::StatusOr<VerifiedBatch> SignEvents(std::vector<Event> events,
                                         const crypto::Ed25519PrivateKey& key);

// Appends one batch (synced) now; its rejection is an error too.
absl::Status AppendChecked(Ledger& ledger, const VerifiedBatch& batch);

// The identities of a run: the log's key (genesis, node-signed entries,
// checkpoints) and the emitter's, registered for `tenant`.
struct BenchKeys {
  BenchKeys(std::string origin, std::string tenant);
  std::string origin;
  std::string tenant;
  crypto::Ed25519PrivateKey node;
  crypto::Ed25519PrivateKey emitter;
  crypto::NoteSigner log;
};

// A fresh ledger in `dir` with its genesis entry (the node key) and the
// emitter key's registration. `configure` may change the options first.
absl::StatusOr<std::unique_ptr<Ledger>> OpenFreshLedger(
    const std::string& dir, const BenchKeys& keys,
    const std::function<void(LedgerOptions&)>& configure = {});

// Opens a fresh ledger under `parent` (OpenFreshLedger with `configure`),
// runs `prepare` on it untimed, appends `batches` one synced Append each,
// and removes it. Events per second of the appends alone.
absl::StatusOr<double> TimedIngest(
    const std::string& parent, const BenchKeys& keys,
    const std::vector<VerifiedBatch>& batches,
    const std::function<void(LedgerOptions&)>& configure,
    const std::function<absl::Status(Ledger&)>& prepare = {});

}  // namespace ledger::bench
