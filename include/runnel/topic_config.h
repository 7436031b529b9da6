// Per-topic settings, with Kafka's topic-config names and defaults. A plain value type.
//
// Each field documents its Kafka name; FromMap/ToMap convert to and from those names
// (what `kafka-configs --add-config` or the command-line tool take). Validate() and
// FromMap() return InvalidArgument naming the setting, the value and the allowed range.
#ifndef RUNNEL_TOPIC_CONFIG_H_
#define RUNNEL_TOPIC_CONFIG_H_

#include <cstdint>
#include <limits>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runnel/export.h"

namespace runnel {

// When appended records are fsynced, and so what a crash can take back. Stored in topic
// metadata: do not change existing values.
enum class SyncPolicy : uint8_t {
  // "none": the page cache only. Survives the application crashing; a power loss (or
  // kernel crash) may take back records the OS had not yet written. Readers see a record
  // as soon as it is written.
  kNone = 0,
  // "interval": fsync every flush.messages records or flush.ms milliseconds. A power loss
  // takes back at most what came after the last fsync. Readers see records at once.
  kInterval = 1,
  // "always": fsync before a send is acknowledged, shared by every send waiting at that
  // moment (group commit). Nothing acknowledged is lost to a power loss, and readers see a
  // record only once it is fsynced, so no one acts on a record a power loss could undo.
  kAlways = 2,
};

// message.timestamp.type. Do not change existing values.
enum class TimestampType : uint8_t { kCreateTime = 0, kLogAppendTime = 1 };

struct RUNNEL_EXPORT TopicConfig {
  // retention.ms: delete a segment once its newest record is this old; -1 keeps forever.
  int64_t retention_ms = 7 * 24 * 3600 * 1000LL;
  // retention.bytes: delete the oldest segments of a partition while it is larger; -1: no
  // limit.
  int64_t retention_bytes = -1;
  // segment.bytes: roll to a new segment file before one would grow past this.
  int64_t segment_bytes = 1024 * 1024 * 1024;
  // segment.ms: roll a segment once it is this old, so that retention can act on it.
  int64_t segment_ms = 7 * 24 * 3600 * 1000LL;
  // max.message.bytes: the largest record batch a partition accepts (1 MiB + 12).
  int32_t max_message_bytes = 1024 * 1024 + 12;
  // sync.policy (runnel's): none, interval or always; see SyncPolicy.
  SyncPolicy sync_policy = SyncPolicy::kNone;
  // flush.messages / flush.ms: the interval of SyncPolicy::kInterval.
  int64_t flush_messages = std::numeric_limits<int64_t>::max();
  int64_t flush_ms = std::numeric_limits<int64_t>::max();
  // message.timestamp.type: CreateTime or LogAppendTime.
  TimestampType message_timestamp_type = TimestampType::kCreateTime;
  // index.interval.bytes and segment.index.bytes: the sparse offset index's density and
  // the preallocated size of each index file.
  int32_t index_interval_bytes = 4096;
  int32_t segment_index_bytes = 10 * 1024 * 1024;
  // cleanup.policy: only "delete" (retention) is supported; "compact" is refused with
  // Unimplemented until log compaction exists.

  // Applies Kafka-named settings ("retention.ms" -> "3600000", ...) on top of `base`.
  // InvalidArgument for an unknown name or a bad value; Unimplemented for
  // cleanup.policy=compact.
  static absl::StatusOr<TopicConfig> FromMap(const std::map<std::string, std::string>& settings,
                                             const TopicConfig& base);
  static absl::StatusOr<TopicConfig> FromMap(const std::map<std::string, std::string>& settings) {
    return FromMap(settings, TopicConfig{});
  }
  // Every setting by its Kafka name, values as FromMap reads them.
  std::map<std::string, std::string> ToMap() const;
  absl::Status Validate() const;

  bool operator==(const TopicConfig&) const = default;
};

}  // namespace runnel

#endif  // RUNNEL_TOPIC_CONFIG_H_
