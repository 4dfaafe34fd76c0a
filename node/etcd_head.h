#pragma once

// What the cluster keeps in etcd for one ledger (docs/cluster.md): the keys,
// and the head record, the single source of truth for what is committed.
// The head value is a wire format other programs may read; it is specified
// in ledger/FORMAT.md, section 17. It is not signed: etcd's access control
// protects it, and checkpoints are what third parties verify.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "ledger/ledger.h"

namespace ledger::node {

// "/annotation-ledger/<origin>/leader": the election key, with the
// leader's lease; its value is the leader's node name.
std::string EtcdLeaderKey(std::string_view origin);
// "/annotation-ledger/<origin>/head": the committed head.
std::string EtcdHeadKey(std::string_view origin);

struct HeadRecord {
  // The epoch of the leader that committed it (the leader key's create
  // revision); 0 only in the empty record of a ledger never committed.
  int64_t epoch = 0;
  ledger::Head head;
  // 16 random bytes chosen per commit attempt: tells a leader whether its
  // transaction whose outcome it did not learn was applied.
  std::string write_id;
  friend bool operator==(const HeadRecord&, const HeadRecord&) = default;
};

inline constexpr size_t kWriteIdSize = 16;

// The head value (FORMAT.md section 17): six lines of ASCII.
std::string EncodeHeadRecord(const HeadRecord& record);
// Exactly what EncodeHeadRecord produces, nothing else: DataLoss naming the
// line and what was expected otherwise.
absl::StatusOr<HeadRecord> DecodeHeadRecord(std::string_view value);

// A fresh random write id.
std::string NewWriteId();

}  // namespace ledger::node
