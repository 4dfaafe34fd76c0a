#pragma once

// Early-return helpers for absl::Status / absl::StatusOr.

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define LEDGER_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::absl::Status _ledger_status = (expr);          \
    if (!_ledger_status.ok()) return _ledger_status; \
  } while (0)

#define LEDGER_STATUS_CONCAT_INNER(a, b) a##b
#define LEDGER_STATUS_CONCAT(a, b) LEDGER_STATUS_CONCAT_INNER(a, b)

// LEDGER_ASSIGN_OR_RETURN(auto x, F()); or (x, F()) for an existing x.
#define LEDGER_ASSIGN_OR_RETURN(lhs, rexpr) \
  LEDGER_ASSIGN_OR_RETURN_IMPL(             \
      LEDGER_STATUS_CONCAT(_ledger_statusor_, __LINE__), lhs, rexpr)

#define LEDGER_ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                 \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(*tmp)
