// Early-return helpers for absl::Status / absl::StatusOr, which Debian's Abseil 20220623
// does not ship. RUNNEL_ASSIGN_OR_RETURN declares or assigns `lhs` from a StatusOr.
#ifndef RUNNEL_UTIL_STATUS_MACROS_H_
#define RUNNEL_UTIL_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define RUNNEL_RETURN_IF_ERROR(expr)              \
  do {                                            \
    ::absl::Status runnel_status_ = (expr);       \
    if (!runnel_status_.ok()) return runnel_status_; \
  } while (0)

#define RUNNEL_CONCAT_INNER_(a, b) a##b
#define RUNNEL_CONCAT_(a, b) RUNNEL_CONCAT_INNER_(a, b)

#define RUNNEL_ASSIGN_OR_RETURN(lhs, expr) \
  RUNNEL_ASSIGN_OR_RETURN_IMPL_(RUNNEL_CONCAT_(runnel_statusor_, __LINE__), lhs, expr)

#define RUNNEL_ASSIGN_OR_RETURN_IMPL_(var, lhs, expr) \
  auto var = (expr);                                  \
  if (!var.ok()) return std::move(var).status();      \
  lhs = std::move(var).value()

#endif  // RUNNEL_UTIL_STATUS_MACROS_H_
