#pragma once

// Events the node writes itself (ledger-internal types such as
// key.registered), signed by the node key as batches of one.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "ledger/batch.h"
#include "ledger/event.h"
#include "ledger/ledger.h"
#include "node/data_dir.h"

namespace ledger::node {

// "annotation-ledger/<version>".
std::string ProducerName();

// Fills what KeyRegisteredEvent() / KeyRotatedEvent() / KeyRevokedEvent()
// leave to the caller: a fresh v4 event_id, occurred_at = `now_ns`, the
// producer, and a service actor {actor_id, actor_role}.
void StampLedgerEvent(int64_t now_ns, std::string_view actor_id,
                      std::string_view actor_role, Event* event);

// Encodes `event`, signs it with the node's log key and verifies it under
// `limits`, as the ingest path would for an emitter.
absl::StatusOr<VerifiedBatch> SignWithNodeKey(Event event,
                                              const NodeIdentity& identity,
                                              const EventLimits& limits);

// The genesis entry: the node key's own key.registered event (role node,
// tenant "_ledger"), signed by that key. `ledger` must be empty; appends
// directly, so call it before the sequencer starts.
absl::Status AppendGenesis(ledger::Ledger& ledger, const NodeIdentity& identity,
                           std::string_view node_name, int64_t now_ns);

}  // namespace ledger::node
