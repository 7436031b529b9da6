// Kafka's RecordBatch v2 (magic 2), read side: the fixed 61-byte batch header, batch
// validation (lengths, magic, CRC32C) and a zero-copy iterator over the records.
// doc/format.md has the grammar and a worked example. Everything here is bounds-checked:
// malformed bytes give DataLoss (or Unimplemented for a compression codec runnel does not
// decode), never a read outside the given span. Values are views into the caller's bytes.
#ifndef RUNNEL_FORMAT_RECORD_BATCH_H_
#define RUNNEL_FORMAT_RECORD_BATCH_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace runnel::format {

// Field positions of the batch header (DefaultRecordBatch.java). On-disk: do not change.
inline constexpr size_t kBaseOffsetPos = 0;
inline constexpr size_t kBatchLengthPos = 8;
inline constexpr size_t kPartitionLeaderEpochPos = 12;
inline constexpr size_t kMagicPos = 16;
inline constexpr size_t kCrcPos = 17;
inline constexpr size_t kAttributesPos = 21;  // the CRC covers from here to the batch's end
inline constexpr size_t kLastOffsetDeltaPos = 23;
inline constexpr size_t kBaseTimestampPos = 27;
inline constexpr size_t kMaxTimestampPos = 35;
inline constexpr size_t kProducerIdPos = 43;
inline constexpr size_t kProducerEpochPos = 51;
inline constexpr size_t kBaseSequencePos = 53;
inline constexpr size_t kRecordCountPos = 57;
inline constexpr size_t kBatchHeaderSize = 61;  // records start here
inline constexpr size_t kLogOverhead = 12;      // baseOffset + batchLength
inline constexpr int8_t kMagicV2 = 2;
// The smallest record: length, attributes, timestampDelta, offsetDelta, keyLength,
// valueLength and headerCount, one byte each.
inline constexpr size_t kMinRecordSize = 7;

// Attribute bits. On-disk: do not change.
inline constexpr int16_t kCompressionMask = 0x07;
inline constexpr int16_t kTimestampTypeBit = 0x08;
inline constexpr int16_t kTransactionalBit = 0x10;
inline constexpr int16_t kControlBit = 0x20;
inline constexpr int16_t kDeleteHorizonBit = 0x40;

// "No value" markers, as Kafka's RecordBatch defines them.
inline constexpr int64_t kNoTimestamp = -1;
inline constexpr int64_t kNoProducerId = -1;
inline constexpr int16_t kNoProducerEpoch = -1;
inline constexpr int32_t kNoSequence = -1;
inline constexpr int32_t kNoPartitionLeaderEpoch = -1;

// Codec ids in attribute bits 0-2. On-disk: do not change existing values.
enum class CompressionType : uint8_t { kNone = 0, kGzip = 1, kSnappy = 2, kLz4 = 3, kZstd = 4 };
enum class TimestampType : uint8_t { kCreateTime = 0, kLogAppendTime = 1 };

std::string_view CompressionName(CompressionType type);

struct BatchHeader {
  int64_t base_offset = 0;
  int32_t batch_length = 0;  // bytes after the batchLength field
  int32_t partition_leader_epoch = kNoPartitionLeaderEpoch;
  int8_t magic = kMagicV2;
  uint32_t crc = 0;
  int16_t attributes = 0;
  int32_t last_offset_delta = 0;
  int64_t base_timestamp = kNoTimestamp;
  int64_t max_timestamp = kNoTimestamp;
  int64_t producer_id = kNoProducerId;
  int16_t producer_epoch = kNoProducerEpoch;
  int32_t base_sequence = kNoSequence;
  int32_t record_count = 0;

  int64_t last_offset() const { return base_offset + last_offset_delta; }
  int64_t next_offset() const { return last_offset() + 1; }
  size_t size_in_bytes() const { return static_cast<size_t>(batch_length) + kLogOverhead; }
  CompressionType compression() const {
    return static_cast<CompressionType>(attributes & kCompressionMask);
  }
  TimestampType timestamp_type() const {
    return (attributes & kTimestampTypeBit) ? TimestampType::kLogAppendTime
                                            : TimestampType::kCreateTime;
  }
  bool is_transactional() const { return (attributes & kTransactionalBit) != 0; }
  bool is_control() const { return (attributes & kControlBit) != 0; }
};

// Reads the header fields of the batch that starts at bytes[0] without checking the CRC
// or that the whole batch is present. DataLoss if fewer than 61 bytes are given.
absl::StatusOr<BatchHeader> DecodeBatchHeader(std::span<const uint8_t> bytes);

// What one look at a buffer of consecutive batches found at its start.
enum class BatchCheck {
  kValid,       // a whole batch with a good length, magic and CRC
  kIncomplete,  // the buffer ends inside the batch: a torn tail, or read more
  kCorrupt,     // impossible length, wrong magic, bad CRC or bad record count
};

struct BatchCheckResult {
  BatchCheck check = BatchCheck::kCorrupt;
  BatchHeader header;           // meaningful for kValid
  std::string_view reason;      // for kIncomplete and kCorrupt, a static phrase
};

// Checks the batch at the start of `bytes`: header, batchLength against the buffer,
// magic 2, CRC32C, and the record count against the length.
// The records themselves are checked by RecordIterator.
BatchCheckResult CheckBatch(std::span<const uint8_t> bytes, bool verify_crc = true);

// Convenience over CheckBatch: OK and the header, or DataLoss naming what is wrong.
absl::StatusOr<BatchHeader> ValidateBatch(std::span<const uint8_t> batch);

struct RecordHeader {
  std::string_view key;
  std::optional<std::string_view> value;  // Kafka allows a null header value
};

// One record of a batch. Views point into the batch's bytes (and, for headers, into the
// iterator); they are valid until the iterator advances or the bytes go away.
struct Record {
  int64_t offset = 0;
  int64_t timestamp = kNoTimestamp;
  std::optional<std::string_view> key;    // nullopt: a null key
  std::optional<std::string_view> value;  // nullopt: a null value (a tombstone)
  std::span<const RecordHeader> headers;
};

// Iterates the records of one batch whose header was checked (CheckBatch/ValidateBatch).
// Every length, varint and count inside is checked against the batch's bounds.
class RecordIterator {
 public:
  // `batch` holds exactly one batch; `header` is its decoded header.
  RecordIterator(std::span<const uint8_t> batch, const BatchHeader& header);

  // Fills `record` with the next record and returns true; false at the end of the batch
  // or on an error, which status() then reports. After false, call status().
  bool Next(Record* record);
  const absl::Status& status() const { return status_; }
  int32_t records_read() const { return read_; }

 private:
  bool Fail(std::string_view what);

  BatchHeader header_;
  const uint8_t* pos_;
  const uint8_t* end_;
  int32_t read_ = 0;
  int64_t last_offset_delta_seen_ = -1;
  std::vector<RecordHeader> headers_;
  absl::Status status_;
};

}  // namespace runnel::format

#endif  // RUNNEL_FORMAT_RECORD_BATCH_H_
