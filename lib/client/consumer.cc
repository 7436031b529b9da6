// runnel::Consumer (include/runnel/consumer.h). Poll reads whole batches from each
// assigned partition's log as zero-copy slices of its mapped segments, decodes the records
// after the position into views, and keeps the slices until the next Poll. Waiting
// registers one Waker with every partition polled, so any of them can end the wait.
#include "runnel/consumer.h"

#include <fmt/format.h>

#include <algorithm>

#include "client/consumer_impl.h"
#include "format/record_batch.h"
#include "util/formatters.h"
#include "util/status_macros.h"

namespace runnel {
namespace {

absl::Status CheckOptions(const ConsumerOptions& o) {
  auto bad = [](std::string_view name, int64_t value, std::string_view range) {
    return absl::InvalidArgumentError(
        fmt::format("{} = {} is invalid: must be {}", name, value, range));
  };
  if (o.fetch_min_bytes < 0) return bad("fetch.min.bytes", o.fetch_min_bytes, "0 or more");
  if (o.fetch_max_wait_ms < 0) return bad("fetch.max.wait.ms", o.fetch_max_wait_ms, "0 or more");
  if (o.fetch_max_bytes < 0) return bad("fetch.max.bytes", o.fetch_max_bytes, "0 or more");
  if (o.max_partition_fetch_bytes < 0) {
    return bad("max.partition.fetch.bytes", o.max_partition_fetch_bytes, "0 or more");
  }
  if (o.max_poll_records < 1) return bad("max.poll.records", o.max_poll_records, "at least 1");
  if (o.auto_offset_reset != OffsetReset::kEarliest &&
      o.auto_offset_reset != OffsetReset::kLatest && o.auto_offset_reset != OffsetReset::kNone) {
    return bad("auto.offset.reset", static_cast<int>(o.auto_offset_reset),
               "earliest, latest or none");
  }
  if (o.session_timeout_ms < 1) return bad("session.timeout.ms", o.session_timeout_ms, "at least 1");
  if (o.max_poll_interval_ms < 1) {
    return bad("max.poll.interval.ms", o.max_poll_interval_ms, "at least 1");
  }
  if (o.auto_commit_interval_ms < 0) {
    return bad("auto.commit.interval.ms", o.auto_commit_interval_ms, "0 or more");
  }
  if (o.partition_assignment_strategy.empty()) {
    return absl::InvalidArgumentError(
        "partition.assignment.strategy is empty: name at least one assignor");
  }
  for (PartitionAssignor a : o.partition_assignment_strategy) {
    if (a != PartitionAssignor::kRange && a != PartitionAssignor::kRoundRobin &&
        a != PartitionAssignor::kCooperativeSticky) {
      return bad("partition.assignment.strategy", static_cast<int>(a),
                 "range, roundrobin or cooperative-sticky");
    }
  }
  if (o.group_id.size() > groups::kMaxGroupIdBytes) {
    return absl::InvalidArgumentError(fmt::format("group.id of {} bytes is too long: at most {}",
                                                  o.group_id.size(), groups::kMaxGroupIdBytes));
  }
  if (!o.group_instance_id.empty() && o.group_id.empty()) {
    return absl::InvalidArgumentError(fmt::format(
        "group.instance.id \"{}\" needs a group.id", o.group_instance_id));
  }
  return absl::OkStatus();
}

}  // namespace

std::string Name(const TopicPartition& tp) { return fmt::format("{}-{}", tp.topic, tp.partition); }

Consumer::Impl::Impl(std::shared_ptr<internal::BrokerCore> broker, const ConsumerOptions& options,
                     std::shared_ptr<groups::GroupCoordinator> coordinator)
    : broker_(std::move(broker)), options_(options), coordinator_(std::move(coordinator)) {
  if (!options_.client_id.empty()) name_ = fmt::format("consumer \"{}\"", options_.client_id);
  next_auto_commit_ = Clock::now() + std::chrono::milliseconds(options_.auto_commit_interval_ms);
}

Consumer::Impl::~Impl() {
  if (!closed_) Close().IgnoreError();
}

absl::StatusOr<std::pair<std::shared_ptr<internal::Topic>, std::shared_ptr<internal::Partition>>>
Consumer::Impl::Resolve(const TopicPartition& tp) const {
  RUNNEL_ASSIGN_OR_RETURN(std::shared_ptr<internal::Topic> topic, broker_->FindTopic(tp.topic));
  if (tp.partition < 0 || static_cast<size_t>(tp.partition) >= topic->partitions.size()) {
    return absl::NotFoundError(fmt::format(
        "partition {} of topic \"{}\" does not exist: it has partitions 0 to {}", tp.partition,
        tp.topic, topic->partitions.size() - 1));
  }
  auto partition = topic->partitions[static_cast<size_t>(tp.partition)];
  return std::make_pair(std::move(topic), std::move(partition));
}

absl::StatusOr<Consumer::Impl::Assigned*> Consumer::Impl::Find(const TopicPartition& tp) {
  RUNNEL_RETURN_IF_ERROR(CheckOpen());
  for (auto& a : assigned_) {
    if (a->tp == tp) return a.get();
  }
  return absl::FailedPreconditionError(
      fmt::format("partition {} is not assigned to {}", Name(tp), name_));
}

std::unique_ptr<Consumer::Impl::Assigned> Consumer::Impl::MakeAssigned(
    const TopicPartition& tp, std::shared_ptr<internal::Topic> topic,
    std::shared_ptr<internal::Partition> partition) const {
  auto a = std::make_unique<Assigned>();
  a->tp = tp;
  a->topic = std::move(topic);
  a->partition = std::move(partition);
  return a;
}

absl::Status Consumer::Impl::Assign(const std::vector<TopicPartition>& partitions) {
  RUNNEL_RETURN_IF_ERROR(CheckOpen());
  if (mode_ == Mode::kSubscribe) {
    return absl::FailedPreconditionError(fmt::format(
        "{} is subscribed to topics: Assign and Subscribe exclude each other; Unsubscribe first",
        name_));
  }
  auto find = [](std::vector<std::unique_ptr<Assigned>>& in, const TopicPartition& tp) {
    return std::find_if(in.begin(), in.end(), [&](const auto& a) { return a && a->tp == tp; });
  };
  // Resolve the new partitions before touching the assignment: a failed Assign changes
  // nothing.
  std::vector<std::unique_ptr<Assigned>> added;
  for (const TopicPartition& tp : partitions) {
    if (find(assigned_, tp) != assigned_.end() || find(added, tp) != added.end()) continue;
    RUNNEL_ASSIGN_OR_RETURN(auto resolved, Resolve(tp));
    added.push_back(MakeAssigned(tp, std::move(resolved.first), std::move(resolved.second)));
  }
  std::vector<std::unique_ptr<Assigned>> next;
  for (const TopicPartition& tp : partitions) {
    if (find(next, tp) != next.end()) continue;
    auto kept = find(assigned_, tp);
    next.push_back(std::move(kept != assigned_.end() ? *kept : *find(added, tp)));
  }
  // The last Poll's records stay valid: their topic names are held by data_.
  assigned_ = std::move(next);
  next_partition_ = 0;
  mode_ = assigned_.empty() ? Mode::kNone : Mode::kAssign;  // assign({}) is unsubscribe
  return absl::OkStatus();
}

std::vector<TopicPartition> Consumer::Impl::Assignment() const {
  std::vector<TopicPartition> out;
  for (const auto& a : assigned_) out.push_back(a->tp);
  return out;
}

absl::Status Consumer::Impl::InitPosition(Assigned& a) {
  if (coordinator_) {
    RUNNEL_ASSIGN_OR_RETURN(auto committed, coordinator_->Committed(options_.group_id, {a.tp}));
    const std::optional<OffsetAndMetadata>& c = committed[a.tp];
    if (c) {
      a.position = c->offset;
      return absl::OkStatus();
    }
  }
  return Reset(a, "no position");
}

absl::Status Consumer::Impl::Reset(Assigned& a, std::string_view reason) {
  const storage::PartitionLog& log = a.partition->log();
  const int64_t from = a.position.value_or(-1);
  int64_t to;
  switch (options_.auto_offset_reset) {
    case OffsetReset::kEarliest:
      to = log.log_start_offset();
      break;
    case OffsetReset::kLatest:
      to = log.visible_offset();
      break;
    default:
      if (!a.position) {
        return absl::FailedPreconditionError(fmt::format(
            "partition {} of {} has no position and auto.offset.reset is none: Seek first",
            Name(a.tp), name_));
      }
      return absl::FailedPreconditionError(fmt::format(
          "position {} of partition {} of {} is out of range [{}, {}] ({}) and "
          "auto.offset.reset is none",
          from, Name(a.tp), name_, log.log_start_offset(), log.visible_offset(), reason));
  }
  a.position = to;
  if (options_.offset_reset_listener) options_.offset_reset_listener(a.tp, from, to, reason);
  return absl::OkStatus();
}

absl::Status Consumer::Impl::FetchPartition(Assigned& a, int32_t& records_left,
                                            size_t& bytes_left) {
  if (a.partition->deleted()) {
    // A topic made again under the same name is a new log: start it afresh.
    auto resolved = Resolve(a.tp);
    if (resolved.ok()) {
      a.topic = std::move(resolved->first);
      a.partition = std::move(resolved->second);
      a.position.reset();
    } else if (mode_ == Mode::kSubscribe) {
      return absl::OkStatus();  // the group's next assignment drops it
    } else {
      return absl::NotFoundError(
          fmt::format("topic \"{}\" of partition {} was deleted", a.tp.topic, Name(a.tp)));
    }
  }
  if (!a.position) RUNNEL_RETURN_IF_ERROR(InitPosition(a));
  const storage::PartitionLog& log = a.partition->log();
  const size_t max_bytes =
      std::min(bytes_left, static_cast<size_t>(options_.max_partition_fetch_bytes));
  absl::StatusOr<storage::ReadResult> read = log.Read(*a.position, max_bytes, data_.bytes == 0);
  if (absl::IsOutOfRange(read.status())) {
    const bool below = *a.position < log.log_start_offset();
    RUNNEL_RETURN_IF_ERROR(
        Reset(a, below ? "below the log start: deleted by retention" : "past the end of the log"));
    read = log.Read(*a.position, max_bytes, data_.bytes == 0);
  }
  if (!read.ok()) return read.status();

  int64_t position = *a.position;
  const size_t records_before = data_.records.size();
  for (const storage::LogSlice& slice : read->slices) {
    std::span<const uint8_t> rest = slice.bytes;
    bool slice_used = false;
    while (!rest.empty()) {
      const format::BatchCheckResult check = format::CheckBatch(rest, options_.check_crcs);
      if (check.check != format::BatchCheck::kValid) {
        return absl::DataLossError(fmt::format(
            "partition {}: the batch at or after offset {} is unreadable ({}); it is not "
            "returned",
            Name(a.tp), position, check.reason));
      }
      const format::BatchHeader& h = check.header;
      const std::span<const uint8_t> batch = rest.first(h.size_in_bytes());
      rest = rest.subspan(h.size_in_bytes());
      if (h.next_offset() <= position) continue;  // wholly before the position
      if (h.is_control() || h.record_count == 0) {
        position = h.next_offset();
        continue;
      }
      format::RecordIterator it(batch, h);
      format::Record r;
      int64_t batch_position = position;
      bool whole = true;  // every record of the batch at or after the position was taken
      while (it.Next(&r)) {
        if (r.offset < position) continue;
        if (records_left == 0) {
          whole = false;
          break;
        }
        ConsumerRecord cr;
        cr.topic = a.topic->name;
        cr.partition = a.tp.partition;
        cr.offset = r.offset;
        const bool append_time = h.timestamp_type() == format::TimestampType::kLogAppendTime;
        cr.timestamp = append_time ? h.max_timestamp : r.timestamp;
        cr.timestamp_type = append_time ? TimestampType::kLogAppendTime : TimestampType::kCreateTime;
        cr.key = r.key;
        cr.value = r.value;
        data_.header_ranges.emplace_back(data_.headers.size(), r.headers.size());
        for (const format::RecordHeader& rh : r.headers) data_.headers.push_back({rh.key, rh.value});
        data_.records.push_back(cr);
        --records_left;
        batch_position = r.offset + 1;
        slice_used = true;
      }
      if (whole && !it.status().ok()) {
        return absl::DataLossError(fmt::format("partition {}: batch at offset {}: {}", Name(a.tp),
                                               h.base_offset, it.status().message()));
      }
      // A batch read to its end moves the position past its last offset, gaps and all.
      position = whole ? std::max(batch_position, h.next_offset()) : batch_position;
      if (!whole) break;
    }
    if (slice_used) {
      data_.bytes += slice.bytes.size();
      bytes_left -= std::min(bytes_left, slice.bytes.size());
      data_.slices.push_back(slice);
    }
    if (records_left == 0) break;
  }
  if (position != *a.position) {
    if (data_.records.size() > records_before) data_.topics.push_back(a.topic);
    data_.positions.emplace_back(&a, position);
  }
  return absl::OkStatus();
}

absl::Status Consumer::Impl::Fetch() {
  data_.Clear();
  int32_t records_left = options_.max_poll_records;
  size_t bytes_left = static_cast<size_t>(options_.fetch_max_bytes);
  const size_t n = assigned_.size();
  const size_t start = next_partition_;
  for (size_t i = 0; i < n && records_left > 0; ++i) {
    Assigned& a = *assigned_[(start + i) % n];
    if (a.paused) continue;
    const size_t before = data_.records.size();
    RUNNEL_RETURN_IF_ERROR(FetchPartition(a, records_left, bytes_left));
    // Start the next fetch after the last partition that gave records, so that one busy
    // partition cannot starve the others.
    if (data_.records.size() > before) next_partition_ = (start + i + 1) % n;
    if (bytes_left == 0) break;
  }
  for (size_t i = 0; i < data_.records.size(); ++i) {
    const auto [first, count] = data_.header_ranges[i];
    data_.records[i].headers = std::span<const Header>(data_.headers).subspan(first, count);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::span<const ConsumerRecord>> Consumer::Impl::Poll(
    std::chrono::milliseconds timeout) {
  RUNNEL_RETURN_IF_ERROR(CheckOpen());
  if (timeout.count() < 0) {
    return absl::InvalidArgumentError(
        fmt::format("Poll timeout {} ms is invalid: must be 0 or more", timeout.count()));
  }
  RunCommitCallbacks();
  MaybeAutoCommit(Clock::now());
  data_.Clear();  // the last Poll's views end here
  // However Poll ends, the coordinator learns that the member is no longer inside it.
  struct Returned {
    Impl* impl;
    ~Returned() { impl->PollReturned(); }
  } returned{this};
  // Clamped: Poll(milliseconds::max()) waits for ever, like Kafka's poll(Long.MAX_VALUE).
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline =
      timeout >= std::chrono::duration_cast<std::chrono::milliseconds>(Clock::time_point::max() - start)
          ? Clock::time_point::max()
          : start + timeout;
  const auto max_wait = std::chrono::milliseconds(options_.fetch_max_wait_ms);
  std::optional<Clock::time_point> first_data;
  while (true) {
    RUNNEL_RETURN_IF_ERROR(CheckOpen());  // the broker may close while we wait
    const uint64_t seen = waker_.seq();
    if (wakeup_.exchange(false)) {
      data_.Clear();
      return std::span<const ConsumerRecord>();
    }
    if (mode_ == Mode::kSubscribe) RUNNEL_RETURN_IF_ERROR(SyncGroup());
    const int64_t visible = VisibleSum();
    RUNNEL_RETURN_IF_ERROR(Fetch());
    const Clock::time_point now = Clock::now();
    if (!data_.records.empty() && !first_data) first_data = now;
    const bool enough = !data_.records.empty() &&
                        (data_.bytes >= static_cast<size_t>(options_.fetch_min_bytes) ||
                         now >= *first_data + max_wait);
    if (enough || now >= deadline) {
      // Positions also move past control batches and gaps read on the way.
      for (const auto& [a, position] : data_.positions) a->position = position;
      return std::span<const ConsumerRecord>(data_.records);
    }
    // Sleep until a polled partition publishes more, Wakeup, or the time is up. Register
    // first, then look whether anything was published since the fetch began: either that
    // look sees it, or the partition notifies the waker.
    Clock::time_point wake = first_data ? std::min(deadline, *first_data + max_wait) : deadline;
    if (mode_ == Mode::kSubscribe) wake = std::min(wake, next_group_check_);
    for (auto& a : assigned_) {
      if (!a->paused) a->partition->AddWaker(&waker_);
    }
    if (VisibleSum() == visible) waker_.Wait(seen, wake);
    for (auto& a : assigned_) {
      if (!a->paused) a->partition->RemoveWaker(&waker_);
    }
  }
}

// Visible offsets only grow, so their sum changes whenever any polled partition publishes.
// Sequentially consistent, to pair with Partition::OnVisible's check for waiters.
int64_t Consumer::Impl::VisibleSum() const {
  int64_t sum = 0;
  for (const auto& a : assigned_) {
    if (!a->paused) sum += a->partition->log().visible_offset(std::memory_order_seq_cst);
  }
  return sum;
}

absl::Status Consumer::Impl::Seek(const TopicPartition& tp, int64_t offset) {
  RUNNEL_ASSIGN_OR_RETURN(Assigned * a, Find(tp));
  if (offset < 0) {
    return absl::InvalidArgumentError(
        fmt::format("cannot seek partition {} to offset {}: offsets are 0 or more", Name(tp), offset));
  }
  a->position = offset;
  return absl::OkStatus();
}

absl::Status Consumer::Impl::SeekTo(const std::vector<TopicPartition>& partitions, bool end) {
  std::vector<Assigned*> targets;
  if (partitions.empty()) {  // as in Kafka: every assigned partition
    for (auto& a : assigned_) targets.push_back(a.get());
  }
  for (const TopicPartition& tp : partitions) {
    RUNNEL_ASSIGN_OR_RETURN(Assigned * a, Find(tp));
    targets.push_back(a);
  }
  RUNNEL_RETURN_IF_ERROR(CheckOpen());
  for (Assigned* a : targets) {
    const storage::PartitionLog& log = a->partition->log();
    a->position = end ? log.visible_offset() : log.log_start_offset();
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Consumer::Impl::Position(const TopicPartition& tp) {
  RUNNEL_ASSIGN_OR_RETURN(Assigned * a, Find(tp));
  if (!a->position) RUNNEL_RETURN_IF_ERROR(InitPosition(*a));
  return *a->position;
}

absl::StatusOr<std::map<TopicPartition, std::optional<OffsetAndTimestamp>>>
Consumer::Impl::OffsetsForTimes(const std::map<TopicPartition, int64_t>& timestamps) const {
  RUNNEL_RETURN_IF_ERROR(CheckOpen());
  std::map<TopicPartition, std::optional<OffsetAndTimestamp>> out;
  for (const auto& [tp, timestamp] : timestamps) {
    if (timestamp < 0) {
      return absl::InvalidArgumentError(fmt::format(
          "timestamp {} for partition {} is invalid: must be 0 or more", timestamp, Name(tp)));
    }
    RUNNEL_ASSIGN_OR_RETURN(auto resolved, Resolve(tp));
    RUNNEL_ASSIGN_OR_RETURN(std::optional<storage::TimestampOffset> found,
                            resolved.second->log().OffsetForTimestamp(timestamp));
    if (found) {
      out[tp] = OffsetAndTimestamp{found->offset, found->timestamp};
    } else {
      out[tp] = std::nullopt;
    }
  }
  return out;
}

absl::StatusOr<std::map<TopicPartition, int64_t>> Consumer::Impl::Offsets(
    const std::vector<TopicPartition>& partitions, bool end) const {
  RUNNEL_RETURN_IF_ERROR(CheckOpen());
  std::map<TopicPartition, int64_t> out;
  for (const TopicPartition& tp : partitions) {
    RUNNEL_ASSIGN_OR_RETURN(auto resolved, Resolve(tp));
    const storage::PartitionLog& log = resolved.second->log();
    out[tp] = end ? log.visible_offset() : log.log_start_offset();
  }
  return out;
}

absl::Status Consumer::Impl::SetPaused(const std::vector<TopicPartition>& partitions,
                                       bool paused) {
  std::vector<Assigned*> targets;
  for (const TopicPartition& tp : partitions) {
    RUNNEL_ASSIGN_OR_RETURN(Assigned * a, Find(tp));
    targets.push_back(a);
  }
  for (Assigned* a : targets) a->paused = paused;
  return absl::OkStatus();
}

std::vector<TopicPartition> Consumer::Impl::Paused() const {
  std::vector<TopicPartition> out;
  for (const auto& a : assigned_) {
    if (a->paused) out.push_back(a->tp);
  }
  return out;
}

absl::Status Consumer::Impl::Close() {
  if (closed_) return absl::FailedPreconditionError(fmt::format("{} is closed", name_));
  absl::Status status;
  const bool open = broker_->CheckOpen().ok();
  if (mode_ == Mode::kSubscribe) {
    std::vector<TopicPartition> owned = Assignment();
    // Revoke auto-commits what was consumed; a static member keeps its place.
    if (open && !owned.empty() && !member_id_.empty()) status = Revoke(owned, /*lost=*/Removed());
    // Even after the broker closed: the coordinator must forget this consumer's waker.
    LeaveGroup(/*detach_static=*/true);
  } else if (open && mode_ == Mode::kAssign && coordinator_ && options_.enable_auto_commit) {
    status = CommitNow(Positions(nullptr));
  }
  RunCommitCallbacks();
  closed_ = true;
  data_.Clear();
  assigned_.clear();
  return status;
}

Consumer::Consumer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Consumer::~Consumer() = default;

absl::StatusOr<std::unique_ptr<Consumer>> Consumer::Create(Broker& broker,
                                                           const ConsumerOptions& options) {
  RUNNEL_RETURN_IF_ERROR(CheckOptions(options));
  RUNNEL_RETURN_IF_ERROR(broker.core()->CheckOpen());
  std::shared_ptr<groups::GroupCoordinator> coordinator;
  if (!options.group_id.empty()) {
    RUNNEL_ASSIGN_OR_RETURN(coordinator, groups::GroupCoordinator::ForBroker(*broker.core()));
  }
  return std::unique_ptr<Consumer>(
      new Consumer(std::make_unique<Impl>(broker.core(), options, std::move(coordinator))));
}

absl::Status Consumer::Assign(const std::vector<TopicPartition>& partitions) {
  return impl_->Assign(partitions);
}
std::vector<TopicPartition> Consumer::Assignment() const { return impl_->Assignment(); }
absl::StatusOr<std::span<const ConsumerRecord>> Consumer::Poll(std::chrono::milliseconds timeout) {
  return impl_->Poll(timeout);
}
void Consumer::Wakeup() { impl_->Wakeup(); }
absl::Status Consumer::Seek(const TopicPartition& partition, int64_t offset) {
  return impl_->Seek(partition, offset);
}
absl::Status Consumer::SeekToBeginning(const std::vector<TopicPartition>& partitions) {
  return impl_->SeekTo(partitions, /*end=*/false);
}
absl::Status Consumer::SeekToEnd(const std::vector<TopicPartition>& partitions) {
  return impl_->SeekTo(partitions, /*end=*/true);
}
absl::StatusOr<int64_t> Consumer::Position(const TopicPartition& partition) {
  return impl_->Position(partition);
}
absl::StatusOr<std::map<TopicPartition, std::optional<OffsetAndTimestamp>>>
Consumer::OffsetsForTimes(const std::map<TopicPartition, int64_t>& timestamps) const {
  return impl_->OffsetsForTimes(timestamps);
}
absl::StatusOr<std::map<TopicPartition, int64_t>> Consumer::BeginningOffsets(
    const std::vector<TopicPartition>& partitions) const {
  return impl_->Offsets(partitions, /*end=*/false);
}
absl::StatusOr<std::map<TopicPartition, int64_t>> Consumer::EndOffsets(
    const std::vector<TopicPartition>& partitions) const {
  return impl_->Offsets(partitions, /*end=*/true);
}
absl::Status Consumer::Pause(const std::vector<TopicPartition>& partitions) {
  return impl_->SetPaused(partitions, true);
}
absl::Status Consumer::Resume(const std::vector<TopicPartition>& partitions) {
  return impl_->SetPaused(partitions, false);
}
std::vector<TopicPartition> Consumer::Paused() const { return impl_->Paused(); }
absl::Status Consumer::Close() { return impl_->Close(); }
absl::Status Consumer::Subscribe(const std::vector<std::string>& topics,
                                 RebalanceListener listener) {
  return impl_->Subscribe(topics, std::nullopt, std::move(listener));
}
absl::Status Consumer::SubscribePattern(std::string_view pattern, RebalanceListener listener) {
  return impl_->SubscribePattern(pattern, std::move(listener));
}
absl::Status Consumer::Unsubscribe() { return impl_->Unsubscribe(); }
std::vector<std::string> Consumer::Subscription() const { return impl_->Subscription(); }
absl::Status Consumer::CommitSync() { return impl_->CommitSync(std::nullopt); }
absl::Status Consumer::CommitSync(const std::map<TopicPartition, OffsetAndMetadata>& offsets) {
  return impl_->CommitSync(offsets);
}
void Consumer::CommitAsync(OffsetCommitCallback callback) {
  impl_->CommitAsync(std::nullopt, std::move(callback));
}
void Consumer::CommitAsync(const std::map<TopicPartition, OffsetAndMetadata>& offsets,
                           OffsetCommitCallback callback) {
  impl_->CommitAsync(offsets, std::move(callback));
}
absl::StatusOr<std::map<TopicPartition, std::optional<OffsetAndMetadata>>> Consumer::Committed(
    const std::vector<TopicPartition>& partitions) const {
  return impl_->Committed(partitions);
}
ConsumerGroupMetadata Consumer::GroupMetadata() const { return impl_->GroupMetadata(); }

}  // namespace runnel
