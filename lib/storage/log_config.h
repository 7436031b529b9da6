// The per-partition storage settings, with Kafka's topic-config names and defaults.
// Plain value type; Validate() says which field is out of range and why.
#ifndef RUNNEL_STORAGE_LOG_CONFIG_H_
#define RUNNEL_STORAGE_LOG_CONFIG_H_

#include <cstdint>
#include <limits>
#include <string_view>

#include "absl/status/status.h"
#include "format/record_batch.h"

namespace runnel::storage {

// When appended data is fsynced, and so when it becomes visible to readers (DESIGN.md,
// "Durability and visibility"). Stored in topic metadata: do not change existing values.
enum class SyncPolicy : uint8_t {
  // Page cache only: survives a crash of the process, not of the machine. Visible at once.
  kNone = 0,
  // fsync after flush.messages appended records or flush.ms since the last fsync; a power
  // loss may take back what came after the last fsync. Visible at once.
  kInterval = 1,
  // fsync before an append is acknowledged (group commit: one fsync serves every append
  // waiting for it). Visible only once synced, so no reader acts on a record that a power
  // loss could take back.
  kAlways = 2,
};

std::string_view SyncPolicyName(SyncPolicy policy);

struct LogConfig {
  // segment.bytes: a segment rolls before an append would take it past this size.
  int64_t segment_bytes = 1024 * 1024 * 1024;
  // segment.ms: a segment rolls once its first batch is this old, so retention.ms can
  // delete data even in a quiet partition.
  int64_t segment_ms = 7 * 24 * 3600 * 1000LL;
  // retention.bytes: oldest segments are deleted while the log exceeds this; -1: no limit.
  int64_t retention_bytes = -1;
  // retention.ms: a segment whose newest record is older than this is deleted; -1: keep.
  int64_t retention_ms = 7 * 24 * 3600 * 1000LL;
  // index.interval.bytes: log bytes between two offset index entries.
  int32_t index_interval_bytes = 4096;
  // segment.index.bytes: the preallocated size of each index; a full index rolls the segment.
  int32_t segment_index_bytes = 10 * 1024 * 1024;
  // max.message.bytes: the largest batch an append accepts (Kafka's default, 1 MiB + 12).
  int32_t max_message_bytes = 1024 * 1024 + 12;
  SyncPolicy sync = SyncPolicy::kNone;
  // flush.messages and flush.ms, for SyncPolicy::kInterval.
  int64_t flush_messages = std::numeric_limits<int64_t>::max();
  int64_t flush_ms = std::numeric_limits<int64_t>::max();
  // message.timestamp.type: CreateTime keeps the producer's timestamps; LogAppendTime
  // stamps each batch with the time of the append.
  format::TimestampType timestamp_type = format::TimestampType::kCreateTime;

  // InvalidArgument naming the setting, its value and the allowed range.
  absl::Status Validate() const;
};

}  // namespace runnel::storage

#endif  // RUNNEL_STORAGE_LOG_CONFIG_H_
