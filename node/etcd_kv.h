#pragma once

// The small part of etcd that the cluster coordinator uses, as plain types:
// single-key reads, transactions with compares, leases with a keep-alive,
// and a watch on one key. EtcdClient (node/etcd_client.h) speaks it to a
// real etcd cluster; tests give the coordinator an in-memory fake
// (node/fake_etcd_testing.h) with the same revision semantics.
//
// Revisions are etcd's: the store's revision counts every write
// transaction; a key's create_revision is the revision that created it
// (0 when it does not exist), mod_revision the last one that changed it.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ledger::node {

struct EtcdKeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;  // 0: none
};

// A read of one key.
struct EtcdGetResult {
  int64_t revision = 0;            // the store's revision at the read
  uint64_t member_id = 0;          // the etcd member that answered (0 in fakes)
  std::optional<EtcdKeyValue> kv;  // absent: no such key
};

// One condition of a transaction: `target` of `key` compared with `number`
// (kVersion, kCreate, kMod, kLease) or `value` (kValue). A missing key has
// version, create and mod revision 0.
struct EtcdCompare {
  enum class Target { kVersion, kCreate, kMod, kValue, kLease };
  enum class Result { kEqual, kGreater, kLess, kNotEqual };
  Target target = Target::kMod;
  Result result = Result::kEqual;
  std::string key;
  int64_t number = 0;
  std::string value;
};

// One operation of a transaction branch.
struct EtcdOp {
  enum class Kind { kGet, kPut, kDelete };
  Kind kind = Kind::kGet;
  std::string key;
  std::string value;  // kPut
  int64_t lease = 0;  // kPut; 0: none

  static EtcdOp Get(std::string key) {
    return {Kind::kGet, std::move(key), "", 0};
  }
  static EtcdOp Put(std::string key, std::string value, int64_t lease = 0) {
    return {Kind::kPut, std::move(key), std::move(value), lease};
  }
  static EtcdOp Delete(std::string key) {
    return {Kind::kDelete, std::move(key), "", 0};
  }
};

struct EtcdTxn {
  std::vector<EtcdCompare> compares;  // all must hold for `success`
  std::vector<EtcdOp> success;
  std::vector<EtcdOp> failure;
};

struct EtcdTxnResult {
  bool succeeded = false;
  // The store's revision after the transaction: for a successful branch
  // that wrote, the revision of its writes.
  int64_t revision = 0;
  // One per kGet of the branch that ran, in order (absent: no such key).
  std::vector<std::optional<EtcdKeyValue>> gets;
};

struct EtcdLease {
  int64_t id = 0;
  absl::Duration ttl;  // as granted (etcd may raise the request)
  // No later than when etcd started the TTL (the grant request was sent):
  // a keep-alive counts the expiry from here.
  absl::Time granted_at = absl::InfinitePast();
};

// One change of a watched key.
struct EtcdEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  // For kDelete: the key, and mod_revision = the revision of the delete.
  EtcdKeyValue kv;
};

struct EtcdWatchCallbacks {
  // Events of the key in revision order, each revision exactly once, from
  // the watch's start revision on. Called on the watch's thread.
  std::function<void(const std::vector<EtcdEvent>&)> on_events;
  // Revisions before `compact_revision` were compacted away before they
  // were delivered: the watch goes on from `compact_revision`, and the
  // caller must re-read the key to learn what it missed.
  std::function<void(int64_t compact_revision)> on_compacted;
};

// A running watch or keep-alive; destroying it stops it and waits for its
// callbacks to return (so do not destroy it from inside one).
class EtcdTask {
 public:
  virtual ~EtcdTask() = default;
};

class EtcdKv {
 public:
  virtual ~EtcdKv() = default;

  // Linearizable read of `key`.
  virtual absl::StatusOr<EtcdGetResult> Get(const std::string& key) = 0;
  virtual absl::StatusOr<int64_t> Put(const std::string& key,
                                      const std::string& value,
                                      int64_t lease = 0) = 0;
  // Unavailable or DeadlineExceeded from Put or Txn is ambiguous: the
  // write may have been applied. Callers re-read to decide.
  virtual absl::StatusOr<EtcdTxnResult> Txn(const EtcdTxn& txn) = 0;

  virtual absl::StatusOr<EtcdLease> LeaseGrant(absl::Duration ttl) = 0;
  // Deletes the lease and every key attached to it. Revoking a lease that
  // no longer exists is NotFound.
  virtual absl::Status LeaseRevoke(int64_t lease) = 0;
  // Keeps `lease` alive until the task is destroyed. Calls `on_lost` once,
  // on the task's thread, when the lease is gone (etcd answered TTL 0) or
  // could not be renewed before it would expire; then stops.
  virtual std::unique_ptr<EtcdTask> KeepAlive(
      const EtcdLease& lease,
      std::function<void(const absl::Status&)> on_lost) = 0;

  // Watches `key` from `start_revision` until the task is destroyed,
  // across broken streams and etcd member failures. 0 means from whenever
  // the stream is first created (after this returns, on another thread):
  // to miss nothing, pass a read's revision + 1.
  virtual std::unique_ptr<EtcdTask> Watch(const std::string& key,
                                          int64_t start_revision,
                                          EtcdWatchCallbacks callbacks) = 0;
};

}  // namespace ledger::node
