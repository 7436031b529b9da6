// Kafka's RecordBatch v2, write side. A RecordBatchBuilder accumulates records into one
// uncompressed batch and Build() seals it (lengths, lastOffsetDelta, timestamps, CRC32C).
// The base offset is usually 0 here and assigned by the partition log at append time
// (SetBaseOffset), which does not change the CRC. Not thread-safe; one builder per batch.
#ifndef RUNNEL_FORMAT_RECORD_BATCH_BUILDER_H_
#define RUNNEL_FORMAT_RECORD_BATCH_BUILDER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "format/record_batch.h"

namespace runnel::format {

struct BatchOptions {
  TimestampType timestamp_type = TimestampType::kCreateTime;
  bool transactional = false;
  bool control = false;
  int64_t producer_id = kNoProducerId;
  int16_t producer_epoch = kNoProducerEpoch;
  int32_t base_sequence = kNoSequence;
  int32_t partition_leader_epoch = kNoPartitionLeaderEpoch;
};

class RecordBatchBuilder {
 public:
  // `reserve` bytes are allocated up front (a producer passes batch.size), so building
  // a batch does not reallocate.
  explicit RecordBatchBuilder(BatchOptions options = {}, int64_t base_offset = 0,
                              size_t reserve = 0);

  // Appends a record whose offset is the next one (base offset + records so far).
  void Add(int64_t timestamp, const std::optional<std::string_view>& key,
           const std::optional<std::string_view>& value,
           std::span<const RecordHeader> headers = {}) {
    AddWithOffsetDelta(last_offset_delta_ + 1, timestamp, key, value, headers);
  }
  // Appends a record at an explicit offset delta, strictly greater than the previous one
  // (compacted batches have gaps).
  void AddWithOffsetDelta(int32_t offset_delta, int64_t timestamp,
                          const std::optional<std::string_view>& key,
                          const std::optional<std::string_view>& value,
                          std::span<const RecordHeader> headers = {});

  int32_t record_count() const { return count_; }
  bool empty() const { return count_ == 0; }
  // Bytes the batch takes if built now.
  size_t size_in_bytes() const { return size_; }
  // Bytes allocated: at least the reserve, more once a batch outgrew it.
  size_t capacity() const { return capacity_; }
  // Bytes a record would add to a batch, for deciding whether it still fits.
  static size_t RecordSize(int32_t offset_delta, int64_t timestamp_delta,
                           std::optional<std::string_view> key,
                           std::optional<std::string_view> value,
                           std::span<const RecordHeader> headers);

  // Seals the batch and returns a copy of its bytes; the builder is then empty again,
  // with the same options and buffer. A batch needs at least one record.
  std::vector<uint8_t> Build();
  // Seals the batch and returns its bytes in place, without a copy: valid until the next
  // Add or Clear. Call Clear before building the next batch.
  std::span<uint8_t> Finish();
  void Clear();

 private:
  void WriteHeader();

  BatchOptions options_;
  int64_t base_offset_;
  // Makes room for `n` more bytes and returns where they go. The buffer is managed by
  // hand rather than by a std::vector: every byte is written before it is read, and
  // zeroing or bounds bookkeeping per record is a measurable part of building a batch.
  uint8_t* Extend(size_t n) {
    if (size_ + n > capacity_) Grow(size_ + n);
    uint8_t* p = data_.get() + size_;
    size_ += n;
    return p;
  }
  void Grow(size_t needed);

  std::unique_ptr<uint8_t[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
  int32_t count_ = 0;
  int32_t last_offset_delta_ = -1;
  int64_t base_timestamp_ = kNoTimestamp;
  int64_t max_timestamp_ = kNoTimestamp;
};

// In-place edits of a built batch, as the partition log makes them on append.
// SetBaseOffset touches a field outside the CRC; SetLogAppendTime rewrites the timestamp
// type bit and maxTimestamp, so it recomputes the CRC.
void SetBaseOffset(std::span<uint8_t> batch, int64_t base_offset);
void SetLogAppendTime(std::span<uint8_t> batch, int64_t timestamp);
void SetPartitionLeaderEpoch(std::span<uint8_t> batch, int32_t epoch);
void RecomputeCrc(std::span<uint8_t> batch);

}  // namespace runnel::format

#endif  // RUNNEL_FORMAT_RECORD_BATCH_BUILDER_H_
