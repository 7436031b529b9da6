// The share-group coordinator of one broker (Kafka's share groups, KIP-932): members of a
// share group all read the same partitions, each record handed to one member at a time
// under a lock, and acknowledged one by one (share_partition.h). Run in-process; members
// are QueueConsumers calling in from their own threads.
//
// Durability: every change of a share partition's state (records handed out, with their
// delivery counts, and acknowledgements) is written to the internal topic
// __share_group_state before the call returns, as one record holding the partition's
// whole in-flight state (bounded: see SharePartitionLimits::max_in_flight), so replaying
// the topic restores it: after a restart, acknowledged records stay done, records that
// were out with a member are delivered again, and delivery counts are kept. The topic is
// compacted as internal_topic.h says.
//
// A share partition read before, whose log now ends below what it handed out (the topic
// was deleted and made again, or truncated), starts afresh.
//
// Thread-safe: one mutex guards every share group.
#ifndef RUNNEL_GROUPS_SHARE_COORDINATOR_H_
#define RUNNEL_GROUPS_SHARE_COORDINATOR_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "broker/broker_core.h"
#include "broker/waker.h"
#include "groups/internal_topic.h"
#include "groups/share_partition.h"
#include "runnel/types.h"

namespace runnel::groups {

// The key of a share partition's state record in __share_group_state: group, topic (each
// u16 length first) and partition, big-endian. DataLoss for a key that is not exactly one.
std::string EncodeShareStateKey(std::string_view group, const TopicPartition& tp);
absl::StatusOr<std::pair<std::string, TopicPartition>> DecodeShareStateKey(std::string_view key);

class ShareCoordinator : public internal::BrokerService {
 public:
  // The broker's coordinator, made (and __share_group_state replayed) on first use.
  static absl::StatusOr<std::shared_ptr<ShareCoordinator>> ForBroker(internal::BrokerCore& core);
  void OnBrokerClose() override;

  // A new member of `group`; `waker` is notified when records may have become available
  // (released by another member, or a member left).
  absl::StatusOr<uint64_t> Join(std::string_view group, internal::Waker* waker);
  // Releases what the member holds (stored), and forgets it.
  absl::Status Leave(std::string_view group, uint64_t member, const SharePartitionLimits& limits);

  struct PartitionFetch {
    TopicPartition tp;
    std::vector<AcquiredRecord> records;
  };
  struct Acquired {
    std::vector<PartitionFetch> fetches;
    // Partitions with new records that the in-flight bound holds back: new data there
    // is no reason to try again, a finished record is (members are notified of those).
    std::set<TopicPartition> blocked;
  };
  struct PartitionSource {
    TopicPartition tp;
    const storage::PartitionLog* log;
  };
  // Hands `member` up to `max_records` records from `partitions`, starting with
  // partitions[first] and going round. A share partition first read starts at the log
  // start (`from_earliest`) or end.
  absl::StatusOr<Acquired> Acquire(std::string_view group, uint64_t member,
                                                      const std::vector<PartitionSource>& partitions,
                                                      size_t first, int32_t max_records,
                                                      bool from_earliest,
                                                      const SharePartitionLimits& limits);

  struct Ack {
    TopicPartition tp;
    int64_t offset;
    ShareAck type;
  };
  // Applies every acknowledgement it can and stores them; the first failure (a record not
  // acquired by this member) is returned after the others are applied.
  absl::Status Acknowledge(std::string_view group, uint64_t member, const std::vector<Ack>& acks,
                           const SharePartitionLimits& limits);

  // When the first lock of these partitions expires, on NowMillis's clock (INT64_MAX:
  // none), so a waiting member knows when records come back.
  int64_t NextExpiry(std::string_view group, const std::vector<TopicPartition>& partitions) const;
  // The monotonic milliseconds locks are measured in.
  static int64_t NowMillis();

  // For tests and tools: the state of a share partition (nullopt if never read).
  std::optional<SharePartition> State(std::string_view group, const TopicPartition& tp) const;
  int compactions() const;

 private:
  struct Group {
    std::map<TopicPartition, SharePartition> partitions;
    std::map<uint64_t, internal::Waker*> members;
  };
  explicit ShareCoordinator(internal::BrokerCore& core)
      : core_(core), topic_(&core, internal::kShareGroupStateTopic) {}
  absl::Status Apply(std::string_view key, std::optional<std::string_view> value);
  // Stores the partitions' state as one batch.
  absl::Status Store(std::string_view group, const std::set<TopicPartition>& changed);
  void NotifyOthers(const Group& g, uint64_t except);

  internal::BrokerCore& core_;
  mutable std::mutex mu_;
  InternalTopic topic_;
  std::map<std::string, Group, std::less<>> groups_;
  uint64_t next_member_ = 1;
};

}  // namespace runnel::groups

#endif  // RUNNEL_GROUPS_SHARE_COORDINATOR_H_
