#pragma once

// libpq handles and the few calls the PostgreSQL peers share: owning
// pointers for a connection and a result, connecting, and turning a
// command's result into a Status.

#include <libpq-fe.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ledger::bench {

struct PgConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using PgConn = std::unique_ptr<PGconn, PgConnDeleter>;
struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

// Unavailable with PostgreSQL's message if the connection fails.
absl::StatusOr<PgConn> PgConnect(const std::string& conninfo);
// OK if `r` is a successful command or query; Internal naming `what` and
// PostgreSQL's message otherwise.
absl::Status PgCheck(PGconn* conn, const PgResult& r, std::string_view what);
// Runs `sql` (no parameters, no rows wanted) and checks it.
absl::Status PgExec(PGconn* conn, const char* sql, std::string_view what);

}  // namespace ledger::bench
