#include "node/verify_pool.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

namespace ledger::node {
namespace {

// Linux: a thread's nice value is its own (PRIO_PROCESS with a thread id).
// Only ever lowered: an unprivileged process cannot raise it back.
void LowerPriority(int nice) {
  const id_t self = static_cast<id_t>(gettid());
  errno = 0;
  const int now = getpriority(PRIO_PROCESS, self);
  if (errno != 0 || now >= nice) return;
  // Best effort: without it verification only competes on equal terms.
  (void)setpriority(PRIO_PROCESS, self, nice);
}

}  // namespace

int ThreadNice() {
  errno = 0;
  const int nice = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
  return errno == 0 ? nice : 0;
}

VerifyPool::VerifyPool(size_t threads, int nice) {
  if (threads == 0) {
    threads = std::max<size_t>(1, std::thread::hardware_concurrency());
  }
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) {
    threads_.emplace_back([this, nice] {
      pthread_setname_np(pthread_self(), "verify");
      LowerPriority(nice);
      Run();
    });
  }
}

VerifyPool::~VerifyPool() { Stop(); }

void VerifyPool::Stop() {
  {
    MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

void VerifyPool::Schedule(absl::AnyInvocable<void() &&> task) {
  {
    MutexLock lock(&mu_);
    if (!stopping_) {
      tasks_.push_back(std::move(task));
      return;
    }
  }
  std::move(task)();
}

size_t VerifyPool::queued() const {
  MutexLock lock(&mu_);
  return tasks_.size();
}

void VerifyPool::Run() {
  for (;;) {
    absl::AnyInvocable<void() &&> task;
    {
      MutexLock lock(&mu_);
      mu_.Await([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !tasks_.empty() || stopping_;
      });
      if (tasks_.empty()) return;  // stopping, and nothing left to run
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    std::move(task)();
  }
}

}  // namespace ledger::node
