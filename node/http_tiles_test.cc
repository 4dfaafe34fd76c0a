// The node's HTTP port end to end: an entry bundle holding an entry longer
// than the bundle format's u16 length answers 501 naming the entry
// (ledger/FORMAT.md section 14), while the bundle before it and the hash
// tile covering it are served.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <string>

#include "base/strings.h"
#include "node/node_testing.h"

namespace ledger::node {
namespace {

using ::testing::HasSubstr;
using testing::MakeEventProto;
using testing::SignedAppend;

class HttpTilesTest : public testing::NodeFixture {
 protected:
  void Configure(NodeConfig& config) override {
    config.http_listen = "127.0.0.1:0";
    // Room for an event whose entry exceeds 65,535 bytes: 20 attribute
    // values of 4,000 bytes are 80,000 bytes of event.
    config.limits.max_event_bytes = 128 * 1024;
  }
  void SetUp() override {
    NodeFixture::SetUp();
    RegisterKey(emitter_);
  }

  // The index of an appended event with `attributes` values of 4,000 bytes.
  uint64_t AppendWithAttributes(int n, int attributes) {
    v1::Event event = MakeEventProto(kTenant, n);
    for (int i = 0; i < attributes; ++i) {
      (*event.mutable_attributes())[StrCat("big.", 10 + i)] =
          std::string(4000, static_cast<char>('a' + i % 26));
    }
    v1::AppendResponse response;
    grpc::Status s = ingest_->Append(
        Context().get(), SignedAppend(emitter_.key, event), &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.entry().index();
  }
};

TEST_F(HttpTilesTest, BundleWithAnEntryOverTheU16LengthIs501NamingIt) {
  ASSERT_NE(node_->http_port(), 0);
  const uint64_t small = AppendWithAttributes(1, 1);
  const uint64_t big = AppendWithAttributes(2, 20);
  ASSERT_EQ(big, small + 1);
  absl::StatusOr<std::string> entry = node_->ledger().GetEntry(big);
  ASSERT_TRUE(entry.ok()) << entry.status();
  ASSERT_GT(entry->size(), 65535u);

  httplib::Client http("127.0.0.1", node_->http_port());
  // Bundles are indexed from entry 0 of tile 000; both are in tile 000.
  ASSERT_LT(big, 256u);
  httplib::Result before = http.Get(StrCat("/tile/entries/000.p/", big));
  ASSERT_TRUE(before) << httplib::to_string(before.error());
  EXPECT_EQ(before->status, 200) << before->body;

  httplib::Result with = http.Get(StrCat("/tile/entries/000.p/", big + 1));
  ASSERT_TRUE(with) << httplib::to_string(with.error());
  EXPECT_EQ(with->status, 501);
  EXPECT_THAT(with->body,
              HasSubstr(StrCat("entry ", big, " is ", entry->size())));

  // Its hash is in the level-0 tile like any other.
  httplib::Result hashes = http.Get(StrCat("/tile/0/000.p/", big + 1));
  ASSERT_TRUE(hashes) << httplib::to_string(hashes.error());
  EXPECT_EQ(hashes->status, 200) << hashes->body;
  EXPECT_EQ(hashes->body.size(), (big + 1) * 32);
}

}  // namespace
}  // namespace ledger::node
