// runnel::QueueConsumer consumes a topic as a queue, as Kafka's share groups (KIP-932)
// and SQS do: any number of members of one share group read the same partitions at once
// (more members than partitions works), each record handed to one member at a time under
// a lock of record.lock.duration.ms (SQS's visibility timeout), and acknowledged one by
// one:
//   Accept   processed: never delivered again;
//   Release  give it back now: delivered again, to any member;
//   Reject   it cannot be processed: written to the dead-letter topic, not delivered again.
// A record whose lock expires (its member crashed, hung, or closed without acknowledging)
// is released. Each record carries its delivery count; one delivered
// delivery.count.limit times that comes back again goes to the dead-letter topic instead.
// Records are delivered at least once; order is not kept (that is what a queue trades for
// any number of competing consumers: use a Consumer in a consumer group for order).
//
// Dead letters: the record (key, value, headers, timestamp) is produced to
// `<topic><dead_letter_topic_suffix>` (".dlq"; created with the source topic's partition
// count when missing), in the source partition's number, with headers runnel.dlq.reason
// ("rejected" or "delivery count limit"), runnel.dlq.delivery-count and the source
// runnel.dlq.topic / .partition / .offset. A crash between writing the dead letter and
// storing that it was written writes it again: dead letters are at-least-once too.
//
// State: which records are done, which are out and how often each was delivered is
// stored in the internal topic __share_group_state before Poll returns the records and
// before an acknowledgement is reported done. After a restart (or a SIGKILL), accepted
// records stay done and unacknowledged ones are delivered again, their counts kept.
//
// Acknowledging: Acknowledge records a decision; it is stored (and the record freed for
// others, for Release) at the next Poll, CommitSync or Close, which report a failure to
// store it. A record not acknowledged by then stays locked until its lock expires. The
// records Poll returns (and the views in them) stay valid until the next Poll or Close;
// Acknowledge needs only the record's topic, partition and offset.
//
// Threads: one thread uses a QueueConsumer, but Wakeup may be called from any thread.
// Many QueueConsumers, in one share group or several, may run at once on one Broker.
// Errors: InvalidArgument for bad options or an unknown acknowledgement;
// FailedPrecondition once closed, on a read-only Broker, or when acknowledging a record
// this member does not hold (its lock expired: another member may have it now).
#ifndef RUNNEL_QUEUE_CONSUMER_H_
#define RUNNEL_QUEUE_CONSUMER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/export.h"
#include "runnel/types.h"

namespace runnel {

enum class AcknowledgeType : uint8_t { kAccept, kRelease, kReject };

struct QueueRecord {
  ConsumerRecord record;
  int32_t delivery_count = 1;  // 1 on the first delivery
};

struct QueueConsumerOptions {
  // group.id: the share group. Share groups and consumer groups are separate namespaces.
  std::string group_id = {};
  std::string client_id = {};
  // share.record.lock.duration.ms: how long a member holds a record it was given.
  int32_t record_lock_duration_ms = 30000;
  // share.delivery.count.limit: deliveries before a returning record is dead-lettered.
  int32_t delivery_count_limit = 5;
  // group.share.partition.max.record.locks: records of one partition out or waiting for
  // redelivery at once; beyond it, no new records are handed out.
  int32_t max_record_locks = 2000;
  // share.auto.offset.reset: where a share group that never read a partition starts.
  // Only earliest and latest apply.
  OffsetReset auto_offset_reset = OffsetReset::kLatest;
  int32_t max_poll_records = 500;
  std::string dead_letter_topic_suffix = ".dlq";
};

class RUNNEL_EXPORT QueueConsumer {
 public:
  static absl::StatusOr<std::unique_ptr<QueueConsumer>> Create(Broker& broker,
                                                               const QueueConsumerOptions& options);
  ~QueueConsumer();  // Close()
  QueueConsumer(const QueueConsumer&) = delete;
  QueueConsumer& operator=(const QueueConsumer&) = delete;

  // The topics to consume (replacing earlier ones). NotFound for an unknown topic.
  absl::Status Subscribe(const std::vector<std::string>& topics);
  // Stores pending acknowledgements, then waits up to `timeout` for records to acquire:
  // new records, released ones, or ones whose lock expired. Empty at the timeout or after
  // Wakeup.
  absl::StatusOr<std::span<const QueueRecord>> Poll(std::chrono::milliseconds timeout);
  // Records the decision for a record this member holds (stored at the next Poll,
  // CommitSync or Close).
  absl::Status Acknowledge(const ConsumerRecord& record,
                           AcknowledgeType type = AcknowledgeType::kAccept);
  absl::Status Acknowledge(const TopicPartition& partition, int64_t offset,
                           AcknowledgeType type = AcknowledgeType::kAccept);
  // Stores pending acknowledgements now.
  absl::Status CommitSync();
  // Makes a blocked Poll return at once with no records. Any thread.
  void Wakeup();
  // Stores pending acknowledgements, releases every record still held, and leaves the
  // group. Later calls fail with FailedPrecondition.
  absl::Status Close();

 private:
  class Impl;
  explicit QueueConsumer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace runnel

#endif  // RUNNEL_QUEUE_CONSUMER_H_
