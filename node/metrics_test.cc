#include "node/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace ledger::node {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(HistogramTest, ObservationsLandInTheFirstBucketTheyFit) {
  Histogram<3> h({1, 10, 100});
  for (uint64_t v : {0, 1, 2, 10, 11, 100, 101, 5000}) h.Observe(v);
  EXPECT_EQ(h.bucket(0), 2u);  // 0, 1
  EXPECT_EQ(h.bucket(1), 2u);  // 2, 10
  EXPECT_EQ(h.bucket(2), 2u);  // 11, 100
  EXPECT_EQ(h.bucket(3), 2u);  // above the last bound
  EXPECT_EQ(h.sum(), 0u + 1 + 2 + 10 + 11 + 100 + 101 + 5000);
}

TEST(NodeMetricsTest, AppendsAreCountedByRpcAndCode) {
  NodeMetrics m;
  m.RecordAppend(AppendRpc::kAppendBatch, absl::StatusCode::kOk, 100);
  m.RecordAppend(AppendRpc::kAppendBatch, absl::StatusCode::kOk, 20);
  m.RecordAppend(AppendRpc::kAppend, absl::StatusCode::kInvalidArgument, 1);
  m.RecordAppend(AppendRpc::kAppendStream, absl::StatusCode::kResourceExhausted,
                 7);
  const std::string text = m.Render(nullptr);
  EXPECT_THAT(text, HasSubstr("ledger_appends_total{rpc=\"AppendBatch\","
                              "code=\"OK\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("ledger_append_events_total{rpc=\"AppendBatch\","
                              "code=\"OK\"} 120\n"));
  EXPECT_THAT(text, HasSubstr("ledger_appends_total{rpc=\"Append\","
                              "code=\"INVALID_ARGUMENT\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("ledger_append_events_total{rpc=\"AppendStream\","
                              "code=\"RESOURCE_EXHAUSTED\"} 7\n"));
  // Only accepted batches count in the batch size histogram: 100 and 20.
  EXPECT_THAT(text, HasSubstr("ledger_append_batch_events_bucket{le=\"16\"} "
                              "0\nledger_append_batch_events_bucket{le=\"64\"}"
                              " 1\n"));
  EXPECT_THAT(text, HasSubstr("ledger_append_batch_events_count 2\n"));
  EXPECT_THAT(text, HasSubstr("ledger_append_batch_events_sum 120\n"));
  // Codes never seen are left out (OK always shows).
  EXPECT_THAT(text, Not(HasSubstr("code=\"DATA_LOSS\"")));
}

TEST(NodeMetricsTest, LatencyIsShownInSecondsAndBeforeTheLedgerOnlyProgress) {
  NodeMetrics m;
  m.commit_latency_us.Observe(1500);  // 1.5 ms
  m.open_progress.checked = 4096;
  m.open_progress.total = 10000;
  const std::string text = m.Render(nullptr);
  EXPECT_THAT(text, HasSubstr("ledger_commit_latency_seconds_bucket{le="
                              "\"0.001\"} 0\nledger_commit_latency_seconds_"
                              "bucket{le=\"0.0025\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("ledger_commit_latency_seconds_sum 0.0015\n"));
  EXPECT_THAT(text, HasSubstr("ledger_startup_verify_entries_checked 4096\n"));
  EXPECT_THAT(text, HasSubstr("ledger_startup_verify_entries_total 10000\n"));
  EXPECT_THAT(text, HasSubstr("ledger_startup_verified 0\n"));
  // Nothing that needs the ledger.
  EXPECT_THAT(text, Not(HasSubstr("ledger_entries")));
  EXPECT_THAT(text, Not(HasSubstr("ledger_rocksdb")));
}

TEST(NodeMetricsTest, EveryFamilyHasHelpAndTypeBeforeItsSamples) {
  NodeMetrics m;
  m.RecordHttp(HttpResource::kHashTile, 200);
  m.RecordHttp(HttpResource::kHashTile, 404);
  m.RecordHttp(HttpResource::kEntryBundle, 403);
  const std::string text = m.Render(nullptr);
  EXPECT_THAT(text, HasSubstr("ledger_http_requests_total{resource=\"tile\","
                              "status=\"404\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("ledger_http_requests_total{resource="
                              "\"entries\",status=\"4xx\"} 1\n"));
  std::string typed;  // the family of the last TYPE line
  size_t at = 0;
  while (at < text.size()) {
    const size_t end = text.find('\n', at);
    ASSERT_NE(end, std::string::npos) << "the last line has no newline";
    const std::string line = text.substr(at, end - at);
    at = end + 1;
    if (line.starts_with("# HELP ")) continue;
    if (line.starts_with("# TYPE ")) {
      typed = line.substr(7, line.find(' ', 7) - 7);
      continue;
    }
    ASSERT_FALSE(typed.empty()) << line;
    EXPECT_TRUE(line.starts_with(typed)) << line << " after TYPE " << typed;
  }
}

}  // namespace
}  // namespace ledger::node
