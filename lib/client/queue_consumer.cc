// QueueConsumer: a member of a share group (groups/share_coordinator.h). Poll acquires
// records from the coordinator, reads them from the partition logs (zero-copy, CRC
// checked) and returns them; dead-letter tasks it is handed are done here, before Poll
// returns, by appending the records to the dead-letter topic.
#include "runnel/queue_consumer.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>

#include "broker/broker_core.h"
#include "broker/topic_metadata.h"
#include "broker/waker.h"
#include "format/record_batch.h"
#include "format/record_batch_builder.h"
#include "groups/share_coordinator.h"
#include "util/formatters.h"
#include "util/status_macros.h"

namespace runnel {
namespace {

using Clock = std::chrono::steady_clock;
using groups::AcquiredRecord;
using groups::DeadLetter;
using groups::ShareAck;
using groups::ShareCoordinator;

absl::Status CheckOptions(const QueueConsumerOptions& o) {
  auto bad = [](std::string_view name, int64_t value, std::string_view rule) {
    return absl::InvalidArgumentError(fmt::format("{} = {} is invalid: {}", name, value, rule));
  };
  if (o.group_id.empty()) {
    return absl::InvalidArgumentError("a QueueConsumer needs a group.id (its share group)");
  }
  if (o.record_lock_duration_ms < 1) {
    return bad("share.record.lock.duration.ms", o.record_lock_duration_ms, "must be at least 1");
  }
  if (o.delivery_count_limit < 1) {
    return bad("share.delivery.count.limit", o.delivery_count_limit, "must be at least 1");
  }
  if (o.max_record_locks < 1) {
    return bad("group.share.partition.max.record.locks", o.max_record_locks, "must be at least 1");
  }
  if (o.max_poll_records < 1) return bad("max.poll.records", o.max_poll_records, "must be at least 1");
  if (o.auto_offset_reset == OffsetReset::kNone) {
    return absl::InvalidArgumentError(
        "share.auto.offset.reset must be earliest or latest: a share group has no committed "
        "offsets to fail without");
  }
  if (o.dead_letter_topic_suffix.empty()) {
    return absl::InvalidArgumentError(
        "dead_letter_topic_suffix is empty: dead letters would go back to their own topic");
  }
  return absl::OkStatus();
}

std::string_view ReasonName(DeadLetter d) {
  return d == DeadLetter::kRejected ? "rejected" : "delivery count limit";
}

}  // namespace

class QueueConsumer::Impl {
 public:
  Impl(std::shared_ptr<internal::BrokerCore> broker, const QueueConsumerOptions& options,
       std::shared_ptr<ShareCoordinator> coordinator)
      : broker_(std::move(broker)), options_(options), coordinator_(std::move(coordinator)) {
    limits_.lock_duration_ms = options_.record_lock_duration_ms;
    limits_.delivery_count_limit = options_.delivery_count_limit;
    limits_.max_in_flight = options_.max_record_locks;
    name_ = options_.client_id.empty() ? fmt::format("queue consumer of {}", options_.group_id)
                                       : options_.client_id;
  }
  ~Impl() {
    if (!closed_) Close().IgnoreError();
  }

  absl::Status Join() {
    RUNNEL_ASSIGN_OR_RETURN(member_, coordinator_->Join(options_.group_id, &waker_));
    return absl::OkStatus();
  }

  absl::Status Subscribe(const std::vector<std::string>& topics) {
    RUNNEL_RETURN_IF_ERROR(CheckOpen());
    std::vector<std::shared_ptr<internal::Topic>> found;
    for (const std::string& name : topics) {
      if (internal::IsInternalTopic(name)) {
        return absl::InvalidArgumentError(
            fmt::format("topic \"{}\" is internal and cannot be consumed as a queue", name));
      }
      RUNNEL_ASSIGN_OR_RETURN(std::shared_ptr<internal::Topic> topic, broker_->FindTopic(name));
      // Checked now rather than when the first dead letter must go there.
      const std::string dlq = name + options_.dead_letter_topic_suffix;
      if (absl::Status valid = internal::ValidateTopicName(dlq); !valid.ok()) {
        return absl::InvalidArgumentError(fmt::format(
            "topic \"{}\" cannot be consumed as a queue: its dead-letter topic name is invalid: {}",
            name, valid.message()));
      }
      found.push_back(std::move(topic));
    }
    topics_ = std::move(found);
    sources_.clear();  // Refresh builds them from topics_
    next_source_ = 0;
    return absl::OkStatus();
  }

  absl::Status Acknowledge(const TopicPartition& tp, int64_t offset, AcknowledgeType type) {
    RUNNEL_RETURN_IF_ERROR(CheckOpen());
    ShareAck ack;
    switch (type) {
      case AcknowledgeType::kAccept: ack = ShareAck::kAccept; break;
      case AcknowledgeType::kRelease: ack = ShareAck::kRelease; break;
      case AcknowledgeType::kReject: ack = ShareAck::kReject; break;
      default:
        return absl::InvalidArgumentError(
            fmt::format("unknown acknowledgement type {}", static_cast<int>(type)));
    }
    pending_.push_back({tp, offset, ack});
    return absl::OkStatus();
  }

  absl::Status CommitSync() {
    RUNNEL_RETURN_IF_ERROR(CheckOpen());
    return FlushAcks();
  }

  void Wakeup() {
    wakeup_.store(true);
    waker_.Notify();
  }

  absl::Status Close() {
    if (closed_) return absl::FailedPreconditionError(fmt::format("{} is closed", name_));
    closed_ = true;
    absl::Status flushed = broker_->CheckOpen().ok() ? FlushAcks() : absl::OkStatus();
    absl::Status left = coordinator_->Leave(options_.group_id, member_, limits_);
    ClearData();
    return flushed.ok() ? left : flushed;
  }

  absl::StatusOr<std::span<const QueueRecord>> Poll(std::chrono::milliseconds timeout) {
    RUNNEL_RETURN_IF_ERROR(CheckOpen());
    ClearData();
    RUNNEL_RETURN_IF_ERROR(FlushAcks());
    const Clock::time_point deadline = Clock::now() + std::max(timeout, std::chrono::milliseconds(0));
    while (true) {
      RUNNEL_RETURN_IF_ERROR(CheckOpen());
      const uint64_t seen = waker_.seq();
      if (wakeup_.exchange(false)) return std::span<const QueueRecord>();
      RUNNEL_RETURN_IF_ERROR(Refresh());
      // Each partition's visible end before acquiring: what arrives after this is either
      // seen by the next look, or notifies the waker registered below.
      std::vector<int64_t> visible;
      for (const Source& s : sources_) {
        visible.push_back(s.partition->log().visible_offset(std::memory_order_seq_cst));
      }
      bool dead_lettered = false;
      std::set<TopicPartition> blocked;
      RUNNEL_RETURN_IF_ERROR(AcquireAndRead(&dead_lettered, &blocked));
      if (!records_.empty()) return std::span<const QueueRecord>(records_);
      const Clock::time_point now = Clock::now();
      if (now >= deadline) return std::span<const QueueRecord>();
      if (dead_lettered) continue;  // more may be waiting behind what was dead-lettered
      // Sleep until a partition has new records, another member finishes or releases
      // some, a lock expires, Wakeup, or the deadline. New records in a partition held
      // back by the in-flight bound are no reason to wake: a finished record is.
      Clock::time_point wake = deadline;
      const int64_t expiry = coordinator_->NextExpiry(options_.group_id, PartitionIds());
      if (expiry != std::numeric_limits<int64_t>::max()) {
        const int64_t in_ms = std::max<int64_t>(0, expiry - ShareCoordinator::NowMillis()) + 1;
        wake = std::min(wake, now + std::chrono::milliseconds(in_ms));
      }
      std::vector<internal::Partition*> watched;
      bool moved = false;
      for (size_t i = 0; i < sources_.size(); ++i) {
        if (blocked.count(sources_[i].tp)) continue;
        internal::Partition* p = sources_[i].partition.get();
        p->AddWaker(&waker_);
        watched.push_back(p);
        moved |= p->log().visible_offset(std::memory_order_seq_cst) != visible[i];
      }
      if (!moved) waker_.Wait(seen, wake);
      for (internal::Partition* p : watched) p->RemoveWaker(&waker_);
    }
  }

 private:
  struct Source {
    TopicPartition tp;
    std::shared_ptr<internal::Topic> topic;
    std::shared_ptr<internal::Partition> partition;
  };

  absl::Status CheckOpen() const {
    if (closed_) return absl::FailedPreconditionError(fmt::format("{} is closed", name_));
    return broker_->CheckOpen();
  }

  // Follows topics that gained partitions or were deleted.
  absl::Status Refresh() {
    bool stale = sources_.empty() && !topics_.empty();
    for (auto& topic : topics_) {
      if (!topic->stale.load()) continue;
      stale = true;
      absl::StatusOr<std::shared_ptr<internal::Topic>> now = broker_->FindTopic(topic->name);
      if (!now.ok()) {
        return absl::Status(now.status().code(),
                            fmt::format("{}: subscribed topic \"{}\" is gone: {}", name_,
                                        topic->name, now.status().message()));
      }
      topic = std::move(*now);
    }
    if (!stale) return absl::OkStatus();
    sources_.clear();
    for (const auto& topic : topics_) {
      for (const auto& p : topic->partitions) sources_.push_back({p->id(), topic, p});
    }
    return absl::OkStatus();
  }

  std::vector<TopicPartition> PartitionIds() const {
    std::vector<TopicPartition> ids;
    for (const Source& s : sources_) ids.push_back(s.tp);
    return ids;
  }

  absl::Status FlushAcks() {
    if (pending_.empty()) return absl::OkStatus();
    std::vector<ShareCoordinator::Ack> acks;
    acks.swap(pending_);
    return coordinator_->Acknowledge(options_.group_id, member_, acks, limits_);
  }

  void ClearData() {
    records_.clear();
    headers_.clear();
    header_ranges_.clear();
    slices_.clear();
  }

  absl::Status AcquireAndRead(bool* dead_lettered, std::set<TopicPartition>* blocked) {
    if (sources_.empty()) return absl::OkStatus();
    std::vector<ShareCoordinator::PartitionSource> logs;
    for (const Source& s : sources_) logs.push_back({s.tp, &s.partition->log()});
    RUNNEL_ASSIGN_OR_RETURN(
        ShareCoordinator::Acquired acquired,
        coordinator_->Acquire(options_.group_id, member_, logs, next_source_,
                              options_.max_poll_records,
                              options_.auto_offset_reset == OffsetReset::kEarliest, limits_));
    next_source_ = (next_source_ + 1) % sources_.size();
    *blocked = std::move(acquired.blocked);
    std::vector<ShareCoordinator::Ack> archive;
    for (const auto& fetch : acquired.fetches) {
      auto source = std::find_if(sources_.begin(), sources_.end(),
                                 [&](const Source& s) { return s.tp == fetch.tp; });
      absl::Status read = Read(*source, fetch.records, &archive);
      if (!read.ok()) {
        // Give back what this Poll acquired and will not return (their delivery counts
        // stay raised), so other members need not wait for the locks to expire.
        std::vector<ShareCoordinator::Ack> back;
        for (const auto& f : acquired.fetches) {
          for (const AcquiredRecord& a : f.records) back.push_back({f.tp, a.offset, ShareAck::kRelease});
        }
        coordinator_->Acknowledge(options_.group_id, member_, back, limits_).IgnoreError();
        ClearData();
        return read;
      }
    }
    *dead_lettered = !archive.empty();
    // Headers point into headers_: fill the spans in once it stops growing.
    for (QueueRecord& r : records_) {
      const auto [first, count] = header_ranges_[static_cast<size_t>(&r - records_.data())];
      r.record.headers = std::span<const Header>(headers_.data() + first, count);
    }
    header_ranges_.clear();
    absl::Status archived = coordinator_->Acknowledge(options_.group_id, member_, archive, limits_);
    // A dead letter whose archiving failed is handed out again and written again (dead
    // letters are at-least-once); the records read are still this Poll's to return.
    return records_.empty() ? archived : absl::OkStatus();
  }

  // Reads the acquired records of one partition: records to deliver go to records_,
  // dead-letter tasks are written to the dead-letter topic, and offsets that hold no
  // record (compacted away, or a control batch) are archived.
  absl::Status Read(const Source& source, const std::vector<AcquiredRecord>& acquired,
                    std::vector<ShareCoordinator::Ack>* archive) {
    std::map<int64_t, AcquiredRecord> wanted;
    for (const AcquiredRecord& a : acquired) wanted[a.offset] = a;
    const storage::PartitionLog& log = source.partition->log();
    std::vector<std::pair<format::Record, AcquiredRecord>> letters;
    std::vector<format::BatchHeader> letter_batches;
    while (!wanted.empty()) {
      const int64_t from = wanted.begin()->first;
      absl::StatusOr<storage::ReadResult> read = log.Read(from, 1 << 20);
      if (absl::IsOutOfRange(read.status()) && from < log.log_start_offset()) {
        // Deleted by retention since it was acquired: nothing left to deliver.
        while (!wanted.empty() && wanted.begin()->first < log.log_start_offset()) {
          archive->push_back({source.tp, wanted.begin()->first, ShareAck::kArchive});
          wanted.erase(wanted.begin());
        }
        continue;
      }
      if (!read.ok()) return read.status();
      for (const storage::LogSlice& slice : read->slices) {
        std::span<const uint8_t> rest = slice.bytes;
        bool used = false;
        while (!rest.empty()) {
          const format::BatchCheckResult check = format::CheckBatch(rest, /*verify_crc=*/true);
          if (check.check != format::BatchCheck::kValid) {
            return absl::DataLossError(fmt::format(
                "partition {}-{}: the batch at or after offset {} is unreadable ({}); it is not "
                "returned",
                source.tp.topic, source.tp.partition, from, check.reason));
          }
          const format::BatchHeader& h = check.header;
          const std::span<const uint8_t> batch = rest.first(h.size_in_bytes());
          rest = rest.subspan(h.size_in_bytes());
          if (h.is_control()) continue;
          format::RecordIterator it(batch, h);
          format::Record r;
          while (it.Next(&r)) {
            auto w = wanted.find(r.offset);
            if (w == wanted.end()) continue;
            if (w->second.dead_letter != DeadLetter::kNo) {
              letters.emplace_back(r, w->second);
              letter_batches.push_back(h);
            } else {
              Deliver(source, h, r, w->second.delivery_count);
            }
            used = true;
            wanted.erase(w);
          }
          RUNNEL_RETURN_IF_ERROR(it.status());
        }
        if (used) slices_.push_back(slice);
      }
      // Offsets below where the read ended that no record had: gaps.
      while (!wanted.empty() && wanted.begin()->first < read->next_offset) {
        archive->push_back({source.tp, wanted.begin()->first, ShareAck::kArchive});
        wanted.erase(wanted.begin());
      }
      if (read->empty() && !wanted.empty()) {
        return absl::InternalError(fmt::format(
            "partition {}-{}: acquired offset {} lies past the visible end {}", source.tp.topic,
            source.tp.partition, wanted.begin()->first, log.visible_offset()));
      }
    }
    if (!letters.empty()) {
      RUNNEL_RETURN_IF_ERROR(WriteDeadLetters(source, letters, letter_batches));
      for (const auto& [record, a] : letters) {
        archive->push_back({source.tp, a.offset, ShareAck::kArchive});
      }
    }
    return absl::OkStatus();
  }

  void Deliver(const Source& source, const format::BatchHeader& h, const format::Record& r,
               int32_t delivery_count) {
    QueueRecord q;
    q.delivery_count = delivery_count;
    ConsumerRecord& cr = q.record;
    cr.topic = source.topic->name;
    cr.partition = source.tp.partition;
    cr.offset = r.offset;
    const bool append_time = h.timestamp_type() == format::TimestampType::kLogAppendTime;
    cr.timestamp = append_time ? h.max_timestamp : r.timestamp;
    cr.timestamp_type = append_time ? TimestampType::kLogAppendTime : TimestampType::kCreateTime;
    cr.key = r.key;
    cr.value = r.value;
    header_ranges_.emplace_back(headers_.size(), r.headers.size());
    for (const format::RecordHeader& rh : r.headers) headers_.push_back({rh.key, rh.value});
    records_.push_back(q);
  }

  absl::StatusOr<std::shared_ptr<internal::Partition>> DeadLetterPartition(const Source& source) {
    const std::string name = source.topic->name + options_.dead_letter_topic_suffix;
    absl::StatusOr<std::shared_ptr<internal::Topic>> topic = broker_->FindTopic(name);
    if (absl::IsNotFound(topic.status())) {
      // Room for the source's largest batch plus the dead-letter headers.
      TopicConfig config = broker_->options().default_topic_config;
      config.max_message_bytes = static_cast<int32_t>(std::min<int64_t>(
          std::numeric_limits<int32_t>::max(),
          static_cast<int64_t>(source.topic->config.max_message_bytes) + 64 * 1024));
      absl::Status created = broker_->CreateTopic(
          name, static_cast<int32_t>(source.topic->partitions.size()), config);
      if (!created.ok() && !absl::IsAlreadyExists(created)) return created;
      topic = broker_->FindTopic(name);
    }
    if (!topic.ok()) return topic.status();
    const auto& partitions = (*topic)->partitions;
    return partitions[static_cast<size_t>(source.tp.partition) % partitions.size()];
  }

  absl::Status WriteDeadLetters(const Source& source,
                                const std::vector<std::pair<format::Record, AcquiredRecord>>& letters,
                                const std::vector<format::BatchHeader>& batches) {
    RUNNEL_ASSIGN_OR_RETURN(std::shared_ptr<internal::Partition> dlq, DeadLetterPartition(source));
    const std::string partition = std::to_string(source.tp.partition);
    // One batch each: together they could exceed max.message.bytes where one does not.
    for (size_t i = 0; i < letters.size(); ++i) {
      format::RecordBatchBuilder builder;
      const auto& [r, a] = letters[i];
      const std::string offset = std::to_string(r.offset);
      const std::string count = std::to_string(a.delivery_count);
      std::vector<format::RecordHeader> headers(r.headers.begin(), r.headers.end());
      headers.push_back({"runnel.dlq.reason", ReasonName(a.dead_letter)});
      headers.push_back({"runnel.dlq.delivery-count", count});
      headers.push_back({"runnel.dlq.topic", source.topic->name});
      headers.push_back({"runnel.dlq.partition", partition});
      headers.push_back({"runnel.dlq.offset", offset});
      const bool append_time = batches[i].timestamp_type() == format::TimestampType::kLogAppendTime;
      builder.Add(append_time ? batches[i].max_timestamp : r.timestamp, r.key, r.value, headers);
      std::vector<uint8_t> batch = builder.Build();
      RUNNEL_RETURN_IF_ERROR(dlq->Append(batch, {.verify = false}).status());
    }
    // Archived only once the dead letter is as durable as the topic promises.
    if (dlq->log().config().sync == storage::SyncPolicy::kAlways) {
      RUNNEL_RETURN_IF_ERROR(dlq->log().Flush());
    }
    return absl::OkStatus();
  }

  const std::shared_ptr<internal::BrokerCore> broker_;
  const QueueConsumerOptions options_;
  const std::shared_ptr<ShareCoordinator> coordinator_;
  groups::SharePartitionLimits limits_;
  std::string name_;
  uint64_t member_ = 0;
  bool closed_ = false;
  std::atomic<bool> wakeup_{false};
  internal::Waker waker_;
  std::vector<std::shared_ptr<internal::Topic>> topics_;
  std::vector<Source> sources_;
  size_t next_source_ = 0;
  std::vector<ShareCoordinator::Ack> pending_;
  // What the last Poll returned, and what its views point into.
  std::vector<QueueRecord> records_;
  std::vector<Header> headers_;
  std::vector<std::pair<size_t, size_t>> header_ranges_;
  std::vector<storage::LogSlice> slices_;
};

QueueConsumer::QueueConsumer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
QueueConsumer::~QueueConsumer() = default;

absl::StatusOr<std::unique_ptr<QueueConsumer>> QueueConsumer::Create(
    Broker& broker, const QueueConsumerOptions& options) {
  RUNNEL_RETURN_IF_ERROR(CheckOptions(options));
  RUNNEL_RETURN_IF_ERROR(broker.core()->CheckWritable());
  RUNNEL_ASSIGN_OR_RETURN(std::shared_ptr<ShareCoordinator> coordinator,
                          ShareCoordinator::ForBroker(*broker.core()));
  auto impl = std::make_unique<Impl>(broker.core(), options, std::move(coordinator));
  RUNNEL_RETURN_IF_ERROR(impl->Join());
  return std::unique_ptr<QueueConsumer>(new QueueConsumer(std::move(impl)));
}

absl::Status QueueConsumer::Subscribe(const std::vector<std::string>& topics) {
  return impl_->Subscribe(topics);
}
absl::StatusOr<std::span<const QueueRecord>> QueueConsumer::Poll(std::chrono::milliseconds timeout) {
  return impl_->Poll(timeout);
}
absl::Status QueueConsumer::Acknowledge(const ConsumerRecord& record, AcknowledgeType type) {
  return impl_->Acknowledge({std::string(record.topic), record.partition}, record.offset, type);
}
absl::Status QueueConsumer::Acknowledge(const TopicPartition& partition, int64_t offset,
                                        AcknowledgeType type) {
  return impl_->Acknowledge(partition, offset, type);
}
absl::Status QueueConsumer::CommitSync() { return impl_->CommitSync(); }
void QueueConsumer::Wakeup() { impl_->Wakeup(); }
absl::Status QueueConsumer::Close() { return impl_->Close(); }

}  // namespace runnel
