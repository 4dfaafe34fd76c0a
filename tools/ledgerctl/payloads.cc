#include "tools/ledgerctl/payloads.h"

#include "base/strings.h"
#include "crypto/aead.h"
#include "ledger/v1/admin.grpc.pb.h"

namespace ledger::ctl {
namespace {

// True if `s` is well-formed UTF-8 (RFC 3629), so it can go into JSON as a
// string.
bool IsUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const uint8_t b = static_cast<uint8_t>(s[i]);
    size_t n = b < 0x80                 ? 1
               : b >= 0xc2 && b <= 0xdf ? 2
               : b >= 0xe0 && b <= 0xef ? 3
               : b >= 0xf0 && b <= 0xf4 ? 4
                                        : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? b : b & (0x7f >> n);
    for (size_t k = 1; k < n; ++k) {
      const uint8_t c = static_cast<uint8_t>(s[i + k]);
      if ((c & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
      return false;
    }
    i += n;
  }
  return true;
}

std::string_view StateName(v1::PayloadView::State state) {
  switch (state) {
    case v1::PayloadView::PAYLOAD_STATE_NONE:
      return "NONE";
    case v1::PayloadView::PAYLOAD_STATE_PLAINTEXT:
      return "PLAINTEXT";
    case v1::PayloadView::PAYLOAD_STATE_ERASED:
      return "ERASED";
    case v1::PayloadView::PAYLOAD_STATE_UNREADABLE:
      return "UNREADABLE";
    case v1::PayloadView::PAYLOAD_STATE_WITHHELD:
      return "WITHHELD";
    default:
      return "UNSPECIFIED";
  }
}

}  // namespace

NodePayloadKeys::~NodePayloadKeys() {
  MutexLock lock(&mu_);
  for (auto& [who, material] : cache_) crypto::Wipe(material.key);
}

absl::StatusOr<PayloadKeyMaterial> NodePayloadKeys::Get(
    std::string_view tenant, std::string_view subject) {
  // One call at a time: a file names few subjects, each asked once.
  MutexLock lock(&mu_);
  auto who = std::make_pair(std::string(tenant), std::string(subject));
  if (auto it = cache_.find(who); it != cache_.end()) return it->second;
  if (stub_ == nullptr) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(conn_);
    if (!channel.ok()) return channel.status();
    stub_ = v1::Ingest::NewStub(*channel);
  }
  v1::GetPayloadKeyRequest request;
  request.set_tenant(std::string(tenant));
  request.set_data_subject(std::string(subject));
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(conn_));
  v1::PayloadKey response;
  if (absl::Status s = FromGrpc(stub_->GetPayloadKey(&ctx, request, &response));
      !s.ok()) {
    return Annotate(s, "getting the data subject's payload key");
  }
  PayloadKeyMaterial material;
  absl::StatusOr<PayloadKeyId> id =
      crypto::ToArray<kPayloadKeyIdSize>(response.key_id(), "key_id");
  absl::StatusOr<crypto::AeadKey> key =
      crypto::ToArray<crypto::kAeadKeySize>(response.key(), "key");
  crypto::Wipe(*response.mutable_key());
  if (!id.ok() || !key.ok()) {
    return absl::InternalError(
        "the node answered GetPayloadKey with a malformed key");
  }
  material.key_id = *id;
  material.key = *key;
  cache_.emplace(std::move(who), material);
  return material;
}

absl::Status EncryptPayload(const PlaintextPayload& plain,
                            PayloadKeySource& keys, Event* event,
                            v1::Event* proto) {
  absl::StatusOr<PayloadKeyMaterial> key =
      keys.Get(event->tenant, plain.data_subject);
  if (!key.ok()) return key.status();
  event->payload = SealPayload(key->key_id, key->key, crypto::NewAeadNonce(),
                               event->tenant, event->event_id, plain.plaintext);
  crypto::Wipe(key->key);
  proto->set_payload(event->payload);
  return absl::OkStatus();
}

Json PayloadViewJson(const v1::PayloadView& view) {
  Json j;
  j["state"] = StateName(view.state());
  if (view.state() == v1::PayloadView::PAYLOAD_STATE_PLAINTEXT) {
    if (IsUtf8(view.plaintext())) {
      j["plaintext"] = view.plaintext();
    } else {
      j["plaintext_base64"] = crypto::Base64Encode(view.plaintext());
    }
  }
  if (!view.key_id().empty()) j["key_id"] = Hex(view.key_id());
  if (view.state() == v1::PayloadView::PAYLOAD_STATE_ERASED) {
    j["erased_by"] = view.erased_by();
  }
  if (!view.detail().empty()) j["detail"] = view.detail();
  return j;
}

absl::Status RunEraseSubject(const ConnectionOptions& conn,
                             std::string_view subject, std::string_view tenant,
                             std::string_view reason, std::ostream& out) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(conn);
  if (!channel.ok()) return channel.status();
  std::unique_ptr<v1::Admin::Stub> stub = v1::Admin::NewStub(*channel);
  v1::EraseSubjectRequest request;
  request.set_tenant(std::string(tenant));
  request.set_data_subject(std::string(subject));
  request.set_reason(std::string(reason));
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(conn));
  v1::EraseSubjectResponse response;
  if (absl::Status s = FromGrpc(stub->EraseSubject(&ctx, request, &response));
      !s.ok()) {
    return s;
  }
  Json j = EntryRefJson(response.entry());
  j["payload_key_id"] = Hex(response.key_id());
  PrintJson(out, j);
  return absl::OkStatus();
}

}  // namespace ledger::ctl
