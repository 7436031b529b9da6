// Committed offsets of every consumer group, kept in memory and in the internal topic
// __consumer_offsets (one partition; Kafka's record schema, offset_record.h). Open
// replays the topic, so commits survive Close, a crash and a SIGKILL: a commit is in the
// page cache once Commit returns, and fsynced too under sync.policy always.
//
// Growth: every commit appends. Once the topic is larger than offsets.topic.segment.bytes
// and than twice what is live, the live offsets are written again into a fresh segment,
// made durable, and the segments before it deleted. A crash part way leaves the old
// segments, whose replay gives the same offsets.
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
  int compactions() const { return compactions_; }

 private:
  explicit OffsetStore(internal::BrokerCore* core) : core_(core) {}
  absl::Status Replay(internal::Partition& partition);
  absl::StatusOr<internal::Partition*> Topic();
  // Appends records as one batch, and fsyncs when the topic's sync policy asks.
  absl::Status Append(internal::Partition& partition,
                      const std::vector<std::pair<std::string, std::optional<std::string>>>& records,
                      bool force_sync);
  absl::Status MaybeCompact(internal::Partition& partition);
  size_t LiveBytes() const;

  internal::BrokerCore* const core_;
  std::shared_ptr<internal::Topic> topic_;  // null until the topic exists
  std::map<std::string, GroupOffsets, std::less<>> groups_;
  int compactions_ = 0;
};

}  // namespace runnel::groups

#endif  // RUNNEL_GROUPS_OFFSET_STORE_H_
