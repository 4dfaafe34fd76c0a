#include "tools/bench/provenance_pg.h"

#include <libpq-fe.h>

#include <algorithm>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "base/status_macros.h"
#include "base/strings.h"
#include "ledger/entry.h"
#include "ledger/event.h"
#include "tools/bench/pg_conn.h"

namespace ledger::bench {
namespace {

constexpr char kSchema[] = R"sql(
SET client_min_messages = warning;
DROP TABLE IF EXISTS entries, entry_subjects, edges;
CREATE TABLE entries (
  idx bigint NOT NULL,
  tenant text NOT NULL,
  type text NOT NULL,
  received_at bigint NOT NULL,
  actor text NOT NULL,
  bytes bytea NOT NULL);
CREATE TABLE entry_subjects (
  tenant text NOT NULL,
  kind smallint NOT NULL,
  id text NOT NULL,
  idx bigint NOT NULL);
CREATE TABLE edges (
  tenant text NOT NULL,
  from_kind smallint NOT NULL,
  from_id text NOT NULL,
  from_version text NOT NULL,
  to_kind smallint NOT NULL,
  to_id text NOT NULL,
  to_version text NOT NULL,
  type text NOT NULL,
  idx bigint NOT NULL);
)sql";

// After the load: building an index once is faster than maintaining it
// row by row, and gives the same tree.
constexpr char kIndexes[] = R"sql(
ALTER TABLE entries ADD PRIMARY KEY (idx);
CREATE INDEX entry_subjects_subject ON entry_subjects (tenant, kind, id, idx);
CREATE INDEX edges_to ON edges (tenant, to_kind, to_id, to_version);
CREATE INDEX edges_from ON edges (tenant, from_kind, from_id, from_version);
)sql";

// The subject's first $4 entries with their bytes, ascending, as a first
// History page of that size returns them.
constexpr char kHistorySql[] =
    "SELECT e.idx, e.bytes FROM entry_subjects s JOIN entries e ON e.idx = "
    "s.idx WHERE s.tenant = $1 AND s.kind = $2 AND s.id = $3 ORDER BY s.idx "
    "LIMIT $4";

// Upstream to depth $5: the nodes reached (UNION drops a row seen before,
// and the depth bound ends every path, so cycles end), each at its least
// depth, and the edges into every node reached before the last hop (the
// engine's rule: the producers of a node at depth d < $5 are read).
constexpr char kUpstreamSql[] = R"sql(
WITH RECURSIVE up(kind, id, version, depth) AS (
  SELECT $2::smallint, $3::text, $4::text, 0
  UNION
  SELECT e.from_kind, e.from_id, e.from_version, u.depth + 1
  FROM up u JOIN edges e
    ON e.tenant = $1 AND e.to_kind = u.kind AND e.to_id = u.id
       AND e.to_version = u.version
  WHERE u.depth < $5),
nodes AS (
  SELECT kind, id, version, min(depth) AS depth FROM up
  GROUP BY kind, id, version)
SELECT 'n', kind, id, version, depth, NULL::smallint, NULL::text,
       NULL::text, NULL::text, NULL::bigint
FROM nodes
UNION ALL
SELECT DISTINCT 'e', e.from_kind, e.from_id, e.from_version, NULL::integer,
       e.to_kind, e.to_id, e.to_version, e.type, e.idx
FROM nodes n JOIN edges e
  ON e.tenant = $1 AND e.to_kind = n.kind AND e.to_id = n.id
     AND e.to_version = n.version
WHERE n.depth < $5
)sql";

// COPY text format: backslash, tab, newline and carriage return escaped.
void AppendText(std::string& out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
}

// bytea in COPY text: \\x and hex (the backslash itself escaped).
void AppendBytea(std::string& out, std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\\\x";
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
}

// One table's COPY on its own connection.
class Copier {
 public:
  static absl::StatusOr<Copier> Open(const std::string& conninfo,
                                     const std::string& table) {
    Copier c;
    LEDGER_ASSIGN_OR_RETURN(c.conn_, PgConnect(conninfo));
    PgResult r(
        PQexec(c.conn_.get(), StrCat("COPY ", table, " FROM STDIN").c_str()));
    if (PQresultStatus(r.get()) != PGRES_COPY_IN) {
      return absl::InternalError(
          StrCat("COPY ", table, ": ", Trim(PQerrorMessage(c.conn_.get()))));
    }
    c.table_ = table;
    return c;
  }
  std::string& buffer() { return buffer_; }
  absl::Status Flush(bool force) {
    if (buffer_.empty() || (!force && buffer_.size() < (1 << 20))) {
      return absl::OkStatus();
    }
    if (PQputCopyData(conn_.get(), buffer_.data(),
                      static_cast<int>(buffer_.size())) != 1) {
      return absl::InternalError(
          StrCat("COPY ", table_, ": ", Trim(PQerrorMessage(conn_.get()))));
    }
    buffer_.clear();
    return absl::OkStatus();
  }
  absl::Status Finish() {
    LEDGER_RETURN_IF_ERROR(Flush(true));
    if (PQputCopyEnd(conn_.get(), nullptr) != 1) {
      return absl::InternalError(
          StrCat("COPY ", table_, " end: ", Trim(PQerrorMessage(conn_.get()))));
    }
    PgResult r(PQgetResult(conn_.get()));
    return PgCheck(conn_.get(), r, StrCat("COPY ", table_));
  }

 private:
  PgConn conn_;
  std::string table_;
  std::string buffer_;
};

std::string Number(uint64_t n) { return StrCat(n); }

}  // namespace

struct ProvenancePg::Conn {
  PgConn conn;
};

absl::StatusOr<std::unique_ptr<ProvenancePg>> ProvenancePg::Start(
    const PgServerOptions& options) {
  std::unique_ptr<ProvenancePg> pg(new ProvenancePg());
  LEDGER_ASSIGN_OR_RETURN(pg->server_, PgServer::Start(options));
  pg->info_ = nlohmann::json{{"server_version", pg->server_->version()},
                             {"shared_buffers", options.shared_buffers},
                             {"settings", options.settings},
                             {"connection", "libpq over the Unix socket"}};
  return pg;
}

ProvenancePg::~ProvenancePg() { (void)Stop(); }

absl::Status ProvenancePg::Load(
    const Ledger& ledger, uint64_t size,
    const std::function<void(std::string_view)>& progress) {
  const std::string conninfo = server_->socket_conninfo();
  {
    LEDGER_ASSIGN_OR_RETURN(PgConn conn, PgConnect(conninfo));
    LEDGER_RETURN_IF_ERROR(PgExec(conn.get(), kSchema, "creating the tables"));
  }
  LEDGER_ASSIGN_OR_RETURN(Copier entries, Copier::Open(conninfo, "entries"));
  LEDGER_ASSIGN_OR_RETURN(Copier subjects,
                          Copier::Open(conninfo, "entry_subjects"));
  LEDGER_ASSIGN_OR_RETURN(Copier edges, Copier::Open(conninfo, "edges"));
  uint64_t subject_rows = 0, edge_rows = 0;
  constexpr uint64_t kChunk = 10'000;
  std::vector<uint64_t> indexes;
  for (uint64_t from = 0; from < size; from += kChunk) {
    indexes.clear();
    for (uint64_t i = from; i < std::min(size, from + kChunk); ++i) {
      indexes.push_back(i);
    }
    LEDGER_ASSIGN_OR_RETURN(std::vector<std::string> bytes,
                            ledger.GetEntriesAt(indexes));
    for (size_t k = 0; k < bytes.size(); ++k) {
      const uint64_t index = indexes[k];
      LEDGER_ASSIGN_OR_RETURN(Entry entry, DecodeEntry(bytes[k]));
      LEDGER_ASSIGN_OR_RETURN(Event event, DecodeEvent(entry.event_bytes));
      std::string& e = entries.buffer();
      e += Number(index);
      e += '\t';
      AppendText(e, event.tenant);
      e += '\t';
      AppendText(e, event.type);
      e += '\t';
      e += StrCat(entry.received_at_ns);
      e += '\t';
      AppendText(e, event.actor.id);
      e += '\t';
      AppendBytea(e, bytes[k]);
      e += '\n';
      // One row per distinct back-link, as by_subject has one record.
      std::set<std::pair<LinkKind, std::string>> keys;
      for (auto& key : SubjectKeys(event)) keys.insert(std::move(key));
      for (const auto& [kind, id] : keys) {
        std::string& s = subjects.buffer();
        AppendText(s, event.tenant);
        s += StrCat("\t", static_cast<int>(kind), "\t");
        AppendText(s, id);
        s += StrCat("\t", index, "\n");
        ++subject_rows;
      }
      // Every (input, output) pair once.
      std::set<std::tuple<SubjectKind, std::string, std::string, SubjectKind,
                          std::string, std::string>>
          pairs;
      for (const SubjectRef& in : event.inputs) {
        for (const SubjectRef& out : event.outputs) {
          pairs.emplace(in.kind, in.id, in.version, out.kind, out.id,
                        out.version);
        }
      }
      for (const auto& [fk, fid, fv, tk, tid, tv] : pairs) {
        std::string& g = edges.buffer();
        AppendText(g, event.tenant);
        g += StrCat("\t", static_cast<int>(fk), "\t");
        AppendText(g, fid);
        g += '\t';
        AppendText(g, fv);
        g += StrCat("\t", static_cast<int>(tk), "\t");
        AppendText(g, tid);
        g += '\t';
        AppendText(g, tv);
        g += '\t';
        AppendText(g, event.type);
        g += StrCat("\t", index, "\n");
        ++edge_rows;
      }
    }
    LEDGER_RETURN_IF_ERROR(entries.Flush(false));
    LEDGER_RETURN_IF_ERROR(subjects.Flush(false));
    LEDGER_RETURN_IF_ERROR(edges.Flush(false));
    const uint64_t done = std::min(size, from + kChunk);
    if (done % 100'000 == 0 || done == size) {
      progress(StrCat("postgres: copied ", done, " of ", size, " entries"));
    }
  }
  LEDGER_RETURN_IF_ERROR(entries.Finish());
  LEDGER_RETURN_IF_ERROR(subjects.Finish());
  LEDGER_RETURN_IF_ERROR(edges.Finish());
  LEDGER_ASSIGN_OR_RETURN(PgConn conn, PgConnect(conninfo));
  progress("postgres: building the indexes");
  LEDGER_RETURN_IF_ERROR(PgExec(conn.get(), kIndexes, "creating the indexes"));
  progress("postgres: VACUUM ANALYZE");
  LEDGER_RETURN_IF_ERROR(
      PgExec(conn.get(), "VACUUM ANALYZE", "VACUUM ANALYZE"));
  // Warm: every table and index in shared_buffers (pg_prewarm is in
  // postgresql-contrib; without it the warm-up queries do the same for the
  // pages the queries touch).
  bool prewarmed = false;
  {
    PgResult r(PQexec(conn.get(), "CREATE EXTENSION IF NOT EXISTS pg_prewarm"));
    if (PQresultStatus(r.get()) == PGRES_COMMAND_OK) {
      PgResult p(PQexec(conn.get(),
                        "SELECT sum(pg_prewarm(c.oid)) FROM pg_class c JOIN "
                        "pg_namespace n ON n.oid = c.relnamespace WHERE "
                        "n.nspname = 'public' AND c.relkind IN ('r', 'i')"));
      prewarmed = PQresultStatus(p.get()) == PGRES_TUPLES_OK;
    }
  }
  PgResult sizes(PQexec(
      conn.get(),
      "SELECT pg_total_relation_size('entries'), "
      "pg_total_relation_size('entry_subjects'), "
      "pg_total_relation_size('edges'), pg_database_size(current_database())"));
  LEDGER_RETURN_IF_ERROR(PgCheck(conn.get(), sizes, "table sizes"));
  const auto value = [&](int col) {
    return ParseCanonicalUint64(PQgetvalue(sizes.get(), 0, col)).value_or(0);
  };
  info_["rows"] = {{"entries", size},
                   {"entry_subjects", subject_rows},
                   {"edges", edge_rows}};
  info_["bytes"] = {{"entries", value(0)},
                    {"entry_subjects", value(1)},
                    {"edges", value(2)},
                    {"database", value(3)}};
  info_["prewarmed"] = prewarmed;
  progress(StrCat("postgres: ", size, " entries, ", subject_rows,
                  " subject rows, ", edge_rows, " edges, database ",
                  value(3) >> 20, " MiB", prewarmed ? ", prewarmed" : ""));
  return absl::OkStatus();
}

absl::Status ProvenancePg::Prepare() {
  conn_ = std::make_unique<Conn>();
  LEDGER_ASSIGN_OR_RETURN(conn_->conn, PgConnect(server_->socket_conninfo()));
  PGconn* c = conn_->conn.get();
  PgResult h(PQprepare(c, "history", kHistorySql, 4, nullptr));
  LEDGER_RETURN_IF_ERROR(PgCheck(c, h, "preparing history"));
  PgResult u(PQprepare(c, "upstream", kUpstreamSql, 5, nullptr));
  return PgCheck(c, u, "preparing upstream");
}

absl::StatusOr<size_t> ProvenancePg::History(std::string_view tenant,
                                             LinkKind kind, std::string_view id,
                                             size_t limit) {
  PGconn* c = conn_->conn.get();
  const std::string t(tenant), k = StrCat(static_cast<int>(kind)), i(id),
                               l = StrCat(limit);
  const char* values[] = {t.c_str(), k.c_str(), i.c_str(), l.c_str()};
  // Binary results: the bytes arrive as they are stored, as ours do.
  PgResult r(PQexecPrepared(c, "history", 4, values, nullptr, nullptr, 1));
  LEDGER_RETURN_IF_ERROR(PgCheck(c, r, "history"));
  const int n = PQntuples(r.get());
  size_t bytes = 0;
  for (int row = 0; row < n; ++row) bytes += PQgetlength(r.get(), row, 1);
  if (n > 0 && bytes == 0) return absl::InternalError("history: empty rows");
  return static_cast<size_t>(n);
}

absl::StatusOr<ProvenancePg::Graph> ProvenancePg::Upstream(
    std::string_view tenant, const LineageNode& node, uint32_t depth) {
  PGconn* c = conn_->conn.get();
  const std::string t(tenant), k = StrCat(static_cast<int>(node.kind)),
                               d = StrCat(depth);
  const char* values[] = {t.c_str(), k.c_str(), node.id.c_str(),
                          node.version.c_str(), d.c_str()};
  PgResult r(PQexecPrepared(c, "upstream", 5, values, nullptr, nullptr, 0));
  LEDGER_RETURN_IF_ERROR(PgCheck(c, r, "upstream"));
  Graph g;
  const int n = PQntuples(r.get());
  for (int row = 0; row < n; ++row) {
    if (PQgetvalue(r.get(), row, 0)[0] == 'n') {
      ++g.nodes;
    } else {
      ++g.edges;
    }
  }
  return g;
}

nlohmann::json ProvenancePg::Info() const { return info_; }

absl::Status ProvenancePg::Stop() {
  conn_.reset();
  if (server_ == nullptr) return absl::OkStatus();
  absl::Status s = server_->Stop();
  server_.reset();
  return s;
}

}  // namespace ledger::bench
