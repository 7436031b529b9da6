// fmt formatters for Abseil types that show up in runnel's messages. Debian's Abseil
// 20220623 has its own absl::string_view (Status::message() returns one), which fmt
// cannot format by itself.
#ifndef RUNNEL_UTIL_FORMATTERS_H_
#define RUNNEL_UTIL_FORMATTERS_H_

#include <fmt/format.h>

#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(absl::string_view s, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(std::string_view(s.data(), s.size()), ctx);
  }
};

template <>
struct fmt::formatter<absl::Status> : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(const absl::Status& s, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(s.ToString(), ctx);
  }
};

#endif  // RUNNEL_UTIL_FORMATTERS_H_
