#pragma once

// The Ledger's private state, shared by ledger.cc, ledger_append.cc and
// ledger_open.cc.

#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "base/sync.h"
#include "ledger/ledger.h"
#include "ledger/schema.h"
#include "ledger/tile_tree.h"

namespace ledger {

class Ledger::Impl {
 public:
  // Writer state (sequencer thread only): where the next group starts.
  TileTree tree;
  int64_t last_received_at_ns = 0;
  IndexDigests digests;  // of the derived families as written

  // Serialises SyncWal + publication (Publish may race Append's own).
  Mutex publish_mu;

  mutable Mutex mu;
  Head head ABSL_GUARDED_BY(mu);     // published (durable)
  Head written ABSL_GUARDED_BY(mu);  // where the next append starts
  std::optional<StoredCheckpoint> latest_checkpoint ABSL_GUARDED_BY(mu);

  // Readers' cache of complete tiles above the leaves.
  std::unique_ptr<TileCache> tile_cache;
};

}  // namespace ledger
