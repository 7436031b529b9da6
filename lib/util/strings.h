// Small string helpers that Debian's Abseil 20220623 cannot offer for std::string_view
// (its absl::string_view is a different type).
#ifndef RUNNEL_UTIL_STRINGS_H_
#define RUNNEL_UTIL_STRINGS_H_

#include <string_view>

namespace runnel {

inline bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace runnel

#endif  // RUNNEL_UTIL_STRINGS_H_
