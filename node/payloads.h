#pragma once

// Encrypted payloads at the node's edges (ledger/FORMAT.md section 3.4): the
// admission rule for appends, and the decrypted view for queries. Node
// policy, not entry verification: a verifier never needs a payload key.

#include <string_view>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "ledger/event.h"
#include "ledger/shred_keys.h"
#include "ledger/v1/query.pb.h"

namespace ledger::node {

// Every event with a non-empty payload must carry an envelope (version 1)
// of a payload key held for the event's tenant and not erased, that opens
// with the event's associated data: so that no plaintext, and no payload
// moved from another event, is stored. InvalidArgument ("events[2].payload:
// ...") for a malformed envelope, a key not held for the tenant, or a
// ciphertext that does not open; FailedPrecondition naming the key.erased
// entry for an erased key; storage errors as they come. Events without a
// payload pass.
absl::Status CheckPayloads(const ShredKeys& keys,
                           absl::Span<const Event> events);

// The payload of an entry's event (`entry.event`, as EntryToProto filled
// it) as `keys` can read it: NONE, PLAINTEXT, ERASED or UNREADABLE, into
// entry->payload. `may_read_plaintext` false gives WITHHELD for a payload
// (the caller may see the entry, not the personal data). The plaintext is
// never logged.
void FillPayloadView(const ShredKeys& keys, bool may_read_plaintext,
                     v1::Entry* entry);

// InvalidArgument naming `field` unless `tenant` is an emitter tenant
// (ledger/FORMAT.md section 3.2; "_ledger" is not one).
absl::Status CheckEmitterTenant(std::string_view tenant,
                                std::string_view field = "tenant");

}  // namespace ledger::node
