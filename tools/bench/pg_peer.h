#pragma once

// The PostgreSQL comparison: the append-only audit table users build for
// the same records, loaded through libpq with multi-row INSERTs.
//
// audit_events (chained): seq, event_id uuid unique, tenant, type, actor,
// subject, occurred_at, body (the canonical event bytes), event_hash and
// chain_hash. A BEFORE INSERT row trigger locks the one-row chain_head
// (SELECT ... FOR UPDATE), sets seq = head.seq + 1 and chain_hash =
// digest(head.hash || event_hash, 'sha256') with pgcrypto, and advances the
// head; the lock is held to commit, so chained inserts serialize.
// audit_events_plain: the same table without the chain (bigserial seq).
// Both have indexes on (subject, seq) and (actor, seq).

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/bench/histogram.h"
#include "tools/bench/workload.h"

namespace ledger::bench {

// One row's parameters, prepared before timing.
struct PgRow {
  std::string event_id;  // canonical UUID text
  std::string tenant;
  std::string type;
  std::string actor;
  std::string subject;      // the first subject's id ("" if none)
  std::string occurred_at;  // "YYYY-MM-DD HH:MM:SS.ffffff+00"
  std::string body;         // canonical event bytes
  std::string event_hash;   // SHA-256 of body, 32 bytes
};

// Decodes the workload's events (built with keep_event_bytes).
absl::StatusOr<std::vector<PgRow>> RowsFromWorkload(
    const std::vector<SignedBatch>& batches);

// Drops and creates both tables, the trigger and pgcrypto.
absl::Status ResetPgSchema(const std::string& conninfo);

struct PgLoadOptions {
  bool chain = true;  // audit_events, else audit_events_plain
  int clients = 1;    // connections, one statement in flight each
  uint32_t rows_per_insert = 1;
  double max_seconds = 30;
};

struct PgLoadResult {
  uint64_t rows = 0;
  uint64_t statements = 0;
  uint64_t failed_statements = 0;
  double seconds = 0;
  Histogram latency;  // ns per INSERT statement (each its own transaction)
  std::string first_error;
  double rows_per_second() const {
    return seconds > 0 ? static_cast<double>(rows) / seconds : 0;
  }
};

// Inserts whole statements of `rows` (a trailing partial statement is not
// sent) until they run out or max_seconds passes.
absl::StatusOr<PgLoadResult> RunPgLoad(const std::string& conninfo,
                                       const std::vector<PgRow>& rows,
                                       const PgLoadOptions& options);

// Reads audit_events in seq order and recomputes every chain hash; returns
// the number of rows checked, DataLoss on the first mismatch or gap.
absl::StatusOr<uint64_t> CheckPgChain(const std::string& conninfo);

}  // namespace ledger::bench
