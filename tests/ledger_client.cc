#include "tests/ledger_client.h"

#include <grpcpp/create_channel.h>

#include <utility>

#include "absl/time/clock.h"
#include "base/strings.h"
#include "ledger/batch.h"
#include "ledger/entry.h"
#include "ledger/event.h"
#include "ledger/merkle.h"
#include "node/convert.h"

namespace ledger::testing {
namespace {

// SplitMix64.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}

std::string Bytes(const crypto::Hash& h) {
  return std::string(crypto::AsView(h));
}

}  // namespace

Emitter::Emitter(std::string name, uint64_t seed)
    : name(std::move(name)), key([seed] {
        crypto::Ed25519Seed bytes;
        for (size_t i = 0; i < bytes.size(); ++i) {
          bytes[i] = static_cast<uint8_t>(Mix(seed + i));
        }
        return crypto::Ed25519PrivateKey::FromSeed(bytes);
      }()) {}

std::string Emitter::vkey() const {
  crypto::NoteVerifier v;
  v.name = name;
  v.type = crypto::NoteSigType::kEd25519;
  v.key = key.public_key();
  v.key_id = crypto::NoteKeyId(name, v.type, v.key);
  return crypto::FormatVerifierKey(v);
}

crypto::Hash Emitter::key_id() const { return KeyIdOf(key.public_key()); }

// Version-4 layout: 8 bytes mixed from (seed, n), then n itself under the
// variant bits, so IDs never collide for n < 2^62.
std::string TestEventId(uint64_t seed, uint64_t n) {
  Uuid id;
  const uint64_t hi = Mix(Mix(seed) ^ n);
  for (int i = 0; i < 8; ++i) {
    id[i] = static_cast<uint8_t>(hi >> (56 - 8 * i));
    id[8 + i] = static_cast<uint8_t>(n >> (56 - 8 * i));
  }
  id[6] = static_cast<uint8_t>((id[6] & 0x0f) | 0x40);
  id[8] = static_cast<uint8_t>((id[8] & 0x3f) | 0x80);
  return FormatUuid(id);
}

int64_t TestEpochSeconds() {
  // Fixed for the process, so that an event made twice is the same event.
  static const int64_t epoch = [] {
    constexpr int64_t kDay = 24 * 3600;
    const int64_t now = absl::ToUnixSeconds(absl::Now());
    return now - now % kDay - 30 * kDay;
  }();
  return epoch;
}

v1::Event TestEvent(std::string_view tenant, uint64_t seed, uint64_t n) {
  v1::Event e;
  e.set_event_id(TestEventId(seed, n));
  e.set_type("annotation.created");
  e.set_schema_version(1);
  e.mutable_occurred_at()->set_seconds(TestEpochSeconds() +
                                       static_cast<int64_t>(n % 1'000'000));
  e.set_producer("label-studio/1.13.1");
  e.set_tenant(std::string(tenant));
  e.set_project("street-scenes");
  e.mutable_actor()->set_kind(v1::ACTOR_KIND_HUMAN);
  e.mutable_actor()->set_id(StrCat("user:", Mix(n) % 400));
  e.mutable_actor()->set_role("annotator");
  v1::SubjectRef* item = e.add_subjects();
  item->set_kind(v1::SUBJECT_KIND_ITEM);
  item->set_id(StrCat("item:scenes/", Mix(seed ^ n) % 20'000));
  e.mutable_outcome()->set_status(v1::OUTCOME_STATUS_SUCCESS);
  (*e.mutable_attributes())["label"] = "car";
  (*e.mutable_attributes())["n"] = StrCat(n);
  return e;
}

absl::StatusOr<v1::AppendBatchRequest> SignBatch(
    const Emitter& emitter, std::vector<v1::Event> events) {
  v1::AppendBatchRequest request;
  std::vector<std::string> bytes;
  for (v1::Event& proto : events) {
    absl::StatusOr<Event> event = node::EventFromProto(proto);
    if (!event.ok()) return event.status();
    bytes.push_back(EncodeEvent(*event));
    *request.add_events() = std::move(proto);
  }
  if (bytes.empty()) return absl::InvalidArgumentError("no events to sign");
  v1::EmitterSignature* sig = request.mutable_signature();
  sig->set_key_id(Bytes(emitter.key_id()));
  sig->set_signature(
      std::string(crypto::AsView(ledger::SignBatch(emitter.key, bytes))));
  return request;
}

absl::StatusOr<v1::AppendRequest> SignSingle(const Emitter& emitter,
                                             v1::Event event) {
  std::vector<v1::Event> one;
  one.push_back(std::move(event));
  absl::StatusOr<v1::AppendBatchRequest> batch =
      SignBatch(emitter, std::move(one));
  if (!batch.ok()) return batch.status();
  v1::AppendRequest request;
  *request.mutable_event() = std::move(*batch->mutable_events(0));
  *request.mutable_signature() = std::move(*batch->mutable_signature());
  return request;
}

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

LedgerClient::LedgerClient(const std::string& target,
                           std::chrono::milliseconds timeout)
    : timeout_(timeout) {
  grpc::ChannelArguments args;
  // A connection of its own, not one shared with other clients.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  channel_ = grpc::CreateCustomChannel(
      target, grpc::InsecureChannelCredentials(), args);
  ingest_ = v1::Ingest::NewStub(channel_);
  proof_ = v1::Proof::NewStub(channel_);
  query_ = v1::Query::NewStub(channel_);
  admin_ = v1::Admin::NewStub(channel_);
}

bool LedgerClient::WaitForConnected(std::chrono::milliseconds timeout) {
  return channel_->WaitForConnected(std::chrono::system_clock::now() + timeout);
}

std::unique_ptr<grpc::ClientContext> LedgerClient::Context() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + timeout_);
  return context;
}

absl::StatusOr<v1::EntryRef> LedgerClient::Append(
    const v1::AppendRequest& request) {
  v1::AppendResponse response;
  grpc::Status s = ingest_->Append(Context().get(), request, &response);
  if (!s.ok()) return FromGrpc(s);
  return response.entry();
}

absl::StatusOr<std::vector<v1::EntryRef>> LedgerClient::AppendBatch(
    const v1::AppendBatchRequest& request) {
  v1::AppendBatchResponse response;
  grpc::Status s = ingest_->AppendBatch(Context().get(), request, &response);
  if (!s.ok()) return FromGrpc(s);
  return std::vector<v1::EntryRef>(response.entries().begin(),
                                   response.entries().end());
}

absl::StatusOr<std::vector<v1::EntryRef>> LedgerClient::AppendStream(
    absl::Span<const v1::AppendBatchRequest> batches) {
  std::unique_ptr<grpc::ClientContext> context = Context();
  v1::AppendStreamResponse response;
  std::unique_ptr<grpc::ClientWriter<v1::AppendBatchRequest>> writer =
      ingest_->AppendStream(context.get(), &response);
  for (const v1::AppendBatchRequest& batch : batches) {
    if (!writer->Write(batch)) break;  // Finish() says why
  }
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  if (!s.ok()) return FromGrpc(s);
  return std::vector<v1::EntryRef>(response.entries().begin(),
                                   response.entries().end());
}

absl::StatusOr<v1::EntryRef> LedgerClient::RegisterEmitterKey(
    const Emitter& emitter, const std::string& tenant) {
  v1::RegisterEmitterKeyRequest request;
  request.set_verifier_key(emitter.vkey());
  request.set_tenant(tenant);
  request.set_producer("label-studio");
  v1::EntryRef ref;
  grpc::Status s = admin_->RegisterEmitterKey(Context().get(), request, &ref);
  if (!s.ok()) return FromGrpc(s);
  return ref;
}

absl::StatusOr<v1::NodeInfo> LedgerClient::GetNodeInfo() {
  v1::NodeInfo info;
  grpc::Status s =
      admin_->GetNodeInfo(Context().get(), v1::GetNodeInfoRequest(), &info);
  if (!s.ok()) return FromGrpc(s);
  return info;
}

absl::StatusOr<v1::Entry> LedgerClient::GetEntry(uint64_t index) {
  v1::GetEntryRequest request;
  request.set_index(index);
  v1::Entry entry;
  grpc::Status s = query_->GetEntry(Context().get(), request, &entry);
  if (!s.ok()) return FromGrpc(s);
  return entry;
}

absl::Status LedgerClient::ScanEntries(
    uint64_t start, uint64_t end,
    const std::function<absl::Status(const v1::Entry&)>& visit) {
  uint64_t next = start;
  while (next < end) {
    const uint64_t before = next;
    v1::GetEntriesRequest request;
    request.set_start(next);
    request.set_end(end);
    std::unique_ptr<grpc::ClientContext> context = Context();
    std::unique_ptr<grpc::ClientReader<v1::Entry>> reader =
        query_->GetEntries(context.get(), request);
    v1::Entry entry;
    absl::Status visited;
    while (visited.ok() && reader->Read(&entry)) {
      if (entry.index() != next) {
        visited = absl::DataLossError(StrCat("GetEntries from ", before,
                                             " returned entry ", entry.index(),
                                             " where ", next, " was due"));
      } else {
        visited = visit(entry);
        ++next;
      }
    }
    if (!visited.ok()) {
      context->TryCancel();
      reader->Finish();
      return visited;
    }
    if (absl::Status s = FromGrpc(reader->Finish()); !s.ok()) return s;
    if (next == before) {
      return absl::OutOfRangeError(
          StrCat("GetEntries returned nothing at ", next, " (end ", end, ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Checkpoint> LedgerClient::GetCheckpoint(uint64_t min_size) {
  v1::GetCheckpointRequest request;
  request.set_min_size(min_size);
  v1::Checkpoint checkpoint;
  grpc::Status s = proof_->GetCheckpoint(Context().get(), request, &checkpoint);
  if (!s.ok()) return FromGrpc(s);
  return checkpoint;
}

absl::StatusOr<v1::ConsistencyProof> LedgerClient::GetConsistencyProof(
    uint64_t old_size, uint64_t new_size) {
  v1::GetConsistencyProofRequest request;
  request.set_old_size(old_size);
  request.set_new_size(new_size);
  v1::ConsistencyProof proof;
  grpc::Status s =
      proof_->GetConsistencyProof(Context().get(), request, &proof);
  if (!s.ok()) return FromGrpc(s);
  return proof;
}

absl::StatusOr<v1::InclusionProof> LedgerClient::GetInclusionProof(
    uint64_t index, uint64_t tree_size) {
  v1::GetInclusionProofRequest request;
  request.set_index(index);
  request.set_tree_size(tree_size);
  v1::InclusionProof proof;
  grpc::Status s = proof_->GetInclusionProof(Context().get(), request, &proof);
  if (!s.ok()) return FromGrpc(s);
  return proof;
}

namespace {

absl::StatusOr<std::vector<crypto::Hash>> ToHashes(
    const google::protobuf::RepeatedPtrField<std::string>& in) {
  std::vector<crypto::Hash> out;
  for (const std::string& h : in) {
    absl::StatusOr<crypto::Hash> hash =
        crypto::ToArray<crypto::kHashSize>(h, "proof hash");
    if (!hash.ok()) return hash.status();
    out.push_back(*hash);
  }
  return out;
}

}  // namespace

absl::StatusOr<ledger::Checkpoint> OpenCheckpointProto(
    const v1::Checkpoint& checkpoint,
    absl::Span<const crypto::NoteVerifier> verifiers, std::string_view origin) {
  absl::StatusOr<VerifiedCheckpoint> opened =
      OpenCheckpoint(checkpoint.note(), verifiers, origin);
  if (!opened.ok()) return opened.status();
  const ledger::Checkpoint& body = opened->checkpoint;
  if (body.size != checkpoint.size() ||
      Bytes(body.root) != checkpoint.root_hash()) {
    return absl::DataLossError(
        StrCat("checkpoint fields (size ", checkpoint.size(), ", root ",
               crypto::HexEncode(checkpoint.root_hash()),
               ") differ from its signed note:\n", checkpoint.note()));
  }
  return body;
}

absl::Status CheckConsistency(LedgerClient& client,
                              const ledger::Checkpoint& older,
                              const ledger::Checkpoint& newer) {
  const std::string what =
      StrCat("consistency ", older.size, " -> ", newer.size);
  absl::StatusOr<v1::ConsistencyProof> proof =
      client.GetConsistencyProof(older.size, newer.size);
  if (!proof.ok()) return Annotate(proof.status(), what);
  if (proof->old_size() != older.size || proof->new_size() != newer.size) {
    return absl::DataLossError(StrCat(what, ": the proof is for ",
                                      proof->old_size(), " -> ",
                                      proof->new_size()));
  }
  absl::StatusOr<std::vector<crypto::Hash>> hashes = ToHashes(proof->hashes());
  if (!hashes.ok()) return Annotate(hashes.status(), what);
  return Annotate(VerifyConsistency(older.size, newer.size, *hashes, older.root,
                                    newer.root),
                  what);
}

absl::Status CheckInclusion(LedgerClient& client, uint64_t index,
                            const crypto::Hash& leaf_hash,
                            const ledger::Checkpoint& checkpoint) {
  const std::string what =
      StrCat("inclusion of ", index, " in ", checkpoint.size);
  absl::StatusOr<v1::InclusionProof> proof =
      client.GetInclusionProof(index, checkpoint.size);
  if (!proof.ok()) return Annotate(proof.status(), what);
  absl::StatusOr<std::vector<crypto::Hash>> hashes = ToHashes(proof->hashes());
  if (!hashes.ok()) return Annotate(hashes.status(), what);
  return Annotate(VerifyInclusion(leaf_hash, index, checkpoint.size, *hashes,
                                  checkpoint.root),
                  what);
}

}  // namespace ledger::testing
