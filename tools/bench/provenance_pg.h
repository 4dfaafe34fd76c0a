#pragma once

// The PostgreSQL side of `ledger-bench provenance` (provenance.h): the
// same entries in three tables, and the two queries.
//
//   entries(idx bigint PRIMARY KEY, tenant text, type text,
//           received_at bigint, actor text, bytes bytea)
//   entry_subjects(tenant text, kind smallint, id text, idx bigint)
//     btree (tenant, kind, id, idx)          one row per back-link
//   edges(tenant text, from_kind smallint, from_id text, from_version text,
//         to_kind smallint, to_id text, to_version text, type text,
//         idx bigint)                         one row per input x output
//     btree (tenant, to_kind, to_id, to_version) and
//     btree (tenant, from_kind, from_id, from_version)
//
// Loaded with COPY (text format), indexed after the load, then VACUUM
// ANALYZE and pg_prewarm of every table and index (when the extension is
// there). Built only with libpq (LEDGER_BENCH_POSTGRES).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "ledger/ledger.h"
#include "ledger/provenance.h"
#include "nlohmann/json.hpp"
#include "tools/bench/pg_server.h"

namespace ledger::bench {

class ProvenancePg {
 public:
  static absl::StatusOr<std::unique_ptr<ProvenancePg>> Start(
      const PgServerOptions& options);
  ~ProvenancePg();

  // Copies entries [0, size) of `ledger` into the tables, builds the
  // indexes, vacuums, analyzes and prewarms; `progress` gets lines.
  absl::Status Load(const Ledger& ledger, uint64_t size,
                    const std::function<void(std::string_view)>& progress);

  // Connects over the Unix socket and prepares both statements.
  absl::Status Prepare();

  // The subject's first `limit` entries: rows returned (each index and
  // bytes received).
  absl::StatusOr<size_t> History(std::string_view tenant, LinkKind kind,
                                 std::string_view id, size_t limit);
  struct Graph {
    size_t nodes = 0;
    size_t edges = 0;
  };
  // Distinct nodes (the start included) and edges within `depth` hops.
  absl::StatusOr<Graph> Upstream(std::string_view tenant,
                                 const LineageNode& node, uint32_t depth);

  // Server version, settings, table and index sizes.
  nlohmann::json Info() const;

  absl::Status Stop();

 private:
  ProvenancePg() = default;
  std::unique_ptr<PgServer> server_;
  struct Conn;
  std::unique_ptr<Conn> conn_;
  nlohmann::json info_;
};

}  // namespace ledger::bench
