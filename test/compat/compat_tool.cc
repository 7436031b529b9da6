// runnel_compat_tool: the C++ half of the cross-check against python3-kafka, an
// independent implementation of Kafka's RecordBatch v2 (kafka_compat.py is the other half).
//
//   write-batches FILE SEED  batches built by RecordBatchBuilder, back to back in FILE
//   write-segment DIR SEED   the same kind of batches appended through a PartitionLog
//   append-file DIR FILE     the batches of FILE (say, built by kafka-python) appended
//                            through a PartitionLog
//   read-batches FILE        FILE's batches as runnel's reader sees them
//   example                  a small batch as an annotated hex dump (doc/format.md)
//
// Every mode but `example` prints a JSON description of each batch and record on stdout.
// The write modes describe what was meant to be written (taken from the generator's own
// record list, not read back), so a fault shared by runnel's writer and reader still
// shows up when Python compares kafka-python's reading of the files with it.
// Bytes are lowercase hex, null is JSON null. Exit status 1 on any error, with a message.
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "format/byte_order.h"
#include "format/record_batch.h"
#include "format/record_batch_builder.h"
#include "format/varint.h"
#include "io/env.h"
#include "storage/partition_log.h"
#include "util/formatters.h"

namespace {

using namespace runnel::format;  // NOLINT: a small tool that only uses this namespace
using runnel::storage::LogConfig;
using runnel::storage::PartitionLog;
using Bytes = std::vector<uint8_t>;
using OptString = std::optional<std::string>;

// Small segments and a small index interval, so that the written log rolls several
// segments and each has several index entries.
constexpr int64_t kSegmentBytes = 4096;
constexpr int32_t kIndexIntervalBytes = 600;

[[noreturn]] void Die(std::string_view message) {
  std::fprintf(stderr, "runnel_compat_tool: %.*s\n", static_cast<int>(message.size()),
               message.data());
  std::exit(1);
}

void DieIf(const absl::Status& status, std::string_view doing) {
  if (!status.ok()) Die(fmt::format("{}: {}", doing, status));
}

// ---------------------------------------------------------------------------------------
// What the generator means to write.

struct HeaderSpec {
  std::string key;  // a Kafka header key is a (UTF-8) string, never null
  OptString value;
};

struct RecordSpec {
  int32_t offset_delta = 0;
  int64_t timestamp = 0;  // the producer's CreateTime
  OptString key;
  OptString value;
  std::vector<HeaderSpec> headers;
};

struct BatchSpec {
  BatchOptions options;
  std::vector<RecordSpec> records;
  std::optional<int64_t> log_append_time;  // stamped with SetLogAppendTime after Build
};

// A deterministic source of test data: mt19937_64's output is fixed by the standard,
// and everything here is derived from it with plain arithmetic.
class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  uint64_t Next() { return gen_(); }
  int64_t Uniform(int64_t lo, int64_t hi) {  // [lo, hi]
    return lo + static_cast<int64_t>(gen_() % static_cast<uint64_t>(hi - lo + 1));
  }
  bool OneIn(int n) { return gen_() % static_cast<uint64_t>(n) == 0; }
  std::string RandomBytes(int64_t n) {
    std::string s(static_cast<size_t>(n), '\0');
    for (char& c : s) c = static_cast<char>(gen_() & 0xFF);
    return s;
  }

 private:
  std::mt19937_64 gen_;
};

OptString RandomKey(Rng& rng) {
  if (rng.OneIn(6)) return std::nullopt;
  if (rng.OneIn(6)) return std::string();
  return rng.RandomBytes(rng.OneIn(8) ? rng.Uniform(64, 300) : rng.Uniform(1, 40));
}

OptString RandomValue(Rng& rng) {
  if (rng.OneIn(8)) return std::nullopt;  // a tombstone
  if (rng.OneIn(8)) return std::string();
  return rng.RandomBytes(rng.OneIn(6) ? rng.Uniform(128, 500) : rng.Uniform(1, 120));
}

std::vector<HeaderSpec> RandomHeaders(Rng& rng) {
  static const char* const kKeys[] = {"", "trace-id", "content-type", "\xc3\xbc-\xc3\xb1",
                                      "\xe6\x97\xa5\xe6\x9c\xac", "k"};
  std::vector<HeaderSpec> headers(static_cast<size_t>(rng.OneIn(3) ? 0 : rng.Uniform(1, 4)));
  for (HeaderSpec& h : headers) {
    h.key = rng.OneIn(4) ? fmt::format("h{}", rng.Uniform(0, 999999))
                         : kKeys[rng.Uniform(0, std::size(kKeys) - 1)];
    if (!rng.OneIn(4)) h.value = rng.RandomBytes(rng.Uniform(0, 30));
  }
  return headers;
}

RecordSpec RandomRecord(Rng& rng, int32_t offset_delta, int64_t timestamp) {
  return RecordSpec{offset_delta, timestamp, RandomKey(rng), RandomValue(rng), RandomHeaders(rng)};
}

// `count` records with consecutive offset deltas; timestamps step by `step` (which may be
// negative) plus jitter.
std::vector<RecordSpec> RandomRecords(Rng& rng, int count, int64_t first_ts, int64_t step) {
  std::vector<RecordSpec> records;
  int64_t ts = first_ts;
  for (int i = 0; i < count; ++i) {
    records.push_back(RandomRecord(rng, i, ts));
    ts += step + rng.Uniform(0, 3);
  }
  return records;
}

BatchOptions Idempotent(int64_t producer_id, int16_t epoch, int32_t sequence) {
  BatchOptions o;
  o.producer_id = producer_id;
  o.producer_epoch = epoch;
  o.base_sequence = sequence;
  return o;
}

// Kafka's transaction marker (ControlRecordType COMMIT = 1, version 0), as a broker writes
// it after a transactional batch: key = version i16, type i16; value = version i16,
// coordinator epoch i32.
RecordSpec CommitMarker(int64_t timestamp) {
  return RecordSpec{0, timestamp, std::string("\x00\x00\x00\x01", 4),
                    std::string("\x00\x00\x00\x00\x00\x05", 6), {}};
}

// The fixed cases every seed covers, then random ones.
std::vector<BatchSpec> GenerateBatches(uint64_t seed, int random_batches, bool with_large) {
  Rng rng(seed * 0x9E3779B97F4A7C15ull + 1);
  std::vector<BatchSpec> out;
  int64_t ts = 1'700'000'000'000 + rng.Uniform(0, 1'000'000'000);
  const int64_t pid_a = rng.Uniform(1, 1'000'000) + (int64_t{1} << 40);
  const int64_t pid_b = rng.Uniform(0, 1000);
  const int64_t pid_txn = rng.Uniform(1'000'001, 2'000'000);

  out.push_back({BatchOptions{}, RandomRecords(rng, 5, ts, 7), std::nullopt});
  out.push_back({Idempotent(pid_a, 3, 0), RandomRecords(rng, 4, ts + 500, -11), std::nullopt});
  out.push_back({Idempotent(pid_a, 3, 4), RandomRecords(rng, 3, ts + 400, 250'000), std::nullopt});
  out.push_back({Idempotent(pid_b, INT16_MAX, INT32_MAX - 2), RandomRecords(rng, 2, ts, 1),
                 std::nullopt});
  BatchOptions txn = Idempotent(pid_txn, 1, 0);
  txn.transactional = true;
  out.push_back({txn, RandomRecords(rng, 3, ts + 1000, 2), std::nullopt});
  BatchOptions marker = Idempotent(pid_txn, 1, kNoSequence);
  marker.transactional = true;
  marker.control = true;
  out.push_back({marker, {CommitMarker(ts + 1010)}, std::nullopt});
  out.push_back({BatchOptions{}, RandomRecords(rng, 4, ts - 5000, -3), ts + 77'777});
  BatchSpec gaps{BatchOptions{}, {}, std::nullopt};  // a compacted batch: offset gaps
  for (int32_t delta : {0, 3, 4, 10}) gaps.records.push_back(RandomRecord(rng, delta, ts + delta));
  out.push_back(gaps);
  BatchSpec odd{BatchOptions{}, RandomRecords(rng, 3, ts, 1), std::nullopt};
  odd.options.partition_leader_epoch = 7;
  odd.records[0].key = std::nullopt;
  odd.records[0].value = std::nullopt;
  odd.records[1].key = std::string();
  odd.records[1].headers = {{"a", std::nullopt}, {"a", std::string()}, {"", std::string("\0", 1)}};
  odd.records[2].timestamp = ts - (int64_t{1} << 40);  // a delta that needs 6 varlong bytes
  out.push_back(odd);
  if (with_large) {  // lengths that need 3 varint bytes
    BatchSpec large{BatchOptions{}, RandomRecords(rng, 2, ts, 1), std::nullopt};
    large.records[0].key = rng.RandomBytes(300);
    large.records[0].value = rng.RandomBytes(20'000);
    out.push_back(large);
  }
  for (int i = 0; i < random_batches; ++i) {
    BatchSpec b;
    if (rng.OneIn(3)) b.options = Idempotent(pid_b, 0, static_cast<int32_t>(rng.Uniform(0, 100000)));
    if (rng.OneIn(5)) b.options.partition_leader_epoch = static_cast<int32_t>(rng.Uniform(0, 50));
    b.records = RandomRecords(rng, static_cast<int>(rng.Uniform(1, 8)), ts + i * 100,
                              rng.OneIn(4) ? -20 : 20);
    if (rng.OneIn(7)) b.log_append_time = ts + 1'000'000 + i;
    out.push_back(std::move(b));
  }
  return out;
}

Bytes Build(const BatchSpec& spec) {
  RecordBatchBuilder builder(spec.options);
  for (const RecordSpec& r : spec.records) {
    std::vector<RecordHeader> headers;
    for (const HeaderSpec& h : r.headers) headers.push_back({h.key, h.value});
    builder.AddWithOffsetDelta(r.offset_delta, r.timestamp, r.key, r.value, headers);
  }
  Bytes batch = builder.Build();
  if (spec.log_append_time) SetLogAppendTime(batch, *spec.log_append_time);
  return batch;
}

// ---------------------------------------------------------------------------------------
// JSON output.

std::string Hex(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

template <typename T>
std::string HexOrNull(const std::optional<T>& bytes) {
  return bytes ? fmt::format("\"{}\"", Hex(*bytes)) : "null";
}

// The batch-level fields, the same whichever side of the cross-check fills them.
struct BatchDescription {
  std::optional<uint64_t> position;  // in the file, when known
  size_t size = 0;
  BatchHeader header;
};

std::string BatchJson(const BatchDescription& d, const std::vector<std::string>& records) {
  const BatchHeader& h = d.header;
  std::string out = fmt::format(
      "{{\"position\": {}, \"size\": {}, \"base_offset\": {}, \"batch_length\": {}, "
      "\"partition_leader_epoch\": {}, \"magic\": {}, \"crc\": {}, \"attributes\": {}, "
      "\"compression\": {}, \"timestamp_type\": {}, \"transactional\": {}, \"control\": {}, "
      "\"last_offset_delta\": {}, \"base_timestamp\": {}, \"max_timestamp\": {}, "
      "\"producer_id\": {}, \"producer_epoch\": {}, \"base_sequence\": {}, "
      "\"record_count\": {}, \"records\": [",
      d.position ? std::to_string(*d.position) : "null", d.size, h.base_offset, h.batch_length,
      h.partition_leader_epoch, h.magic, h.crc, h.attributes, static_cast<int>(h.compression()),
      static_cast<int>(h.timestamp_type()), h.is_transactional(), h.is_control(),
      h.last_offset_delta, h.base_timestamp, h.max_timestamp, h.producer_id, h.producer_epoch,
      h.base_sequence, h.record_count);
  for (size_t i = 0; i < records.size(); ++i) {
    out += (i ? ",\n    " : "\n    ") + records[i];
  }
  return out + "]}";
}

std::string RecordJson(int64_t offset, int64_t timestamp, TimestampType type,
                       const std::optional<std::string_view>& key,
                       const std::optional<std::string_view>& value,
                       const std::vector<std::pair<std::string_view, std::optional<std::string_view>>>&
                           headers) {
  std::string hs;
  for (const auto& [k, v] : headers) {
    hs += fmt::format("{}[\"{}\", {}]", hs.empty() ? "" : ", ", Hex(k), HexOrNull(v));
  }
  return fmt::format(
      "{{\"offset\": {}, \"timestamp\": {}, \"timestamp_type\": {}, \"key\": {}, "
      "\"value\": {}, \"headers\": [{}]}}",
      offset, timestamp, static_cast<int>(type), HexOrNull(key), HexOrNull(value), hs);
}

std::optional<std::string_view> View(const OptString& s) {
  if (!s) return std::nullopt;
  return std::string_view(*s);
}

// The description of what `spec` meant to write: every field derived from the spec by
// Kafka's rules, except the CRC, the length and the size, which come from `batch`.
std::string DescribeSpec(const BatchSpec& spec, int64_t base_offset, std::span<const uint8_t> batch,
                         std::optional<uint64_t> position) {
  BatchDescription d{position, batch.size(), {}};
  BatchHeader& h = d.header;
  h.base_offset = base_offset;
  h.batch_length = static_cast<int32_t>(batch.size() - kLogOverhead);
  h.partition_leader_epoch = spec.options.partition_leader_epoch;
  h.crc = LoadBig32(batch.data() + kCrcPos);
  const bool append_time = spec.log_append_time.has_value() ||
                           spec.options.timestamp_type == TimestampType::kLogAppendTime;
  h.attributes = static_cast<int16_t>((append_time ? kTimestampTypeBit : 0) |
                                      (spec.options.transactional ? kTransactionalBit : 0) |
                                      (spec.options.control ? kControlBit : 0));
  h.last_offset_delta = spec.records.back().offset_delta;
  h.base_timestamp = spec.records.front().timestamp;
  h.max_timestamp = kNoTimestamp;
  for (const RecordSpec& r : spec.records) h.max_timestamp = std::max(h.max_timestamp, r.timestamp);
  if (spec.log_append_time) h.max_timestamp = *spec.log_append_time;
  h.producer_id = spec.options.producer_id;
  h.producer_epoch = spec.options.producer_epoch;
  h.base_sequence = spec.options.base_sequence;
  h.record_count = static_cast<int32_t>(spec.records.size());

  std::vector<std::string> records;
  for (const RecordSpec& r : spec.records) {
    std::vector<std::pair<std::string_view, std::optional<std::string_view>>> headers;
    for (const HeaderSpec& hs : r.headers) headers.emplace_back(hs.key, View(hs.value));
    records.push_back(RecordJson(base_offset + r.offset_delta,
                                 append_time ? h.max_timestamp : r.timestamp, h.timestamp_type(),
                                 View(r.key), View(r.value), headers));
  }
  return BatchJson(d, records);
}

// The description of a batch as runnel's reader sees it; dies on anything malformed.
std::string DescribeRead(std::span<const uint8_t> batch, std::optional<uint64_t> position) {
  absl::StatusOr<BatchHeader> header = ValidateBatch(batch);
  DieIf(header.status(), fmt::format("batch at byte {}", position.value_or(0)));
  BatchDescription d{position, batch.size(), *header};
  std::vector<std::string> records;
  RecordIterator it(batch, *header);
  Record r;
  while (it.Next(&r)) {
    std::vector<std::pair<std::string_view, std::optional<std::string_view>>> headers;
    for (const RecordHeader& h : r.headers) headers.emplace_back(h.key, h.value);
    records.push_back(RecordJson(r.offset, r.timestamp, header->timestamp_type(), r.key, r.value,
                                 headers));
  }
  DieIf(it.status(), fmt::format("records of the batch at byte {}", position.value_or(0)));
  if (it.records_read() != header->record_count) {
    Die(fmt::format("batch at byte {} says {} records, the iterator gave {}",
                    position.value_or(0), header->record_count, it.records_read()));
  }
  return BatchJson(d, records);
}

void PrintJson(std::string_view mode, const std::string& extra,
               const std::vector<std::string>& batches) {
  std::string out = fmt::format("{{\"mode\": \"{}\", {}\"batches\": [", mode, extra);
  for (size_t i = 0; i < batches.size(); ++i) out += (i ? ",\n  " : "\n  ") + batches[i];
  out += "]}\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
}

std::string ConfigJson(const LogConfig& config) {
  return fmt::format("\"config\": {{\"segment_bytes\": {}, \"index_interval_bytes\": {}}}, ",
                     config.segment_bytes, config.index_interval_bytes);
}

// ---------------------------------------------------------------------------------------
// Files and logs.

Bytes ReadWholeFile(const std::string& path) {
  absl::StatusOr<Bytes> bytes = runnel::io::ReadFile(runnel::io::PosixEnv(), path);
  DieIf(bytes.status(), fmt::format("reading {}", path));
  return *std::move(bytes);
}

void WriteWholeFile(const std::string& path, const Bytes& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() ||
      std::fclose(f) != 0) {
    Die(fmt::format("cannot write {}", path));
  }
}

// Splits a file of consecutive batches; dies at the first that is not a whole valid batch.
std::vector<std::pair<uint64_t, std::span<const uint8_t>>> SplitBatches(const Bytes& file) {
  std::vector<std::pair<uint64_t, std::span<const uint8_t>>> out;
  for (uint64_t pos = 0; pos < file.size();) {
    const std::span<const uint8_t> rest(file.data() + pos, file.size() - pos);
    const BatchCheckResult r = CheckBatch(rest);
    if (r.check != BatchCheck::kValid) {
      Die(fmt::format("{} batch at byte {} of {}: {}",
                      r.check == BatchCheck::kIncomplete ? "incomplete" : "corrupt", pos,
                      file.size(), r.reason));
    }
    out.emplace_back(pos, rest.first(r.header.size_in_bytes()));
    pos += r.header.size_in_bytes();
  }
  return out;
}

std::unique_ptr<PartitionLog> OpenFreshLog(const std::string& dir, const LogConfig& config) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) && !std::filesystem::is_empty(dir, ec)) {
    Die(fmt::format("{} is not empty; give a new directory", dir));
  }
  absl::StatusOr<std::unique_ptr<PartitionLog>> log =
      PartitionLog::Open(runnel::io::PosixEnv(), dir, config);
  DieIf(log.status(), fmt::format("opening a partition log in {}", dir));
  return *std::move(log);
}

LogConfig CompatConfig() {
  LogConfig config;
  config.segment_bytes = kSegmentBytes;
  config.index_interval_bytes = kIndexIntervalBytes;
  return config;
}

uint64_t ParseSeed(const char* text) {
  char* end = nullptr;
  const unsigned long long seed = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0') Die(fmt::format("SEED must be a number, not \"{}\"", text));
  return seed;
}

int WriteBatches(const std::string& path, uint64_t seed) {
  const std::vector<BatchSpec> specs = GenerateBatches(seed, 8, /*with_large=*/true);
  // Offsets past 2^32, as a long-lived partition has: 64-bit fields must stay 64-bit.
  int64_t next = (int64_t{1} << 32) + static_cast<int64_t>(seed % 1000);
  Bytes file;
  std::vector<std::string> described;
  for (const BatchSpec& spec : specs) {
    Bytes batch = Build(spec);
    SetBaseOffset(batch, next);
    described.push_back(DescribeSpec(spec, next, batch, file.size()));
    next += spec.records.back().offset_delta + 1;
    file.insert(file.end(), batch.begin(), batch.end());
  }
  WriteWholeFile(path, file);
  PrintJson("write-batches", fmt::format("\"seed\": {}, ", seed), described);
  return 0;
}

int WriteSegment(const std::string& dir, uint64_t seed) {
  const LogConfig config = CompatConfig();
  const std::vector<BatchSpec> specs = GenerateBatches(seed, 40, /*with_large=*/false);
  std::unique_ptr<PartitionLog> log = OpenFreshLog(dir, config);
  std::vector<std::string> described;
  for (const BatchSpec& spec : specs) {
    Bytes batch = Build(spec);
    absl::StatusOr<runnel::storage::AppendInfo> info = log->Append(batch);
    DieIf(info.status(), "appending a batch");
    described.push_back(DescribeSpec(spec, info->base_offset, batch, std::nullopt));
  }
  DieIf(log->Close(), "closing the partition log");
  PrintJson("write-segment", fmt::format("\"seed\": {}, ", seed) + ConfigJson(config), described);
  return 0;
}

int AppendFile(const std::string& dir, const std::string& path) {
  const LogConfig config = CompatConfig();
  const Bytes file = ReadWholeFile(path);
  std::unique_ptr<PartitionLog> log = OpenFreshLog(dir, config);
  std::vector<std::string> described;
  for (const auto& [pos, view] : SplitBatches(file)) {
    Bytes batch(view.begin(), view.end());
    DieIf(log->Append(batch).status(), fmt::format("appending the batch at byte {}", pos));
    described.push_back(DescribeRead(batch, std::nullopt));  // with the assigned offsets
  }
  DieIf(log->Close(), "closing the partition log");
  PrintJson("append-file", ConfigJson(config), described);
  return 0;
}

int ReadBatches(const std::string& path) {
  const Bytes file = ReadWholeFile(path);
  std::vector<std::string> described;
  for (const auto& [pos, batch] : SplitBatches(file)) described.push_back(DescribeRead(batch, pos));
  PrintJson("read-batches", "", described);
  return 0;
}

// ---------------------------------------------------------------------------------------
// The worked example of doc/format.md.

class Annotator {
 public:
  explicit Annotator(const Bytes& b) : b_(b) {}
  // Prints the next `n` bytes with a note.
  void Field(size_t n, std::string_view note) {
    std::string hex;
    for (size_t i = 0; i < n; ++i) hex += fmt::format("{}{:02x}", i ? " " : "", b_[pos_ + i]);
    // Long runs (the payload bytes) wrap at 16 bytes per line.
    for (size_t i = 0; i < hex.size(); i += 48) {
      std::printf("%04zx  %-47s  %s\n", pos_ + i / 3, hex.substr(i, 47).c_str(),
                  i == 0 ? std::string(note).c_str() : "");
    }
    pos_ += n;
  }
  int64_t Varint(std::string_view name, bool is_long = false) {
    const uint8_t* p = b_.data() + pos_;
    int64_t v = 0;
    int32_t v32 = 0;
    const bool ok = is_long ? GetVarlong(&p, b_.data() + b_.size(), &v)
                            : GetVarint(&p, b_.data() + b_.size(), &v32);
    if (!ok) Die("bad varint in the example");
    if (!is_long) v = v32;
    Field(static_cast<size_t>(p - (b_.data() + pos_)),
          fmt::format("{} = {} ({}, zig-zag)", name, v, is_long ? "varlong" : "varint"));
    return v;
  }
  void BytesField(std::string_view name) {
    const int64_t n = Varint(fmt::format("{} length", name));
    if (n < 0) return;
    const std::string_view text(reinterpret_cast<const char*>(b_.data() + pos_),
                                static_cast<size_t>(n));
    if (n > 0) Field(static_cast<size_t>(n), fmt::format("{} = \"{}\"", name, text));
  }
  size_t pos() const { return pos_; }

 private:
  const Bytes& b_;
  size_t pos_ = 0;
};

Bytes ExampleBatch() {
  RecordBatchBuilder builder;
  const RecordHeader headers[] = {{"trace", "t1"}};
  builder.Add(1700000000000, "k1", "hello", headers);
  builder.Add(1700000000005, std::nullopt, "world");
  return builder.Build();
}

int Example() {
  const Bytes batch = ExampleBatch();
  const BatchHeader h = *DecodeBatchHeader(batch);
  Annotator a(batch);
  a.Field(8, fmt::format("baseOffset = {}", h.base_offset));
  a.Field(4, fmt::format("batchLength = {} (bytes after this field)", h.batch_length));
  a.Field(4, fmt::format("partitionLeaderEpoch = {}", h.partition_leader_epoch));
  a.Field(1, fmt::format("magic = {}", h.magic));
  a.Field(4, fmt::format("crc = 0x{:08x} (CRC32C of bytes 0x15..0x{:x})", h.crc, batch.size() - 1));
  a.Field(2, fmt::format("attributes = 0x{:04x} (no compression, CreateTime)", h.attributes));
  a.Field(4, fmt::format("lastOffsetDelta = {}", h.last_offset_delta));
  a.Field(8, fmt::format("baseTimestamp = {}", h.base_timestamp));
  a.Field(8, fmt::format("maxTimestamp = {}", h.max_timestamp));
  a.Field(8, fmt::format("producerId = {}", h.producer_id));
  a.Field(2, fmt::format("producerEpoch = {}", h.producer_epoch));
  a.Field(4, fmt::format("baseSequence = {}", h.base_sequence));
  a.Field(4, fmt::format("recordCount = {}", h.record_count));
  for (int32_t i = 0; i < h.record_count; ++i) {
    std::printf("      -- record %d\n", i);
    a.Varint("length");
    a.Field(1, "attributes = 0 (unused)");
    a.Varint("timestampDelta", /*is_long=*/true);
    a.Varint("offsetDelta");
    a.BytesField("key");
    a.BytesField("value");
    const int64_t headers = a.Varint("headerCount");
    for (int64_t j = 0; j < headers; ++j) {
      a.BytesField("headerKey");
      a.BytesField("headerValue");
    }
  }
  if (a.pos() != batch.size()) Die("the example's annotation does not cover the batch");
  return 0;
}

void Usage() {
  std::fprintf(stderr,
               "usage: runnel_compat_tool write-batches FILE SEED\n"
               "       runnel_compat_tool write-segment DIR SEED\n"
               "       runnel_compat_tool append-file DIR FILE\n"
               "       runnel_compat_tool read-batches FILE\n"
               "       runnel_compat_tool example\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) Usage();
  const std::string& mode = args[0];
  if (mode == "write-batches" && args.size() == 3) return WriteBatches(args[1], ParseSeed(argv[3]));
  if (mode == "write-segment" && args.size() == 3) return WriteSegment(args[1], ParseSeed(argv[3]));
  if (mode == "append-file" && args.size() == 3) return AppendFile(args[1], args[2]);
  if (mode == "read-batches" && args.size() == 2) return ReadBatches(args[1]);
  if (mode == "example" && args.size() == 1) return Example();
  Usage();
}
