#include "node/proof_service.h"

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include "base/status_macros.h"
#include "base/strings.h"
#include "crypto/bytes.h"
#include "crypto/rfc6962.h"
#include "ledger/checkpoint.h"
#include "ledger/entry.h"
#include "ledger/key_registry.h"
#include "ledger/tlog_proof.h"
#include "ledger/tlog_proof_extra.h"
#include "node/grpc_status.h"
#include "node/read_floor.h"

namespace ledger::node {
namespace {

std::string Bytes(const crypto::Hash& h) {
  return std::string(crypto::AsView(h));
}

void AddHashes(const std::vector<crypto::Hash>& hashes,
               google::protobuf::RepeatedPtrField<std::string>* out) {
  for (const crypto::Hash& h : hashes) *out->Add() = Bytes(h);
}

// Chain hash of entry size-1 (zeros for the empty ledger).
absl::StatusOr<crypto::Hash> ChainHashAt(const ledger::Ledger& ledger,
                                         uint64_t size) {
  if (size == 0) return crypto::Hash{};
  absl::StatusOr<std::string> bytes = ledger.GetEntry(size - 1);
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<Entry> entry = DecodeEntry(*bytes);
  if (!entry.ok()) return Annotate(entry.status(), StrCat("entry ", size - 1));
  return ChainHash(entry->prev_chain_hash, crypto::HashLeaf(*bytes));
}

constexpr std::string_view kGetInclusionProof =
    "/ledger.v1.Proof/GetInclusionProof";
constexpr std::string_view kGetReceipt = "/ledger.v1.Proof/GetReceipt";

}  // namespace

absl::StatusOr<std::string> EntryTenant(std::string_view entry_bytes,
                                        uint64_t index) {
  absl::StatusOr<Entry> entry = DecodeEntry(entry_bytes);
  if (!entry.ok()) {
    return absl::DataLossError(StrCat("entry ", index, " does not decode: ",
                                      ToStd(entry.status().message())));
  }
  absl::StatusOr<Event> event = DecodeEvent(entry->event_bytes);
  if (!event.ok()) {
    return absl::DataLossError(
        StrCat("the event of entry ", index,
               " does not decode: ", ToStd(event.status().message())));
  }
  return std::move(event->tenant);
}

absl::Status CheckTenantAccess(const ServiceContext& ctx, const Caller* caller,
                               std::string_view method, std::string_view tenant,
                               std::string_view what) {
  if (caller == nullptr) {
    return absl::UnauthenticatedError(
        "the client certificate is not in this node's access policy");
  }
  return ctx.authorizer->CheckTenant(*caller, method, tenant, what);
}

absl::Status CheckEntryAccess(const ServiceContext& ctx, const Caller* caller,
                              std::string_view method, uint64_t index,
                              std::string_view what) {
  if (caller == nullptr) {
    return absl::UnauthenticatedError(
        "the client certificate is not in this node's access policy");
  }
  if (caller->SeesAllTenants()) return absl::OkStatus();
  absl::StatusOr<std::string> bytes = ctx.ledger->GetEntry(index);
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<std::string> tenant = EntryTenant(*bytes, index);
  if (!tenant.ok()) return tenant.status();
  return ctx.authorizer->CheckTenant(*caller, method, *tenant, what);
}

absl::Status ProofService::CheckAccess(const grpc::ServerContextBase& context,
                                       std::string_view method, uint64_t index,
                                       std::string_view what) const {
  return CheckEntryAccess(ctx_, ctx_.authorizer->CallerOf(context), method,
                          index, what);
}

absl::StatusOr<uint64_t> ResolveEntry(const ledger::Ledger& ledger,
                                      uint64_t committed_size, bool has_index,
                                      uint64_t index,
                                      const v1::EventKey* event) {
  if (event != nullptr) {
    if (event->tenant().empty()) {
      return absl::InvalidArgumentError("event.tenant: must not be empty");
    }
    absl::StatusOr<Uuid> id = ParseUuid(event->event_id());
    if (!id.ok()) {
      return absl::InvalidArgumentError(
          StrCat("event.event_id: must be a UUID, got \"",
                 std::string_view(event->event_id()).substr(0, 80), "\""));
    }
    absl::StatusOr<std::optional<EntryRef>> ref =
        ledger.FindEvent(event->tenant(), *id);
    if (!ref.ok()) return ref.status();
    if (!ref->has_value() || (*ref)->index >= committed_size) {
      return absl::NotFoundError(StrCat("no event ", FormatUuid(*id),
                                        " in tenant \"", event->tenant(),
                                        "\""));
    }
    return (*ref)->index;
  }
  if (!has_index) {
    return absl::InvalidArgumentError(
        "entry: set either index or event {tenant, event_id}");
  }
  if (index >= committed_size) {
    return absl::OutOfRangeError(StrCat("index ", index,
                                        " is past the end of the ledger (size ",
                                        committed_size, ")"));
  }
  return index;
}

absl::StatusOr<v1::Checkpoint> ProofService::ToProto(
    const ledger::StoredCheckpoint& stored) const {
  {
    MutexLock lock(&cache_mu_);
    for (const auto& [sequence, proto] : cache_) {
      if (sequence == stored.sequence) return proto;
    }
  }
  absl::StatusOr<crypto::Note> note = crypto::ParseNote(stored.note);
  if (!note.ok()) return Annotate(note.status(), "stored checkpoint");
  absl::StatusOr<ledger::Checkpoint> body =
      ledger::ParseCheckpointBody(note->text);
  if (!body.ok()) return Annotate(body.status(), "stored checkpoint");
  absl::StatusOr<crypto::Hash> chain = ChainHashAt(*ctx_.ledger, body->size);
  if (!chain.ok()) return chain.status();
  v1::Checkpoint out;
  out.set_note(stored.note);
  out.set_size(body->size);
  out.set_root_hash(Bytes(body->root));
  out.set_sequence(stored.sequence);
  out.set_chain_hash(Bytes(*chain));
  MutexLock lock(&cache_mu_);
  cache_.emplace_back(stored.sequence, out);
  if (cache_.size() > kCachedCheckpoints) cache_.pop_front();
  return out;
}

absl::StatusOr<ledger::StoredCheckpoint> ProofService::Latest() const {
  std::optional<ledger::StoredCheckpoint> latest =
      ctx_.ledger->LatestCheckpoint();
  if (!latest.has_value()) {
    return absl::UnavailableError(
        "no checkpoint has been issued yet; retry in a moment");
  }
  return *latest;
}

absl::StatusOr<ledger::StoredCheckpoint> ProofService::AwaitCheckpoint(
    grpc::ServerContext* context, uint64_t size, std::string_view what) {
  absl::Duration budget = WaitBudget(*context, kMaxCheckpointWait);
  ctx_.sequencer->WaitForCheckpoint(size, budget);
  absl::StatusOr<std::optional<ledger::StoredCheckpoint>> covering =
      ctx_.ledger->CheckpointCovering(size);
  if (!covering.ok()) return covering.status();
  if (!covering->has_value()) {
    std::optional<ledger::StoredCheckpoint> latest =
        ctx_.ledger->LatestCheckpoint();
    return absl::UnavailableError(
        StrCat("no checkpoint covers ", what, " yet (the latest covers ",
               latest.has_value() ? latest->size : 0,
               " entries; checkpoints follow appends within about a second); "
               "retry"));
  }
  return **covering;
}

grpc::Status ProofService::GetCheckpoint(grpc::ServerContext* context,
                                         const v1::GetCheckpointRequest* req,
                                         v1::Checkpoint* response) {
  absl::StatusOr<ledger::StoredCheckpoint> checkpoint;
  // The metadata ledger-min-size (read_floor.h) asks the same as min_size,
  // from a node that may still be catching up: it waits for that size.
  absl::StatusOr<std::optional<uint64_t>> floor = MinSizeOf(*context);
  if (!floor.ok()) return ToGrpcStatus(floor.status());
  const uint64_t min_size = std::max(req->min_size(), floor->value_or(0));
  if (min_size == 0) {
    checkpoint = Latest();
  } else {
    absl::StatusOr<uint64_t> committed =
        CommittedForRead(*context, *ctx_.coordinator);
    if (!committed.ok()) return ToGrpcStatus(committed.status());
    if (min_size > *committed) {
      return ToGrpcStatus(absl::OutOfRangeError(StrCat(
          "min_size ", min_size, " exceeds the ledger size ", *committed)));
    }
    checkpoint = AwaitCheckpoint(context, min_size, StrCat("size ", min_size));
  }
  if (!checkpoint.ok()) return ToGrpcStatus(checkpoint.status());
  absl::StatusOr<v1::Checkpoint> proto = ToProto(*checkpoint);
  if (!proto.ok()) return ToGrpcStatus(proto.status());
  *response = *std::move(proto);
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* ProofService::GetInclusionProof(
    grpc::CallbackServerContext* context,
    const v1::GetInclusionProofRequest* request, v1::InclusionProof* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(InclusionProof(*context, request, response));
  return reactor;
}

grpc::ServerUnaryReactor* ProofService::GetConsistencyProof(
    grpc::CallbackServerContext* context,
    const v1::GetConsistencyProofRequest* request,
    v1::ConsistencyProof* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ConsistencyProof(request, response));
  return reactor;
}

grpc::Status ProofService::InclusionProof(
    const grpc::ServerContextBase& context,
    const v1::GetInclusionProofRequest* req, v1::InclusionProof* response) {
  absl::StatusOr<ledger::StoredCheckpoint> latest = Latest();
  if (!latest.ok()) return ToGrpcStatus(latest.status());
  uint64_t size = req->tree_size() == 0 ? latest->size : req->tree_size();
  if (size > latest->size) {
    return ToGrpcStatus(absl::OutOfRangeError(StrCat(
        "tree_size ", size, " exceeds the latest checkpoint's size ",
        latest->size, "; proofs are served for checkpointed sizes only")));
  }
  if (req->index() >= size) {
    return ToGrpcStatus(absl::OutOfRangeError(
        StrCat("index ", req->index(), " is not in a tree of size ", size)));
  }
  if (absl::Status s = CheckAccess(context, kGetInclusionProof, req->index(),
                                   StrCat("prove entry ", req->index()));
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<std::vector<crypto::Hash>> proof =
      ctx_.ledger->InclusionProof(req->index(), size);
  if (!proof.ok()) return ToGrpcStatus(proof.status());
  response->set_index(req->index());
  response->set_tree_size(size);
  AddHashes(*proof, response->mutable_hashes());
  // The checkpoint of exactly this size, if there is one: usually the latest.
  absl::StatusOr<std::optional<ledger::StoredCheckpoint>> covering =
      std::optional<ledger::StoredCheckpoint>(*latest);
  if (size != latest->size) covering = ctx_.ledger->CheckpointCovering(size);
  if (!covering.ok()) return ToGrpcStatus(covering.status());
  if (covering->has_value() && (*covering)->size == size) {
    absl::StatusOr<v1::Checkpoint> cp = ToProto(**covering);
    if (!cp.ok()) return ToGrpcStatus(cp.status());
    *response->mutable_checkpoint() = *std::move(cp);
  }
  return grpc::Status::OK;
}

grpc::Status ProofService::ConsistencyProof(
    const v1::GetConsistencyProofRequest* req, v1::ConsistencyProof* response) {
  absl::StatusOr<ledger::StoredCheckpoint> latest = Latest();
  if (!latest.ok()) return ToGrpcStatus(latest.status());
  uint64_t new_size = req->new_size() == 0 ? latest->size : req->new_size();
  if (new_size > latest->size) {
    return ToGrpcStatus(absl::OutOfRangeError(StrCat(
        "new_size ", new_size, " exceeds the latest checkpoint's size ",
        latest->size, "; proofs are served for checkpointed sizes only")));
  }
  if (req->old_size() > new_size) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        StrCat("old_size ", req->old_size(), " exceeds new_size ", new_size)));
  }
  absl::StatusOr<std::vector<crypto::Hash>> proof =
      ctx_.ledger->ConsistencyProof(req->old_size(), new_size);
  if (!proof.ok()) return ToGrpcStatus(proof.status());
  response->set_old_size(req->old_size());
  response->set_new_size(new_size);
  AddHashes(*proof, response->mutable_hashes());
  return grpc::Status::OK;
}

absl::Status ProofService::Receipt(grpc::ServerContext* context,
                                   const v1::GetReceiptRequest& req,
                                   v1::Receipt* response) {
  const Caller* caller = ctx_.authorizer->CallerOf(*context);
  if (req.has_event()) {
    LEDGER_RETURN_IF_ERROR(CheckTenantAccess(
        ctx_, caller, kGetReceipt, req.event().tenant(), "read receipts"));
  }
  LEDGER_ASSIGN_OR_RETURN(const uint64_t committed,
                          CommittedForRead(*context, *ctx_.coordinator));
  absl::StatusOr<uint64_t> index =
      ResolveEntry(*ctx_.ledger, committed,
                   req.entry_case() == v1::GetReceiptRequest::kIndex,
                   req.index(), req.has_event() ? &req.event() : nullptr);
  if (!index.ok()) return index.status();
  // Before waiting for a checkpoint: a refused caller does not wait.
  absl::StatusOr<std::string> entry = ctx_.ledger->GetEntry(*index);
  if (!entry.ok()) return entry.status();
  if (caller == nullptr || !caller->SeesAllTenants()) {
    absl::StatusOr<std::string> tenant = EntryTenant(*entry, *index);
    if (!tenant.ok()) return tenant.status();
    LEDGER_RETURN_IF_ERROR(
        CheckTenantAccess(ctx_, caller, kGetReceipt, *tenant,
                          StrCat("read the receipt of entry ", *index)));
  }
  absl::StatusOr<ledger::StoredCheckpoint> checkpoint =
      AwaitCheckpoint(context, *index + 1, StrCat("entry ", *index));
  if (!checkpoint.ok()) return checkpoint.status();
  absl::StatusOr<std::vector<crypto::Hash>> proof =
      ctx_.ledger->InclusionProof(*index, checkpoint->size);
  if (!proof.ok()) return proof.status();
  absl::StatusOr<v1::Checkpoint> cp = ToProto(*checkpoint);
  if (!cp.ok()) return cp.status();

  response->set_index(*index);
  response->set_entry(*entry);
  v1::InclusionProof* inclusion = response->mutable_proof();
  inclusion->set_index(*index);
  inclusion->set_tree_size(checkpoint->size);
  AddHashes(*proof, inclusion->mutable_hashes());
  *inclusion->mutable_checkpoint() = *cp;
  *response->mutable_checkpoint() = *std::move(cp);
  ledger::ReceiptExtra extra{*entry, {}};
  if (req.key_evidence()) {
    absl::StatusOr<std::vector<ledger::ProvenEntry>> key_entries =
        KeyEntries(*entry, checkpoint->size);
    if (!key_entries.ok()) return key_entries.status();
    extra.key_entries = *std::move(key_entries);
  }
  response->set_tlog_proof(ledger::FormatTlogProof(
      ledger::TlogProof{ledger::EncodeReceiptExtra(extra), *index,
                        *std::move(proof), checkpoint->note}));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ledger::ProvenEntry>> ProofService::KeyEntries(
    const std::string& entry_bytes, uint64_t size) const {
  absl::StatusOr<ledger::Entry> entry = ledger::DecodeEntry(entry_bytes);
  if (!entry.ok()) return entry.status();
  std::optional<ledger::KeyInfo> key =
      ctx_.ledger->keys().Find(entry->emitter.key_id);
  // Entries signed by a node key are checked against the log's key itself.
  if (!key.has_value() || key->role != ledger::KeyRole::kEmitter) {
    return std::vector<ledger::ProvenEntry>();
  }
  // The lineage: the key's registration and, back along its rotations,
  // each predecessor's; then the key's own end, if the checkpoint covers it.
  std::vector<uint64_t> indexes;
  ledger::KeyInfo cur = *key;
  indexes.push_back(cur.registered_at);
  while (cur.rotated_from != crypto::Hash{}) {
    if (indexes.size() >= ledger::kMaxKeyEntries - 2) {
      return absl::FailedPreconditionError(
          StrCat("emitter key ", ledger::KeyIdLabel(key->key_id),
                 " descends from more than ", ledger::kMaxKeyEntries - 2,
                 " rotations; a receipt cannot carry its key evidence"));
    }
    std::optional<ledger::KeyInfo> prev =
        ctx_.ledger->keys().Find(cur.rotated_from);
    if (!prev.has_value()) {
      return absl::DataLossError(
          StrCat("the key registry has no record of key ",
                 ledger::KeyIdLabel(cur.rotated_from), ", which key ",
                 ledger::KeyIdLabel(cur.key_id), " replaced"));
    }
    cur = *std::move(prev);
    indexes.push_back(cur.registered_at);
  }
  for (uint64_t end : {key->rotated_at, key->revoked_index}) {
    if (end != 0 && end < size) indexes.push_back(end);
  }
  std::sort(indexes.begin(), indexes.end());
  indexes.erase(std::unique(indexes.begin(), indexes.end()), indexes.end());
  std::vector<ledger::ProvenEntry> out;
  for (uint64_t i : indexes) {
    ledger::ProvenEntry p;
    p.index = i;
    absl::StatusOr<std::string> bytes = ctx_.ledger->GetEntry(i);
    if (!bytes.ok()) return bytes.status();
    p.entry = *std::move(bytes);
    absl::StatusOr<std::vector<crypto::Hash>> proof =
        ctx_.ledger->InclusionProof(i, size);
    if (!proof.ok()) return proof.status();
    p.proof = *std::move(proof);
    out.push_back(std::move(p));
  }
  return out;
}

grpc::Status ProofService::GetReceipt(grpc::ServerContext* context,
                                      const v1::GetReceiptRequest* request,
                                      v1::Receipt* response) {
  return ToGrpcStatus(Receipt(context, *request, response), *request);
}

}  // namespace ledger::node
