// Needs PostgreSQL's server programs (Debian postgresql, postgresql-contrib);
// label "integration".

#include "tools/bench/pg_peer.h"

#include <filesystem>

#include "gtest/gtest.h"
#include "tools/bench/pg_server.h"

namespace ledger::bench {
namespace {

std::vector<PgRow> Rows(uint64_t n) {
  WorkloadOptions w;
  w.events = n;
  w.batch_size = 100;
  w.keep_event_bytes = true;
  absl::StatusOr<std::vector<SignedBatch>> batches =
      BuildWorkload(w, crypto::Ed25519PrivateKey::Generate());
  EXPECT_TRUE(batches.ok());
  absl::StatusOr<std::vector<PgRow>> rows = RowsFromWorkload(*batches);
  EXPECT_TRUE(rows.ok()) << rows.status();
  return rows.ok() ? *rows : std::vector<PgRow>();
}

TEST(PgPeerTest, ChainedAndPlainTablesLoadAndTheChainVerifies) {
  absl::StatusOr<std::unique_ptr<PgServer>> pg = PgServer::Start({});
  ASSERT_TRUE(pg.ok()) << pg.status();
  const std::string conninfo = (*pg)->conninfo();
  EXPECT_NE((*pg)->version().find("PostgreSQL"), std::string::npos);
  const std::vector<PgRow> rows = Rows(300);
  ASSERT_EQ(rows.size(), 300u);
  EXPECT_EQ(rows[0].event_hash.size(), 32u);

  ASSERT_TRUE(ResetPgSchema(conninfo).ok());
  PgLoadOptions chained;
  chained.clients = 3;
  chained.rows_per_insert = 20;
  absl::StatusOr<PgLoadResult> r = RunPgLoad(conninfo, rows, chained);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rows, 300u);
  EXPECT_EQ(r->statements, 15u);
  EXPECT_EQ(r->failed_statements, 0u) << r->first_error;
  absl::StatusOr<uint64_t> checked = CheckPgChain(conninfo);
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(*checked, 300u);

  // The same rows again: event_id is unique, every statement fails.
  absl::StatusOr<PgLoadResult> again = RunPgLoad(conninfo, rows, chained);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->rows, 0u);
  EXPECT_EQ(again->failed_statements, 15u);

  PgLoadOptions plain;
  plain.chain = false;
  plain.clients = 2;
  plain.rows_per_insert = 1;
  absl::StatusOr<PgLoadResult> p = RunPgLoad(conninfo, rows, plain);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->rows, 300u);

  ASSERT_TRUE((*pg)->Stop().ok());
  EXPECT_FALSE(ResetPgSchema(conninfo).ok());  // the server is gone
}

}  // namespace
}  // namespace ledger::bench
