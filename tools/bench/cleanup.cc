#include "tools/bench/cleanup.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "base/sync.h"

namespace ledger::bench {
namespace {

struct Registry {
  // Held while actions run, so a thread that calls RunCleanups() while the
  // signal thread is cleaning up waits for it (and the process does not
  // exit half-way through).
  Mutex run_mu;
  Mutex mu;
  uint64_t next ABSL_GUARDED_BY(mu) = 1;
  std::map<uint64_t, std::function<void()>> actions ABSL_GUARDED_BY(mu);
};

Registry& GetRegistry() {
  static Registry* registry = new Registry;
  return *registry;
}

}  // namespace

uint64_t RegisterCleanup(std::function<void()> action) {
  Registry& r = GetRegistry();
  MutexLock lock(&r.mu);
  uint64_t handle = r.next++;
  r.actions.emplace(handle, std::move(action));
  return handle;
}

void UnregisterCleanup(uint64_t handle) {
  Registry& r = GetRegistry();
  MutexLock lock(&r.mu);
  r.actions.erase(handle);
}

void RunCleanups() {
  Registry& r = GetRegistry();
  MutexLock run_lock(&r.run_mu);
  std::map<uint64_t, std::function<void()>> actions;
  {
    MutexLock lock(&r.mu);
    actions.swap(r.actions);
  }
  for (auto it = actions.rbegin(); it != actions.rend(); ++it) it->second();
}

void InstallSignalCleanup() {
  static sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread([] {
    int sig = 0;
    sigwait(&signals, &sig);
    static constexpr char kMessage[] =
        "ledger-bench: interrupted; stopping servers and removing temporary "
        "directories\n";
    (void)!write(2, kMessage, sizeof(kMessage) - 1);
    RunCleanups();
    _exit(128 + sig);
  }).detach();
}

void RemoveTree(const std::string& dir) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    if (!std::filesystem::exists(dir, ec)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::string MakeTempDir(const std::string& parent, const std::string& prefix) {
  std::error_code ec;
  std::filesystem::path base = parent.empty()
                                   ? std::filesystem::temp_directory_path(ec)
                                   : std::filesystem::path(parent);
  if (ec) base = "/tmp";
  std::filesystem::create_directories(base, ec);
  std::string pattern = (base / (prefix + "-XXXXXX")).string();
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) return "";
  return std::string(buf.data());
}

}  // namespace ledger::bench
