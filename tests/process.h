#pragma once

// Helpers of the multi-process tests: the child-process control of
// tools/common/subprocess.h under the names the tests use, and the paths
// of this build's binaries.

#include <string>

#include "tools/common/subprocess.h"

namespace ledger::testing {

using subprocess::FreePort;
using subprocess::Process;
using subprocess::Run;
using subprocess::RunResult;

// Directory of the build's binaries (set by CMake as LEDGER_BINARY_DIR).
std::string BinaryPath(const std::string& relative);

}  // namespace ledger::testing
