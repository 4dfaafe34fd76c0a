#include "node/verify_pool.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

namespace ledger::node {

VerifyPool::VerifyPool(size_t threads, size_t max_pending_bytes)
    : max_pending_bytes_(max_pending_bytes) {
  if (threads == 0) {
    threads = std::max<size_t>(1, std::thread::hardware_concurrency());
  }
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) {
    threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "verify");
      Run();
    });
  }
}

VerifyPool::~VerifyPool() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

bool VerifyPool::TrySchedule(size_t bytes, absl::AnyInvocable<void() &&> task) {
  MutexLock lock(&mu_);
  if (stopping_) return false;
  if (pending_bytes_ > 0 && pending_bytes_ + bytes > max_pending_bytes_) {
    return false;
  }
  pending_bytes_ += bytes;
  tasks_.push_back(Task{bytes, std::move(task)});
  return true;
}

size_t VerifyPool::pending_bytes() const {
  MutexLock lock(&mu_);
  return pending_bytes_;
}

void VerifyPool::Run() {
  for (;;) {
    Task task;
    {
      MutexLock lock(&mu_);
      mu_.Await([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !tasks_.empty() || stopping_;
      });
      if (tasks_.empty()) return;  // stopping, and nothing left to run
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    std::move(task.run)();
    MutexLock lock(&mu_);
    pending_bytes_ -= task.bytes;
  }
}

}  // namespace ledger::node
