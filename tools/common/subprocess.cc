#include "tools/common/subprocess.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/strings.h"

extern char** environ;

namespace ledger::subprocess {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<char*> Argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const std::string& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

// Waits for `pid` until `deadline`; nullopt on timeout. Uses a pidfd so the
// wait wakes when the child exits.
std::optional<int> WaitPid(pid_t pid, Clock::time_point deadline) {
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (pidfd >= 0) close(pidfd);
      return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    }
    if ((r < 0 && errno != EINTR) || Clock::now() >= deadline) {
      if (pidfd >= 0) close(pidfd);
      return r < 0 ? std::optional<int>(-1) : std::nullopt;
    }
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      poll(&p, 1, RemainingMs(deadline));
    } else {
      struct timespec ts = {0, 5'000'000};  // kernels without pidfd_open
      nanosleep(&ts, nullptr);
    }
  }
}

}  // namespace

absl::StatusOr<RunResult> Run(const std::vector<std::string>& argv,
                              std::chrono::milliseconds timeout,
                              const std::string& input) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
    return absl::InternalError("pipe failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  pid_t pid;
  std::vector<char*> args = Argv(argv);
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  if (rc != 0) {
    close(in[1]);
    close(out[0]);
    close(err[0]);
    return absl::NotFoundError(
        StrCat("cannot start ", argv[0], ": ", std::strerror(rc)));
  }
  // Feed stdin and drain both outputs without deadlock.
  size_t written = 0;
  if (input.empty()) {
    close(in[1]);
    in[1] = -1;
  }
  RunResult result;
  const auto deadline = Clock::now() + timeout;
  bool out_open = true, err_open = true;
  while (out_open || err_open) {
    std::vector<pollfd> fds;
    if (out_open) fds.push_back({out[0], POLLIN, 0});
    if (err_open) fds.push_back({err[0], POLLIN, 0});
    if (in[1] >= 0) fds.push_back({in[1], POLLOUT, 0});
    int n = poll(fds.data(), fds.size(), RemainingMs(deadline));
    if (n == 0) break;  // timed out
    for (const pollfd& p : fds) {
      if (p.revents == 0) continue;
      if (p.fd == in[1]) {
        ssize_t w =
            write(in[1], input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 || written == input.size()) {
          close(in[1]);
          in[1] = -1;
        }
        continue;
      }
      char buf[65536];
      ssize_t r = read(p.fd, buf, sizeof(buf));
      if (r <= 0) {
        (p.fd == out[0] ? out_open : err_open) = false;
      } else {
        (p.fd == out[0] ? result.out : result.err).append(buf, r);
      }
    }
  }
  if (in[1] >= 0) close(in[1]);
  close(out[0]);
  close(err[0]);
  std::optional<int> code = WaitPid(pid, deadline);
  if (!code.has_value()) {
    kill(pid, SIGKILL);
    WaitPid(pid, Clock::now() + std::chrono::seconds(10));
    return absl::DeadlineExceededError(
        StrCat(argv[0], " did not finish within ", timeout.count(),
               " ms; stderr: ", result.err));
  }
  result.exit_code = *code;
  return result;
}

absl::StatusOr<Process> Process::Start(const std::vector<std::string>& argv,
                                       const std::string& stderr_path) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  Process p;
  std::vector<char*> args = Argv(argv);
  int rc =
      posix_spawn(&p.pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  if (rc != 0) {
    close(out[0]);
    p.pid_ = -1;
    return absl::NotFoundError(
        StrCat("cannot start ", argv[0], ": ", std::strerror(rc)));
  }
  p.out_fd_ = out[0];
  return p;
}

Process::Process(Process&& other) noexcept { *this = std::move(other); }

Process& Process::operator=(Process&& other) noexcept {
  std::swap(pid_, other.pid_);
  std::swap(out_fd_, other.out_fd_);
  std::swap(buffered_, other.buffered_);
  return *this;
}

Process::~Process() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    WaitPid(pid_, Clock::now() + std::chrono::seconds(10));
  }
  if (out_fd_ >= 0) close(out_fd_);
}

absl::StatusOr<std::string> Process::WaitForLine(
    std::string_view needle, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    size_t nl;
    while ((nl = buffered_.find('\n')) != std::string::npos) {
      std::string line = buffered_.substr(0, nl);
      buffered_.erase(0, nl + 1);
      if (line.find(needle) != std::string::npos) return line;
    }
    pollfd p{out_fd_, POLLIN, 0};
    int n = poll(&p, 1, RemainingMs(deadline));
    if (n == 0) {
      return absl::DeadlineExceededError(StrCat(
          "no line containing '", needle, "' within ", timeout.count(), " ms"));
    }
    char buf[4096];
    ssize_t r = read(out_fd_, buf, sizeof(buf));
    if (r <= 0) {
      return absl::UnavailableError(
          StrCat("process exited before printing '", needle, "'"));
    }
    buffered_.append(buf, r);
  }
}

absl::StatusOr<int> Process::Stop(int signal,
                                  std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return absl::FailedPreconditionError("not running");
  kill(pid_, signal);
  std::optional<int> code = WaitPid(pid_, Clock::now() + timeout);
  if (!code.has_value()) {
    kill(pid_, SIGKILL);
    WaitPid(pid_, Clock::now() + std::chrono::seconds(10));
    pid_ = -1;
    return absl::DeadlineExceededError("process did not exit; killed");
  }
  pid_ = -1;
  return *code;
}

absl::StatusOr<int> Process::Wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return absl::FailedPreconditionError("not running");
  std::optional<int> code = WaitPid(pid_, Clock::now() + timeout);
  if (!code.has_value()) {
    return absl::DeadlineExceededError(StrCat(
        "process ", pid_, " still running after ", timeout.count(), " ms"));
  }
  pid_ = -1;
  return *code;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

}  // namespace ledger::subprocess
