// The inside of runnel::Consumer, shared by consumer.cc (assignment, fetching, polling,
// positioning) and consumer_group.cc (group membership, rebalances and commits).
#ifndef RUNNEL_CLIENT_CONSUMER_IMPL_H_
#define RUNNEL_CLIENT_CONSUMER_IMPL_H_

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "broker/broker_core.h"
#include "broker/waker.h"
#include "groups/group_coordinator.h"
#include "runnel/consumer.h"

namespace runnel {

using Clock = std::chrono::steady_clock;

std::string Name(const TopicPartition& tp);

class Consumer::Impl {
 public:
  Impl(std::shared_ptr<internal::BrokerCore> broker, const ConsumerOptions& options,
       std::shared_ptr<groups::GroupCoordinator> coordinator);
  // Leaves the group as Close does, if Close was not called.
  ~Impl();

  absl::Status Assign(const std::vector<TopicPartition>& partitions);
  std::vector<TopicPartition> Assignment() const;
  absl::StatusOr<std::span<const ConsumerRecord>> Poll(std::chrono::milliseconds timeout);
  void Wakeup() {
    wakeup_.store(true);
    waker_.Notify();
  }
  absl::Status Seek(const TopicPartition& tp, int64_t offset);
  absl::Status SeekTo(const std::vector<TopicPartition>& partitions, bool end);
  absl::StatusOr<int64_t> Position(const TopicPartition& tp);
  absl::StatusOr<std::map<TopicPartition, std::optional<OffsetAndTimestamp>>> OffsetsForTimes(
      const std::map<TopicPartition, int64_t>& timestamps) const;
  absl::StatusOr<std::map<TopicPartition, int64_t>> Offsets(
      const std::vector<TopicPartition>& partitions, bool end) const;
  absl::Status SetPaused(const std::vector<TopicPartition>& partitions, bool paused);
  std::vector<TopicPartition> Paused() const;
  absl::Status Close();

  // consumer_group.cc
  absl::Status Subscribe(std::vector<std::string> topics, std::optional<std::regex> pattern,
                         RebalanceListener listener);
  absl::Status SubscribePattern(std::string_view pattern, RebalanceListener listener);
  absl::Status Unsubscribe();
  std::vector<std::string> Subscription() const { return topics_; }
  absl::Status CommitSync(std::optional<std::map<TopicPartition, OffsetAndMetadata>> offsets);
  void CommitAsync(std::optional<std::map<TopicPartition, OffsetAndMetadata>> offsets,
                   OffsetCommitCallback callback);
  absl::StatusOr<std::map<TopicPartition, std::optional<OffsetAndMetadata>>> Committed(
      const std::vector<TopicPartition>& partitions) const;
  ConsumerGroupMetadata GroupMetadata() const;

 private:
  enum class Mode : uint8_t { kNone, kAssign, kSubscribe };
  struct PendingCallback {
    OffsetCommitCallback callback;
    std::map<TopicPartition, OffsetAndMetadata> offsets;
    absl::Status status;
  };

  struct Assigned {
    TopicPartition tp;
    std::shared_ptr<internal::Topic> topic;  // keeps the name records point at alive
    std::shared_ptr<internal::Partition> partition;
    std::optional<int64_t> position;
    bool paused = false;
  };
  // What the last Poll returned, and the memory its views point into.
  struct PollData {
    std::vector<ConsumerRecord> records;
    std::vector<storage::LogSlice> slices;
    std::vector<std::shared_ptr<internal::Topic>> topics;
    std::vector<Header> headers;
    std::vector<std::pair<size_t, size_t>> header_ranges;  // per record: first, count
    std::vector<std::pair<Assigned*, int64_t>> positions;  // where each partition moves to
    size_t bytes = 0;
    void Clear() {
      records.clear();
      slices.clear();
      topics.clear();
      headers.clear();
      header_ranges.clear();
      positions.clear();
      bytes = 0;
    }
  };

  absl::Status CheckOpen() const {
    if (closed_) return absl::FailedPreconditionError(fmt::format("{} is closed", name_));
    return broker_->CheckOpen();
  }
  absl::StatusOr<std::pair<std::shared_ptr<internal::Topic>, std::shared_ptr<internal::Partition>>>
  Resolve(const TopicPartition& tp) const;
  absl::StatusOr<Assigned*> Find(const TopicPartition& tp);
  // Sets a missing position from the group's committed offset, or by auto.offset.reset.
  absl::Status InitPosition(Assigned& a);
  // Sets a missing or out-of-range position by auto.offset.reset.
  absl::Status Reset(Assigned& a, std::string_view reason);
  std::unique_ptr<Assigned> MakeAssigned(const TopicPartition& tp,
                                         std::shared_ptr<internal::Topic> topic,
                                         std::shared_ptr<internal::Partition> partition) const;
  // Reads what is there into data_ without moving positions.
  absl::Status Fetch();
  int64_t VisibleSum() const;
  absl::Status FetchPartition(Assigned& a, int32_t& records_left, size_t& bytes_left);

  // consumer_group.cc
  // Brings the assignment in line with the group: joins, rejoins, revokes and acquires
  // partitions, calling the listener. Called only from inside Poll.
  absl::Status SyncGroup();
  // True when the coordinator no longer counts this consumer as a member.
  bool Removed();
  absl::Status JoinGroup();
  // Stops consuming `partitions`: auto-commits them (unless lost), tells the listener,
  // drops them, and (unless lost) releases them to the coordinator.
  absl::Status Revoke(const std::vector<TopicPartition>& partitions, bool lost);
  absl::Status AcquireAndAssign(const std::vector<TopicPartition>& wanted);
  absl::Status UpdatePatternSubscription();
  void MaybeAutoCommit(Clock::time_point now);
  void RunCommitCallbacks();
  std::map<TopicPartition, OffsetAndMetadata> Positions(
      const std::vector<TopicPartition>* only) const;
  absl::Status CommitNow(const std::map<TopicPartition, OffsetAndMetadata>& offsets);
  absl::Status CheckGroup(std::string_view what) const;
  void PollReturned();
  void LeaveGroup(bool detach_static);

  const std::shared_ptr<internal::BrokerCore> broker_;
  const ConsumerOptions options_;
  std::string name_ = "consumer";
  std::vector<std::unique_ptr<Assigned>> assigned_;
  size_t next_partition_ = 0;  // where the next fetch starts, for fairness
  PollData data_;
  internal::Waker waker_;
  std::atomic<bool> wakeup_{false};
  bool closed_ = false;

  // Group membership (consumer_group.cc). coordinator_ is set when group.id is.
  const std::shared_ptr<groups::GroupCoordinator> coordinator_;
  Mode mode_ = Mode::kNone;
  std::vector<std::string> topics_;  // subscribed (for a pattern: what it matches now)
  std::optional<std::regex> pattern_;
  uint64_t pattern_topics_version_ = 0;
  RebalanceListener listener_;
  std::string member_id_;  // empty: not in the group (yet, or any more)
  int32_t generation_ = -1;
  uint64_t seen_changes_ = 0;
  absl::Status fenced_;  // set for good once another consumer took our group.instance.id
  Clock::time_point next_group_check_ = Clock::time_point::max();
  Clock::time_point next_auto_commit_;
  std::vector<PendingCallback> callbacks_;
};


}  // namespace runnel

#endif  // RUNNEL_CLIENT_CONSUMER_IMPL_H_
