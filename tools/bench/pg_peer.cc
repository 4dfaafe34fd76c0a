#include "tools/bench/pg_peer.h"

#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <memory>
#include <thread>

#include "base/status_macros.h"
#include "base/strings.h"
#include "base/sync.h"
#include "crypto/sha256.h"
#include "ledger/entry.h"
#include "ledger/event.h"
#include "tools/bench/pg_conn.h"

namespace ledger::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kColumns = 8;

constexpr char kSchema[] = R"sql(
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgcrypto;
DROP TABLE IF EXISTS audit_events, audit_events_plain, chain_head;
CREATE TABLE chain_head (
  id int PRIMARY KEY CHECK (id = 1),
  seq bigint NOT NULL,
  hash bytea NOT NULL);
INSERT INTO chain_head VALUES (1, 0, decode(repeat('00', 32), 'hex'));
CREATE TABLE audit_events (
  seq bigint PRIMARY KEY,
  event_id uuid NOT NULL UNIQUE,
  tenant text NOT NULL,
  type text NOT NULL,
  actor text NOT NULL,
  subject text NOT NULL,
  occurred_at timestamptz NOT NULL,
  body bytea NOT NULL,
  event_hash bytea NOT NULL,
  chain_hash bytea NOT NULL);
CREATE INDEX audit_events_subject ON audit_events (subject, seq);
CREATE INDEX audit_events_actor ON audit_events (actor, seq);
CREATE OR REPLACE FUNCTION audit_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  head chain_head%ROWTYPE;
BEGIN
  SELECT * INTO head FROM chain_head WHERE id = 1 FOR UPDATE;
  NEW.seq := head.seq + 1;
  NEW.chain_hash := digest(head.hash || NEW.event_hash, 'sha256');
  UPDATE chain_head SET seq = NEW.seq, hash = NEW.chain_hash WHERE id = 1;
  RETURN NEW;
END $$;
CREATE TRIGGER audit_chain BEFORE INSERT ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_chain();
CREATE TABLE audit_events_plain (
  seq bigserial PRIMARY KEY,
  event_id uuid NOT NULL UNIQUE,
  tenant text NOT NULL,
  type text NOT NULL,
  actor text NOT NULL,
  subject text NOT NULL,
  occurred_at timestamptz NOT NULL,
  body bytea NOT NULL,
  event_hash bytea NOT NULL);
CREATE INDEX audit_events_plain_subject ON audit_events_plain (subject, seq);
CREATE INDEX audit_events_plain_actor ON audit_events_plain (actor, seq);
)sql";

std::string FormatTimestamp(int64_t ns) {
  time_t seconds = static_cast<time_t>(ns / 1'000'000'000);
  tm t{};
  gmtime_r(&seconds, &t);
  char buf[64];
  snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d.%06d+00",
           t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min,
           t.tm_sec, static_cast<int>((ns % 1'000'000'000) / 1000));
  return buf;
}

std::string InsertSql(bool chain, uint32_t rows) {
  std::string sql =
      StrCat("INSERT INTO ", chain ? "audit_events" : "audit_events_plain",
             " (event_id, tenant, type, actor, subject, occurred_at, body, "
             "event_hash) VALUES ");
  for (uint32_t r = 0; r < rows; ++r) {
    sql += r == 0 ? "(" : ",(";
    for (int c = 0; c < kColumns; ++c) {
      sql += StrCat(c == 0 ? "" : ",", "$", r * kColumns + c + 1);
    }
    sql += ")";
  }
  return sql;
}

}  // namespace

absl::StatusOr<std::vector<PgRow>> RowsFromWorkload(
    const std::vector<SignedBatch>& batches) {
  std::vector<PgRow> rows;
  for (const SignedBatch& b : batches) {
    for (const std::string& bytes : b.event_bytes) {
      LEDGER_ASSIGN_OR_RETURN(Event e, DecodeEvent(bytes));
      PgRow row;
      row.event_id = FormatUuid(e.event_id);
      row.tenant = e.tenant;
      row.type = e.type;
      row.actor = e.actor.id;
      row.subject = e.subjects.empty() ? "" : e.subjects[0].id;
      row.occurred_at = FormatTimestamp(e.occurred_at_ns);
      row.event_hash = std::string(crypto::AsView(crypto::Sha256Digest(bytes)));
      row.body = bytes;
      rows.push_back(std::move(row));
    }
  }
  if (rows.empty()) {
    return absl::InvalidArgumentError(
        "no event bytes in the workload (keep_event_bytes)");
  }
  return rows;
}

absl::Status ResetPgSchema(const std::string& conninfo) {
  LEDGER_ASSIGN_OR_RETURN(PgConn conn, PgConnect(conninfo));
  PgResult r(PQexec(conn.get(), kSchema));
  return PgCheck(conn.get(), r, "creating the audit tables");
}

absl::StatusOr<PgLoadResult> RunPgLoad(const std::string& conninfo,
                                       const std::vector<PgRow>& rows,
                                       const PgLoadOptions& options) {
  const uint32_t per = std::max<uint32_t>(1, options.rows_per_insert);
  if (per * kColumns > 65535) {
    return absl::InvalidArgumentError("too many rows per INSERT (max 8191)");
  }
  const uint64_t statements = rows.size() / per;
  const int clients = std::max(1, options.clients);
  const std::string sql = InsertSql(options.chain, per);
  // Connect and prepare before timing.
  std::vector<PgConn> conns;
  for (int c = 0; c < clients; ++c) {
    LEDGER_ASSIGN_OR_RETURN(PgConn conn, PgConnect(conninfo));
    PgResult r(
        PQprepare(conn.get(), "ins", sql.c_str(), per * kColumns, nullptr));
    LEDGER_RETURN_IF_ERROR(PgCheck(conn.get(), r, "preparing the INSERT"));
    conns.push_back(std::move(conn));
  }
  PgLoadResult result;
  Mutex mu;
  std::atomic<uint64_t> next{0};
  const Clock::time_point start = Clock::now();
  const Clock::time_point stop_at =
      start + std::chrono::duration_cast<Clock::duration>(
                  std::chrono::duration<double>(options.max_seconds));
  Clock::time_point last = start;
  auto worker = [&](PGconn* conn) {
    std::vector<const char*> values(per * kColumns);
    std::vector<int> lengths(per * kColumns), formats(per * kColumns);
    PgLoadResult local;
    Clock::time_point local_last = start;
    for (;;) {
      uint64_t s = next.fetch_add(1);
      if (s >= statements || Clock::now() >= stop_at) break;
      for (uint32_t r = 0; r < per; ++r) {
        const PgRow& row = rows[s * per + r];
        const std::string* cols[kColumns] = {
            &row.event_id, &row.tenant,      &row.type, &row.actor,
            &row.subject,  &row.occurred_at, &row.body, &row.event_hash};
        for (int c = 0; c < kColumns; ++c) {
          values[r * kColumns + c] = cols[c]->c_str();
          lengths[r * kColumns + c] = static_cast<int>(cols[c]->size());
          formats[r * kColumns + c] = c >= 6 ? 1 : 0;  // bytea binary
        }
      }
      Clock::time_point t0 = Clock::now();
      PgResult res(PQexecPrepared(conn, "ins", per * kColumns, values.data(),
                                  lengths.data(), formats.data(), 0));
      local_last = Clock::now();
      if (PQresultStatus(res.get()) != PGRES_COMMAND_OK) {
        ++local.failed_statements;
        if (local.first_error.empty()) {
          local.first_error = std::string(Trim(PQerrorMessage(conn)));
        }
        continue;
      }
      local.latency.Record(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(local_last - t0)
              .count()));
      ++local.statements;
      local.rows += per;
    }
    MutexLock lock(&mu);
    result.rows += local.rows;
    result.statements += local.statements;
    result.failed_statements += local.failed_statements;
    result.latency.Merge(local.latency);
    if (result.first_error.empty()) result.first_error = local.first_error;
    last = std::max(last, local_last);
  };
  std::vector<std::thread> threads;
  for (PgConn& c : conns) threads.emplace_back(worker, c.get());
  for (std::thread& t : threads) t.join();
  result.seconds = std::chrono::duration<double>(last - start).count();
  return result;
}

absl::StatusOr<uint64_t> CheckPgChain(const std::string& conninfo) {
  LEDGER_ASSIGN_OR_RETURN(PgConn conn, PgConnect(conninfo));
  PgResult r(
      PQexecParams(conn.get(),
                   "SELECT seq, event_hash, chain_hash FROM audit_events "
                   "ORDER BY seq",
                   0, nullptr, nullptr, nullptr, nullptr, 1));
  LEDGER_RETURN_IF_ERROR(PgCheck(conn.get(), r, "reading audit_events"));
  crypto::Hash chain{};
  const int n = PQntuples(r.get());
  for (int i = 0; i < n; ++i) {
    auto field = [&](int col) {
      return std::string_view(PQgetvalue(r.get(), i, col),
                              PQgetlength(r.get(), i, col));
    };
    std::string_view seq = field(0);
    uint64_t seq_value = 0;
    for (unsigned char c : seq) seq_value = (seq_value << 8) | c;  // int8
    if (seq.size() != 8 || seq_value != static_cast<uint64_t>(i) + 1) {
      return absl::DataLossError(StrCat("audit_events: gap before row ", i));
    }
    crypto::Sha256 h;
    h.Update(chain).Update(field(1));
    chain = h.Finish();
    if (field(2) != crypto::AsView(chain)) {
      return absl::DataLossError(
          StrCat("audit_events: chain hash mismatch at seq ", i + 1));
    }
  }
  return static_cast<uint64_t>(n);
}

}  // namespace ledger::bench
