// Writes the seed corpus of a fuzz target: real files and records made by runnel's own
// writers (plus, for record_batch, a few deliberately broken batches), each laid out as the
// target reads its input. Its output is checked in under test/fuzz/corpus/<target>/; rerun
// it after a format change:
//   build/test/fuzz/make_seed_corpus [TARGET] test/fuzz/corpus/TARGET
// TARGET is record_batch (the default), index, metadata, internal_records or claim_check.
// segment_recovery's corpus is hand-made (see its fuzzer's header for the layout).
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "broker/topic_metadata.h"
#include "format/byte_order.h"
#include "format/record_batch.h"
#include "format/record_batch_builder.h"
#include "groups/offset_record.h"
#include "groups/share_coordinator.h"
#include "groups/share_partition.h"
#include "io/env.h"
#include "runnel/claim_check.h"
#include "runnel/topic_config.h"
#include "storage/checkpoint.h"
#include "storage/file_names.h"
#include "storage/partition_log.h"

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

using Seeds = std::vector<std::pair<std::string, Bytes>>;

Seeds RecordBatchSeeds() {
  return {
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
}

// --- Helpers for the targets that read files ---

void Fail(const std::string& what) {
  std::fprintf(stderr, "make_seed_corpus: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T Must(absl::StatusOr<T> v, const char* what) {
  if (!v.ok()) Fail(std::string(what) + ": " + std::string(v.status().message()));
  return std::move(*v);
}

void Must(const absl::Status& st, const char* what) {
  if (!st.ok()) Fail(std::string(what) + ": " + std::string(st.message()));
}

Bytes ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail("cannot read " + path.string());
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Bytes Concat(Bytes head, std::string_view tail) {
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

Bytes Concat(Bytes head, const Bytes& tail) {
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

// A fresh directory for the writers, removed when it goes out of scope.
class ScratchDir {
 public:
  explicit ScratchDir(std::string_view name)
      : path_(std::filesystem::temp_directory_path() /
              ("runnel-seeds-" + std::string(name) + "-" + std::to_string(getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  std::string str() const { return path_.string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// --- index: a header (see index_fuzzer.cc) and an index file of a real partition ---

Bytes IndexInput(bool time, int mode, int64_t base, int64_t next_offset, uint64_t log_size,
                 const Bytes& file) {
  Bytes in(17);
  in[0] = static_cast<uint8_t>((time ? 1 : 0) | (mode << 1));
  StoreBig64(in.data() + 1, static_cast<uint64_t>(base));
  StoreBig32(in.data() + 9, static_cast<uint32_t>(next_offset - base));
  StoreBig32(in.data() + 13, static_cast<uint32_t>(log_size));
  return Concat(std::move(in), file);
}

Seeds IndexSeeds() {
  using namespace runnel;  // NOLINT: a small tool
  const ScratchDir dir("index");
  storage::LogConfig config;
  config.segment_bytes = 3000;  // a few segments
  config.segment_index_bytes = 4096;
  config.index_interval_bytes = 200;
  int64_t log_end = 0;
  {
    auto log = Must(storage::PartitionLog::Open(io::PosixEnv(), dir.str(), config), "open log");
    for (int i = 0; i < 60; ++i) {
      RecordBatchBuilder b;
      // Timestamps mostly rise, with a few steps back that the time index skips.
      const int64_t ts = 1700000000000 + i * 1000 - (i % 7 == 3 ? 5000 : 0);
      for (int r = 0; r <= i % 3; ++r) b.Add(ts + r, "key", std::string(20 + 10 * r, 'v'));
      Bytes batch = b.Build();
      Must((*log).Append(batch), "append");
    }
    log_end = log->log_end_offset();
    Must(log->Close(), "close log");
  }
  std::vector<int64_t> bases;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    if (auto base = storage::ParseOffsetFileName(e.path().filename().string(), storage::kLogSuffix)) {
      bases.push_back(*base);
    }
  }
  std::sort(bases.begin(), bases.end());
  if (bases.size() < 3) Fail("the index seed partition has fewer than 3 segments");
  Seeds seeds;
  for (size_t i = 0; i < 3; ++i) {
    const int64_t base = bases[i];
    const int64_t next = i + 1 < bases.size() ? bases[i + 1] : log_end;
    const uint64_t log_size = std::filesystem::file_size(storage::LogFileName(dir.str(), base));
    const Bytes offsets = ReadAll(storage::IndexFileName(dir.str(), base));
    const Bytes times = ReadAll(storage::TimeIndexFileName(dir.str(), base));
    const int mode = static_cast<int>(i);  // each segment opened one of the three ways
    const std::string n = std::to_string(i);
    seeds.push_back({"offset_index_" + n, IndexInput(false, mode, base, next, log_size, offsets)});
    seeds.push_back({"time_index_" + n, IndexInput(true, mode, base, next, log_size, times)});
  }
  seeds.push_back({"offset_index_empty", IndexInput(false, 0, 0, 0, 0, {})});
  seeds.push_back({"time_index_empty_writable", IndexInput(true, 2, 5, 5, 0, {})});
  // A segment named after the last offset there is: its entries' offsets must not wrap.
  seeds.push_back({"offset_index_base_int64_max",
                   IndexInput(false, 0, INT64_MAX, INT64_MAX, 1 << 20,
                              ReadAll(storage::IndexFileName(dir.str(), bases[1])))});
  return seeds;
}

// --- metadata: selector byte, then the file (see metadata_fuzzer.cc) ---

Bytes Selected(uint8_t selector, const Bytes& rest) { return Concat(Bytes{selector}, rest); }

Seeds MetadataSeeds() {
  using namespace runnel;  // NOLINT: a small tool
  const ScratchDir dir("metadata");
  io::Env* env = io::PosixEnv();
  const std::string topics_path = (dir.path() / internal::kTopicsFileName).string();
  const std::string checkpoint_path = (dir.path() / storage::kCheckpointFileName).string();
  Seeds seeds;

  internal::TopicTable table;
  Must(internal::WriteTopicTable(env, dir.str(), table), "write topics");
  seeds.push_back({"topics_empty", Selected(0, ReadAll(topics_path))});
  TopicConfig tuned;
  tuned.retention_ms = -1;
  tuned.retention_bytes = 1 << 30;
  tuned.segment_bytes = 1 << 20;
  tuned.segment_index_bytes = 4096;
  tuned.sync_policy = runnel::SyncPolicy::kAlways;
  tuned.message_timestamp_type = runnel::TimestampType::kLogAppendTime;
  table["orders"] = {3, TopicConfig{}};
  table["__consumer_offsets"] = {1, tuned};
  table["a.b_c-D9"] = {100000, tuned};
  Must(internal::WriteTopicTable(env, dir.str(), table), "write topics");
  seeds.push_back({"topics_three", Selected(0, ReadAll(topics_path))});

  Must(storage::WriteCheckpoint(env, dir.str(), {true, 0}), "write checkpoint");
  seeds.push_back({"checkpoint_clean", Selected(1, ReadAll(checkpoint_path))});
  Must(storage::WriteCheckpoint(env, dir.str(), {false, 123456789012}), "write checkpoint");
  seeds.push_back({"checkpoint_unclean", Selected(1, ReadAll(checkpoint_path))});

  std::string lines;
  for (const auto& [key, value] : tuned.ToMap()) lines += key + "=" + value + "\n";
  seeds.push_back({"config_map_all", Concat(Bytes{2}, lines)});
  seeds.push_back({"config_map_one", Concat(Bytes{2}, std::string_view("flush.ms=1000"))});

  const std::string stem = storage::OffsetFileStem(1234567);
  seeds.push_back({"file_name_log", Concat(Bytes{3, 0}, stem + std::string(storage::kLogSuffix))});
  seeds.push_back({"file_name_timeindex",
                   Concat(Bytes{3, 2}, storage::OffsetFileStem(INT64_MAX) +
                                           std::string(storage::kTimeIndexSuffix))});
  return seeds;
}

// --- internal_records: selector byte, then the key or value (see its fuzzer) ---

Seeds InternalRecordSeeds() {
  using namespace runnel;          // NOLINT: a small tool
  using namespace runnel::groups;  // NOLINT: a small tool
  Seeds seeds;
  seeds.push_back({"offset_key", Concat(Bytes{0}, EncodeOffsetKey({"my-group", {"orders", 7}}))});
  seeds.push_back({"offset_key_empty_group", Concat(Bytes{0}, EncodeOffsetKey({"", {"t", 0}}))});
  seeds.push_back({"offset_value",
                   Concat(Bytes{1}, EncodeOffsetValue({12345, "some metadata", 1700000000000}))});
  seeds.push_back({"offset_value_no_metadata", Concat(Bytes{1}, EncodeOffsetValue({0, "", -1}))});
  seeds.push_back({"share_key", Concat(Bytes{2}, EncodeShareStateKey("share-group", {"jobs", 2}))});

  SharePartition empty(100);
  seeds.push_back({"share_state_empty", Concat(Bytes{3}, empty.Encode())});
  // A state with every stored kind of run: acknowledged, available after a release, and
  // rejected (to be dead-lettered), past a done prefix.
  const SharePartitionLimits limits{.lock_duration_ms = 1000, .delivery_count_limit = 2,
                                    .max_in_flight = 100};
  SharePartition sp(10);
  const auto acquired = sp.Acquire(/*member=*/1, /*now=*/0, /*max_records=*/12, 0, 40, limits);
  if (acquired.size() != 12) Fail("the share state seed acquired too few records");
  for (const AcquiredRecord& r : acquired) {
    const ShareAck ack = r.offset < 12 || (r.offset >= 15 && r.offset < 17) ? ShareAck::kAccept
                         : r.offset < 19                                    ? ShareAck::kRelease
                         : r.offset < 20                                    ? ShareAck::kReject
                                                                            : ShareAck::kAccept;
    Must(sp.Acknowledge(1, r.offset, ack, limits), "acknowledge");
  }
  sp.Acquire(/*member=*/2, /*now=*/5, /*max_records=*/1, 0, 40, limits);  // still acquired
  seeds.push_back({"share_state_mixed", Concat(Bytes{3}, sp.Encode())});
  return seeds;
}

// --- claim_check: flags, reference length, reference, blob (see its fuzzer) ---

Bytes ClaimCheckInput(uint8_t flags, std::string_view reference, const Bytes& blob) {
  Bytes in{flags, static_cast<uint8_t>(reference.size() >> 8),
           static_cast<uint8_t>(reference.size() & 0xff)};
  return Concat(Concat(std::move(in), reference), blob);
}

// A fixed clock, so the write time in a blob's header, and so the corpus, is reproducible.
class FixedClockEnv : public runnel::io::EnvWrapper {
 public:
  FixedClockEnv() : EnvWrapper(runnel::io::PosixEnv()) {}
  int64_t NowMillis() override { return 1700000000000; }
};

Seeds ClaimCheckSeeds() {
  using namespace runnel;  // NOLINT: a small tool
  const ScratchDir dir("claim-check");
  FixedClockEnv env;
  auto store = Must(internal::OpenClaimCheckOnEnv(&env, dir.str(), {}), "open claim check");
  Seeds seeds;
  const std::string value = "a value too large to travel inline, in a real deployment";
  const std::string ref = Must(store->Store(value), "store");
  const std::string hex = ref.substr(7, 64);
  const Bytes blob = ReadAll(dir.path() / hex);
  seeds.push_back({"blob_verified", ClaimCheckInput(1, ref, blob)});
  seeds.push_back({"blob_trusted", ClaimCheckInput(0, ref, blob)});
  const std::string empty_ref = Must(store->Store(""), "store");
  seeds.push_back({"blob_empty", ClaimCheckInput(1, empty_ref, ReadAll(dir.path() / empty_ref.substr(7, 64)))});
  seeds.push_back({"header_null", ClaimCheckInput(3, "", {})});
  seeds.push_back({"inline_record", ClaimCheckInput(4, "", {})});
  return seeds;
}

bool Write(const std::filesystem::path& dir, const std::string& name, const Bytes& bytes) {
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
  if (argc != 2 && argc != 3) {
    std::fprintf(stderr, "usage: %s [TARGET] OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  const std::string target = argc == 3 ? argv[1] : "record_batch";
  const std::map<std::string, Seeds (*)()> generators = {
      {"record_batch", &RecordBatchSeeds},   {"index", &IndexSeeds},
      {"metadata", &MetadataSeeds},          {"internal_records", &InternalRecordSeeds},
      {"claim_check", &ClaimCheckSeeds},
  };
  const auto generator = generators.find(target);
  if (generator == generators.end()) {
    std::fprintf(stderr, "make_seed_corpus: unknown target %s\n", target.c_str());
    return 2;
  }
  const char* out_dir = argv[argc - 1];
  const std::filesystem::path dir = out_dir;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    std::fprintf(stderr, "make_seed_corpus: cannot create %s: %s\n", out_dir, ec.message().c_str());
    return 1;
  }
  bool ok = true;
  for (const auto& [name, bytes] : generator->second()) ok = Write(dir, name, bytes) && ok;
  return ok ? 0 : 1;
}
