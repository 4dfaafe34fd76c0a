#pragma once

// LEDGER_CHECK(condition, message...): a state that must never happen. Unlike
// assert() it is compiled into every build type (no silent fallback under
// NDEBUG): when `condition` is false it prints the file, line, condition and
// message to stderr and aborts, so the process stops before it can sign or
// store anything built on a broken invariant. Use it for programming errors
// only; anything that bad input or a bad disk can cause is an absl::Status
// (DataLoss for corruption, Internal for a broken internal contract).

#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/strings.h"

namespace ledger::internal {

[[noreturn]] inline void CheckFailed(const char* file, int line,
                                     const char* condition,
                                     const std::string& message) {
  std::fprintf(stderr, "%s:%d: invariant violated: %s%s%s\n", file, line,
               condition, message.empty() ? "" : ": ", message.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace ledger::internal

#define LEDGER_CHECK(condition, ...)                                  \
  do {                                                                \
    if (!(condition)) [[unlikely]] {                                  \
      ::ledger::internal::CheckFailed(__FILE__, __LINE__, #condition, \
                                      ::ledger::StrCat(__VA_ARGS__)); \
    }                                                                 \
  } while (0)
