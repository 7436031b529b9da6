// Catch2 printers and checks for absl::Status, so a failed CHECK shows the error text.
#ifndef RUNNEL_TEST_SUPPORT_STATUS_MATCHERS_H_
#define RUNNEL_TEST_SUPPORT_STATUS_MATCHERS_H_

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace Catch {
template <>
struct StringMaker<absl::Status> {
  static std::string convert(const absl::Status& s) { return s.ToString(); }
};
template <>
struct StringMaker<absl::StatusCode> {
  static std::string convert(absl::StatusCode c) { return absl::StatusCodeToString(c); }
};
}  // namespace Catch

// REQUIRE_OK(expr): expr is an absl::Status or StatusOr and must be OK.
#define REQUIRE_OK(expr) REQUIRE(::runnel::testing::ToStatus(expr) == ::absl::OkStatus())
#define CHECK_OK(expr) CHECK(::runnel::testing::ToStatus(expr) == ::absl::OkStatus())

// The status has `expected_code` and its message contains every one of the parts.
#define CHECK_STATUS_IS(expr, expected_code, ...)                             \
  do {                                                                        \
    const ::absl::Status status_ = ::runnel::testing::ToStatus(expr);         \
    INFO("status: " << status_.ToString());                                   \
    CHECK(status_.code() == (expected_code));                                 \
    for (const std::string& part_ : std::vector<std::string>{__VA_ARGS__}) {  \
      INFO("expected in the message: " << part_);                             \
      CHECK(std::string(status_.message()).find(part_) != std::string::npos); \
    }                                                                         \
  } while (0)

namespace runnel::testing {
inline const absl::Status& ToStatus(const absl::Status& s) { return s; }
template <typename T>
absl::Status ToStatus(const absl::StatusOr<T>& s) {
  return s.status();
}
}  // namespace runnel::testing

#endif  // RUNNEL_TEST_SUPPORT_STATUS_MATCHERS_H_
