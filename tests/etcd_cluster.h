#pragma once

// The etcd cluster launcher of tools/common/etcd_cluster.h (shared with
// ledger-bench) under the names the tests use, with the process helpers
// (tests/process.h) that came with it before it moved.

#include "tests/process.h"
#include "tools/common/etcd_cluster.h"

namespace ledger::testing {

using subprocess::EtcdCluster;
using subprocess::EtcdTls;

}  // namespace ledger::testing
