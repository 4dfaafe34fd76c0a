#include "node/payloads.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/strings.h"
#include "ledger/payload.h"

namespace ledger::node {
namespace {

absl::Status AtEvent(size_t i, const absl::Status& status) {
  return absl::Status(
      status.code(),
      StrCat("events[", i, "].payload: ", ToStd(status.message())));
}

std::string NotHeld(const PayloadKeyId& id, std::string_view tenant) {
  // The same words whether the key does not exist or belongs to another
  // tenant: an emitter learns nothing about other tenants' keys.
  return StrCat("names payload key ", PayloadKeyIdHex(id),
                ", which this ledger does not hold for tenant '", tenant,
                "'; encrypt under the key GetPayloadKey returns for the "
                "event's tenant and data subject");
}

}  // namespace

absl::Status CheckPayloads(const ShredKeys& keys,
                           absl::Span<const Event> events) {
  // Keys looked up in this batch (most batches use few).
  std::vector<std::pair<PayloadKeyId, PayloadKeyLookup>> seen;
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    if (e.payload.empty()) continue;
    absl::StatusOr<Envelope> envelope = ParseEnvelope(e.payload);
    if (!envelope.ok()) {
      // ParseEnvelope's message starts with "payload: ".
      return absl::Status(
          envelope.status().code(),
          StrCat("events[", i, "].", ToStd(envelope.status().message())));
    }
    const PayloadKeyLookup* lookup = nullptr;
    for (const auto& [id, l] : seen) {
      if (id == envelope->key_id) lookup = &l;
    }
    if (lookup == nullptr) {
      absl::StatusOr<PayloadKeyLookup> found = keys.Find(envelope->key_id);
      if (!found.ok()) return found.status();
      seen.emplace_back(envelope->key_id, *std::move(found));
      lookup = &seen.back().second;
    }
    if (lookup->erasure.has_value() && lookup->erasure->tenant == e.tenant) {
      return AtEvent(
          i, absl::FailedPreconditionError(StrCat(
                 "payload key ", PayloadKeyIdHex(envelope->key_id),
                 " was erased by the key.erased entry ", lookup->erasure->entry,
                 "; no new payload is accepted under it")));
    }
    if (!lookup->key.has_value() || lookup->key->tenant != e.tenant) {
      return AtEvent(
          i, absl::InvalidArgumentError(NotHeld(envelope->key_id, e.tenant)));
    }
    absl::StatusOr<std::string> plain =
        OpenPayload(*envelope, lookup->key->key, e.tenant, e.event_id);
    if (!plain.ok()) {
      return AtEvent(
          i, absl::InvalidArgumentError(StrCat(
                 "does not open under payload key ",
                 PayloadKeyIdHex(envelope->key_id),
                 " for this event (sealed under another key, or for another "
                 "event or tenant, or altered); seal it with the event's "
                 "tenant and event_id as associated data (ledger/FORMAT.md "
                 "section 3.4)")));
    }
    crypto::Wipe(*plain);
  }
  for (auto& [id, lookup] : seen) {
    if (lookup.key.has_value()) crypto::Wipe(lookup.key->key);
  }
  return absl::OkStatus();
}

void FillPayloadView(const ShredKeys& keys, bool may_read_plaintext,
                     v1::Entry* entry) {
  v1::PayloadView* view = entry->mutable_payload();
  view->Clear();
  const std::string& payload = entry->event().payload();
  if (payload.empty()) {
    view->set_state(v1::PayloadView::PAYLOAD_STATE_NONE);
    return;
  }
  const auto unreadable = [&](std::string_view why) {
    view->set_state(v1::PayloadView::PAYLOAD_STATE_UNREADABLE);
    view->set_detail(std::string(why));
  };
  absl::StatusOr<Envelope> envelope = ParseEnvelope(payload);
  if (!envelope.ok()) return unreadable(ToStd(envelope.status().message()));
  view->set_key_id(std::string(crypto::AsView(envelope->key_id)));
  absl::StatusOr<Uuid> event_id = ParseUuid(entry->event().event_id());
  if (!event_id.ok()) return unreadable("the event_id does not parse");
  absl::StatusOr<PayloadKeyLookup> lookup = keys.Find(envelope->key_id);
  if (!lookup.ok()) {
    return unreadable(StrCat("reading the payload key failed: ",
                             ToStd(lookup.status().message())));
  }
  const std::string& tenant = entry->event().tenant();
  if (lookup->erasure.has_value() && lookup->erasure->tenant == tenant) {
    view->set_state(v1::PayloadView::PAYLOAD_STATE_ERASED);
    view->set_erased_by(lookup->erasure->entry);
    view->set_detail(StrCat("payload key ", PayloadKeyIdHex(envelope->key_id),
                            " was erased by the key.erased entry ",
                            lookup->erasure->entry));
    return;
  }
  if (!lookup->key.has_value() || lookup->key->tenant != tenant) {
    return unreadable(StrCat("this node does not hold payload key ",
                             PayloadKeyIdHex(envelope->key_id)));
  }
  if (!may_read_plaintext) {
    crypto::Wipe(lookup->key->key);
    view->set_state(v1::PayloadView::PAYLOAD_STATE_WITHHELD);
    return;
  }
  absl::StatusOr<std::string> plain =
      OpenPayload(*envelope, lookup->key->key, tenant, *event_id);
  crypto::Wipe(lookup->key->key);
  if (!plain.ok()) {
    return unreadable(StrCat("the payload does not open under key ",
                             PayloadKeyIdHex(envelope->key_id)));
  }
  view->set_state(v1::PayloadView::PAYLOAD_STATE_PLAINTEXT);
  view->set_plaintext(*std::move(plain));
}

absl::Status CheckEmitterTenant(std::string_view tenant,
                                std::string_view field) {
  if (tenant == kLedgerTenant) {
    return absl::InvalidArgumentError(
        StrCat(field, ": \"", kLedgerTenant, "\" is the ledger's own tenant"));
  }
  // The tenant rule is ValidateEvent's: ask it about an event that
  // satisfies every other rule.
  Event probe;
  probe.event_id[0] = 1;
  probe.type = "item.viewed";
  probe.occurred_at_ns = 1;
  probe.producer = "p";
  probe.tenant = std::string(tenant);
  probe.actor = {ActorKind::kService, "a", ""};
  absl::Status s = ValidateEvent(probe, EventLimits{});
  if (s.ok()) return s;
  std::string_view message = ToStd(s.message());
  if (message.starts_with("tenant")) message.remove_prefix(6);
  return absl::InvalidArgumentError(StrCat(field, message));
}

}  // namespace ledger::node
