// MW_CHECK for the rank programs that tests launch as separate processes: a failed check
// prints where and why, then exits non-zero, which the launching test reports.
#pragma once

#include <cstdio>
#include <cstdlib>

#define MW_CHECK(cond, ...)                                                         \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                            \
      std::fprintf(stderr, "\n");                                                   \
      std::exit(1);                                                                 \
    }                                                                               \
  } while (0)

#define MW_CHECK_OK(expr)                                                       \
  do {                                                                          \
    const ::mw::Status mw_check_status_ = (expr);                               \
    MW_CHECK(mw_check_status_.ok(), "%s", mw_check_status_.ToString().c_str()); \
  } while (0)
