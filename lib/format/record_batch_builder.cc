#include "format/record_batch_builder.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "format/byte_order.h"
#include "format/crc32c.h"
#include "format/varint.h"

namespace runnel::format {
namespace {

inline __attribute__((always_inline)) size_t BytesFieldSize(const std::optional<std::string_view>& b) {
  return b ? VarintSize(static_cast<int32_t>(b->size())) + b->size() : 1;
}

inline __attribute__((always_inline)) uint8_t* PutBytesField(
    uint8_t* p, const std::optional<std::string_view>& b) {
  if (!b) return PutVarint(p, -1);
  p = PutVarint(p, static_cast<int32_t>(b->size()));
  if (!b->empty()) std::memcpy(p, b->data(), b->size());
  return p + b->size();
}

inline __attribute__((always_inline)) size_t RecordBodySize(int32_t offset_delta, int64_t timestamp_delta,
                      const std::optional<std::string_view>& key,
                      const std::optional<std::string_view>& value,
                      std::span<const RecordHeader> headers) {
  size_t n = 1 + VarlongSize(timestamp_delta) + VarintSize(offset_delta) + BytesFieldSize(key) +
             BytesFieldSize(value) + VarintSize(static_cast<int32_t>(headers.size()));
  for (const RecordHeader& h : headers) n += BytesFieldSize(h.key) + BytesFieldSize(h.value);
  return n;
}

}  // namespace

RecordBatchBuilder::RecordBatchBuilder(BatchOptions options, int64_t base_offset,
                                       size_t reserve)
    : options_(options), base_offset_(base_offset) {
  Grow(std::max(reserve, kBatchHeaderSize));
  size_ = kBatchHeaderSize;
}

void RecordBatchBuilder::Grow(size_t needed) {
  const size_t capacity = std::max(needed, capacity_ * 2);
  std::unique_ptr<uint8_t[]> bigger(new uint8_t[capacity]);  // uninitialised on purpose
  if (size_ > 0) std::memcpy(bigger.get(), data_.get(), size_);
  data_ = std::move(bigger);
  capacity_ = capacity;
}

size_t RecordBatchBuilder::RecordSize(int32_t offset_delta, int64_t timestamp_delta,
                                      std::optional<std::string_view> key,
                                      std::optional<std::string_view> value,
                                      std::span<const RecordHeader> headers) {
  const size_t body = RecordBodySize(offset_delta, timestamp_delta, key, value, headers);
  return VarintSize(static_cast<int32_t>(body)) + body;
}

void RecordBatchBuilder::AddWithOffsetDelta(int32_t offset_delta, int64_t timestamp,
                                            const std::optional<std::string_view>& key,
                                            const std::optional<std::string_view>& value,
                                            std::span<const RecordHeader> headers) {
  assert(offset_delta > last_offset_delta_);
  if (count_ == 0) base_timestamp_ = timestamp;
  if (timestamp > max_timestamp_) max_timestamp_ = timestamp;
  // Wraps rather than overflows, as the reader's addition does, so any pair round-trips.
  const auto ts_delta = static_cast<int64_t>(static_cast<uint64_t>(timestamp) -
                                             static_cast<uint64_t>(base_timestamp_));
  const size_t body = RecordBodySize(offset_delta, ts_delta, key, value, headers);
  uint8_t* p = Extend(VarintSize(static_cast<int32_t>(body)) + body);
  p = PutVarint(p, static_cast<int32_t>(body));
  *p++ = 0;  // record attributes: unused in v2
  p = PutVarlong(p, ts_delta);
  p = PutVarint(p, offset_delta);
  p = PutBytesField(p, key);
  p = PutBytesField(p, value);
  p = PutVarint(p, static_cast<int32_t>(headers.size()));
  for (const RecordHeader& h : headers) {
    p = PutBytesField(p, h.key);
    p = PutBytesField(p, h.value);
  }
  assert(p == data_.get() + size_);
  last_offset_delta_ = offset_delta;
  ++count_;
}

void RecordBatchBuilder::WriteHeader() {
  uint8_t* p = data_.get();
  int16_t attributes = 0;  // compression none
  if (options_.timestamp_type == TimestampType::kLogAppendTime) attributes |= kTimestampTypeBit;
  if (options_.transactional) attributes |= kTransactionalBit;
  if (options_.control) attributes |= kControlBit;
  StoreBig64(p + kBaseOffsetPos, static_cast<uint64_t>(base_offset_));
  StoreBig32(p + kBatchLengthPos, static_cast<uint32_t>(size_ - kLogOverhead));
  StoreBig32(p + kPartitionLeaderEpochPos, static_cast<uint32_t>(options_.partition_leader_epoch));
  p[kMagicPos] = static_cast<uint8_t>(kMagicV2);
  StoreBig16(p + kAttributesPos, static_cast<uint16_t>(attributes));
  StoreBig32(p + kLastOffsetDeltaPos, static_cast<uint32_t>(last_offset_delta_));
  StoreBig64(p + kBaseTimestampPos, static_cast<uint64_t>(base_timestamp_));
  StoreBig64(p + kMaxTimestampPos, static_cast<uint64_t>(max_timestamp_));
  StoreBig64(p + kProducerIdPos, static_cast<uint64_t>(options_.producer_id));
  StoreBig16(p + kProducerEpochPos, static_cast<uint16_t>(options_.producer_epoch));
  StoreBig32(p + kBaseSequencePos, static_cast<uint32_t>(options_.base_sequence));
  StoreBig32(p + kRecordCountPos, static_cast<uint32_t>(count_));
  RecomputeCrc(std::span<uint8_t>(data_.get(), size_));
}

std::span<uint8_t> RecordBatchBuilder::Finish() {
  assert(count_ > 0);
  WriteHeader();
  return std::span<uint8_t>(data_.get(), size_);
}

void RecordBatchBuilder::Clear() {
  size_ = kBatchHeaderSize;
  count_ = 0;
  last_offset_delta_ = -1;
  base_timestamp_ = max_timestamp_ = kNoTimestamp;
}

std::vector<uint8_t> RecordBatchBuilder::Build() {
  const std::span<uint8_t> bytes = Finish();
  std::vector<uint8_t> out(bytes.begin(), bytes.end());
  Clear();
  return out;
}

void SetBaseOffset(std::span<uint8_t> batch, int64_t base_offset) {
  StoreBig64(batch.data() + kBaseOffsetPos, static_cast<uint64_t>(base_offset));
}

void SetPartitionLeaderEpoch(std::span<uint8_t> batch, int32_t epoch) {
  StoreBig32(batch.data() + kPartitionLeaderEpochPos, static_cast<uint32_t>(epoch));
}

void SetLogAppendTime(std::span<uint8_t> batch, int64_t timestamp) {
  const auto attributes = static_cast<uint16_t>(LoadBig16(batch.data() + kAttributesPos) |
                                                static_cast<uint16_t>(kTimestampTypeBit));
  StoreBig16(batch.data() + kAttributesPos, attributes);
  StoreBig64(batch.data() + kMaxTimestampPos, static_cast<uint64_t>(timestamp));
  RecomputeCrc(batch);
}

void RecomputeCrc(std::span<uint8_t> batch) {
  StoreBig32(batch.data() + kCrcPos, Crc32c(batch.subspan(kAttributesPos)));
}

}  // namespace runnel::format
