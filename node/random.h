#pragma once

// Random identifiers from the operating system's RNG (getrandom through
// std::random_device). Not for key material: keys come from crypto/.

#include <string>

#include "ledger/event.h"

namespace ledger::node {

// `n` random bytes.
std::string RandomBytes(size_t n);
// A random (version 4, RFC 9562) UUID.
Uuid NewUuidV4();

}  // namespace ledger::node
