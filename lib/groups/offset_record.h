// The records of __consumer_offsets, in Kafka's own schema so that Kafka's tools can read
// them: key OffsetCommitKey v1 (int16 version 1, string group, string topic, int32
// partition) and value OffsetCommitValue v3 (int16 version 3, int64 offset, int32 leader
// epoch, string metadata, int64 commit timestamp); a null value is a tombstone. Strings
// are int16 length + bytes, integers big-endian.
#ifndef RUNNEL_GROUPS_OFFSET_RECORD_H_
#define RUNNEL_GROUPS_OFFSET_RECORD_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "runnel/types.h"

namespace runnel::groups {

// Kafka's offset.metadata.max.bytes.
inline constexpr size_t kMaxOffsetMetadataBytes = 4096;
// Kafka's schema keeps strings with an int16 length.
inline constexpr size_t kMaxGroupIdBytes = 32767;

struct OffsetKey {
  std::string group;
  TopicPartition partition;
};

struct OffsetValue {
  int64_t offset = -1;
  std::string metadata;
  int64_t commit_timestamp = -1;
};

std::string EncodeOffsetKey(const OffsetKey& key);
std::string EncodeOffsetValue(const OffsetValue& value);

// nullopt for a key of another kind (Kafka's group metadata records, version 2), which
// the store does not use. InvalidArgument for a malformed or unknown record.
absl::StatusOr<std::optional<OffsetKey>> DecodeOffsetKey(std::string_view bytes);
absl::StatusOr<OffsetValue> DecodeOffsetValue(std::string_view bytes);

}  // namespace runnel::groups

#endif  // RUNNEL_GROUPS_OFFSET_RECORD_H_
