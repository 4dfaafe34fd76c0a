#include "node/etcd_head.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace ledger::node {
namespace {

// The vector of FORMAT.md section 17, written out by hand.
constexpr char kVector[] =
    "ledger-head/1\n"
    "epoch 7\n"
    "size 3\n"
    "root 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
    "chain ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\n"
    "write 000102030405060708090a0b0c0d0e0f\n";

HeadRecord VectorRecord() {
  HeadRecord r;
  r.epoch = 7;
  r.head.size = 3;
  for (int i = 0; i < 32; ++i) r.head.root[i] = static_cast<uint8_t>(i);
  r.head.chain_hash.fill(0xff);
  for (int i = 0; i < 16; ++i) r.write_id.push_back(static_cast<char>(i));
  return r;
}

TEST(EtcdHeadTest, KeysAreUnderTheOrigin) {
  EXPECT_EQ(EtcdLeaderKey("ledger.example.com/eu"),
            "/annotation-ledger/ledger.example.com/eu/leader");
  EXPECT_EQ(EtcdHeadKey("ledger.example.com/eu"),
            "/annotation-ledger/ledger.example.com/eu/head");
}

TEST(EtcdHeadTest, EncodesTheVector) {
  EXPECT_EQ(EncodeHeadRecord(VectorRecord()), kVector);
}

// The vector printed in FORMAT.md is this one: the document and the code
// cannot drift apart.
TEST(EtcdHeadTest, FormatDocumentShowsTheVector) {
  const std::filesystem::path format = LEDGER_FORMAT_MD;  // set by CMake
  std::ifstream in(format);
  ASSERT_TRUE(in.good()) << format;
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  const size_t section = doc.find("## 17. The etcd head record");
  ASSERT_NE(section, std::string::npos);
  const size_t vector = doc.find("Test vector", section);
  ASSERT_NE(vector, std::string::npos);
  const size_t open = doc.find("```\n", vector);
  ASSERT_NE(open, std::string::npos);
  const size_t close = doc.find("```", open + 4);
  ASSERT_NE(close, std::string::npos);
  EXPECT_EQ(doc.substr(open + 4, close - open - 4), kVector);
}

TEST(EtcdHeadTest, DecodesTheVector) {
  absl::StatusOr<HeadRecord> r = DecodeHeadRecord(kVector);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, VectorRecord());
}

TEST(EtcdHeadTest, EmptyLedgerRecordRoundTrips) {
  HeadRecord r;
  r.epoch = 2;
  r.write_id = std::string(kWriteIdSize, '\x5a');
  absl::StatusOr<HeadRecord> back = DecodeHeadRecord(EncodeHeadRecord(r));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, r);
}

// Each variant differs from the vector in one place; all are DataLoss
// naming the line.
TEST(EtcdHeadTest, RefusesAnythingButTheCanonicalText) {
  const std::string good = kVector;
  auto replace = [&](std::string_view from, std::string_view to) {
    std::string s = good;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  const struct {
    std::string value;
    std::string message_part;
  } cases[] = {
      {"", "newline"},
      {good.substr(0, good.size() - 1), "newline"},
      {replace("ledger-head/1", "ledger-head/2"), "line 1"},
      {replace("epoch 7", "epoch 07"), "line 2"},
      {replace("epoch 7", "epoch -7"), "line 2"},
      {replace("epoch 7", "epoch 9223372036854775808"), "line 2"},
      {replace("size 3", "size  3"), "line 3"},
      {replace("size 3", "count 3"), "line 3"},
      {replace("root 0001", "root 0A01"), "line 4"},
      {replace("root 0001", "root 01"), "line 4"},
      {replace("chain ff", "chain gg"), "line 5"},
      {replace("write 0001", "write 00010203"), "line 6"},
      {good + "extra\n", "7 lines"},
      {replace("size 3\n", ""), "5 lines"},
      {replace("\nsize 3", "\r\nsize 3"), "line 2"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<HeadRecord> r = DecodeHeadRecord(c.value);
    ASSERT_FALSE(r.ok()) << c.value;
    EXPECT_TRUE(absl::IsDataLoss(r.status())) << r.status();
    EXPECT_NE(r.status().message().find(c.message_part),
              absl::string_view::npos)
        << r.status() << " for " << c.value;
  }
}

TEST(EtcdHeadTest, WriteIdsAreFreshAndSized) {
  const std::string a = NewWriteId(), b = NewWriteId();
  EXPECT_EQ(a.size(), kWriteIdSize);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace ledger::node
