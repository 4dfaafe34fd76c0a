#pragma once

// Keys of the ledger's column families (internal to ledger/; the layout is
// listed in store.h).

#include <cstdint>
#include <string>
#include <string_view>

#include "ledger/entry.h"
#include "ledger/event.h"
#include "ledger/store.h"

namespace ledger {

inline constexpr std::string_view kMetaHeadKey = "head";
inline constexpr std::string_view kMetaOriginKey = "origin";
inline constexpr std::string_view kMetaFormatKey = "format";

// by_event_id: tenant 0x00 uuid16.
inline std::string EventIdKey(std::string_view tenant, const Uuid& id) {
  std::string key(tenant);
  key.push_back('\0');
  key.append(reinterpret_cast<const char*>(id.data()), id.size());
  return key;
}

// subject_heads: kind tenant 0x00 id.
inline std::string SubjectHeadKey(LinkKind kind, std::string_view tenant,
                                  std::string_view id) {
  std::string key(1, static_cast<char>(kind));
  key.append(tenant);
  key.push_back('\0');
  key.append(id);
  return key;
}

// checkpoints: "q" BE64(seq) -> record; "s" BE64(size) BE64(seq) -> "".
// (Built by appending: GCC 12 at -O3 warns -Wrestrict on "q" + string.)
inline std::string CheckpointKey(uint64_t sequence) {
  std::string key = "q";
  key.append(Be64(sequence));
  return key;
}
inline std::string CheckpointSizeKey(uint64_t size, uint64_t sequence) {
  std::string key = "s";
  key.append(Be64(size));
  key.append(Be64(sequence));
  return key;
}

}  // namespace ledger
