#pragma once

// What the gRPC services share. Everything is borrowed from the Node, which
// outlives the services.

#include <functional>
#include <string>

#include "ledger/ledger.h"
#include "ledger/provenance.h"
#include "node/authorizer.h"
#include "node/clock.h"
#include "node/coordinator.h"
#include "node/data_dir.h"
#include "node/input_bounds.h"
#include "node/metrics.h"
#include "node/sequencer.h"

namespace ledger::node {

struct ServiceContext {
  ledger::Ledger* ledger = nullptr;
  Sequencer* sequencer = nullptr;
  const Coordinator* coordinator = nullptr;
  const Clock* clock = nullptr;
  const NodeIdentity* identity = nullptr;
  std::string node_name;
  // Who calls (CallerOf) and the tenant check (CheckTenant); every service
  // asks it before it touches tenant data.
  Authorizer* authorizer = nullptr;
  // Admission: the occurred_at values appends may carry.
  OccurredAtWindow occurred_at_window;
  // Bounds of the provenance graph queries (node settings
  // provenance_max_*).
  ledger::ProvenanceLimits provenance;
  // Where the append RPCs count their outcomes; nullptr: not counted.
  NodeMetrics* metrics = nullptr;
  // A cluster follower: the leader's client address, which refused writes
  // carry in the trailing metadata `ledger-leader`; "" (or empty function)
  // while this node leads, runs alone, or knows no leader.
  std::function<std::string()> leader_address;
};

}  // namespace ledger::node
