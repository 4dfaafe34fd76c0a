#pragma once

// A mutex with clang thread-safety annotations and conditional waits, on
// top of std::mutex and std::condition_variable.
//
// Why not absl::Mutex: Debian's Abseil is not built with ThreadSanitizer, so
// TSan cannot see absl::Mutex's lock and unlock (they live in the shared
// library) and reports races on every variable it guards. std::mutex is
// intercepted by TSan in any build. The API follows absl::Mutex's (Lock,
// Unlock, Await, AwaitWithTimeout, MutexLock) so the code reads the same.

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace ledger {

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  // Wakes waiters so they re-check their conditions (absl::Mutex semantics:
  // a condition is re-evaluated whenever the mutex is released).
  void Unlock() ABSL_UNLOCK_FUNCTION() {
    const bool wake = waiters_ > 0;
    mu_.unlock();
    if (wake) cv_.notify_all();
  }

  // Blocks until `cond()` is true. `cond` runs with the mutex held.
  template <typename Cond>
  void Await(Cond cond) ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    std::unique_lock<std::mutex> lock(mu_, std::adopt_lock);
    WakeOthersBeforeWaiting();
    ++waiters_;
    cv_.wait(lock, cond);
    --waiters_;
    lock.release();
  }

  // As Await, but gives up after `timeout`; returns `cond()` at the end.
  template <typename Cond>
  bool AwaitWithTimeout(Cond cond, absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    return AwaitWithDeadline(cond, absl::Now() + timeout);
  }

  template <typename Cond>
  bool AwaitWithDeadline(Cond cond, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    std::unique_lock<std::mutex> lock(mu_, std::adopt_lock);
    WakeOthersBeforeWaiting();
    ++waiters_;
    const bool ok = cv_.wait_until(lock, absl::ToChronoTime(deadline), cond);
    --waiters_;
    lock.release();
    return ok;
  }

  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}

 private:
  // Waiting releases the mutex, and the caller may have changed state that
  // other waiters' conditions read: they must re-check, as after Unlock.
  void WakeOthersBeforeWaiting() {
    if (waiters_ > 0) cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  int waiters_ = 0;  // guarded by mu_
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
  }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

}  // namespace ledger
