#pragma once

// The Ledger's private state, shared by ledger.cc, ledger_append.cc and
// ledger_open.cc.

#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "base/sync.h"
#include "ledger/ledger.h"
#include "ledger/risk_engine.h"
#include "ledger/risk_findings.h"
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

  // The risk engine, as of the written head (ledger/risk_engine.h). The
  // sequencer applies each group's entries to it under risk_mu; readers
  // of grades take risk_mu too. Stale after a group failed to write (its
  // entries were applied but not stored): rebuilt before the next group.
  mutable Mutex risk_mu;
  std::unique_ptr<risk::Engine> risk ABSL_GUARDED_BY(risk_mu);
  bool risk_stale ABSL_GUARDED_BY(risk_mu) = false;
  // The findings of the stored entries (ledger/risk_findings.h): rebuilt
  // with the engine, extended by each group after it was written.
  RiskFindingsIndex findings ABSL_GUARDED_BY(risk_mu);

  // Readers' cache of complete tiles above the leaves.
  std::unique_ptr<TileCache> tile_cache;
};

}  // namespace ledger
