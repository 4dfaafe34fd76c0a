#pragma once

// RFC 6962 / RFC 9162 Merkle tree hashing with SHA-256.

#include <string_view>

#include "crypto/bytes.h"

namespace ledger::crypto {

inline constexpr uint8_t kLeafPrefix = 0x00;
inline constexpr uint8_t kNodePrefix = 0x01;

// SHA-256(0x00 || leaf).
Hash HashLeaf(std::string_view leaf);
// SHA-256(0x01 || left || right).
Hash HashChildren(const Hash& left, const Hash& right);
// The root of the empty tree: SHA-256 of the empty string.
const Hash& EmptyRoot();

}  // namespace ledger::crypto
