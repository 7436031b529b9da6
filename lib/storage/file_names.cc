#include "storage/file_names.h"

#include <fmt/format.h>

#include "io/env.h"

namespace runnel::storage {

std::string OffsetFileStem(int64_t base_offset) { return fmt::format("{:020d}", base_offset); }

std::string LogFileName(const std::string& dir, int64_t base_offset) {
  return io::JoinPath(dir, OffsetFileStem(base_offset) + std::string(kLogSuffix));
}
std::string IndexFileName(const std::string& dir, int64_t base_offset) {
  return io::JoinPath(dir, OffsetFileStem(base_offset) + std::string(kIndexSuffix));
}
std::string TimeIndexFileName(const std::string& dir, int64_t base_offset) {
  return io::JoinPath(dir, OffsetFileStem(base_offset) + std::string(kTimeIndexSuffix));
}

std::optional<int64_t> ParseOffsetFileName(std::string_view name, std::string_view suffix) {
  constexpr size_t kDigits = 20;
  if (name.size() != kDigits + suffix.size() || name.substr(kDigits) != suffix) {
    return std::nullopt;
  }
  uint64_t value = 0;
  for (size_t i = 0; i < kDigits; ++i) {
    const char c = name[i];
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<uint64_t>(c - '0');
    // Checked before it is computed: 20 digits can overflow 64 bits and wrap back below.
    if (value > (static_cast<uint64_t>(INT64_MAX) - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return static_cast<int64_t>(value);
}

}  // namespace runnel::storage
