#include "tests/process.h"

#include "base/strings.h"

namespace ledger::testing {

std::string BinaryPath(const std::string& relative) {
  return StrCat(LEDGER_BINARY_DIR, "/", relative);
}

}  // namespace ledger::testing
