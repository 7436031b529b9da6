// runnel::Consumer reads records from a Broker's topic partitions by pulling, as Kafka's
// KafkaConsumer does: the application assigns itself partitions, and each Poll returns the
// records after the consumer's position in each, then advances the positions.
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
// one starts by auto.offset.reset: earliest, latest, or none (Poll then fails with
// FailedPrecondition naming the partition). A position that falls out of the log (retention deleted it, or
// a Seek past the end) is reset the same way, and the offset_reset_listener is told.
//
// Threads: a Consumer is used from one thread at a time, like Kafka's; only Wakeup may be
// called from any thread, and makes a blocked Poll return at once (with no records).
//
// Errors: absl::Status naming the topic, partition and offset concerned: NotFound for an
// unknown or deleted topic or partition, InvalidArgument for bad options or arguments,
// FailedPrecondition for a partition not assigned or a closed consumer or broker, DataLoss
// for a record that fails its CRC (never returned as data).
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

// Tells why a partition's position was reset: it had none ("no position"), or it fell
// out of the log (retention deleted it, or it lies past the end).
using OffsetResetListener = std::function<void(const TopicPartition& partition, int64_t from,
                                               int64_t to, std::string_view reason)>;

struct ConsumerOptions {
  // client.id: names the consumer in messages.
  std::string client_id = {};
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

  // Releases the records of the last Poll; later calls fail with FailedPrecondition.
  absl::Status Close();

  class Impl;

 private:
  explicit Consumer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace runnel

#endif  // RUNNEL_CONSUMER_H_
