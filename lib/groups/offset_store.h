// Committed offsets of every consumer group, kept in memory and in the internal topic
// __consumer_offsets (one partition; Kafka's record schema, offset_record.h). Open
// replays the topic, so commits survive Close, a crash and a SIGKILL: a commit is in the
// page cache once Commit returns, and fsynced too under sync.policy always.
//
// Growth: every commit appends; the topic is compacted as internal_topic.h says.
//
// Not thread-safe: the group coordinator serialises every call.
#ifndef RUNNEL_GROUPS_OFFSET_STORE_H_
#define RUNNEL_GROUPS_OFFSET_STORE_H_

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "broker/broker_core.h"
#include "groups/internal_topic.h"
#include "groups/offset_record.h"
#include "runnel/types.h"

namespace runnel::groups {

using GroupOffsets = std::map<TopicPartition, OffsetValue>;

class OffsetStore {
 public:
  // Replays __consumer_offsets if it exists; it is created by the first commit.
  static absl::StatusOr<std::unique_ptr<OffsetStore>> Open(internal::BrokerCore* core);

  // Stores every offset or none (one record batch). InvalidArgument for metadata over
  // offset.metadata.max.bytes.
  absl::Status Commit(std::string_view group, const GroupOffsets& offsets);
  // Forgets these partitions' offsets (tombstones); the group's are all gone when
  // `partitions` is empty.
  absl::Status Delete(std::string_view group, const std::vector<TopicPartition>& partitions);

  // nullptr when the group has no committed offsets.
  const GroupOffsets* Find(std::string_view group) const;
  std::vector<std::string> Groups() const;

  // What the last compaction wrote and deleted; for tests and tools.
  int compactions() const { return topic_.compactions(); }

 private:
  explicit OffsetStore(internal::BrokerCore* core)
      : topic_(core, internal::kConsumerOffsetsTopic) {}
  absl::Status Apply(std::string_view key, std::optional<std::string_view> value);
  void MaybeCompact();
  size_t LiveBytes() const;

  InternalTopic topic_;
  std::map<std::string, GroupOffsets, std::less<>> groups_;
};

}  // namespace runnel::groups

#endif  // RUNNEL_GROUPS_OFFSET_STORE_H_
