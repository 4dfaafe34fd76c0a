#include "node/read_floor.h"

#include <algorithm>
#include <chrono>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "base/strings.h"

namespace ledger::node {

absl::StatusOr<std::optional<uint64_t>> MinSizeOf(
    const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(kMinSizeHeader);
  if (it == metadata.end()) return std::nullopt;
  const std::string value(it->second.data(), it->second.size());
  uint64_t size = 0;
  if (value.empty() || value.size() > 20 ||
      value.find_first_not_of("0123456789") != std::string::npos ||
      !absl::SimpleAtoi(value, &size)) {
    return absl::InvalidArgumentError(
        StrCat("metadata ", kMinSizeHeader, ": \"",
               absl::CHexEscape(value.substr(0, 40)),
               "\" is not a size (a decimal number of entries)"));
  }
  return size;
}

absl::Duration WaitBudget(const grpc::ServerContextBase& context,
                          absl::Duration cap) {
  auto left = context.deadline() - std::chrono::system_clock::now();
  absl::Duration budget =
      absl::FromChrono(std::chrono::duration_cast<std::chrono::microseconds>(
          std::min<std::chrono::system_clock::duration>(
              left, absl::ToChronoMicroseconds(cap))));
  return std::max(budget, absl::ZeroDuration());
}

absl::StatusOr<uint64_t> CommittedForRead(
    const grpc::ServerContextBase& context, const Coordinator& coordinator) {
  absl::StatusOr<std::optional<uint64_t>> min = MinSizeOf(context);
  if (!min.ok()) return min.status();
  uint64_t committed = coordinator.Committed().size;
  if (!min->has_value() || committed >= **min) return committed;
  coordinator.WaitForCommitted(**min, WaitBudget(context, kMaxReadFloorWait));
  committed = coordinator.Committed().size;
  if (committed >= **min) return committed;
  return absl::UnavailableError(
      StrCat("this node holds ", committed, " committed entries, fewer than ",
             "the ", **min, " the request asks for (", kMinSizeHeader,
             "); it is catching up: retry, or read from the leader"));
}

}  // namespace ledger::node
