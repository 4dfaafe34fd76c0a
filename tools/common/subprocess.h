#pragma once

// Child processes: spawn with captured output, read lines with deadlines,
// signal, wait with deadlines. Never sleeps blindly. Used by ledger-bench
// (the node, PostgreSQL and system tools it starts) and by the
// multi-process tests.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ledger::subprocess {

struct RunResult {
  int exit_code = -1;  // -1 if killed by a signal
  std::string out;
  std::string err;
};

// Runs `argv` to completion (stdin from /dev/null or `input`), killing it
// after `timeout`. DeadlineExceeded if it had to be killed.
absl::StatusOr<RunResult> Run(const std::vector<std::string>& argv,
                              std::chrono::milliseconds timeout,
                              const std::string& input = "");

// A long-running child (a server). Its stdout is read line by line; its
// stderr goes to a file for diagnostics.
class Process {
 public:
  static absl::StatusOr<Process> Start(const std::vector<std::string>& argv,
                                       const std::string& stderr_path);
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  ~Process();  // SIGKILLs a still-running child

  // The next stdout line containing `needle`, waiting until `deadline`.
  absl::StatusOr<std::string> WaitForLine(std::string_view needle,
                                          std::chrono::milliseconds timeout);
  // Sends `signal` and waits for exit; returns the exit code (-signal if it
  // died of a signal). DeadlineExceeded (after SIGKILL) if it did not exit.
  absl::StatusOr<int> Stop(int signal, std::chrono::milliseconds timeout);
  // Waits for the child to exit by itself; returns the exit code as Stop
  // does. DeadlineExceeded if it is still running after `timeout` (it is
  // left running), FailedPrecondition if it was already waited for.
  absl::StatusOr<int> Wait(std::chrono::milliseconds timeout);
  pid_t pid() const { return pid_; }

 private:
  Process() = default;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string buffered_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

}  // namespace ledger::subprocess
