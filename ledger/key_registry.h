#pragma once

// The ledger's key registry: emitter and node public keys, as registered,
// rotated and revoked by key entries (ledger/FORMAT.md, "Key events"; what
// they mean is ledger/entry_keys.h). The Ledger owns the registry and
// changes it only when it applies such entries; lookups are thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "base/sync.h"
#include "crypto/bytes.h"
#include "ledger/entry_keys.h"

namespace ledger {

// Serialization for the `keys` column family (record version 2, storage
// format 3). DecodeKeyInfo reads version 2 only; DataLoss otherwise.
std::string EncodeKeyInfo(const KeyInfo& info);
absl::StatusOr<KeyInfo> DecodeKeyInfo(std::string_view bytes);
// The record version 1 that storage formats 1 and 2 wrote (without the
// fields that came with producers and rotation), to check such records
// when a database is upgraded.
std::string EncodeKeyInfoV1(const KeyInfo& info);

class KeyRegistry {
 public:
  std::optional<KeyInfo> Find(const crypto::Hash& key_id) const;
  std::vector<KeyInfo> List() const;
  size_t size() const;

  // For the Ledger only.
  void Put(const KeyInfo& info);
  void Erase(const crypto::Hash& key_id);
  void Clear();

 private:
  mutable Mutex mu_;
  absl::flat_hash_map<std::string, KeyInfo> keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ledger
