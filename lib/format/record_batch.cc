#include "format/record_batch.h"

#include <fmt/format.h>

#include "format/byte_order.h"
#include "format/crc32c.h"
#include "format/varint.h"

namespace runnel::format {
namespace {

// Fields from a damaged (yet CRC-valid) batch may be anything: add without overflow UB.
int64_t WrappingAdd(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

}  // namespace

std::string_view CompressionName(CompressionType type) {
  switch (type) {
    case CompressionType::kNone: return "none";
    case CompressionType::kGzip: return "gzip";
    case CompressionType::kSnappy: return "snappy";
    case CompressionType::kLz4: return "lz4";
    case CompressionType::kZstd: return "zstd";
  }
  return "unknown";
}

absl::StatusOr<BatchHeader> DecodeBatchHeader(std::span<const uint8_t> bytes) {
  if (bytes.size() < kBatchHeaderSize) {
    return absl::DataLossError(fmt::format("record batch header needs {} bytes, only {} present",
                                            kBatchHeaderSize, bytes.size()));
  }
  const uint8_t* p = bytes.data();
  BatchHeader h;
  h.base_offset = static_cast<int64_t>(LoadBig64(p + kBaseOffsetPos));
  h.batch_length = static_cast<int32_t>(LoadBig32(p + kBatchLengthPos));
  h.partition_leader_epoch = static_cast<int32_t>(LoadBig32(p + kPartitionLeaderEpochPos));
  h.magic = static_cast<int8_t>(p[kMagicPos]);
  h.crc = LoadBig32(p + kCrcPos);
  h.attributes = static_cast<int16_t>(LoadBig16(p + kAttributesPos));
  h.last_offset_delta = static_cast<int32_t>(LoadBig32(p + kLastOffsetDeltaPos));
  h.base_timestamp = static_cast<int64_t>(LoadBig64(p + kBaseTimestampPos));
  h.max_timestamp = static_cast<int64_t>(LoadBig64(p + kMaxTimestampPos));
  h.producer_id = static_cast<int64_t>(LoadBig64(p + kProducerIdPos));
  h.producer_epoch = static_cast<int16_t>(LoadBig16(p + kProducerEpochPos));
  h.base_sequence = static_cast<int32_t>(LoadBig32(p + kBaseSequencePos));
  h.record_count = static_cast<int32_t>(LoadBig32(p + kRecordCountPos));
  return h;
}

BatchCheckResult CheckBatch(std::span<const uint8_t> bytes, bool verify_crc) {
  BatchCheckResult r;
  if (bytes.size() < kLogOverhead) {
    r.check = BatchCheck::kIncomplete;
    r.reason = "buffer ends inside the batch's offset and length fields";
    return r;
  }
  const auto length = static_cast<int32_t>(LoadBig32(bytes.data() + kBatchLengthPos));
  if (length < static_cast<int32_t>(kBatchHeaderSize - kLogOverhead)) {
    r.reason = "batchLength is smaller than a batch header";
    return r;
  }
  const size_t total = static_cast<size_t>(length) + kLogOverhead;
  if (bytes.size() < kBatchHeaderSize) {
    r.check = BatchCheck::kIncomplete;
    r.reason = "buffer ends inside the batch header";
    return r;
  }
  if (static_cast<int8_t>(bytes[kMagicPos]) != kMagicV2) {
    r.reason = "magic is not 2 (only RecordBatch v2 is supported)";
    return r;
  }
  if (bytes.size() < total) {
    r.check = BatchCheck::kIncomplete;
    r.reason = "buffer ends before batchLength says the batch does";
    return r;
  }
  r.header = *DecodeBatchHeader(bytes);
  if (verify_crc &&
      Crc32c(bytes.subspan(kAttributesPos, total - kAttributesPos)) != r.header.crc) {
    r.reason = "CRC32C mismatch";
    return r;
  }
  const int32_t count = r.header.record_count;
  const size_t record_bytes = total - kBatchHeaderSize;
  const bool compressed = r.header.compression() != CompressionType::kNone;
  if (count < 0 || (!compressed && static_cast<size_t>(count) > record_bytes / kMinRecordSize)) {
    r.reason = "record count does not fit the batch length";
    return r;
  }
  if (r.header.last_offset_delta < 0 || (count > 0 && r.header.last_offset_delta < count - 1)) {
    r.reason = "lastOffsetDelta is smaller than the record count allows";
    return r;
  }
  if (r.header.base_offset < 0 ||
      r.header.base_offset > INT64_MAX - 1 - r.header.last_offset_delta) {
    r.reason = "baseOffset is negative or its last offset overflows";
    return r;
  }
  r.check = BatchCheck::kValid;
  return r;
}

absl::StatusOr<BatchHeader> ValidateBatch(std::span<const uint8_t> batch) {
  BatchCheckResult r = CheckBatch(batch);
  if (r.check != BatchCheck::kValid) {
    return absl::DataLossError(fmt::format("invalid record batch of {} bytes: {}", batch.size(), r.reason));
  }
  if (r.header.size_in_bytes() != batch.size()) {
    return absl::DataLossError(fmt::format("record batch is {} bytes but {} were given",
                                            r.header.size_in_bytes(), batch.size()));
  }
  return r.header;
}

RecordIterator::RecordIterator(std::span<const uint8_t> batch, const BatchHeader& header)
    : header_(header),
      pos_(batch.data() + std::min(batch.size(), kBatchHeaderSize)),
      end_(batch.data() + std::min(batch.size(), header.size_in_bytes())) {
  if (batch.size() < header.size_in_bytes() || header.batch_length < static_cast<int32_t>(kBatchHeaderSize - kLogOverhead)) {
    status_ = absl::DataLossError("record batch is shorter than its batchLength");
  } else if (header.compression() != CompressionType::kNone) {
    status_ = absl::UnimplementedError(
        fmt::format("record batch at offset {} is compressed with {}; runnel reads uncompressed batches only",
                    header.base_offset, CompressionName(header.compression())));
  }
}

bool RecordIterator::Fail(std::string_view what) {
  status_ = absl::DataLossError(fmt::format("malformed record {} of the batch at offset {}: {}", read_,
                                            header_.base_offset, what));
  return false;
}

bool RecordIterator::Next(Record* record) {
  if (!status_.ok()) return false;
  if (read_ == header_.record_count) {
    if (pos_ != end_) return Fail("bytes left after the last record");
    return false;
  }
  int32_t length;
  if (!GetVarint(&pos_, end_, &length)) return Fail("bad record length varint");
  if (length < 0 || length > end_ - pos_) return Fail("record length out of bounds");
  const uint8_t* p = pos_;
  const uint8_t* const rec_end = pos_ + length;
  if (p == rec_end) return Fail("record has no attributes byte");
  ++p;  // record attributes: unused in v2
  int64_t ts_delta;
  int32_t offset_delta;
  if (!GetVarlong(&p, rec_end, &ts_delta)) return Fail("bad timestampDelta varlong");
  if (!GetVarint(&p, rec_end, &offset_delta)) return Fail("bad offsetDelta varint");
  if (offset_delta <= last_offset_delta_seen_ || offset_delta > header_.last_offset_delta) {
    return Fail("offsetDelta is not increasing within lastOffsetDelta");
  }
  auto read_bytes = [&](std::optional<std::string_view>* out, bool nullable) {
    int32_t n;
    if (!GetVarint(&p, rec_end, &n)) return false;
    if (n < 0) {
      if (n != -1 || !nullable) return false;
      *out = std::nullopt;
      return true;
    }
    if (n > rec_end - p) return false;
    *out = std::string_view(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
    p += n;
    return true;
  };
  if (!read_bytes(&record->key, true)) return Fail("bad key length");
  if (!read_bytes(&record->value, true)) return Fail("bad value length");
  int32_t header_count;
  if (!GetVarint(&p, rec_end, &header_count)) return Fail("bad header count varint");
  if (header_count < 0 || header_count > (rec_end - p) / 2) return Fail("bad header count");
  headers_.clear();
  for (int32_t i = 0; i < header_count; ++i) {
    std::optional<std::string_view> key, value;
    if (!read_bytes(&key, false)) return Fail("bad header key length");
    if (!read_bytes(&value, true)) return Fail("bad header value length");
    headers_.push_back(RecordHeader{*key, value});
  }
  if (p != rec_end) return Fail("record length does not match its fields");
  pos_ = rec_end;
  last_offset_delta_seen_ = offset_delta;
  ++read_;
  record->offset = WrappingAdd(header_.base_offset, offset_delta);
  record->timestamp = header_.timestamp_type() == TimestampType::kLogAppendTime
                          ? header_.max_timestamp
                          : WrappingAdd(header_.base_timestamp, ts_delta);
  record->headers = headers_;
  return true;
}

}  // namespace runnel::format
