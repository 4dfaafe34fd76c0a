// The PostgreSQL sweep of suite.h. LEDGER_BENCH_POSTGRES is defined when
// the PostgreSQL peer (pg_peer.cc, pg_server.cc; libpq) is built.

#include "tools/bench/suite.h"

#ifndef LEDGER_BENCH_POSTGRES

namespace ledger::bench {

bool PostgresSupported() { return false; }

absl::StatusOr<nlohmann::json> RunPgSweep(const BenchEnv&,
                                          const PgSweepOptions&) {
  return absl::UnimplementedError(kNoPostgresMessage);
}

}  // namespace ledger::bench

#else

#include <iostream>

#include "base/status_macros.h"
#include "base/strings.h"
#include "tools/bench/pg_peer.h"
#include "tools/bench/pg_server.h"
#include "tools/bench/report.h"

namespace ledger::bench {
namespace {

using nlohmann::json;

absl::StatusOr<json> RunOne(const std::string& conninfo,
                            const std::vector<PgRow>& rows, bool chain,
                            uint32_t per, int clients, double max_seconds) {
  LEDGER_RETURN_IF_ERROR(ResetPgSchema(conninfo));
  PgLoadOptions o;
  o.chain = chain;
  o.rows_per_insert = per;
  o.clients = clients;
  o.max_seconds = max_seconds;
  LEDGER_ASSIGN_OR_RETURN(PgLoadResult r, RunPgLoad(conninfo, rows, o));
  json j{{"table", chain ? "audit_events (chained)" : "audit_events_plain"},
         {"chain", chain},
         {"rows_per_insert", per},
         {"clients", clients},
         {"rows", r.rows},
         {"statements", r.statements},
         {"failed_statements", r.failed_statements},
         {"seconds", r.seconds},
         {"rows_per_second", r.rows_per_second()},
         {"statement_latency", HistogramJson(r.latency)}};
  if (!r.first_error.empty()) j["first_error"] = r.first_error;
  std::cerr << "  postgres " << (chain ? "chained" : "plain  ")
            << " rows/insert " << per << " clients " << clients << ": "
            << static_cast<uint64_t>(r.rows_per_second()) << " rows/s"
            << std::endl;
  if (r.failed_statements > 0) {
    return absl::InternalError(
        StrCat("PostgreSQL inserts failed: ", r.first_error));
  }
  return j;
}

}  // namespace

bool PostgresSupported() { return true; }

absl::StatusOr<json> RunPgSweep(const BenchEnv& env,
                                const PgSweepOptions& options) {
  std::vector<PgRow> rows;
  {
    WorkloadOptions w;
    w.tenant = kTenant;
    w.seed = env.seed;
    w.events = options.rows;
    w.batch_size = 1000;
    w.keep_event_bytes = true;
    LEDGER_ASSIGN_OR_RETURN(
        std::vector<SignedBatch> batches,
        BuildWorkload(w, crypto::Ed25519PrivateKey::Generate()));
    LEDGER_ASSIGN_OR_RETURN(rows, RowsFromWorkload(batches));
  }
  PgServerOptions so;
  so.bin_dir = options.bin_dir;
  so.parent_dir = "";  // the postgres user must reach it: system tmp
  LEDGER_ASSIGN_OR_RETURN(std::unique_ptr<PgServer> pg, PgServer::Start(so));
  const std::string conninfo = pg->conninfo();
  json out{{"server_version", pg->version()},
           {"fsync", true},
           {"synchronous_commit", true},
           {"runs", json::array()}};
  json best;
  for (uint32_t per : options.rows_per_insert) {
    for (int clients : options.clients) {
      LEDGER_ASSIGN_OR_RETURN(json r, RunOne(conninfo, rows, true, per, clients,
                                             options.max_seconds));
      out["runs"].push_back(r);
      if (best.is_null() || r["rows_per_second"].get<double>() >
                                best["rows_per_second"].get<double>()) {
        best = r;
      }
    }
  }
  LEDGER_ASSIGN_OR_RETURN(json many,
                          RunOne(conninfo, rows, true, 1, options.many_clients,
                                 options.max_seconds));
  out["runs"].push_back(many);
  // The trigger really chains: recompute every hash of the last run.
  LEDGER_ASSIGN_OR_RETURN(uint64_t checked, CheckPgChain(conninfo));
  out["chain_rows_checked"] = checked;
  out["best_chained"] = best;
  out["many_clients_chained"] = many;
  if (!best.is_null()) {
    LEDGER_ASSIGN_OR_RETURN(
        out["plain_at_best"],
        RunOne(conninfo, rows, false, best["rows_per_insert"].get<uint32_t>(),
               best["clients"].get<int>(), options.max_seconds));
  }
  LEDGER_ASSIGN_OR_RETURN(out["plain_many_clients"],
                          RunOne(conninfo, rows, false, 1, options.many_clients,
                                 options.max_seconds));
  LEDGER_RETURN_IF_ERROR(pg->Stop());
  return out;
}

}  // namespace ledger::bench

#endif  // LEDGER_BENCH_POSTGRES
