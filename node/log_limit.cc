#include "node/log_limit.h"

#include <spdlog/spdlog.h>

#include <mutex>

#include "absl/time/clock.h"
#include "grpc/support/log.h"

namespace ledger::node {
namespace {

LogLimiter* GrpcLimiter() {
  static LogLimiter* limiter = new LogLimiter(20, absl::Seconds(10));
  return limiter;
}

void LogGrpcLine(gpr_log_func_args* args) {
  uint64_t suppressed = 0;
  if (!GrpcLimiter()->Allow(&suppressed)) return;
  spdlog::level::level_enum level = spdlog::level::info;
  if (args->severity == GPR_LOG_SEVERITY_ERROR) level = spdlog::level::err;
  if (args->severity == GPR_LOG_SEVERITY_DEBUG) level = spdlog::level::debug;
  if (suppressed > 0) {
    spdlog::log(level, "grpc: {} ({}:{}; {} earlier gRPC lines suppressed)",
                args->message, args->file, args->line, suppressed);
  } else {
    spdlog::log(level, "grpc: {} ({}:{})", args->message, args->file,
                args->line);
  }
}

}  // namespace

bool LogLimiter::Allow(uint64_t* suppressed) {
  const absl::Time now = now_();
  MutexLock lock(&mu_);
  if (window_start_ == absl::InfinitePast() || now - window_start_ >= period_ ||
      now < window_start_) {
    window_start_ = now;
    in_window_ = 0;
  }
  if (in_window_ >= lines_) {
    ++pending_suppressed_;
    ++suppressed_;
    return false;
  }
  ++in_window_;
  ++allowed_;
  *suppressed = pending_suppressed_;
  pending_suppressed_ = 0;
  return true;
}

void LogLimiter::ResetForTesting() {
  MutexLock lock(&mu_);
  window_start_ = absl::InfinitePast();
  in_window_ = 0;
  pending_suppressed_ = 0;
}

uint64_t LogLimiter::allowed() const {
  MutexLock lock(&mu_);
  return allowed_;
}

uint64_t LogLimiter::suppressed() const {
  MutexLock lock(&mu_);
  return suppressed_;
}

void InstallGrpcLogLimiter() {
  static std::once_flag once;
  std::call_once(once, [] { gpr_set_log_function(&LogGrpcLine); });
}

const LogLimiter& GrpcLogLimiter() { return *GrpcLimiter(); }

}  // namespace ledger::node
