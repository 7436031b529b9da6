// runnel::Consumer reads records from a Broker's topic partitions by pulling, as Kafka's
// KafkaConsumer does. Either the application assigns itself partitions (Assign), or the
// consumer joins a consumer group (Subscribe, with group.id) and the group's coordinator
// splits the subscribed topics' partitions among the group's members; each Poll returns
// the records after the consumer's position in each partition, then advances it.
//
// Polling: Poll(timeout) is a long poll. It returns as soon as records are visible (at
// least fetch.min.bytes of them, or fewer once fetch.max.wait.ms has passed since the
// first arrived), or empty at the timeout; Poll(0ms) is a short poll that returns what is
// there now. Waiting sleeps on the partitions' notifications: an idle Poll uses no CPU.
// A consumer sees only *visible* records: under sync.policy always, those fsynced.
//
// Records are zero-copy views of the log's memory-mapped segments. The span Poll returns,
// and every string_view in it, stay valid until the next Poll, Close or destruction of
// the consumer, even if retention deletes the segment meanwhile. Copy what must live
// longer.
//
// Positions: a position is the offset of the next record to return. A partition without
// one starts from the group's committed offset, if there is one, else by
// auto.offset.reset: earliest, latest, or none (Poll then fails with FailedPrecondition
// naming the partition). A position that falls out of the log (retention deleted it, or
// a Seek past the end) is reset the same way, and the offset_reset_listener is told.
//
// Groups: the coordinator lives in the process that owns the data directory; members are
// the Consumers made from that Broker. Rebalances run inside Poll: the rebalance listener
// is called from Poll (and from Unsubscribe and Close) on the consumer's thread, and may
// call the consumer (CommitSync, Seek, Position). Eager assignors (range, roundrobin)
// revoke every partition before reassigning; cooperative-sticky revokes only those that
// move, and a partition is handed to its new owner only once the old one has let it go,
// so no two members of a group ever consume one partition at once. A live Consumer
// heartbeats implicitly (as Kafka's heartbeat thread does): a member leaves the group
// when it is closed or destroyed, when it does not call Poll for max.poll.interval.ms
// (its partitions are then lost; its next Poll joins again), or, for a static member
// (group.instance.id) that was closed, when it does not come back within
// session.timeout.ms.
//
// Commits: a committed offset is the next record to consume. Commits are kept in the
// internal topic __consumer_offsets and survive restarts and crashes. A commit for a
// partition the member does not own (it was revoked, or the member was removed from the
// group: a stale generation) is refused with FailedPrecondition and changes nothing.
//
// Threads: a Consumer is used from one thread at a time, like Kafka's; only Wakeup may be
// called from any thread, and makes a blocked Poll return at once (with no records).
//
// Errors: absl::Status naming the topic, partition and offset concerned: NotFound for an
// unknown or deleted topic or partition, InvalidArgument for bad options or arguments,
// FailedPrecondition for a partition not assigned, a closed consumer or broker, mixing
// Subscribe with Assign, a commit without group.id or from a fenced member; DataLoss for
// a record that fails its CRC (never returned as data).
#ifndef RUNNEL_CONSUMER_H_
#define RUNNEL_CONSUMER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runnel/broker.h"
#include "runnel/export.h"
#include "runnel/topic_config.h"
#include "runnel/types.h"

namespace runnel {

// One record as Poll returns it. Every view points into memory the consumer holds until
// the next Poll.
struct ConsumerRecord {
  std::string_view topic = {};
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp = -1;
  TimestampType timestamp_type = TimestampType::kCreateTime;
  std::optional<std::string_view> key = std::nullopt;    // nullopt: a null key
  std::optional<std::string_view> value = std::nullopt;  // nullopt: a null value
  std::span<const Header> headers = {};
};

// auto.offset.reset
enum class OffsetReset : uint8_t {
  kEarliest,  // the log start offset
  kLatest,    // the end of the log: only records produced from now on (Kafka's default)
  kNone,      // no reset: Poll fails with FailedPrecondition naming the partition
};

// partition.assignment.strategy: how a group splits partitions among its members.
enum class PartitionAssignor : uint8_t {
  kRange,               // per topic, consecutive ranges of partitions (eager)
  kRoundRobin,          // all partitions dealt in turn (eager)
  kCooperativeSticky,   // balanced, keeps owners where it can, revokes only what moves
};

// The group's view of a consumer, as Kafka's ConsumerGroupMetadata.
struct ConsumerGroupMetadata {
  std::string group_id = {};
  int32_t generation_id = -1;  // -1 outside a group or before the first assignment
  std::string member_id = {};
  std::string group_instance_id = {};
};

struct OffsetAndMetadata {
  int64_t offset = -1;
  std::string metadata = {};
};

// Kafka's ConsumerRebalanceListener. Each is called from Poll, Unsubscribe or Close on
// the consumer's thread, with the partitions concerned (never with an empty list).
struct RebalanceListener {
  // Before the consumer stops consuming these partitions: positions are still there, so
  // a CommitSync here commits what was processed (with auto-commit, the consumer has
  // already committed them just before).
  std::function<void(const std::vector<TopicPartition>&)> on_partitions_revoked = nullptr;
  // After the consumer got these partitions, before any of their records is returned:
  // a Seek here sets where consumption starts.
  std::function<void(const std::vector<TopicPartition>&)> on_partitions_assigned = nullptr;
  // The member was removed from the group (it did not poll within max.poll.interval.ms)
  // and these partitions may already belong to another member: committing them fails.
  // When unset, on_partitions_revoked is called instead, as in Kafka.
  std::function<void(const std::vector<TopicPartition>&)> on_partitions_lost = nullptr;
};

using OffsetCommitCallback = std::function<void(
    const std::map<TopicPartition, OffsetAndMetadata>& offsets, const absl::Status& status)>;

// Tells why a partition's position was reset: it had none ("no position"), or it fell
// out of the log (retention deleted it, or it lies past the end).
using OffsetResetListener = std::function<void(const TopicPartition& partition, int64_t from,
                                               int64_t to, std::string_view reason)>;

struct ConsumerOptions {
  // client.id: names the consumer in messages and in group descriptions.
  std::string client_id = {};
  // group.id: the consumer group, needed by Subscribe and by commits.
  std::string group_id = {};
  // group.instance.id: makes the member static: closing it does not leave the group, and
  // a consumer with the same id that comes back within session.timeout.ms takes over its
  // assignment without a rebalance. Empty: a dynamic member.
  std::string group_instance_id = {};
  // session.timeout.ms: how long a closed static member keeps its partitions.
  int32_t session_timeout_ms = 45000;
  // max.poll.interval.ms: a member that does not call Poll for this long is removed from
  // the group and its partitions reassigned. Also how long a rebalance waits for members
  // to rejoin.
  int32_t max_poll_interval_ms = 300000;
  // partition.assignment.strategy, in order of preference. The group uses the first
  // assignor of its first member that every member supports.
  std::vector<PartitionAssignor> partition_assignment_strategy = {
      PartitionAssignor::kRange, PartitionAssignor::kCooperativeSticky};
  // enable.auto.commit: commit, every auto.commit.interval.ms, the positions that earlier
  // Polls returned records up to; also before partitions are revoked and on Close. This
  // is at-least-once: records returned but not processed before a crash come again.
  // Applies only with a group.id.
  bool enable_auto_commit = true;
  int32_t auto_commit_interval_ms = 5000;
  OffsetReset auto_offset_reset = OffsetReset::kLatest;
  // fetch.min.bytes: how many bytes of records Poll waits for, up to fetch.max.wait.ms.
  int32_t fetch_min_bytes = 1;
  int32_t fetch_max_wait_ms = 500;
  // fetch.max.bytes and max.partition.fetch.bytes: bytes read per Poll, in all and per
  // partition. A batch larger than either still comes whole, so a consumer never stalls.
  int32_t fetch_max_bytes = 52428800;
  int32_t max_partition_fetch_bytes = 1048576;
  // max.poll.records: records returned per Poll at most.
  int32_t max_poll_records = 500;
  // check.crcs: verify each batch's CRC32C before returning its records.
  bool check_crcs = true;
  OffsetResetListener offset_reset_listener = nullptr;
};

struct OffsetAndTimestamp {
  int64_t offset = -1;
  int64_t timestamp = -1;
};

class RUNNEL_EXPORT Consumer {
 public:
  // InvalidArgument for bad options; FailedPrecondition if the broker is closed.
  static absl::StatusOr<std::unique_ptr<Consumer>> Create(Broker& broker,
                                                          const ConsumerOptions& options = {});
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Joins the group (group.id) subscribed to `topics`, or replaces the subscription. The
  // assignment arrives during a later Poll, announced to the listener. InvalidArgument
  // for no group.id or a bad topic name; FailedPrecondition after Assign. Topics that do
  // not exist yet are assigned once created.
  absl::Status Subscribe(const std::vector<std::string>& topics, RebalanceListener listener = {});
  // Subscribes to every topic whose whole name matches the ECMAScript regular expression
  // `pattern`, now and as topics are created or deleted.
  absl::Status SubscribePattern(std::string_view pattern, RebalanceListener listener = {});
  // Leaves the group (after revoking, and auto-committing, the partitions it owns).
  absl::Status Unsubscribe();
  // The topics subscribed to now (for a pattern, those it matches).
  std::vector<std::string> Subscription() const;

  // Replaces the assignment (Kafka's assign). Partitions kept keep their positions and
  // pause state. NotFound naming the first topic or partition that does not exist.
  absl::Status Assign(const std::vector<TopicPartition>& partitions);
  std::vector<TopicPartition> Assignment() const;

  // Records after each assigned, unpaused partition's position, at most max.poll.records;
  // advances the positions past them. Waits up to `timeout` as described above.
  absl::StatusOr<std::span<const ConsumerRecord>> Poll(std::chrono::milliseconds timeout);

  // Makes a Poll in progress on another thread (or the next one) return empty at once.
  void Wakeup();

  // Positioning. Each names an assigned partition (FailedPrecondition otherwise).
  absl::Status Seek(const TopicPartition& partition, int64_t offset);
  absl::Status SeekToBeginning(const std::vector<TopicPartition>& partitions);
  absl::Status SeekToEnd(const std::vector<TopicPartition>& partitions);
  // The offset of the next record Poll returns, resolving a missing position first.
  absl::StatusOr<int64_t> Position(const TopicPartition& partition);

  // Per partition, the first offset whose record timestamp is >= the given time
  // (Kinesis's AT_TIMESTAMP); nullopt where no record is that recent. Need not be
  // assigned.
  absl::StatusOr<std::map<TopicPartition, std::optional<OffsetAndTimestamp>>> OffsetsForTimes(
      const std::map<TopicPartition, int64_t>& timestamps) const;
  absl::StatusOr<std::map<TopicPartition, int64_t>> BeginningOffsets(
      const std::vector<TopicPartition>& partitions) const;
  // The visible end: the offset the next visible record will have.
  absl::StatusOr<std::map<TopicPartition, int64_t>> EndOffsets(
      const std::vector<TopicPartition>& partitions) const;

  // Paused partitions keep their position and return nothing until resumed.
  absl::Status Pause(const std::vector<TopicPartition>& partitions);
  absl::Status Resume(const std::vector<TopicPartition>& partitions);
  std::vector<TopicPartition> Paused() const;

  // Commits the position of every assigned partition (what Polls returned so far), or
  // the offsets given, and returns once the commit is stored (durably under the broker's
  // default sync.policy always). Needs group.id; a member may commit only the partitions
  // it owns. Without a group (Assign), commits are accepted only while the group has no
  // members. Atomic: all offsets are stored, or none.
  absl::Status CommitSync();
  absl::Status CommitSync(const std::map<TopicPartition, OffsetAndMetadata>& offsets);
  // As CommitSync, but the status goes to `callback`, called from the next Poll,
  // CommitSync or Close on this thread (Kafka's order: in the order of the commits).
  void CommitAsync(OffsetCommitCallback callback = nullptr);
  void CommitAsync(const std::map<TopicPartition, OffsetAndMetadata>& offsets,
                   OffsetCommitCallback callback);
  // The group's committed offsets for these partitions (nullopt: none committed). Need not
  // be assigned.
  absl::StatusOr<std::map<TopicPartition, std::optional<OffsetAndMetadata>>> Committed(
      const std::vector<TopicPartition>& partitions) const;
  ConsumerGroupMetadata GroupMetadata() const;

  // Auto-commits (if enabled), leaves the group (a static member stays, see above),
  // runs pending commit callbacks and releases the records of the last Poll; later calls
  // fail with FailedPrecondition.
  absl::Status Close();

  class Impl;

 private:
  explicit Consumer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace runnel

#endif  // RUNNEL_CONSUMER_H_
