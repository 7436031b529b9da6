// Writes the seed corpus of the record_batch fuzzer: small valid batches that between them
// exercise every field and flag, and a few deliberately broken ones. Its output is checked
// in under test/fuzz/corpus/record_batch/; rerun it after a format change:
//   build/test/fuzz/make_seed_corpus test/fuzz/corpus/record_batch
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "format/byte_order.h"
#include "format/record_batch.h"
#include "format/record_batch_builder.h"

namespace {

using namespace runnel::format;  // NOLINT: a small tool that only uses this namespace
using Bytes = std::vector<uint8_t>;

Bytes SingleRecord() {
  RecordBatchBuilder b;
  b.Add(1700000000000, "key", "value");
  return b.Build();
}

Bytes NullKeyAndTombstone() {
  RecordBatchBuilder b(BatchOptions{}, 42);
  b.Add(1700000000000, std::nullopt, "value without a key");
  b.Add(1700000000001, "deleted-key", std::nullopt);
  b.Add(1700000000002, std::nullopt, std::nullopt);
  return b.Build();
}

Bytes EmptyKeyAndValue() {
  RecordBatchBuilder b;
  b.Add(0, "", "");
  return b.Build();
}

Bytes WithHeaders() {
  const std::string binary("\x00\x01\xfe\xff", 4);
  const RecordHeader headers[] = {{"content-type", "application/json"},
                                  {"null-value", std::nullopt},
                                  {"", ""},
                                  {"bin", binary}};
  RecordBatchBuilder b;
  b.Add(1700000000000, "k", "{\"a\":1}", headers);
  b.Add(1700000000000, "k", "no headers");
  return b.Build();
}

Bytes SeveralRecordsNegativeTimestampDelta() {
  RecordBatchBuilder b(BatchOptions{}, 1000);
  b.Add(1700000005000, "a", "1");
  b.Add(1700000009000, "b", "22");
  b.Add(1700000001000, "c", "333");                  // earlier than the first: a negative delta
  b.Add(1700000009000, "d", std::string(200, 'x'));  // a length that needs 2 varint bytes
  b.Add(1700000009001, "e", "5");
  return b.Build();
}

Bytes LogAppendTime() {
  RecordBatchBuilder b(BatchOptions{.timestamp_type = TimestampType::kLogAppendTime});
  b.Add(5, "a", "1");
  b.Add(7, "b", "2");
  Bytes batch = b.Build();
  SetLogAppendTime(batch, 1700000000000);
  return batch;
}

Bytes TransactionalControl() {
  BatchOptions options;
  options.transactional = true;
  options.control = true;
  options.producer_id = 4242;
  options.producer_epoch = 3;
  options.base_sequence = -1;
  options.partition_leader_epoch = 7;
  RecordBatchBuilder b(options, 99);
  // A COMMIT marker: key (version 0, type 1), value (version 0, coordinator epoch 5).
  b.Add(1700000000000, std::string_view("\x00\x00\x00\x01", 4),
        std::string_view("\x00\x00\x00\x00\x00\x05", 6));
  return b.Build();
}

Bytes IdempotentProducer() {
  BatchOptions options;
  options.transactional = true;
  options.producer_id = 1;
  options.producer_epoch = 0;
  options.base_sequence = 17;
  RecordBatchBuilder b(options);
  b.Add(1, "k1", "v1");
  b.Add(2, "k2", "v2");
  return b.Build();
}

Bytes OffsetGaps() {
  RecordBatchBuilder b(BatchOptions{}, 500);
  b.AddWithOffsetDelta(0, 1, "a", "1");
  b.AddWithOffsetDelta(4, 2, "b", "2");
  b.AddWithOffsetDelta(9, 3, "c", std::nullopt);
  return b.Build();
}

Bytes TwoBatches() {
  RecordBatchBuilder b;
  b.Add(1, "first", "batch");
  Bytes log = b.Build();
  RecordBatchBuilder c(BatchOptions{}, 1);
  c.Add(2, "second", "batch");
  c.Add(3, std::nullopt, "batch");
  const Bytes second = c.Build();
  log.insert(log.end(), second.begin(), second.end());
  return log;
}

// --- Broken on purpose ---

Bytes Truncated() {
  Bytes batch = SeveralRecordsNegativeTimestampDelta();
  batch.resize(batch.size() - 5);
  return batch;
}

Bytes BadCrc() {
  Bytes batch = WithHeaders();
  batch.back() ^= 0x01;
  return batch;
}

Bytes WrongMagic() {
  Bytes batch = SingleRecord();
  batch[kMagicPos] = 1;
  return batch;
}

Bytes CompressedGzip() {
  Bytes batch = SingleRecord();
  StoreBig16(batch.data() + kAttributesPos, static_cast<uint16_t>(CompressionType::kGzip));
  RecomputeCrc(batch);
  return batch;
}

// CRC-valid, but the first record's length varint claims one byte more than it has.
Bytes BadRecordLengthResigned() {
  Bytes batch = SingleRecord();
  batch[kBatchHeaderSize] += 2;  // zig-zag: +2 is one more byte
  RecomputeCrc(batch);
  return batch;
}

bool Write(const std::filesystem::path& dir, const char* name, const Bytes& bytes) {
  const std::filesystem::path path = dir / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "make_seed_corpus: cannot write %s\n", path.c_str());
    return false;
  }
  std::printf("%5zu bytes  %s\n", bytes.size(), path.c_str());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    std::fprintf(stderr, "make_seed_corpus: cannot create %s: %s\n", argv[1], ec.message().c_str());
    return 1;
  }
  const struct {
    const char* name;
    Bytes bytes;
  } seeds[] = {
      {"single_record", SingleRecord()},
      {"null_key_and_tombstone", NullKeyAndTombstone()},
      {"empty_key_and_value", EmptyKeyAndValue()},
      {"headers", WithHeaders()},
      {"several_records_negative_ts_delta", SeveralRecordsNegativeTimestampDelta()},
      {"log_append_time", LogAppendTime()},
      {"transactional_control", TransactionalControl()},
      {"idempotent_producer", IdempotentProducer()},
      {"offset_gaps", OffsetGaps()},
      {"two_batches", TwoBatches()},
      {"broken_truncated", Truncated()},
      {"broken_bad_crc", BadCrc()},
      {"broken_wrong_magic", WrongMagic()},
      {"broken_compressed_gzip", CompressedGzip()},
      {"broken_record_length_resigned", BadRecordLengthResigned()},
  };
  bool ok = true;
  for (const auto& seed : seeds) ok = Write(dir, seed.name, seed.bytes) && ok;
  return ok ? 0 : 1;
}
