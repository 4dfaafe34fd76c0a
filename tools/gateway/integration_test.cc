// ledger-gateway in front of a real ledger-node on loopback, over mutual
// TLS with the development CA's emitter certificate: OpenLineage events and
// Label Studio and CVAT webhooks posted over HTTP, their entries read back
// from the node, repeated deliveries counted once, forged ones never
// appended.

#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "absl/time/clock.h"
#include "base/strings.h"
#include "crypto/aead.h"
#include "crypto/bytes.h"
#include "gtest/gtest.h"
#include "ledger/v1/query.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tools/bench/bench_tls.h"
#include "tools/bench/cleanup.h"
#include "tools/bench/node_process.h"
#include "tools/gateway/gateway.h"
#include "tools/gateway/server.h"

namespace ledger::gateway {
namespace {

using nlohmann::json;

constexpr char kTenant[] = "demo";
constexpr char kSecret[] = "cvat-integration-secret";

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(LEDGER_GATEWAY_TESTDATA) + "/" + name,
                   std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Now as RFC 3339: the node refuses events far from its clock.
std::string Now() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(),
                          absl::UTCTimeZone());
}

class GatewayIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(bench::MakeTempDir("", "ledger-gateway-test"));
    ASSERT_FALSE(dir_->empty());
    absl::StatusOr<std::unique_ptr<bench::BenchTls>> tls =
        bench::BenchTls::Create(LEDGER_DEV_CA_SCRIPT, *dir_, kTenant, false);
    ASSERT_TRUE(tls.ok()) << tls.status();
    tls_ = tls->release();
    const std::string node_dir = *dir_ + "/node";
    std::filesystem::create_directories(node_dir);
    bench::NodeOptions options;
    options.binary = LEDGER_NODE_BINARY;
    options.data_dir = node_dir + "/data";
    options.log_path = node_dir + "/node.log";
    absl::StatusOr<bench::NodeAccess> access = tls_->AccessFor(node_dir);
    ASSERT_TRUE(access.ok()) << access.status();
    options.access = *access;
    absl::StatusOr<std::unique_ptr<bench::NodeProcess>> node =
        bench::NodeProcess::Start(options);
    ASSERT_TRUE(node.ok()) << node.status();
    node_ = node->release();

    // The gateway's own emitter key, registered like any emitter's: for
    // the tenant and the producer its events carry.
    const crypto::NoteSigner signer("gateway", crypto::NoteSigType::kEd25519,
                                    crypto::Ed25519PrivateKey::Generate());
    absl::Status registered =
        node_->RegisterEmitterKey(signer, kTenant, "ledger-gateway");
    ASSERT_TRUE(registered.ok()) << registered;

    appender_ =
        new Appender(NewGrpcLedgerClient(
                         client_tls::CreateChannel(node_->emitter_endpoint()),
                         absl::Seconds(30)),
                     signer.key(), AppenderOptions());
    GatewayOptions g;
    g.mapping.tenant = kTenant;
    g.cvat_secret = kSecret;
    gateway_ = new Gateway(g, appender_,
                           [] { return absl::ToUnixNanos(absl::Now()); });
    ServerOptions s;
    s.port = 0;
    server_ = new HttpServer(gateway_, s);
    absl::StatusOr<int> port = server_->Start();
    ASSERT_TRUE(port.ok()) << port.status();
    port_ = *port;
  }

  static void TearDownTestSuite() {
    delete server_;
    delete gateway_;
    delete appender_;
    delete node_;
    delete tls_;
    if (dir_ != nullptr) {
      std::error_code ec;
      std::filesystem::remove_all(*dir_, ec);
    }
    delete dir_;
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr) << "the node or the gateway did not start";
  }

  // POSTs `body` to `path`; the status and the parsed answer.
  static std::pair<int, json> Post(
      const std::string& path, const std::string& body,
      const httplib::Headers& headers = httplib::Headers()) {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(60, 0);
    httplib::Result r =
        client.Post(path.c_str(), headers, body, "application/json");
    if (!r) return {0, json()};
    return {r->status, json::parse(r->body, nullptr, false)};
  }

  // The entry at `index`, as a regulator reads it.
  static v1::Entry GetEntry(uint64_t index) {
    auto stub = v1::Query::NewStub(node_->channel());
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    v1::GetEntryRequest request;
    request.set_index(index);
    v1::Entry entry;
    const grpc::Status s = stub->GetEntry(&ctx, request, &entry);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return entry;
  }

  // How many entries of the whole ledger carry each of `ids`.
  static std::map<std::string, int> CountEntries(
      const std::set<std::string>& ids) {
    std::map<std::string, int> counts;
    auto stub = v1::Query::NewStub(node_->channel());
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    v1::GetEntriesRequest request;  // [0, end of the ledger)
    auto reader = stub->GetEntries(&ctx, request);
    v1::Entry entry;
    while (reader->Read(&entry)) {
      if (ids.count(entry.event().event_id()) > 0) {
        ++counts[entry.event().event_id()];
      }
    }
    EXPECT_TRUE(reader->Finish().ok());
    return counts;
  }

  static httplib::Headers CvatSignature(const std::string& body,
                                        const std::string& secret = kSecret) {
    return {{"X-Signature-256",
             StrCat("sha256=",
                    crypto::HexEncode(crypto::HmacSha256(secret, body)))}};
  }

  static std::string* dir_;
  static bench::BenchTls* tls_;
  static bench::NodeProcess* node_;
  static Appender* appender_;
  static Gateway* gateway_;
  static HttpServer* server_;
  static int port_;
};

std::string* GatewayIntegrationTest::dir_ = nullptr;
bench::BenchTls* GatewayIntegrationTest::tls_ = nullptr;
bench::NodeProcess* GatewayIntegrationTest::node_ = nullptr;
Appender* GatewayIntegrationTest::appender_ = nullptr;
Gateway* GatewayIntegrationTest::gateway_ = nullptr;
HttpServer* GatewayIntegrationTest::server_ = nullptr;
int GatewayIntegrationTest::port_ = 0;

TEST_F(GatewayIntegrationTest, OpenLineageRunLandsAsEntriesWithItsLineage) {
  json start = json::parse(Fixture("openlineage_start.json"));
  json complete = json::parse(Fixture("openlineage_complete.json"));
  start["eventTime"] = Now();
  complete["eventTime"] = Now();
  auto [start_status, start_answer] = Post("/api/v1/lineage", start.dump());
  ASSERT_EQ(start_status, 200) << start_answer.dump();
  auto [status, answer] = Post("/api/v1/lineage", complete.dump());
  ASSERT_EQ(status, 200) << answer.dump();
  ASSERT_EQ(answer["entries"].size(), 1u);
  const json& ack = answer["entries"][0];
  EXPECT_FALSE(ack["duplicate"].get<bool>());

  const v1::Entry entry = GetEntry(ack["index"].get<uint64_t>());
  EXPECT_EQ(entry.event().event_id(), ack["event_id"].get<std::string>());
  EXPECT_EQ(crypto::HexEncode(entry.leaf_hash()),
            ack["leaf_hash"].get<std::string>());
  EXPECT_EQ(entry.event().type(), "data.deidentified");
  EXPECT_EQ(entry.event().tenant(), kTenant);
  EXPECT_EQ(entry.event().producer(), "ledger-gateway/openlineage");
  EXPECT_EQ(entry.event().run_id(), "0193f5d2-7a41-7c3e-9d55-2b8f0e6a1c01");
  EXPECT_EQ(entry.event().parent_run_id(),
            "0193f5d2-7a41-7c3e-9d55-2b8f0e6a1c00");
  ASSERT_EQ(entry.event().inputs_size(), 1);
  EXPECT_EQ(entry.event().inputs(0).id(), "s3://annotations/street-scenes/raw");
  ASSERT_EQ(entry.event().outputs_size(), 1);
  EXPECT_EQ(entry.event().outputs(0).version(), "v2");

  const v1::Entry first = GetEntry(start_answer["entries"][0]["index"]);
  EXPECT_EQ(first.event().type(), "dataset.queried");
  EXPECT_EQ(first.event().run_id(), entry.event().run_id());
}

TEST_F(GatewayIntegrationTest, WebhooksLandAndRepeatedDeliveriesAreOneEntry) {
  json annotation =
      json::parse(Fixture("label_studio_annotation_created.json"));
  annotation["annotation"]["created_at"] = Now();
  const std::string ls_body = annotation.dump();
  json task = json::parse(Fixture("cvat_create_task.json"));
  task["task"]["created_date"] = Now();
  const std::string cvat_body = task.dump();
  const std::string deleted = Fixture("label_studio_annotations_deleted.json");

  std::set<std::string> ids;
  std::map<std::string, uint64_t> index_of;
  for (int round = 0; round < 2; ++round) {
    for (const auto& [path, body, headers] :
         {std::tuple(std::string("/webhooks/label-studio"), ls_body,
                     httplib::Headers()),
          std::tuple(std::string("/webhooks/label-studio"), deleted,
                     httplib::Headers()),
          std::tuple(std::string("/webhooks/cvat"), cvat_body,
                     CvatSignature(cvat_body))}) {
      auto [status, answer] = Post(path, body, headers);
      ASSERT_EQ(status, 200) << path << " " << answer.dump();
      for (const json& ack : answer["entries"]) {
        const std::string id = ack["event_id"];
        EXPECT_EQ(ack["duplicate"].get<bool>(), round == 1) << id;
        if (round == 0) {
          ids.insert(id);
          index_of[id] = ack["index"];
        } else {
          EXPECT_EQ(ack["index"].get<uint64_t>(), index_of[id]) << id;
        }
      }
    }
  }
  ASSERT_EQ(ids.size(), 4u);  // one annotation, two deletions, one task
  for (const auto& [id, count] : CountEntries(ids)) {
    EXPECT_EQ(count, 1) << id;
  }
  EXPECT_EQ(CountEntries(ids).size(), 4u);

  const v1::Entry ls = GetEntry(index_of.begin()->second);
  EXPECT_EQ(ls.event().tenant(), kTenant);
}

TEST_F(GatewayIntegrationTest, ForgedAndMalformedRequestsAreNeverAppended) {
  json task = json::parse(Fixture("cvat_create_task.json"));
  task["task"]["id"] = 16;
  task["task"]["created_date"] = Now();
  const std::string body = task.dump();
  auto [forged, forged_answer] =
      Post("/webhooks/cvat", body, CvatSignature(body, "guessed-secret"));
  EXPECT_EQ(forged, 403) << forged_answer.dump();
  auto [unsigned_status, unsigned_answer] = Post("/webhooks/cvat", body);
  EXPECT_EQ(unsigned_status, 401) << unsigned_answer.dump();
  auto [malformed, malformed_answer] =
      Post("/api/v1/lineage", Fixture("openlineage_missing_run_id.json"));
  EXPECT_EQ(malformed, 400) << malformed_answer.dump();
  EXPECT_NE(malformed_answer["error"].get<std::string>().find("run.runId"),
            std::string::npos);

  // The forged body's event id, had it been accepted: nowhere in the ledger.
  MappingOptions options;
  options.tenant = kTenant;
  absl::StatusOr<Mapped> mapped = MapCvat(body, options, 1);
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  const std::string id = FormatUuid(mapped->events[0].event_id);
  EXPECT_TRUE(CountEntries({id}).empty());
}

TEST_F(GatewayIntegrationTest, ConcurrentRunsOnKeepAliveConnectionsAllLand) {
  constexpr int kClients = 4, kPerClient = 10;
  std::vector<std::thread> clients;
  std::vector<std::vector<std::string>> acked(kClients);
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([c, &acked] {
      httplib::Client client("127.0.0.1", port_);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      client.set_read_timeout(60, 0);
      for (int i = 0; i < kPerClient; ++i) {
        json e = json::parse(Fixture("openlineage_complete.json"));
        e["eventTime"] = Now();
        e["run"]["runId"] = StrCat("run-", c, "-", i);
        httplib::Result r =
            client.Post("/api/v1/lineage", e.dump(), "application/json");
        if (!r || r->status != 200) continue;
        json answer = json::parse(r->body, nullptr, false);
        acked[c].push_back(answer["entries"][0]["event_id"]);
      }
    });
  }
  for (std::thread& t : clients) t.join();
  std::set<std::string> ids;
  for (const auto& a : acked) ids.insert(a.begin(), a.end());
  ASSERT_EQ(ids.size(), static_cast<size_t>(kClients * kPerClient));
  EXPECT_EQ(CountEntries(ids).size(), ids.size());
}

}  // namespace
}  // namespace ledger::gateway
