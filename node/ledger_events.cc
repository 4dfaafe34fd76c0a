#include "node/ledger_events.h"

#include <utility>
#include <vector>

#include "base/strings.h"
#include "ledger/entry.h"
#include "ledger/key_registry.h"
#include "node/random.h"

#ifndef LEDGER_NODE_VERSION
#define LEDGER_NODE_VERSION "dev"
#endif

namespace ledger::node {

std::string ProducerName() {
  return StrCat("annotation-ledger/", LEDGER_NODE_VERSION);
}

void StampLedgerEvent(int64_t now_ns, std::string_view actor_id,
                      std::string_view actor_role, Event* event) {
  event->event_id = NewUuidV4();
  event->occurred_at_ns = now_ns;
  event->producer = ProducerName();
  event->actor = Actor{ActorKind::kService, std::string(actor_id),
                       std::string(actor_role)};
}

absl::StatusOr<VerifiedBatch> SignWithNodeKey(Event event,
                                              const NodeIdentity& identity,
                                              const EventLimits& limits) {
  const crypto::Ed25519PrivateKey& key = identity.log_signer.key();
  std::vector<std::string> bytes = {EncodeEvent(event)};
  crypto::Ed25519Signature signature = SignBatch(key, bytes);
  std::vector<Event> events;
  events.push_back(std::move(event));
  return VerifyBatch(std::move(events), KeyIdOf(key.public_key()),
                     key.public_key(), signature, limits);
}

absl::Status AppendGenesis(ledger::Ledger& ledger, const NodeIdentity& identity,
                           std::string_view node_name, int64_t now_ns) {
  if (ledger.head().size != 0) {
    return absl::FailedPreconditionError("genesis: the ledger is not empty");
  }
  const crypto::Ed25519PublicKey& public_key =
      identity.log_signer.key().public_key();
  KeyInfo info;
  info.key_id = KeyIdOf(public_key);
  info.public_key = public_key;
  info.name = identity.origin;
  info.role = KeyRole::kNode;
  info.valid_from_ns = now_ns;
  Event event = KeyRegisteredEvent(info);  // tenant kLedgerTenant
  StampLedgerEvent(now_ns, node_name, "node", &event);
  absl::StatusOr<VerifiedBatch> batch =
      SignWithNodeKey(std::move(event), identity, ledger.limits());
  if (!batch.ok()) return Annotate(batch.status(), "genesis entry");
  const VerifiedBatch* batches[] = {&*batch};
  GroupResult result = ledger.Append(batches, now_ns);
  if (!result.status.ok()) {
    return Annotate(result.status, "appending the genesis entry");
  }
  return Annotate(result.batches[0].status, "appending the genesis entry");
}

}  // namespace ledger::node
