#include "tools/bench/pg_conn.h"

#include "base/strings.h"

namespace ledger::bench {

absl::StatusOr<PgConn> PgConnect(const std::string& conninfo) {
  PgConn conn(PQconnectdb(conninfo.c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return absl::UnavailableError(
        StrCat("PostgreSQL: ", Trim(PQerrorMessage(conn.get()))));
  }
  return conn;
}

absl::Status PgCheck(PGconn* conn, const PgResult& r, std::string_view what) {
  ExecStatusType s = PQresultStatus(r.get());
  if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) return absl::OkStatus();
  return absl::InternalError(StrCat(what, ": ", Trim(PQerrorMessage(conn))));
}

absl::Status PgExec(PGconn* conn, const char* sql, std::string_view what) {
  PgResult r(PQexec(conn, sql));
  return PgCheck(conn, r, what);
}

}  // namespace ledger::bench
