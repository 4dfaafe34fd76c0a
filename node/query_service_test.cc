#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/rfc6962.h"
#include "node/node_testing.h"
#include "node/read_floor.h"

namespace ledger::node {
namespace {

using ::testing::HasSubstr;
using testing::MakeEventProto;
using testing::SignedBatch;

class QueryServiceTest : public testing::NodeFixture {
 protected:
  void SetUp() override {
    NodeFixture::SetUp();
    RegisterKey(emitter_);
  }

  std::vector<v1::EntryRef> AppendEvents(int first, int n) {
    std::vector<v1::Event> events;
    for (int i = 0; i < n; ++i) {
      events.push_back(MakeEventProto(kTenant, first + i));
    }
    v1::AppendBatchResponse response;
    grpc::Status s = ingest_->AppendBatch(
        Context().get(), SignedBatch(emitter_.key, events), &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {response.entries().begin(), response.entries().end()};
  }

  grpc::Status ReadRange(uint64_t start, uint64_t end,
                         std::vector<v1::Entry>* out) {
    v1::GetEntriesRequest request;
    request.set_start(start);
    request.set_end(end);
    // Generous: 10,000 entries stream slowly under ThreadSanitizer.
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::minutes(5));
    auto reader = query_->GetEntries(&context, request);
    v1::Entry entry;
    while (reader->Read(&entry)) out->push_back(entry);
    return reader->Finish();
  }
};

TEST_F(QueryServiceTest, GetEntryByIndexDecodesTheEntry) {
  std::vector<v1::EntryRef> refs = AppendEvents(1, 3);
  v1::GetEntryRequest request;
  request.set_index(refs[1].index());
  v1::Entry entry;
  grpc::Status s = query_->GetEntry(Context().get(), request, &entry);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(entry.index(), refs[1].index());
  EXPECT_EQ(entry.leaf_hash(), refs[1].leaf_hash());
  EXPECT_EQ(entry.leaf_hash(),
            std::string(crypto::AsView(crypto::HashLeaf(entry.entry_bytes()))));
  EXPECT_EQ(entry.event().event_id(), refs[1].event_id());
  EXPECT_EQ(entry.event().type(), "annotation.created");
  EXPECT_EQ(entry.event().tenant(), kTenant);
  EXPECT_EQ(entry.key_id(), std::string(crypto::AsView(emitter_.key_id())));
  EXPECT_EQ(entry.batch_size(), 3u);
  EXPECT_EQ(entry.batch_index(), 1u);
  EXPECT_EQ(entry.received_at().seconds(), refs[1].received_at().seconds());
  EXPECT_FALSE(entry.back_links().empty());
}

// Read-your-writes (node/read_floor.h): a read that names a minimum size
// is answered once the node holds that many committed entries, refused with
// Unavailable naming both sizes if it does not get there in time, and a
// malformed size is InvalidArgument.
TEST_F(QueryServiceTest, MinSizeMetadataWaitsForTheSize) {
  AppendEvents(1, 2);
  const uint64_t size = LedgerSize();
  v1::GetEntryRequest request;
  request.set_index(size - 1);
  v1::Entry entry;
  auto held = Context();
  held->AddMetadata(kMinSizeHeader, std::to_string(size));
  grpc::Status s = query_->GetEntry(held.get(), request, &entry);
  EXPECT_TRUE(s.ok()) << s.error_message();

  // Asked before the entries exist: answered once they do.
  grpc::Status waited;
  v1::Entry later;
  std::thread reader([&] {
    auto context = Context();
    context->AddMetadata(kMinSizeHeader, std::to_string(size + 3));
    v1::GetEntryRequest r;
    r.set_index(size + 2);
    waited = query_->GetEntry(context.get(), r, &later);
  });
  std::vector<v1::EntryRef> refs = AppendEvents(10, 3);
  reader.join();
  EXPECT_TRUE(waited.ok()) << waited.error_message();
  EXPECT_EQ(later.index(), size + 2);

  auto beyond = Context();
  beyond->AddMetadata(kMinSizeHeader, std::to_string(LedgerSize() + 10));
  s = query_->GetEntry(beyond.get(), request, &entry);
  EXPECT_EQ(s.error_code(), grpc::UNAVAILABLE);
  EXPECT_THAT(s.error_message(),
              HasSubstr(StrCat("this node holds ", LedgerSize(),
                               " committed entries, fewer than the ",
                               LedgerSize() + 10)));

  auto bad = Context();
  bad->AddMetadata(kMinSizeHeader, "12x");
  s = query_->GetEntry(bad.get(), request, &entry);
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("ledger-min-size"));
}

TEST_F(QueryServiceTest, GetEntryByEventKey) {
  std::vector<v1::EntryRef> refs = AppendEvents(1, 2);
  v1::GetEntryRequest request;
  request.mutable_event()->set_tenant(kTenant);
  request.mutable_event()->set_event_id(refs[0].event_id());
  v1::Entry entry;
  grpc::Status s = query_->GetEntry(Context().get(), request, &entry);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(entry.index(), refs[0].index());

  request.mutable_event()->set_tenant("other-co");
  s = query_->GetEntry(Context().get(), request, &entry);
  EXPECT_EQ(s.error_code(), grpc::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("in tenant \"other-co\""));

  v1::GetEntryRequest past;
  past.set_index(LedgerSize());
  s = query_->GetEntry(Context().get(), past, &entry);
  EXPECT_EQ(s.error_code(), grpc::OUT_OF_RANGE);
  EXPECT_THAT(s.error_message(), HasSubstr("past the end of the ledger"));
}

TEST_F(QueryServiceTest, GetEntriesStreamsARangeInOrder) {
  AppendEvents(1, 600);
  std::vector<v1::Entry> entries;
  grpc::Status s = ReadRange(5, 505, &entries);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(entries.size(), 500u);
  for (size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].index(), 5 + i);
  }
  entries.clear();
  s = ReadRange(0, 0, &entries);  // to the end
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(entries.size(), LedgerSize());
  entries.clear();
  ASSERT_TRUE(ReadRange(LedgerSize(), 0, &entries).ok());
  EXPECT_TRUE(entries.empty());
  entries.clear();
  ASSERT_TRUE(ReadRange(10, LedgerSize() + 100, &entries).ok());
  EXPECT_EQ(entries.size(), LedgerSize() - 10);
}

TEST_F(QueryServiceTest, GetEntriesRangeErrors) {
  std::vector<v1::Entry> entries;
  grpc::Status s = ReadRange(LedgerSize() + 1, 0, &entries);
  EXPECT_EQ(s.error_code(), grpc::OUT_OF_RANGE);
  EXPECT_THAT(s.error_message(), HasSubstr("past the end"));
  s = ReadRange(5, 2, &entries);
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("end 2 is before start 5"));
  EXPECT_TRUE(entries.empty());
}

TEST_F(QueryServiceTest, GetEntriesReturnsAtMostTenThousand) {
#ifdef LEDGER_TSAN_BUILD
  GTEST_SKIP() << "10k appends and a 10k-entry read take minutes under TSan";
#endif
  AppendEvents(1, 10'050);
  std::vector<v1::Entry> entries;
  grpc::Status s = ReadRange(0, 0, &entries);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(entries.size(), 10'000u);
  EXPECT_EQ(entries.back().index(), 9'999u);
}

}  // namespace
}  // namespace ledger::node
