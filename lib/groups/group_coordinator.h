// The group coordinator of one broker: Kafka's consumer-group protocol, run in-process.
// Members are Consumers; they call in from their own threads (mostly from Poll).
//
// Rebalances: joining, leaving, a subscription change, a change in the partitions of a
// subscribed topic, or a member removed for not polling (max.poll.interval.ms) or, if
// static and closed, for not returning (session.timeout.ms) starts a rebalance: every
// attached member is told to rejoin (under an eager assignor it releases all it owns
// first). Once all have rejoined, or the slowest member's max.poll.interval.ms has
// passed (stragglers are removed), the coordinator runs the group's assignor and
// publishes a new generation: each member's target partitions.
//
// Ownership: members reconcile towards their target: they Release what they own beyond
// it and Acquire the rest, and a partition is acquired only when no other member owns it.
// So two members never own one partition, and commits are fenced by ownership: a member
// commits only partitions it owns. Under cooperative-sticky, only partitions that move
// are released.
//
// Waiting members sleep on their Waker, which the coordinator notifies whenever
// something changed for them; MemberView::next_check says when expiry must be looked at
// next (expiry is checked lazily, on every call).
//
// Thread-safe: one mutex guards every group. Offsets are written under it, so a commit
// and the ownership it was checked against cannot be torn apart.
#ifndef RUNNEL_GROUPS_GROUP_COORDINATOR_H_
#define RUNNEL_GROUPS_GROUP_COORDINATOR_H_

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "broker/broker_core.h"
#include "broker/waker.h"
#include "groups/assignor.h"
#include "groups/offset_store.h"
#include "runnel/consumer.h"
#include "runnel/group_admin.h"

namespace runnel::groups {

using Clock = std::chrono::steady_clock;

struct JoinRequest {
  std::string client_id;
  std::string instance_id;          // empty: dynamic
  std::vector<std::string> topics;  // sorted, unique
  std::vector<PartitionAssignor> protocols;
  int32_t session_timeout_ms = 45000;
  int32_t max_poll_interval_ms = 300000;
  internal::Waker* waker = nullptr;  // notified when the member has something to do
};

// What a member should do now.
struct MemberView {
  int32_t generation = -1;
  // A rebalance waits for this member: release everything (if `eager`), then Rejoin.
  bool rejoin = false;
  bool eager = true;
  std::set<TopicPartition> target;  // its assignment in this generation
  std::set<TopicPartition> owned;   // what the coordinator has it owning
  uint64_t changes = 0;             // bumps whenever any of the above may have changed
  Clock::time_point next_check = Clock::time_point::max();
};

class GroupCoordinator : public internal::BrokerService {
 public:
  // The broker's coordinator, made (and its offsets replayed) on first use.
  static absl::StatusOr<std::shared_ptr<GroupCoordinator>> ForBroker(internal::BrokerCore& core);

  // Adds a member (or, for a static member whose group.instance.id is known, takes over
  // its membership and assignment) and returns its member id. InvalidArgument when its
  // assignors share none with the group's members.
  absl::StatusOr<std::string> Join(const std::string& group, const JoinRequest& request);
  // Where the member stands. `in_poll` marks it as inside Poll until PollReturned.
  // FailedPrecondition, saying why, once the member is no longer in the group. When
  // `seen_changes` equals the view's current count nothing changed and only `changes`
  // and `next_check` are filled.
  absl::StatusOr<MemberView> Heartbeat(const std::string& group, const std::string& member,
                                       uint64_t seen_changes, bool in_poll);
  void PollReturned(const std::string& group, const std::string& member);
  // True while a connected member holds this group.instance.id.
  bool InstanceTaken(const std::string& group, const std::string& instance_id);
  // The member has rejoined the pending rebalance, having stopped consuming `released`.
  absl::Status Rejoin(const std::string& group, const std::string& member,
                      const std::vector<TopicPartition>& released);
  absl::Status Release(const std::string& group, const std::string& member,
                       const std::vector<TopicPartition>& partitions);
  // Takes those of `wanted` that are in the member's target and owned by no one; returns
  // them.
  absl::StatusOr<std::vector<TopicPartition>> Acquire(const std::string& group,
                                                      const std::string& member,
                                                      const std::vector<TopicPartition>& wanted);
  absl::Status UpdateSubscription(const std::string& group, const std::string& member,
                                  const std::vector<std::string>& topics);
  // Leaves the group: a dynamic member at once; a static one (`detach_static`) stays,
  // disconnected, for session.timeout.ms.
  void Leave(const std::string& group, const std::string& member, bool detach_static);

  // `member` empty: a consumer outside the group (Assign), accepted only while the group
  // has no members. Otherwise the member must own every partition.
  absl::Status Commit(const std::string& group, const std::string& member, int32_t generation,
                      const GroupOffsets& offsets);
  absl::StatusOr<std::map<TopicPartition, std::optional<OffsetAndMetadata>>> Committed(
      const std::string& group, const std::vector<TopicPartition>& partitions);

  std::vector<GroupListing> ListGroups();
  absl::StatusOr<GroupDescription> DescribeGroup(const std::string& group);
  absl::StatusOr<std::map<TopicPartition, int64_t>> ResetOffsets(
      const std::string& group, const std::vector<TopicPartition>& partitions,
      const OffsetSpec& spec);
  absl::Status DeleteGroup(const std::string& group);

  void OnBrokerClose() override;

  // For tests of bounded growth.
  int offset_compactions();

 private:
  struct Member {
    std::string id;
    JoinRequest request;
    uint64_t join_order = 0;
    bool attached = true;
    Clock::time_point detached_at;
    bool in_poll = false;
    Clock::time_point poll_returned;
    bool joined = false;  // rejoined the rebalance in progress
    int32_t generation = -1;
    std::set<TopicPartition> owned;
    std::set<TopicPartition> target;
    uint64_t changes = 1;
  };
  struct Group {
    std::string id;
    GroupState state = GroupState::kEmpty;
    int32_t generation = 0;
    std::optional<PartitionAssignor> protocol;
    std::map<std::string, Member> members;
    std::map<TopicPartition, std::string> owners;
    Clock::time_point rebalance_deadline;
    uint64_t topics_version = 0;
    std::map<std::string, int32_t> partition_counts;  // as of the last assignment
    std::map<std::string, std::string> removed;        // member id -> why, until it rejoins
  };

  GroupCoordinator(internal::BrokerCore& core, std::unique_ptr<OffsetStore> store)
      : core_(core), store_(std::move(store)) {}

  absl::StatusOr<Member*> FindMember(Group& g, const std::string& member);
  void Touch(Member& m);
  void Expire(Group& g, Clock::time_point now);
  void Remove(Group& g, const std::string& member, std::string why);
  void TriggerRebalance(Group& g, Clock::time_point now);
  void MaybeCompleteRebalance(Group& g);
  void ReleaseLocked(Group& g, Member& m, const std::vector<TopicPartition>& partitions);
  std::optional<PartitionAssignor> ChooseProtocol(const Group& g, const JoinRequest* joining) const;
  std::map<std::string, int32_t> PartitionCounts(const Group& g) const;
  void CheckMetadata(Group& g, Clock::time_point now);
  Clock::time_point NextCheck(const Group& g) const;

  internal::BrokerCore& core_;
  std::mutex mu_;
  std::unique_ptr<OffsetStore> store_;
  std::map<std::string, Group> groups_;
  uint64_t next_member_ = 0;
};

}  // namespace runnel::groups

#endif  // RUNNEL_GROUPS_GROUP_COORDINATOR_H_
