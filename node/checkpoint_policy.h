#pragma once

// When the sequencer issues the next checkpoint (docs/architecture.md, section
// 2). A pure function of the ledger size, the last checkpoint and the
// intervals, so it is tested with made-up times.
//
//   no checkpoint covers the head yet (fresh start)  -> due now
//   head grew since the last checkpoint              -> last +
//   checkpoint_interval head unchanged                                   ->
//   last + empty_interval

#include <cstdint>
#include <optional>

namespace ledger::node {

struct CheckpointPolicy {
  int64_t checkpoint_interval_ns = 1'000'000'000;
  int64_t empty_interval_ns = 60'000'000'000;
};

struct LastCheckpoint {
  uint64_t size = 0;
  int64_t issued_at_ns = 0;
};

// The time (UTC ns) at which the next checkpoint becomes due; a checkpoint
// is due at `now` iff now >= the returned time. `last` is empty when this
// sequencer knows of no checkpoint covering the head.
int64_t CheckpointDueAt(const CheckpointPolicy& policy, uint64_t head_size,
                        const std::optional<LastCheckpoint>& last);

inline bool IsCheckpointDue(const CheckpointPolicy& policy, uint64_t head_size,
                            const std::optional<LastCheckpoint>& last,
                            int64_t now_ns) {
  return now_ns >= CheckpointDueAt(policy, head_size, last);
}

}  // namespace ledger::node
