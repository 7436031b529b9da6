// runnel::GroupAdmin administers a Broker's consumer groups, as Kafka's Admin client and
// kafka-consumer-groups.sh do: list groups, describe one (members, assignment, committed
// offsets and lag), reset a group's offsets, delete a group.
//
// Changing offsets and deleting are refused while the group has members (Kafka's rule:
// a live member would overwrite the change with its next commit). Resets are atomic: all
// partitions move, or none.
//
// Ownership and threads: a GroupAdmin keeps its broker alive; once the broker is closed,
// calls fail with FailedPrecondition. Every method is thread-safe.
//
// Errors: NotFound for an unknown group, topic or partition; FailedPrecondition for a
// group with members; InvalidArgument for a bad offset or timestamp.
#ifndef RUNNEL_GROUP_ADMIN_H_
#define RUNNEL_GROUP_ADMIN_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/export.h"
#include "runnel/types.h"

namespace runnel {

// Kafka's group states.
enum class GroupState : uint8_t {
  kEmpty,               // no members; may have committed offsets
  kPreparingRebalance,  // waiting for members to rejoin
  kStable,              // every member has its assignment
};
std::string_view GroupStateName(GroupState state);  // "Empty", "PreparingRebalance", "Stable"

struct GroupListing {
  std::string group_id;
  GroupState state = GroupState::kEmpty;
};

struct MemberDescription {
  std::string member_id;
  std::string group_instance_id;  // empty for a dynamic member
  std::string client_id;
  std::vector<std::string> subscription;
  std::vector<TopicPartition> assignment;  // the partitions the group gives it
  bool connected = true;  // false for a closed static member awaiting its return
};

struct PartitionOffsetDescription {
  TopicPartition partition;
  std::optional<OffsetAndMetadata> committed;  // nullopt: nothing committed
  int64_t log_end_offset = 0;  // the visible end
  int64_t lag = 0;             // end minus committed (the whole log when nothing is)
  std::string owner;           // member id of the member consuming it, if any
};

struct GroupDescription {
  std::string group_id;
  GroupState state = GroupState::kEmpty;
  std::string assignor;  // "range", "roundrobin", "cooperative-sticky"; empty with no members
  int32_t generation_id = 0;
  std::vector<MemberDescription> members;
  // Every partition of the subscribed topics and every partition with a committed offset.
  std::vector<PartitionOffsetDescription> offsets;
};

// Where ResetOffsets moves a group's offsets (kafka-consumer-groups --reset-offsets).
struct OffsetSpec {
  enum class Kind : uint8_t { kEarliest, kLatest, kTimestamp, kOffset };
  Kind kind = Kind::kEarliest;
  int64_t value = 0;  // the timestamp (ms) for kTimestamp, the offset for kOffset

  static OffsetSpec Earliest() { return {Kind::kEarliest, 0}; }
  static OffsetSpec Latest() { return {Kind::kLatest, 0}; }
  // The first offset whose record timestamp is >= `ms`; the end where none is.
  static OffsetSpec ForTimestamp(int64_t ms) { return {Kind::kTimestamp, ms}; }
  // An offset, clamped into [log start, end] as Kafka does.
  static OffsetSpec Offset(int64_t offset) { return {Kind::kOffset, offset}; }
};

class RUNNEL_EXPORT GroupAdmin {
 public:
  // FailedPrecondition if the broker is closed.
  static absl::StatusOr<std::unique_ptr<GroupAdmin>> Create(Broker& broker);
  ~GroupAdmin();
  GroupAdmin(const GroupAdmin&) = delete;
  GroupAdmin& operator=(const GroupAdmin&) = delete;

  // Groups with members or committed offsets, sorted by id.
  absl::StatusOr<std::vector<GroupListing>> ListGroups() const;
  absl::StatusOr<GroupDescription> DescribeGroup(std::string_view group_id) const;
  // Sets the group's committed offsets of `partitions` (all partitions it has committed
  // offsets for, when empty) by `spec`; returns the new offsets.
  absl::StatusOr<std::map<TopicPartition, int64_t>> ResetOffsets(
      std::string_view group_id, const std::vector<TopicPartition>& partitions,
      const OffsetSpec& spec);
  // Forgets the group and its committed offsets.
  absl::Status DeleteGroup(std::string_view group_id);

  class Impl;

 private:
  explicit GroupAdmin(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace runnel

#endif  // RUNNEL_GROUP_ADMIN_H_
