#include "node/checkpoint_policy.h"

#include <limits>

namespace ledger::node {
namespace {

// a + b without signed overflow (times far in the future stay far).
int64_t SaturatingAdd(int64_t a, int64_t b) {
  if (b > 0 && a > std::numeric_limits<int64_t>::max() - b) {
    return std::numeric_limits<int64_t>::max();
  }
  return a + b;
}

}  // namespace

int64_t CheckpointDueAt(const CheckpointPolicy& policy, uint64_t head_size,
                        const std::optional<LastCheckpoint>& last) {
  if (!last.has_value()) return std::numeric_limits<int64_t>::min();
  int64_t interval = head_size != last->size ? policy.checkpoint_interval_ns
                                             : policy.empty_interval_ns;
  return SaturatingAdd(last->issued_at_ns, interval);
}

}  // namespace ledger::node
