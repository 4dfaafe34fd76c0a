#pragma once

// `ledger-bench provenance` (issue 12, "Performance"): the provenance
// queries of ledger/provenance.h in process against PostgreSQL holding the
// same entries, in the same run.
//
// A seeded lineage workflow (ledgerctl gen-events) of `entries` events is
// signed with a bench emitter key and appended in process to a Ledger in a
// temporary directory (batches of batch_size, one synced Append each).
// The same entries are copied (COPY) into a throw-away PostgreSQL: tables
// entries, entry_subjects and edges with btree indexes, VACUUM ANALYZE,
// shared_buffers large enough for all of it, tables prewarmed, prepared
// statements over the Unix socket. Then, warm, `queries` timed queries of
// each kind, interleaved, over several subjects and nodes:
//   ours history          Provenance::History, one page of up to 1000
//                         entries of a subject with about 1,000 entries
//                         (decoded, as the engine returns them)
//   ours history+proofs   the same, then BuildAnswer + EncodeAnswer
//   ours upstream         Provenance::Upstream to depth 5
//   postgres history      the subject's entries (index and bytes) by a
//                         join of entry_subjects and entries
//   postgres upstream     a recursive CTE over edges to depth 5 (UNION:
//                         cycles end), its distinct nodes and edges
// and in-process ingest of the same events with and without the
// provenance index families (LedgerOptions::provenance_indexes), on fresh
// directories, alternating. The answers of both sides are compared (row,
// node and edge counts). Ours is the library without gRPC; PostgreSQL is
// reached through libpq.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "tools/bench/scenario.h"

namespace ledger::bench {

struct ProvenanceBenchOptions {
  uint64_t entries = 1'000'000;
  uint32_t batch_size = 1000;
  // gen-events' workflow: inputs of each release's aggregation, and the
  // steps of the chain after it.
  uint32_t fan_in = 4;
  uint32_t workflow_depth = 5;
  uint32_t depth = 5;  // upstream depth queried
  // History subjects: those whose number of entries is closest to this
  // (and at most kMaxPageSize, so one page holds all of them).
  uint64_t history_length = 1000;
  uint32_t subjects = 8;   // distinct subjects and nodes queried
  uint64_t queries = 200;  // timed queries of each kind
  uint64_t warmup = 3;     // untimed passes over the subjects first
  // Ingest with and without the indexes: the first ingest_events events
  // (0: all), `ingest_rounds` pairs on fresh directories.
  uint64_t ingest_events = 200'000;
  uint32_t ingest_rounds = 2;
  bool postgres = true;
  std::string pg_bin_dir;
  std::string pg_shared_buffers;  // empty: from the data size
};

absl::StatusOr<nlohmann::json> RunProvenanceBench(
    const BenchEnv& env, const ProvenanceBenchOptions& options);

// The text table of a summary RunProvenanceBench returned: one line per
// query kind (p50 / p99), the ingest rates and the targets.
std::string ProvenanceTable(const nlohmann::json& summary);

}  // namespace ledger::bench
