// The state of one topic partition in one share group (Kafka's SharePartition, KIP-932):
// which records are done, which are out with a member under a time lock, and how often
// each was delivered. Records below start_offset() are all done; records from
// end_offset() on were never handed out; in between, every record has a state.
//
// A record is acquired by one member at a time, for a lock duration. The member then
// accepts it (done), releases it (available again) or rejects it (to be dead-lettered).
// An expired lock releases it. A record delivered delivery.count.limit times and
// released again is not delivered again but dead-lettered. Dead-lettering is a task the
// next acquirer gets (the record with `dead_letter` set): it writes the record to the
// dead-letter topic and archives it. The count of in-flight records is bounded, so the
// state stays small however far members fall behind (Kafka's
// group.share.partition.max.record.locks).
//
// Not thread-safe: the share coordinator serialises every call. Times are milliseconds of
// a monotonic clock: locks are never stored, so they need no wall time, and a wall clock
// stepping forward must not expire every lock at once.
#ifndef RUNNEL_GROUPS_SHARE_PARTITION_H_
#define RUNNEL_GROUPS_SHARE_PARTITION_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace runnel::groups {

enum class ShareRecordState : uint8_t {
  kAvailable = 0,     // to be handed out (again)
  kAcquired = 1,      // out with a member until its lock expires
  kAcknowledged = 2,  // accepted: done
  kArchived = 3,      // dead-lettered, or gone from the log: done
};

enum class ShareAck : uint8_t {
  kAccept,   // processed: done
  kRelease,  // give it back for redelivery now
  kReject,   // cannot be processed: dead-letter it
  kArchive,  // the dead-letter task is done, or the offset holds no record
};

// Why a record is to be dead-lettered; kNo for one to be delivered.
enum class DeadLetter : uint8_t { kNo = 0, kRejected = 1, kDeliveryLimit = 2 };

struct ShareRecord {
  ShareRecordState state = ShareRecordState::kAvailable;
  DeadLetter dead_letter = DeadLetter::kNo;  // not kNo: the next acquisition dead-letters it
  int32_t delivery_count = 0;
  int64_t lock_expiry_ms = 0;  // kAcquired only
  uint64_t member = 0;         // kAcquired only
  bool operator==(const ShareRecord&) const = default;
};

struct AcquiredRecord {
  int64_t offset = 0;
  int32_t delivery_count = 0;
  DeadLetter dead_letter = DeadLetter::kNo;  // not kNo: write it to the dead-letter topic
};

// The most offsets a share partition's state spans, done ones included: Acquire hands out
// no new record beyond it, and Decode rejects a state that claims more, since decoding
// holds one entry per offset and a damaged length must not exhaust memory.
inline constexpr int64_t kMaxShareStateRecords = int64_t{1} << 20;

struct SharePartitionLimits {
  int64_t lock_duration_ms = 30000;  // share.record.lock.duration.ms
  int32_t delivery_count_limit = 5;  // share.delivery.count.limit
  int32_t max_in_flight = 2000;      // group.share.partition.max.record.locks
};

class SharePartition {
 public:
  // A partition no member has read yet starts at `start` (from share.auto.offset.reset).
  explicit SharePartition(int64_t start = 0) : start_(start), end_(start) {}

  int64_t start_offset() const { return start_; }
  int64_t end_offset() const { return end_; }
  const std::map<int64_t, ShareRecord>& in_flight() const { return records_; }

  // Hands `member` up to `max_records` records: available ones (oldest first), then new
  // ones below `log_end`. Releases expired locks first. Records below `log_start` are
  // gone (retention) and count as done. Sets *blocked when new records wait below
  // `log_end` but max_in_flight records are already out or waiting for redelivery, or the
  // state already spans kMaxShareStateRecords offsets.
  std::vector<AcquiredRecord> Acquire(uint64_t member, int64_t now, int32_t max_records,
                                      int64_t log_start, int64_t log_end,
                                      const SharePartitionLimits& limits,
                                      bool* blocked = nullptr);
  // FailedPrecondition unless `member` holds the record's lock.
  absl::Status Acknowledge(uint64_t member, int64_t offset, ShareAck ack,
                           const SharePartitionLimits& limits);
  // Everything `member` holds becomes available again (it left).
  void ReleaseMember(uint64_t member, const SharePartitionLimits& limits);
  // Releases expired locks; returns whether any expired.
  bool ExpireLocks(int64_t now, const SharePartitionLimits& limits);
  // The earliest lock expiry, or INT64_MAX when nothing is acquired.
  int64_t NextExpiry() const;
  // Whether Acquire would hand out a record now (not counting new ones in the log).
  bool HasAvailable() const;

  // The durable form: start, end, and each in-flight record's state and delivery count.
  // Locks are not kept: after a restart, acquired records are available again.
  std::string Encode() const;
  static absl::StatusOr<SharePartition> Decode(std::string_view bytes);

 private:
  void Release(ShareRecord& r, const SharePartitionLimits& limits);
  void AdvanceStart();
  size_t NotDone() const;

  int64_t start_;
  int64_t end_;
  std::map<int64_t, ShareRecord> records_;  // offsets in [start_, end_) not yet done
};

}  // namespace runnel::groups

#endif  // RUNNEL_GROUPS_SHARE_PARTITION_H_
