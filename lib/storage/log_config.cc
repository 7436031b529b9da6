#include "storage/log_config.h"

#include <fmt/format.h>

namespace runnel::storage {

std::string_view SyncPolicyName(SyncPolicy policy) {
  switch (policy) {
    case SyncPolicy::kNone: return "none";
    case SyncPolicy::kInterval: return "interval";
    case SyncPolicy::kAlways: return "always";
  }
  return "unknown";
}

namespace {
absl::Status OutOfRange(std::string_view name, int64_t value, std::string_view range) {
  return absl::InvalidArgumentError(fmt::format("{} = {} is invalid: must be {}", name, value, range));
}
}  // namespace

absl::Status LogConfig::Validate() const {
  // Positions in a segment are u32 in the offset index, and Kafka caps segment.bytes at int.
  if (segment_bytes < 14 || segment_bytes > std::numeric_limits<int32_t>::max()) {
    return OutOfRange("segment.bytes", segment_bytes, "between 14 and 2147483647");
  }
  if (segment_ms < 1) return OutOfRange("segment.ms", segment_ms, "at least 1");
  if (retention_bytes < -1) return OutOfRange("retention.bytes", retention_bytes, "-1 or more");
  if (retention_ms < -1) return OutOfRange("retention.ms", retention_ms, "-1 or more");
  if (index_interval_bytes < 0) {
    return OutOfRange("index.interval.bytes", index_interval_bytes, "0 or more");
  }
  if (segment_index_bytes < 4 * 12) {
    return OutOfRange("segment.index.bytes", segment_index_bytes, "at least 48");
  }
  if (max_message_bytes < 61) {
    return OutOfRange("max.message.bytes", max_message_bytes,
                      "at least 61 (one record batch header)");
  }
  if (flush_messages < 1) return OutOfRange("flush.messages", flush_messages, "at least 1");
  if (flush_ms < 0) return OutOfRange("flush.ms", flush_ms, "0 or more");
  return absl::OkStatus();
}

}  // namespace runnel::storage
