#pragma once

// A running single-node ledger: data directory, verified ledger, genesis,
// local coordinator, sequencer and gRPC server, started and stopped in the
// right order. main() and the in-process tests use it alike.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ledger/ledger.h"
#include "node/clock.h"
#include "node/config.h"
#include "node/coordinator.h"
#include "node/data_dir.h"
#include "node/sequencer.h"
#include "node/server.h"

namespace ledger::node {

class Node {
 public:
  // Validates `config`, opens (or creates) the data directory, opens and
  // verifies the ledger (DataLoss if it does not verify: the node must not
  // serve), appends the genesis entry to an empty ledger, issues a
  // checkpoint if none covers the head, then serves on config.listen.
  // `clock` must outlive the node.
  static absl::StatusOr<std::unique_ptr<Node>> Start(
      const NodeConfig& config, const Clock* clock = SystemClock::Default());
  ~Node();  // Shutdown()

  // The port the server is bound to.
  int port() const { return server_->port(); }
  const NodeIdentity& identity() const { return *identity_; }
  ledger::Ledger& ledger() { return *ledger_; }
  Sequencer& sequencer() { return *sequencer_; }
  const Coordinator& coordinator() const { return *coordinator_; }

  // Refuses new appends (Unavailable "node is shutting down"), gives calls
  // in flight `grace` to finish, appends everything queued, issues a final
  // checkpoint and stops the sequencer. The ledger stays open for reads
  // until destruction. Idempotent; call from one thread.
  void Shutdown(absl::Duration grace = absl::Seconds(10));

 private:
  Node() = default;
  absl::Status Open(const NodeConfig& config, const Clock* clock);

  std::unique_ptr<NodeIdentity> identity_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<LocalCoordinator> coordinator_;
  std::unique_ptr<Sequencer> sequencer_;
  std::unique_ptr<Server> server_;
  bool shut_down_ = false;
};

}  // namespace ledger::node
