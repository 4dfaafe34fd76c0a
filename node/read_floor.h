#pragma once

// Read-your-writes on any node of a cluster (docs/cluster.md, "Clients").
// A client that appended through the leader and reads from a follower sends
// the size it needs in the request metadata `ledger-min-size` (decimal): the
// entry it was acknowledged at plus one. A node whose committed head is
// smaller waits for it (up to the client's deadline, at most
// kMaxReadFloorWait, 2 s) and answers Unavailable, naming both sizes, if it
// does not get there in time. Without the header a read sees whatever the node
// holds as committed, as before.

#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/server_context.h"
#include "node/coordinator.h"

namespace ledger::node {

inline constexpr char kMinSizeHeader[] = "ledger-min-size";
inline constexpr absl::Duration kMaxReadFloorWait = absl::Seconds(2);

// The `ledger-min-size` of a request: nullopt without one; InvalidArgument
// if it is not a decimal number.
absl::StatusOr<std::optional<uint64_t>> MinSizeOf(
    const grpc::ServerContextBase& context);

// How long a handler may wait: the client's deadline, at most `cap`.
absl::Duration WaitBudget(const grpc::ServerContextBase& context,
                          absl::Duration cap);

// The committed size a read runs at: Committed().size, after waiting for the
// request's `ledger-min-size` if it asks for more.
absl::StatusOr<uint64_t> CommittedForRead(
    const grpc::ServerContextBase& context, const Coordinator& coordinator);

}  // namespace ledger::node
