// Error-lane helpers on top of absl::Status (Debian's Abseil lacks status_macros.h).
//
// Lanes (see docs/error-policy.md): untrusted input returns a RejectReason (decode/) and is
// counted and dead-lettered; configuration errors return absl::Status up to main(), which prints
// it and exits non-zero; broken invariants use SMETSMON_CHECK and abort.
#pragma once

#include <cstdio>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define SMETSMON_RETURN_IF_ERROR(expr)                   \
  do {                                                   \
    ::absl::Status smetsmon_status_ = (expr);            \
    if (!smetsmon_status_.ok()) return smetsmon_status_; \
  } while (0)

#define SMETSMON_CONCAT_INNER_(a, b) a##b
#define SMETSMON_CONCAT_(a, b) SMETSMON_CONCAT_INNER_(a, b)
#define SMETSMON_ASSIGN_OR_RETURN(lhs, expr)                  \
  auto SMETSMON_CONCAT_(smetsmon_or_, __LINE__) = (expr);     \
  if (!SMETSMON_CONCAT_(smetsmon_or_, __LINE__).ok())         \
    return SMETSMON_CONCAT_(smetsmon_or_, __LINE__).status(); \
  lhs = std::move(SMETSMON_CONCAT_(smetsmon_or_, __LINE__)).value()

// Crashes loudly when an invariant is broken; active in every build type.
#define SMETSMON_CHECK(cond)                                                                \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "smetsmon: invariant failed at %s:%d: %s\n", __FILE__, __LINE__, \
                   #cond);                                                                  \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)
