#include "tools/ledgerctl/proofs.h"

#include <google/protobuf/util/json_util.h>

#include <cctype>
#include <fstream>

#include "base/strings.h"
#include "crypto/rfc6962.h"
#include "ledger/checkpoint.h"
#include "ledger/entry.h"
#include "ledger/event.h"
#include "ledger/merkle.h"
#include "ledger/tlog_proof.h"
#include "ledger/tlog_proof_extra.h"
#include "ledger/v1/proof.grpc.pb.h"
#include "ledger/v1/query.grpc.pb.h"
#include "tools/ledgerctl/payloads.h"
#include "tools/verify/verify.h"

namespace ledger::ctl {

absl::StatusOr<Json> MessageJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string text;
  auto s = google::protobuf::util::MessageToJsonString(message, &text, options);
  if (!s.ok()) {
    return absl::InternalError(StrCat("cannot print a ", message.GetTypeName(),
                                      " as JSON: ", s.message().ToString()));
  }
  Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return absl::InternalError(StrCat(
        "the JSON form of a ", message.GetTypeName(), " does not parse"));
  }
  return json;
}
namespace {

// "RISK_GRADE_HIGH" -> "high".
std::string RiskName(v1::RiskGrade grade) {
  std::string name = v1::RiskGrade_Name(grade);
  constexpr std::string_view kPrefix = "RISK_GRADE_";
  if (std::string_view(name).starts_with(kPrefix)) {
    name.erase(0, kPrefix.size());
  }
  for (char& c : name) c = static_cast<char>(std::tolower(c));
  return name;
}

absl::StatusOr<Json> EventJson(const v1::Event& event) {
  return MessageJson(event);
}

// Checks, without keys, that the proof in `text` leads to the root of its
// own checkpoint: catches a node (or a transfer) that garbles a receipt
// before it is stored as evidence.
struct CheckedReceipt {
  TlogProof proof;
  Checkpoint checkpoint;
  ReceiptExtra extra;
};

absl::StatusOr<CheckedReceipt> CheckReceipt(std::string_view text) {
  absl::StatusOr<TlogProof> proof = ParseTlogProof(text);
  if (!proof.ok()) return Annotate(proof.status(), "receipt from the node");
  if (!proof->extra.has_value()) {
    return absl::DataLossError("the receipt from the node has no entry bytes");
  }
  absl::StatusOr<crypto::Note> note = crypto::ParseNote(proof->checkpoint);
  if (!note.ok()) return Annotate(note.status(), "receipt checkpoint");
  absl::StatusOr<Checkpoint> cp = ParseCheckpointBody(note->text);
  if (!cp.ok()) return Annotate(cp.status(), "receipt checkpoint");
  absl::StatusOr<ReceiptExtra> extra = DecodeReceiptExtra(*proof->extra);
  if (!extra.ok()) return Annotate(extra.status(), "receipt extra data");
  absl::Status s = VerifyInclusion(crypto::HashLeaf(extra->entry), proof->index,
                                   cp->size, proof->proof, cp->root);
  if (!s.ok()) return Annotate(s, "receipt from the node");
  return CheckedReceipt{*std::move(proof), *std::move(cp), *std::move(extra)};
}

}  // namespace

absl::StatusOr<v1::EventKey> ParseEventKey(std::string_view text) {
  const size_t slash = text.rfind('/');
  if (slash == std::string_view::npos || slash == 0 ||
      slash + 1 == text.size()) {
    return absl::InvalidArgumentError(
        StrCat("--event: \"", text, "\" is not TENANT/EVENT_ID"));
  }
  v1::EventKey key;
  key.set_tenant(std::string(text.substr(0, slash)));
  key.set_event_id(std::string(text.substr(slash + 1)));
  return key;
}

absl::Status RunCheckpoint(const ConnectionOptions& conn, uint64_t min_size,
                           bool json, std::ostream& out) {
  auto stub = NewStub<v1::Proof>(conn);
  if (!stub.ok()) return stub.status();
  v1::GetCheckpointRequest request;
  request.set_min_size(min_size);
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(conn));
  v1::Checkpoint cp;
  absl::Status s = FromGrpc((*stub)->GetCheckpoint(&ctx, request, &cp));
  if (!s.ok()) return s;
  if (!json) {
    out << cp.note() << std::flush;
    return absl::OkStatus();
  }
  Json j;
  j["size"] = cp.size();
  j["root_hash"] = Hex(cp.root_hash());
  j["sequence"] = cp.sequence();
  j["chain_hash"] = Hex(cp.chain_hash());
  j["note"] = cp.note();
  PrintJson(out, j);
  return absl::OkStatus();
}

absl::Status RunProve(const ConnectionOptions& conn, const EntrySelector& entry,
                      bool key_evidence, const std::string& out_file,
                      std::ostream& out) {
  v1::GetReceiptRequest request;
  request.set_key_evidence(key_evidence);
  if (entry.index.has_value()) {
    request.set_index(*entry.index);
  } else {
    auto key = ParseEventKey(entry.event);
    if (!key.ok()) return key.status();
    *request.mutable_event() = *key;
  }
  auto stub = NewStub<v1::Proof>(conn);
  if (!stub.ok()) return stub.status();
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(conn));
  v1::Receipt receipt;
  absl::Status s = FromGrpc((*stub)->GetReceipt(&ctx, request, &receipt));
  if (!s.ok()) return s;

  std::string text = receipt.tlog_proof();
  if (text.empty()) {
    // Build it from the parts the receipt carries.
    TlogProof parts;
    parts.extra = receipt.entry();
    parts.index = receipt.index();
    for (const std::string& h : receipt.proof().hashes()) {
      auto hash = crypto::ToArray<crypto::kHashSize>(h, "proof hash");
      if (!hash.ok()) return Annotate(hash.status(), "receipt from the node");
      parts.proof.push_back(*hash);
    }
    parts.checkpoint = receipt.checkpoint().note();
    text = FormatTlogProof(parts);
  }
  absl::StatusOr<CheckedReceipt> checked = CheckReceipt(text);
  if (!checked.ok()) return checked.status();
  const TlogProof& proof = checked->proof;
  const Checkpoint& cp = checked->checkpoint;

  std::ofstream file(out_file, std::ios::binary | std::ios::trunc);
  file << text;
  file.close();
  if (!file) {
    return absl::PermissionDeniedError(StrCat("cannot write ", out_file));
  }

  Json j;
  j["index"] = proof.index;
  absl::StatusOr<Entry> decoded = DecodeEntry(checked->extra.entry);
  if (decoded.ok()) {
    absl::StatusOr<Event> event = DecodeEvent(decoded->event_bytes);
    if (event.ok()) {
      j["event_id"] = FormatUuid(event->event_id);
      j["tenant"] = event->tenant;
      j["type"] = event->type;
    }
  }
  j["tree_size"] = cp.size;
  j["leaf_hash"] = crypto::HexEncode(crypto::HashLeaf(checked->extra.entry));
  j["root_hash"] = crypto::HexEncode(cp.root);
  if (key_evidence) {
    Json indexes = Json::array();
    for (const ProvenEntry& k : checked->extra.key_entries) {
      indexes.push_back(k.index);
    }
    j["key_entries"] = std::move(indexes);
  }
  j["out"] = out_file;
  PrintJson(out, j);
  return absl::OkStatus();
}

absl::Status RunConsistency(const ConnectionOptions& conn, uint64_t old_size,
                            uint64_t new_size, bool json, std::ostream& out) {
  auto stub = NewStub<v1::Proof>(conn);
  if (!stub.ok()) return stub.status();
  v1::GetConsistencyProofRequest request;
  request.set_old_size(old_size);
  request.set_new_size(new_size);
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(conn));
  v1::ConsistencyProof proof;
  absl::Status s =
      FromGrpc((*stub)->GetConsistencyProof(&ctx, request, &proof));
  if (!s.ok()) return s;
  std::vector<crypto::Hash> hashes;
  for (const std::string& h : proof.hashes()) {
    auto hash = crypto::ToArray<crypto::kHashSize>(h, "consistency proof hash");
    if (!hash.ok()) return Annotate(hash.status(), "proof from the node");
    hashes.push_back(*hash);
  }
  if (!json) {
    out << verify::FormatProofHashes(hashes) << std::flush;
    return absl::OkStatus();
  }
  Json j;
  j["old_size"] = proof.old_size();
  j["new_size"] = proof.new_size();
  j["hashes"] = Json::array();
  for (const crypto::Hash& h : hashes) {
    j["hashes"].push_back(crypto::HexEncode(h));
  }
  PrintJson(out, j);
  return absl::OkStatus();
}

absl::StatusOr<Json> EntryJson(const v1::Entry& e) {
  absl::StatusOr<Json> event = EventJson(e.event());
  if (!event.ok()) return event.status();
  Json j;
  j["index"] = e.index();
  j["leaf_hash"] = Hex(e.leaf_hash());
  j["received_at"] = TimestampJson(e.received_at());
  j["key_id"] = Hex(e.key_id());
  j["batch_size"] = e.batch_size();
  j["batch_index"] = e.batch_index();
  j["risk"] = RiskName(e.risk());
  j["risk_reasons"] = Json::array();
  for (const std::string& r : e.risk_reasons()) j["risk_reasons"].push_back(r);
  j["policy_version"] = e.policy_version();
  j["prev_chain_hash"] = Hex(e.prev_chain_hash());
  j["back_links"] = Json::array();
  for (const v1::BackLink& link : e.back_links()) {
    Json l;
    l["kind"] = link.kind();
    l["id"] = link.id();
    l["previous"] = link.has_previous() ? Json(link.previous()) : Json(nullptr);
    j["back_links"].push_back(std::move(l));
  }
  j["event"] = *std::move(event);
  if (e.has_payload()) j["payload"] = PayloadViewJson(e.payload());
  j["entry_bytes"] = crypto::Base64Encode(e.entry_bytes());
  return j;
}

absl::Status RunGet(const ConnectionOptions& conn, const EntrySelector& entry,
                    std::ostream& out) {
  v1::GetEntryRequest request;
  if (entry.index.has_value()) {
    request.set_index(*entry.index);
  } else {
    auto key = ParseEventKey(entry.event);
    if (!key.ok()) return key.status();
    *request.mutable_event() = *key;
  }
  auto stub = NewStub<v1::Query>(conn);
  if (!stub.ok()) return stub.status();
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(conn));
  v1::Entry e;
  absl::Status s = FromGrpc((*stub)->GetEntry(&ctx, request, &e));
  if (!s.ok()) return s;
  absl::StatusOr<Json> j = EntryJson(e);
  if (!j.ok()) return j.status();
  PrintJson(out, *j);
  return absl::OkStatus();
}

absl::StatusOr<bool> RunVerify(const std::vector<std::string>& proof_files,
                               const std::vector<std::string>& key_files,
                               const std::vector<std::string>& emitter_files,
                               const std::string& origin, std::ostream& out) {
  absl::StatusOr<verify::Trust> trust =
      verify::LoadTrust(key_files, emitter_files, origin);
  if (!trust.ok()) return trust.status();
  bool all_valid = true;
  std::string text;
  for (const std::string& path : proof_files) {
    verify::Report report = verify::VerifyProofFile(path, *trust);
    all_valid = all_valid && report.valid();
    text += report.ToJson() + "\n";
  }
  out << text << std::flush;
  return all_valid;
}

}  // namespace ledger::ctl
