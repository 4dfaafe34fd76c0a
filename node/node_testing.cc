#include "node/node_testing.h"

#include <cstdlib>
#include <filesystem>
#include <utility>

#include "absl/time/clock.h"
#include "base/strings.h"
#include "crypto/bytes.h"
#include "crypto/note.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "ledger/batch.h"
#include "ledger/entry.h"
#include "ledger/schema.h"
#include "ledger/store.h"
#include "node/convert.h"
#include "spdlog/spdlog.h"

namespace ledger::node::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string tmpl =
      StrCat(base != nullptr ? base : "/tmp", "/node_test.XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) std::abort();
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

EmitterKeyPair::EmitterKeyPair(std::string name, uint8_t seed_byte)
    : name(std::move(name)), key([seed_byte] {
        crypto::Ed25519Seed seed;
        for (size_t i = 0; i < seed.size(); ++i) {
          seed[i] = static_cast<uint8_t>(seed_byte + i);
        }
        return crypto::Ed25519PrivateKey::FromSeed(seed);
      }()) {}

std::string EmitterKeyPair::vkey() const {
  crypto::NoteVerifier v;
  v.name = name;
  v.type = crypto::NoteSigType::kEd25519;
  v.key = key.public_key();
  v.key_id = crypto::NoteKeyId(name, v.type, v.key);
  return crypto::FormatVerifierKey(v);
}

crypto::Hash EmitterKeyPair::key_id() const {
  return KeyIdOf(key.public_key());
}

int64_t TestEpochSeconds() {
  static const int64_t epoch = [] {
    constexpr int64_t kDay = 24 * 3600;
    const int64_t now = absl::ToUnixSeconds(absl::Now());
    return now - now % kDay - 30 * kDay;
  }();
  return epoch;
}

v1::Event MakeEventProto(std::string_view tenant, int n) {
  v1::Event e;
  char id[40];
  std::snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012d", n);
  e.set_event_id(id);
  e.set_type("annotation.created");
  e.set_schema_version(1);
  e.mutable_occurred_at()->set_seconds(TestEpochSeconds() + n);
  e.set_producer("label-studio/1.13.1");
  e.set_tenant(std::string(tenant));
  e.set_project("street-scenes");
  e.mutable_actor()->set_kind(v1::ACTOR_KIND_HUMAN);
  e.mutable_actor()->set_id("user:7");
  e.mutable_actor()->set_role("annotator");
  v1::SubjectRef* item = e.add_subjects();
  item->set_kind(v1::SUBJECT_KIND_ITEM);
  item->set_id(StrCat("item:", n));
  e.mutable_outcome()->set_status(v1::OUTCOME_STATUS_SUCCESS);
  (*e.mutable_attributes())["label"] = "car";
  return e;
}

Event MakeEvent(std::string_view tenant, int n) {
  return *EventFromProto(MakeEventProto(tenant, n));
}

v1::EmitterSignature SignEvents(
    const crypto::Ed25519PrivateKey& key,
    const google::protobuf::RepeatedPtrField<v1::Event>& events) {
  std::vector<std::string> bytes;
  for (const v1::Event& proto : events) {
    absl::StatusOr<Event> event = EventFromProto(proto);
    EXPECT_TRUE(event.ok()) << event.status();
    bytes.push_back(event.ok() ? EncodeEvent(*event) : "");
  }
  v1::EmitterSignature sig;
  sig.set_key_id(std::string(crypto::AsView(KeyIdOf(key.public_key()))));
  sig.set_signature(std::string(crypto::AsView(SignBatch(key, bytes))));
  return sig;
}

v1::AppendRequest SignedAppend(const crypto::Ed25519PrivateKey& key,
                               v1::Event event) {
  v1::AppendRequest request;
  google::protobuf::RepeatedPtrField<v1::Event> one;
  *one.Add() = event;
  *request.mutable_signature() = SignEvents(key, one);
  *request.mutable_event() = std::move(event);
  return request;
}

v1::AppendBatchRequest SignedBatch(const crypto::Ed25519PrivateKey& key,
                                   std::vector<v1::Event> events) {
  v1::AppendBatchRequest request;
  for (v1::Event& e : events) *request.add_events() = std::move(e);
  *request.mutable_signature() = SignEvents(key, request.events());
  return request;
}

void FlipEntryBit(const std::string& db_dir, uint64_t index) {
  absl::StatusOr<std::unique_ptr<Store>> store =
      Store::Open(db_dir, StoreOptions{});
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<std::optional<std::string>> value =
      (*store)->Get(Cf::kEntries, EntryKey(index));
  ASSERT_TRUE(value.ok()) << value.status();
  ASSERT_TRUE(value->has_value()) << "no entry " << index;
  std::string bytes = **value;
  bytes[bytes.size() / 2] ^= 1;
  rocksdb::WriteBatch batch;
  batch.Put((*store)->handle(Cf::kEntries), EntryKey(index), bytes);
  absl::Status s = (*store)->Write(&batch);
  ASSERT_TRUE(s.ok()) << s;
}

void DeleteEventIdRecord(const std::string& db_dir, std::string_view tenant,
                         int n) {
  absl::StatusOr<std::unique_ptr<Store>> store =
      Store::Open(db_dir, StoreOptions{});
  ASSERT_TRUE(store.ok()) << store.status();
  const std::string key = EventIdKey(tenant, MakeEvent(tenant, n).event_id);
  absl::StatusOr<std::optional<std::string>> value =
      (*store)->Get(Cf::kByEventId, key);
  ASSERT_TRUE(value.ok()) << value.status();
  ASSERT_TRUE(value->has_value()) << "no by_event_id record of event " << n;
  rocksdb::WriteBatch batch;
  batch.Delete((*store)->handle(Cf::kByEventId), key);
  absl::Status s = (*store)->Write(&batch);
  ASSERT_TRUE(s.ok()) << s;
}

void DeleteTypeIndexRecord(const std::string& db_dir, std::string_view tenant,
                           std::string_view type, uint64_t index) {
  absl::StatusOr<std::unique_ptr<Store>> store =
      Store::Open(db_dir, StoreOptions{});
  ASSERT_TRUE(store.ok()) << store.status();
  const std::string key = TypeIndexPrefix(tenant, type) + Be64(index);
  absl::StatusOr<std::optional<std::string>> value =
      (*store)->Get(Cf::kByType, key);
  ASSERT_TRUE(value.ok()) << value.status();
  ASSERT_TRUE(value->has_value()) << "no by_type record of entry " << index;
  rocksdb::WriteBatch batch;
  batch.Delete((*store)->handle(Cf::kByType), key);
  absl::Status s = (*store)->Write(&batch);
  ASSERT_TRUE(s.ok()) << s;
}

void NodeFixture::SetUp() {
  config_.data_dir = dir_.path() + "/data";
  config_.listen = "127.0.0.1:0";
  config_.origin = "ledger.test/node";
  config_.log_level = "warn";
  // The services' own tests run without TLS (every caller may do
  // everything); node/authz_test.cc runs the node over mutual TLS.
  config_.insecure_plaintext = true;
  Configure(config_);
  StartNode();
}

void NodeFixture::TearDown() { StopNode(); }

void NodeFixture::StartNode() {
  absl::Status s = TryStartNode();
  ASSERT_TRUE(s.ok()) << s;
}

absl::Status NodeFixture::TryStartNode() {
  spdlog::set_level(spdlog::level::from_str(config_.log_level));
  absl::StatusOr<std::unique_ptr<Node>> node =
      Node::Start(config_, SystemClock::Default(), on_data_loss_);
  if (!node.ok()) return node.status();
  node_ = *std::move(node);
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);
  args.SetMaxSendMessageSize(256 << 20);
  channel_ =
      grpc::CreateCustomChannel(StrCat("127.0.0.1:", node_->port()),
                                grpc::InsecureChannelCredentials(), args);
  ingest_ = v1::Ingest::NewStub(channel_);
  proof_ = v1::Proof::NewStub(channel_);
  query_ = v1::Query::NewStub(channel_);
  admin_ = v1::Admin::NewStub(channel_);
  health_ = grpc::health::v1::Health::NewStub(channel_);
  if (node_->health_port() != 0) {
    health_channel_ =
        grpc::CreateChannel(StrCat("127.0.0.1:", node_->health_port()),
                            grpc::InsecureChannelCredentials());
    health_endpoint_ = grpc::health::v1::Health::NewStub(health_channel_);
  }
  return absl::OkStatus();
}

void NodeFixture::StopNode() {
  ingest_.reset();
  proof_.reset();
  query_.reset();
  admin_.reset();
  health_.reset();
  health_endpoint_.reset();
  health_channel_.reset();
  channel_.reset();
  node_.reset();
}

v1::EntryRef NodeFixture::RegisterKey(const EmitterKeyPair& key,
                                      const std::string& tenant) {
  v1::RegisterEmitterKeyRequest request;
  request.set_verifier_key(key.vkey());
  request.set_tenant(tenant);
  request.set_producer("label-studio");
  v1::EntryRef ref;
  grpc::Status s = admin_->RegisterEmitterKey(Context().get(), request, &ref);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return ref;
}

std::unique_ptr<grpc::ClientContext> NodeFixture::Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::minutes(2));
  return context;
}

grpc::Status NodeFixture::AppendEvents(int first, int count) {
  std::vector<v1::Event> events;
  for (int i = 0; i < count; ++i) {
    events.push_back(MakeEventProto(kTenant, first + i));
  }
  v1::AppendBatchResponse response;
  return ingest_->AppendBatch(
      Context().get(), SignedBatch(emitter_.key, std::move(events)), &response);
}

std::string NodeFixture::Health(const std::string& service) {
  const std::string main = HealthAt(false, service);
  if (health_endpoint_ == nullptr) return main;
  const std::string own = HealthAt(true, service);
  if (own == main) return main;
  return StrCat("service port: ", main, "; health endpoint: ", own);
}

std::string NodeFixture::HealthAt(bool health_endpoint,
                                  const std::string& service) {
  grpc::health::v1::Health::Stub* stub =
      health_endpoint ? health_endpoint_.get() : health_.get();
  if (stub == nullptr) return "no health endpoint";
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status s = stub->Check(Context().get(), request, &response);
  if (!s.ok()) {
    return StrCat("error ", static_cast<int>(s.error_code()), ": ",
                  s.error_message());
  }
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
      response.status());
}

v1::NodeInfo NodeFixture::GetNodeInfo() {
  v1::NodeInfo info;
  grpc::Status s = admin_->GetNodeInfo(Context().get(), {}, &info);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return info;
}

}  // namespace ledger::node::testing
