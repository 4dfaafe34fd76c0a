// SendRequests and RunAppend against an in-process fake Ingest service that
// checks every batch signature exactly as the node does (VerifyBatch over
// node::EventFromProto), so a passing test means the node would accept the
// bytes too.

#include "tools/ledgerctl/append.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "base/strings.h"
#include "crypto/rfc6962.h"
#include "ledger/batch.h"
#include "ledger/lineage_rules.h"
#include "nlohmann/json.hpp"
#include "node/convert.h"
#include "tools/ledgerctl/gen_events.h"
#include "tools/ledgerctl/keys.h"

namespace ledger::ctl {
namespace {

class FakeIngest final : public v1::Ingest::Service {
 public:
  explicit FakeIngest(crypto::Ed25519PublicKey key) : key_(key) {}

  grpc::Status Append(grpc::ServerContext*, const v1::AppendRequest* request,
                      v1::AppendResponse* response) override {
    v1::AppendBatchResponse batch;
    grpc::Status s = Sequence({request->event()}, request->signature(), &batch);
    if (s.ok()) *response->mutable_entry() = batch.entries(0);
    return s;
  }

  grpc::Status AppendBatch(grpc::ServerContext* context,
                           const v1::AppendBatchRequest* request,
                           v1::AppendBatchResponse* response) override {
    {
      // Pushback for the first `refusals_` calls, with the retry hint.
      std::lock_guard<std::mutex> lock(mu_);
      if (refusals_ > 0) {
        --refusals_;
        ++refused_;
        context->AddTrailingMetadata("grpc-retry-pushback-ms", "5");
        return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            "the node's append queue is full; retry in 5 ms");
      }
    }
    std::vector<v1::Event> events(request->events().begin(),
                                  request->events().end());
    return Sequence(events, request->signature(), response);
  }

  size_t requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  void RefuseNext(int calls) {
    std::lock_guard<std::mutex> lock(mu_);
    refusals_ = calls;
  }
  int refused() {
    std::lock_guard<std::mutex> lock(mu_);
    return refused_;
  }

 private:
  grpc::Status Sequence(const std::vector<v1::Event>& protos,
                        const v1::EmitterSignature& signature,
                        v1::AppendBatchResponse* response) {
    std::lock_guard<std::mutex> lock(mu_);
    ++requests_;
    std::vector<Event> events;
    for (const v1::Event& p : protos) {
      if (p.attributes().contains("fail")) {
        return grpc::Status(
            grpc::StatusCode::INVALID_ARGUMENT,
            StrCat("events[", events.size(), "]: rejected by the test"));
      }
      absl::StatusOr<Event> e = node::EventFromProto(p);
      if (!e.ok()) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            std::string(e.status().message()));
      }
      events.push_back(*e);
    }
    // The node's admission rule on lineage (ingest_service.cc).
    if (absl::Status s = CheckBatchLineage(events); !s.ok()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          std::string(s.message()));
    }
    auto key_id = crypto::ToArray<32>(signature.key_id(), "key_id");
    auto sig = crypto::ToArray<64>(signature.signature(), "signature");
    if (!key_id.ok() || !sig.ok()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad signature");
    }
    absl::StatusOr<VerifiedBatch> batch =
        VerifyBatch(std::move(events), *key_id, key_, *sig, EventLimits{});
    if (!batch.ok()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          std::string(batch.status().message()));
    }
    for (size_t i = 0; i < batch->size(); ++i) {
      v1::EntryRef* ref = response->add_entries();
      const std::string& id = protos[i].event_id();
      auto [it, inserted] = index_of_.emplace(id, next_index_);
      if (inserted) ++next_index_;
      ref->set_index(it->second);
      ref->set_duplicate(!inserted);
      ref->set_event_id(id);
      ref->set_leaf_hash(std::string(crypto::AsView(batch->event_hashes()[i])));
    }
    return grpc::Status::OK;
  }

  crypto::Ed25519PublicKey key_;
  std::mutex mu_;
  size_t requests_ = 0;
  int refusals_ = 0;
  int refused_ = 0;
  uint64_t next_index_ = 0;
  std::map<std::string, uint64_t> index_of_;
};

class AppendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ledgerctl_append_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(Keygen("emitter", dir_ + "/keys").ok());
    absl::StatusOr<crypto::NoteSigner> signer = LoadEmitterKey(dir_ + "/keys");
    ASSERT_TRUE(signer.ok()) << signer.status();
    service_ = std::make_unique<FakeIngest>(signer->key().public_key());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    conn_.client.address = StrCat("127.0.0.1:", port);
    conn_.client.insecure_plaintext = true;
  }
  void TearDown() override {
    server_->Shutdown();
    std::filesystem::remove_all(dir_);
  }

  // Writes `count` generated events, with blank lines between some, and
  // returns the file name.
  std::string WriteEvents(uint64_t count, const std::string& extra_line = "") {
    std::ostringstream events;
    EXPECT_TRUE(
        GenerateEvents({.count = count, .tenant = "acme"}, events).ok());
    std::string text;
    std::istringstream in(events.str());
    std::string line;
    for (int n = 0; std::getline(in, line); ++n) {
      if (n % 97 == 5) text += "\n";
      text += line + "\n";
    }
    text += extra_line;
    const std::string path = dir_ + "/events.jsonl";
    std::ofstream(path) << text;
    return path;
  }

  // Where line `n` (from 1) of `text` starts.
  static size_t LineStart(const std::string& text, int n) {
    size_t pos = 0;
    for (int i = 1; i < n; ++i) pos = text.find('\n', pos) + 1;
    return pos;
  }

  // Appends `text` as an events file in batches of 10, one at a time (so
  // nothing is sent after a failed batch).
  absl::Status AppendOneBatchOfTenAtATime(const std::string& text,
                                          std::ostringstream& out,
                                          std::ostringstream& err) {
    std::ofstream(dir_ + "/e.jsonl") << text;
    return RunAppend(conn_,
                     {.key = dir_ + "/keys",
                      .events_file = dir_ + "/e.jsonl",
                      .batch_size = 10,
                      .in_flight = 1,
                      .progress = false},
                     out, err);
  }

  // The acknowledgement lines printed by an append.
  static std::vector<nlohmann::json> Acks(const std::string& out) {
    std::vector<nlohmann::json> acks;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) acks.push_back(nlohmann::json::parse(line));
    return acks;
  }

  std::string dir_;
  std::unique_ptr<FakeIngest> service_;
  std::unique_ptr<grpc::Server> server_;
  ConnectionOptions conn_;
};

TEST_F(AppendTest, BatchesInFlightAreAcknowledgedInInputOrder) {
  const std::string file = WriteEvents(2500);
  std::ostringstream out, err;
  absl::Status s = RunAppend(conn_,
                             {.key = dir_ + "/keys",
                              .events_file = file,
                              .batch_size = 300,
                              .in_flight = 4,
                              .threads = 2,
                              .progress = false},
                             out, err);
  ASSERT_TRUE(s.ok()) << s << "\n" << err.str();
  EXPECT_EQ(service_->requests(), 9u);
  std::vector<nlohmann::json> acks = Acks(out.str());
  ASSERT_EQ(acks.size(), 2500u);
  std::set<uint64_t> indexes;
  uint64_t last_line = 0;
  for (const nlohmann::json& a : acks) {
    EXPECT_GT(a["line"].get<uint64_t>(), last_line);
    last_line = a["line"];
    indexes.insert(a["index"].get<uint64_t>());
    EXPECT_EQ(a["event_id"].get<std::string>().size(), 36u);
    EXPECT_EQ(a["leaf_hash"].get<std::string>().size(), 64u);
    EXPECT_FALSE(a["duplicate"].get<bool>());
  }
  EXPECT_EQ(indexes.size(), 2500u);
  EXPECT_GT(last_line, 2500u);  // blank lines are counted
  EXPECT_NE(err.str().find("append: 2500 events acknowledged in "),
            std::string::npos)
      << err.str();
  EXPECT_NE(err.str().find(" events/s"), std::string::npos);
}

TEST_F(AppendTest, SingleModeSendsOneAppendPerEventAndReportsDuplicates) {
  const std::string file = WriteEvents(40);
  AppendOptions options{.key = dir_ + "/keys/emitter.key",
                        .events_file = file,
                        .in_flight = 3,
                        .single = true,
                        .progress = false};
  std::ostringstream out1, out2, err;
  ASSERT_TRUE(RunAppend(conn_, options, out1, err).ok()) << err.str();
  EXPECT_EQ(service_->requests(), 40u);
  ASSERT_TRUE(RunAppend(conn_, options, out2, err).ok()) << err.str();
  std::vector<nlohmann::json> first = Acks(out1.str());
  std::vector<nlohmann::json> again = Acks(out2.str());
  ASSERT_EQ(first.size(), 40u);
  ASSERT_EQ(again.size(), 40u);
  for (size_t i = 0; i < 40; ++i) {
    EXPECT_EQ(again[i]["index"], first[i]["index"]);
    EXPECT_TRUE(again[i]["duplicate"].get<bool>());
  }
}

TEST_F(AppendTest, ARejectedBatchIsNamedAndStopsTheRest) {
  std::ostringstream events;
  ASSERT_TRUE(GenerateEvents({.count = 50, .tenant = "acme"}, events).ok());
  std::string text = events.str();
  // Mark line 25 (batch 3 of 10) for the fake node to reject.
  size_t pos = text.find("\"attributes\":{", LineStart(text, 25)) + 14;
  text.insert(pos, "\"fail\":\"yes\",");
  std::ostringstream out, err;
  absl::Status s = AppendOneBatchOfTenAtATime(text, out, err);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorLine(s),
            "error: INVALID_ARGUMENT: line 25 (events[4] of lines 21-30): "
            "events[4]: rejected by the test\n");
  EXPECT_EQ(service_->requests(), 3u);  // nothing after the failure
  EXPECT_EQ(Acks(out.str()).size(), 20u);
  EXPECT_NE(err.str().find("1 failed requests"), std::string::npos)
      << err.str();
}

// A node names the refused event of a batch by its position; the error
// names its line.
TEST_F(AppendTest, AnEventWithoutLineageIsNamedByItsLine) {
  std::ostringstream events;
  ASSERT_TRUE(GenerateEvents({.count = 50, .tenant = "acme"}, events).ok());
  std::string text = events.str();
  // Line 25 (the fifth event of batch 3) becomes a filter run that does
  // not say what it read.
  const size_t begin = LineStart(text, 25);
  const size_t end = text.find('\n', begin);
  nlohmann::json line = nlohmann::json::parse(text.substr(begin, end - begin));
  line["type"] = "data.filtered";
  line.erase("inputs");
  line["outputs"] = nlohmann::json::array({{{"kind", "SUBJECT_KIND_DATASET"},
                                            {"id", "filtered"},
                                            {"version", "1"}}});
  text.replace(begin, end - begin, line.dump());
  std::ostringstream out, err;
  absl::Status s = AppendOneBatchOfTenAtATime(text, out, err);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorLine(s).rfind(
                "error: INVALID_ARGUMENT: line 25 (events[4] of lines 21-30): "
                "events[4].inputs: data.filtered must name at least one input",
                0),
            0u)
      << ErrorLine(s);
  EXPECT_EQ(service_->requests(), 3u);
  EXPECT_EQ(Acks(out.str()).size(), 20u);
}

// Pushback is not a failure: the refused batches are sent again after the
// node's suggested wait, and every event is acknowledged once.
TEST_F(AppendTest, PushbackIsRetriedAfterTheSuggestedWait) {
  const std::string events = WriteEvents(100);
  service_->RefuseNext(7);
  std::ostringstream out, err;
  absl::Status s = RunAppend(conn_,
                             {.key = dir_ + "/keys",
                              .events_file = events,
                              .batch_size = 10,
                              .in_flight = 4,
                              .progress = false},
                             out, err);
  ASSERT_TRUE(s.ok()) << s << err.str();
  EXPECT_EQ(service_->refused(), 7);
  EXPECT_EQ(service_->requests(), 10u);  // each batch sequenced once
  std::vector<nlohmann::json> acks = Acks(out.str());
  ASSERT_EQ(acks.size(), 100u);
  for (size_t i = 0; i < acks.size(); ++i) {
    EXPECT_FALSE(acks[i]["duplicate"].get<bool>()) << i;
  }
}

TEST_F(AppendTest, ABadLineSendsNothing) {
  const std::string file = WriteEvents(30, "{\"type\":\"x\",\"bogus\":1}\n");
  std::ostringstream out, err;
  absl::Status s =
      RunAppend(conn_, {.key = dir_ + "/keys", .events_file = file}, out, err);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ToStd(s.message()).rfind("line 32: ", 0), 0u) << s.message();
  EXPECT_EQ(service_->requests(), 0u);
  EXPECT_TRUE(out.str().empty());
}

TEST_F(AppendTest, NoServerIsUnavailable) {
  const std::string file = WriteEvents(5);
  server_->Shutdown();
  ConnectionOptions conn = conn_;
  conn.timeout_seconds = 5;
  std::ostringstream out, err;
  absl::Status s = RunAppend(
      conn, {.key = dir_ + "/keys", .events_file = file, .progress = false},
      out, err);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_EQ(ErrorLine(s).rfind("error: UNAVAILABLE: line", 0), 0u)
      << ErrorLine(s);
}

}  // namespace
}  // namespace ledger::ctl
