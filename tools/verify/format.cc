#include "tools/verify/format.h"

#include <ctime>

#include "base/strings.h"

namespace ledger::verify {
namespace {

std::string TwoDigits(int v) {
  return std::string{static_cast<char>('0' + v / 10),
                     static_cast<char>('0' + v % 10)};
}

}  // namespace

std::string FormatRfc3339(int64_t unix_ns) {
  constexpr int64_t kNanosPerSecond = 1'000'000'000;
  int64_t seconds = unix_ns / kNanosPerSecond;
  int64_t nanos = unix_ns % kNanosPerSecond;
  if (nanos < 0) {
    nanos += kNanosPerSecond;
    --seconds;
  }
  const auto t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return StrCat("@", unix_ns, "ns");
  std::string year = StrCat(tm.tm_year + 1900);
  while (year.size() < 4) year.insert(year.begin(), '0');
  std::string out =
      StrCat(year, "-", TwoDigits(tm.tm_mon + 1), "-", TwoDigits(tm.tm_mday),
             "T", TwoDigits(tm.tm_hour), ":", TwoDigits(tm.tm_min), ":",
             TwoDigits(tm.tm_sec));
  if (nanos != 0) {
    std::string frac = StrCat(nanos);
    frac.insert(frac.begin(), 9 - frac.size(), '0');
    if (frac.ends_with("000000")) {
      frac.resize(3);
    } else if (frac.ends_with("000")) {
      frac.resize(6);
    }
    out += StrCat(".", frac);
  }
  out.push_back('Z');
  return out;
}

std::string_view RiskGradeName(RiskGrade grade) {
  switch (grade) {
    case RiskGrade::kUnassessed:
      return "unassessed";
    case RiskGrade::kLow:
      return "low";
    case RiskGrade::kMedium:
      return "medium";
    case RiskGrade::kHigh:
      return "high";
    case RiskGrade::kCritical:
      return "critical";
  }
  return "unknown";
}

std::string_view ActorKindName(ActorKind kind) {
  switch (kind) {
    case ActorKind::kHuman:
      return "human";
    case ActorKind::kService:
      return "service";
    case ActorKind::kModel:
      return "model";
  }
  return "unknown";
}

}  // namespace ledger::verify
