#pragma once

// The etcd cluster launcher of tools/common/etcd_cluster.h (shared with
// ledger-bench) under the names the tests use.

#include "tools/common/etcd_cluster.h"

namespace ledger::testing {

using subprocess::EtcdCluster;
using subprocess::EtcdTls;

}  // namespace ledger::testing
