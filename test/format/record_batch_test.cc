// RecordBatch v2: batches built with RecordBatchBuilder read back through CheckBatch,
// ValidateBatch and RecordIterator; the header's byte layout; and byte surgery (truncate,
// flip, re-sign) asserting the exact outcome, in the manner of leveldb's log_test.cc.
// Tests are named after the geometry they probe.
#include "format/record_batch.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "format/byte_order.h"
#include "format/crc32c.h"
#include "format/record_batch_builder.h"
#include "format/varint.h"
#include "support/status_matchers.h"

namespace runnel::format {
namespace {

using Bytes = std::vector<uint8_t>;

// An owning copy of a Record, so records can outlive the iterator that produced them.
struct OwnedRecord {
  int64_t offset = 0;
  int64_t timestamp = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
};

std::optional<std::string> Own(std::optional<std::string_view> s) {
  if (!s) return std::nullopt;
  return std::string(*s);
}

struct ReadResult {
  absl::Status status;
  std::vector<OwnedRecord> records;
};

// Iterates every record of `batch` (whose header is decoded without validation, so tests
// can hand the iterator batches that CheckBatch would refuse).
ReadResult ReadRecords(std::span<const uint8_t> batch) {
  ReadResult result;
  absl::StatusOr<BatchHeader> header = DecodeBatchHeader(batch);
  if (!header.ok()) {
    result.status = header.status();
    return result;
  }
  RecordIterator it(batch, *header);
  Record r;
  while (it.Next(&r)) {
    OwnedRecord o{r.offset, r.timestamp, Own(r.key), Own(r.value), {}};
    for (const RecordHeader& h : r.headers)
      o.headers.emplace_back(std::string(h.key), Own(h.value));
    result.records.push_back(std::move(o));
  }
  CHECK(it.records_read() == static_cast<int32_t>(result.records.size()));
  result.status = it.status();
  return result;
}

// ValidateBatch, then every record; fails the test if any of it is not OK.
std::vector<OwnedRecord> ReadValid(std::span<const uint8_t> batch) {
  REQUIRE_OK(ValidateBatch(batch));
  ReadResult result = ReadRecords(batch);
  REQUIRE_OK(result.status);
  return std::move(result.records);
}

std::string AllByteValues() {
  std::string s;
  for (int b = 255; b >= 0; --b) s.push_back(static_cast<char>(b));
  return s;
}

// A batch of three records with a bit of everything, used by the byte-surgery tests.
Bytes SampleBatch() {
  const RecordHeader headers[] = {{"trace", "abc"}, {"nil", std::nullopt}};
  RecordBatchBuilder b;
  b.Add(1000, "k0", "v0");
  b.Add(1005, std::nullopt, "value-1", headers);
  b.Add(990, "k2", std::nullopt);
  return b.Build();
}

// Writes a big-endian field inside the CRC-covered part and re-signs the batch.
void Store32AndResign(Bytes* batch, size_t pos, uint32_t v) {
  StoreBig32(batch->data() + pos, v);
  RecomputeCrc(*batch);
}

// --- Round trips -------------------------------------------------------------------------

TEST_CASE("SingleRecordRoundTrip", "[record_batch]") {
  RecordBatchBuilder b;
  b.Add(1700000000000, "key", "value");
  CHECK(b.record_count() == 1);
  const Bytes batch = b.Build();
  const BatchHeader h = *ValidateBatch(batch);
  CHECK(h.base_offset == 0);
  CHECK(h.record_count == 1);
  CHECK(h.last_offset_delta == 0);
  CHECK(h.base_timestamp == 1700000000000);
  CHECK(h.max_timestamp == 1700000000000);
  CHECK(h.magic == kMagicV2);
  CHECK(h.compression() == CompressionType::kNone);
  CHECK(h.timestamp_type() == TimestampType::kCreateTime);
  CHECK_FALSE(h.is_transactional());
  CHECK_FALSE(h.is_control());
  CHECK(h.producer_id == kNoProducerId);
  CHECK(h.producer_epoch == kNoProducerEpoch);
  CHECK(h.base_sequence == kNoSequence);
  CHECK(h.partition_leader_epoch == kNoPartitionLeaderEpoch);
  CHECK(h.size_in_bytes() == batch.size());
  CHECK(h.next_offset() == 1);
  const auto records = ReadValid(batch);
  REQUIRE(records.size() == 1);
  CHECK(records[0].offset == 0);
  CHECK(records[0].timestamp == 1700000000000);
  CHECK(records[0].key == "key");
  CHECK(records[0].value == "value");
  CHECK(records[0].headers.empty());
}

TEST_CASE("EmptyKeyAndEmptyValueAreNotNull", "[record_batch]") {
  RecordBatchBuilder b;
  b.Add(0, "", "");
  const auto records = ReadValid(b.Build());
  REQUIRE(records.size() == 1);
  REQUIRE(records[0].key.has_value());
  REQUIRE(records[0].value.has_value());
  CHECK(records[0].key->empty());
  CHECK(records[0].value->empty());
}

TEST_CASE("NullKeyAndNullValueTombstone", "[record_batch]") {
  RecordBatchBuilder b;
  b.Add(1, std::nullopt, "v");
  b.Add(2, "k", std::nullopt);
  b.Add(3, std::nullopt, std::nullopt);
  const auto records = ReadValid(b.Build());
  REQUIRE(records.size() == 3);
  CHECK_FALSE(records[0].key.has_value());
  CHECK(records[0].value == "v");
  CHECK(records[1].key == "k");
  CHECK_FALSE(records[1].value.has_value());
  CHECK_FALSE(records[2].key.has_value());
  CHECK_FALSE(records[2].value.has_value());
}

TEST_CASE("KeysAndValuesOfArbitraryBytes", "[record_batch]") {
  const std::string every_byte = AllByteValues();
  const std::string nuls(5, '\0');
  const std::string big(70000, '\xAB');  // a length that needs a 3-byte varint
  RecordBatchBuilder b;
  b.Add(0, every_byte, nuls);
  b.Add(0, nuls, every_byte);
  b.Add(0, "k", big);
  const auto records = ReadValid(b.Build());
  REQUIRE(records.size() == 3);
  CHECK(records[0].key == every_byte);
  CHECK(records[0].value == nuls);
  CHECK(records[1].key == nuls);
  CHECK(records[1].value == every_byte);
  CHECK(records[2].value == big);
}

TEST_CASE("HeadersWithNullAndEmptyValues", "[record_batch]") {
  const std::string binary("\x00\xff\x80", 3);
  const RecordHeader headers[] = {
      {"content-type", "text/plain"}, {"empty", ""}, {"null", std::nullopt}, {"", binary}};
  RecordBatchBuilder b;
  b.Add(0, "k", "v", headers);
  b.Add(0, "k", "v");  // no headers after a record that had some
  b.Add(0, "k", "v", std::span(headers).subspan(2, 1));
  const auto records = ReadValid(b.Build());
  REQUIRE(records.size() == 3);
  REQUIRE(records[0].headers.size() == 4);
  CHECK(records[0].headers[0].first == "content-type");
  CHECK(records[0].headers[0].second == "text/plain");
  CHECK(records[0].headers[1].first == "empty");
  CHECK(records[0].headers[1].second == "");
  CHECK(records[0].headers[2].first == "null");
  CHECK_FALSE(records[0].headers[2].second.has_value());
  CHECK(records[0].headers[3].first == "");
  CHECK(records[0].headers[3].second == binary);
  CHECK(records[1].headers.empty());
  REQUIRE(records[2].headers.size() == 1);
  CHECK(records[2].headers[0].first == "null");
  CHECK_FALSE(records[2].headers[0].second.has_value());
}

TEST_CASE("HeaderViewsPointIntoTheBatch", "[record_batch]") {
  const RecordHeader headers[] = {{"h", "hv"}};
  RecordBatchBuilder b;
  b.Add(0, "key", "value", headers);
  const Bytes batch = b.Build();
  const BatchHeader h = *ValidateBatch(batch);
  RecordIterator it(batch, h);
  Record r;
  REQUIRE(it.Next(&r));
  const auto* begin = reinterpret_cast<const char*>(batch.data());
  const auto* end = begin + batch.size();
  for (std::string_view s : {*r.key, *r.value, r.headers[0].key, *r.headers[0].value}) {
    CHECK(s.data() >= begin);
    CHECK(s.data() + s.size() <= end);
  }
  CHECK_FALSE(it.Next(&r));
  CHECK_OK(it.status());
}

TEST_CASE("ManyRecordsGetConsecutiveOffsets", "[record_batch]") {
  RecordBatchBuilder b(BatchOptions{}, 1000);
  for (int i = 0; i < 500; ++i)
    b.Add(i, std::to_string(i), std::string(static_cast<size_t>(i), 'x'));
  const Bytes batch = b.Build();
  const BatchHeader h = *ValidateBatch(batch);
  CHECK(h.base_offset == 1000);
  CHECK(h.last_offset_delta == 499);
  CHECK(h.last_offset() == 1499);
  CHECK(h.record_count == 500);
  const auto records = ReadValid(batch);
  REQUIRE(records.size() == 500);
  for (int i = 0; i < 500; ++i) {
    INFO(i);
    CHECK(records[static_cast<size_t>(i)].offset == 1000 + i);
    CHECK(records[static_cast<size_t>(i)].timestamp == i);
    CHECK(records[static_cast<size_t>(i)].key == std::to_string(i));
    CHECK(records[static_cast<size_t>(i)].value->size() == static_cast<size_t>(i));
  }
}

TEST_CASE("LaterRecordWithEarlierTimestampHasNegativeDelta", "[record_batch]") {
  RecordBatchBuilder b;
  b.Add(5000, "a", "1");
  b.Add(7000, "b", "2");
  b.Add(1000, "c", "3");  // 4000 ms before the first record
  const Bytes batch = b.Build();
  const BatchHeader h = *ValidateBatch(batch);
  CHECK(h.base_timestamp == 5000);  // the first record's, not the smallest
  CHECK(h.max_timestamp == 7000);
  const auto records = ReadValid(batch);
  REQUIRE(records.size() == 3);
  CHECK(records[0].timestamp == 5000);
  CHECK(records[1].timestamp == 7000);
  CHECK(records[2].timestamp == 1000);
  // The third record's timestampDelta is the varlong -4000 (zig-zag 7999: bf 3e).
  const Bytes minus4000 = {0xbf, 0x3e};
  CHECK(std::search(batch.begin() + kBatchHeaderSize, batch.end(), minus4000.begin(),
                    minus4000.end()) != batch.end());
}

TEST_CASE("TimestampsFarApartAndNegative", "[record_batch]") {
  RecordBatchBuilder b;
  b.Add(0, "a", "1");
  b.Add(int64_t{1} << 50, "b", "2");
  b.Add(-(int64_t{1} << 40), "c", "3");
  const auto records = ReadValid(b.Build());
  REQUIRE(records.size() == 3);
  CHECK(records[0].timestamp == 0);
  CHECK(records[1].timestamp == int64_t{1} << 50);
  CHECK(records[2].timestamp == -(int64_t{1} << 40));
}

TEST_CASE("CreateTimeKeepsEachRecordsTimestamp", "[record_batch]") {
  RecordBatchBuilder b(BatchOptions{.timestamp_type = TimestampType::kCreateTime});
  b.Add(10, "a", "1");
  b.Add(30, "b", "2");
  const Bytes batch = b.Build();
  CHECK(ValidateBatch(batch)->timestamp_type() == TimestampType::kCreateTime);
  CHECK((LoadBig16(batch.data() + kAttributesPos) & kTimestampTypeBit) == 0);
  const auto records = ReadValid(batch);
  CHECK(records[0].timestamp == 10);
  CHECK(records[1].timestamp == 30);
}

TEST_CASE("LogAppendTimeOptionGivesEveryRecordMaxTimestamp", "[record_batch]") {
  RecordBatchBuilder b(BatchOptions{.timestamp_type = TimestampType::kLogAppendTime});
  b.Add(10, "a", "1");
  b.Add(30, "b", "2");
  b.Add(20, "c", "3");
  const Bytes batch = b.Build();
  const BatchHeader h = *ValidateBatch(batch);
  CHECK(h.timestamp_type() == TimestampType::kLogAppendTime);
  CHECK(h.max_timestamp == 30);
  for (const OwnedRecord& r : ReadValid(batch)) CHECK(r.timestamp == 30);
}

TEST_CASE("SetLogAppendTimeRewritesMaxTimestampAndResigns", "[record_batch]") {
  Bytes batch = SampleBatch();
  const uint32_t old_crc = LoadBig32(batch.data() + kCrcPos);
  SetLogAppendTime(batch, 1234567890123);
  const BatchHeader h = *ValidateBatch(batch);
  CHECK(h.crc != old_crc);
  CHECK(h.crc == Crc32c(std::span(batch).subspan(kAttributesPos)));
  CHECK(h.timestamp_type() == TimestampType::kLogAppendTime);
  CHECK(h.max_timestamp == 1234567890123);
  CHECK(h.base_timestamp == 1000);  // untouched
  const auto records = ReadValid(batch);
  REQUIRE(records.size() == 3);
  for (const OwnedRecord& r : records) CHECK(r.timestamp == 1234567890123);
  // Other attribute bits survive.
  RecordBatchBuilder tb(BatchOptions{.transactional = true, .control = true});
  tb.Add(1, "k", "v");
  Bytes txn = tb.Build();
  SetLogAppendTime(txn, 5);
  const BatchHeader th = *ValidateBatch(txn);
  CHECK(th.is_transactional());
  CHECK(th.is_control());
  CHECK(th.timestamp_type() == TimestampType::kLogAppendTime);
}

TEST_CASE("TransactionalAndControlBitsAndProducerFields", "[record_batch]") {
  BatchOptions options;
  options.transactional = true;
  options.control = true;
  options.producer_id = 0x0123456789ABCDEF;
  options.producer_epoch = 32767;
  options.base_sequence = 2000000000;
  options.partition_leader_epoch = 42;
  RecordBatchBuilder b(options);
  b.Add(0, std::string_view("\x00\x00\x00\x01", 4),
        std::string_view("\x00\x00\x00\x00\x00\x07", 6));  // a COMMIT marker
  const Bytes batch = b.Build();
  const BatchHeader h = *ValidateBatch(batch);
  CHECK(h.is_transactional());
  CHECK(h.is_control());
  CHECK(h.attributes == (kTransactionalBit | kControlBit));
  CHECK(h.producer_id == 0x0123456789ABCDEF);
  CHECK(h.producer_epoch == 32767);
  CHECK(h.base_sequence == 2000000000);
  CHECK(h.partition_leader_epoch == 42);
  CHECK(LoadBig64(batch.data() + kProducerIdPos) == 0x0123456789ABCDEFull);
  CHECK(LoadBig16(batch.data() + kProducerEpochPos) == 32767);
  CHECK(LoadBig32(batch.data() + kBaseSequencePos) == 2000000000u);
  CHECK(LoadBig32(batch.data() + kPartitionLeaderEpochPos) == 42u);
  ReadValid(batch);

  RecordBatchBuilder only_txn(BatchOptions{.transactional = true});
  only_txn.Add(0, "k", "v");
  const BatchHeader t = *ValidateBatch(only_txn.Build());
  CHECK(t.is_transactional());
  CHECK_FALSE(t.is_control());
  CHECK(t.attributes == kTransactionalBit);
}

TEST_CASE("SetPartitionLeaderEpochIsOutsideTheCrc", "[record_batch]") {
  Bytes batch = SampleBatch();
  const Bytes before = batch;
  SetPartitionLeaderEpoch(batch, 7);
  CHECK(ValidateBatch(batch)->partition_leader_epoch == 7);
  CHECK(std::equal(batch.begin() + kMagicPos, batch.end(), before.begin() + kMagicPos));
}

TEST_CASE("SetBaseOffsetShiftsOffsetsAndKeepsCrc", "[record_batch]") {
  Bytes batch = SampleBatch();
  const Bytes before = batch;
  SetBaseOffset(batch, 1'000'000'000'000);
  CHECK(std::equal(batch.begin() + kBatchLengthPos, batch.end(), before.begin() + kBatchLengthPos));
  const BatchHeader h = *ValidateBatch(batch);
  CHECK(h.base_offset == 1'000'000'000'000);
  CHECK(h.last_offset() == 1'000'000'000'002);
  const auto records = ReadValid(batch);
  REQUIRE(records.size() == 3);
  for (size_t i = 0; i < records.size(); ++i) {
    CHECK(records[i].offset == 1'000'000'000'000 + static_cast<int64_t>(i));
  }
}

TEST_CASE("OffsetDeltaGapsFromCompaction", "[record_batch]") {
  RecordBatchBuilder b(BatchOptions{}, 100);
  b.AddWithOffsetDelta(0, 1, "a", "1");
  b.AddWithOffsetDelta(5, 2, "b", "2");
  b.Add(3, "c", "3");  // Add continues after the gap: delta 6
  b.AddWithOffsetDelta(1000, 4, "d", std::nullopt);
  const Bytes batch = b.Build();
  const BatchHeader h = *ValidateBatch(batch);
  CHECK(h.record_count == 4);
  CHECK(h.last_offset_delta == 1000);
  CHECK(h.next_offset() == 1101);
  const auto records = ReadValid(batch);
  REQUIRE(records.size() == 4);
  CHECK(records[0].offset == 100);
  CHECK(records[1].offset == 105);
  CHECK(records[2].offset == 106);
  CHECK(records[3].offset == 1100);
}

TEST_CASE("FirstRecordAtNonZeroOffsetDelta", "[record_batch]") {
  RecordBatchBuilder b;
  b.AddWithOffsetDelta(3, 1, "a", "1");
  const Bytes batch = b.Build();
  CHECK(ValidateBatch(batch)->last_offset_delta == 3);
  const auto records = ReadValid(batch);
  REQUIRE(records.size() == 1);
  CHECK(records[0].offset == 3);
}

TEST_CASE("BuilderIsReusableAfterBuild", "[record_batch]") {
  RecordBatchBuilder b(BatchOptions{.producer_id = 9}, 50);
  b.Add(100, "a", "1");
  b.Add(200, "b", "2");
  const Bytes first = b.Build();
  CHECK(b.empty());
  CHECK(b.size_in_bytes() == kBatchHeaderSize);
  b.Add(300, "c", "3");
  const Bytes second = b.Build();
  const BatchHeader h = *ValidateBatch(second);
  CHECK(h.record_count == 1);
  CHECK(h.base_timestamp == 300);
  CHECK(h.max_timestamp == 300);
  CHECK(h.producer_id == 9);
  CHECK(h.base_offset == 50);
  CHECK(ReadValid(second)[0].key == "c");
  CHECK(ReadValid(first).size() == 2);
}

TEST_CASE("RecordSizePredictsBytesAdded", "[record_batch]") {
  const RecordHeader headers[] = {{"h1", "v1"}, {"h2", std::nullopt}};
  RecordBatchBuilder b;
  b.Add(1000, "first", "x");
  struct Case {
    int64_t timestamp;
    std::optional<std::string_view> key, value;
    std::span<const RecordHeader> headers;
  };
  const std::string big(200, 'v');
  const Case cases[] = {{1000, "k", "v", {}},
                        {999, std::nullopt, std::nullopt, {}},
                        {5000000, "key", big, headers},
                        {0, "", "", headers}};
  for (const Case& c : cases) {
    const size_t before = b.size_in_bytes();
    const size_t predicted = RecordBatchBuilder::RecordSize(b.record_count(), c.timestamp - 1000,
                                                            c.key, c.value, c.headers);
    b.Add(c.timestamp, c.key, c.value, c.headers);
    CHECK(b.size_in_bytes() - before == predicted);
  }
  const size_t built = b.size_in_bytes();
  CHECK(b.Build().size() == built);
}

// --- Byte layout --------------------------------------------------------------------------

TEST_CASE("HeaderFieldsAtKafkaPositions", "[record_batch][layout]") {
  RecordBatchBuilder b(
      BatchOptions{
          .producer_id = 77, .producer_epoch = 3, .base_sequence = 11, .partition_leader_epoch = 5},
      0x0102030405060708);
  b.Add(1600000000000, "k", "v");
  b.Add(1600000000500, "k", "v");
  const Bytes batch = b.Build();
  const uint8_t* p = batch.data();
  CHECK(LoadBig64(p + 0) == 0x0102030405060708ull);
  CHECK(LoadBig32(p + 8) == batch.size() - 12);
  CHECK(LoadBig32(p + 12) == 5u);
  CHECK(p[16] == 2);
  CHECK(LoadBig32(p + 17) == Crc32c(std::span(batch).subspan(21)));
  CHECK(LoadBig16(p + 21) == 0);
  CHECK(LoadBig32(p + 23) == 1u);
  CHECK(LoadBig64(p + 27) == 1600000000000ull);
  CHECK(LoadBig64(p + 35) == 1600000000500ull);
  CHECK(LoadBig64(p + 43) == 77u);
  CHECK(LoadBig16(p + 51) == 3);
  CHECK(LoadBig32(p + 53) == 11u);
  CHECK(LoadBig32(p + 57) == 2u);
  CHECK(batch.size() == 61 + 9 + 10);  // the second timestampDelta (500) takes 2 bytes
}

TEST_CASE("SingleRecordBatchByteForByte", "[record_batch][layout]") {
  // One record, key "k", value "v", timestamp 0, no producer: every byte of the batch.
  RecordBatchBuilder b;
  b.Add(0, "k", "v");
  const Bytes batch = b.Build();
  Bytes expected = {
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // baseOffset 0
      0x00, 0x00, 0x00, 0x3a,                          // batchLength 58
      0xff, 0xff, 0xff, 0xff,                          // partitionLeaderEpoch -1
      0x02,                                            // magic
      0x00, 0x00, 0x00, 0x00,                          // CRC, filled in below
      0x00, 0x00,                                      // attributes
      0x00, 0x00, 0x00, 0x00,                          // lastOffsetDelta 0
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // baseTimestamp 0
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // maxTimestamp 0
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // producerId -1
      0xff, 0xff,                                      // producerEpoch -1
      0xff, 0xff, 0xff, 0xff,                          // baseSequence -1
      0x00, 0x00, 0x00, 0x01,                          // record count 1
      0x10,                                            // record length 8
      0x00,                                            // record attributes
      0x00,                                            // timestampDelta 0
      0x00,                                            // offsetDelta 0
      0x02, 'k',                                       // key
      0x02, 'v',                                       // value
      0x00,                                            // header count 0
  };
  RecomputeCrc(expected);
  CHECK(batch == expected);
  // The CRC is of the bytes from attributes on, as computed independently here.
  CHECK(LoadBig32(expected.data() + kCrcPos) ==
        Crc32cExtendPortable(0, expected.data() + 21, expected.size() - 21));
}

TEST_CASE("RecordsStartRightAfterTheHeader", "[record_batch][layout]") {
  RecordBatchBuilder b;
  b.Add(0, std::nullopt, std::nullopt);
  const Bytes batch = b.Build();
  // length 6, attributes, tsDelta 0, offsetDelta 0, key -1, value -1, 0 headers.
  const Bytes record = {0x0c, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00};
  REQUIRE(batch.size() == kBatchHeaderSize + record.size());
  CHECK(Bytes(batch.begin() + kBatchHeaderSize, batch.end()) == record);
  CHECK(record.size() == kMinRecordSize);
}

// --- Consecutive batches ------------------------------------------------------------------

TEST_CASE("ScanConsecutiveBatchesToATornTail", "[record_batch]") {
  Bytes log;
  std::vector<size_t> sizes;
  for (int i = 0; i < 3; ++i) {
    RecordBatchBuilder b(BatchOptions{}, i * 10);
    for (int j = 0; j <= i; ++j) b.Add(j, "k", std::string(static_cast<size_t>(j * 7), 'v'));
    const Bytes batch = b.Build();
    sizes.push_back(batch.size());
    log.insert(log.end(), batch.begin(), batch.end());
  }
  const Bytes whole = log;
  log.resize(log.size() - 3);  // the third batch lost its last three bytes
  std::span<const uint8_t> rest(log);
  for (size_t i = 0; i < 2; ++i) {
    BatchCheckResult r = CheckBatch(rest);
    REQUIRE(r.check == BatchCheck::kValid);
    CHECK(r.header.size_in_bytes() == sizes[i]);
    CHECK(r.header.base_offset == static_cast<int64_t>(i) * 10);
    CHECK(ReadRecords(rest.first(r.header.size_in_bytes())).records.size() == i + 1);
    rest = rest.subspan(r.header.size_in_bytes());
  }
  CHECK(CheckBatch(rest).check == BatchCheck::kIncomplete);
  CHECK(CheckBatch(std::span(whole).subspan(sizes[0] + sizes[1])).check == BatchCheck::kValid);
}

TEST_CASE("TrailingBytesAfterABatch", "[record_batch]") {
  Bytes batch = SampleBatch();
  const size_t size = batch.size();
  batch.push_back(0);
  const BatchCheckResult r = CheckBatch(batch);
  CHECK(r.check == BatchCheck::kValid);
  CHECK(r.header.size_in_bytes() == size);
  const auto v = ValidateBatch(batch);
  CHECK(v.status().code() == absl::StatusCode::kDataLoss);
  // The iterator reads only the batch's own bytes.
  ReadResult read = ReadRecords(batch);
  CHECK_OK(read.status);
  CHECK(read.records.size() == 3);
}

// --- Truncation -------------------------------------------------------------------------

TEST_CASE("EveryTruncationIsIncomplete", "[record_batch][malformed]") {
  const Bytes batch = SampleBatch();
  for (size_t n = 0; n < batch.size(); ++n) {
    INFO("batch of " << batch.size() << " bytes cut to " << n);
    std::span<const uint8_t> cut(batch.data(), n);
    const BatchCheckResult r = CheckBatch(cut);
    CHECK(r.check == BatchCheck::kIncomplete);
    CHECK_FALSE(r.reason.empty());
    CHECK(ValidateBatch(cut).status().code() == absl::StatusCode::kDataLoss);
    if (n >= kBatchHeaderSize) {
      // An iterator given too few bytes refuses to start.
      RecordIterator it(cut, *DecodeBatchHeader(cut));
      Record rec;
      CHECK_FALSE(it.Next(&rec));
      CHECK(it.status().code() == absl::StatusCode::kDataLoss);
    } else {
      CHECK(DecodeBatchHeader(cut).status().code() == absl::StatusCode::kDataLoss);
    }
  }
}

TEST_CASE("TruncatedInsideLengthFieldsIsIncomplete", "[record_batch][malformed]") {
  const Bytes batch = SampleBatch();
  for (size_t n : {0, 1, 8, 11}) {
    INFO(n);
    CHECK(CheckBatch(std::span(batch).first(n)).check == BatchCheck::kIncomplete);
  }
}

// --- Corruption -------------------------------------------------------------------------

TEST_CASE("FlipAnyByteFromAttributesOnIsCorrupt", "[record_batch][malformed]") {
  const Bytes good = SampleBatch();
  for (size_t pos = kAttributesPos; pos < good.size(); ++pos) {
    for (uint8_t mask : {0x01, 0x80, 0xff}) {
      INFO("byte " << pos << " xor " << int{mask});
      Bytes bad = good;
      bad[pos] ^= mask;
      const BatchCheckResult r = CheckBatch(bad);
      CHECK(r.check == BatchCheck::kCorrupt);
      CHECK(r.reason == "CRC32C mismatch");
      CHECK(ValidateBatch(bad).status().code() == absl::StatusCode::kDataLoss);
    }
  }
}

TEST_CASE("FlipAnyCrcByteIsCorrupt", "[record_batch][malformed]") {
  const Bytes good = SampleBatch();
  for (size_t pos = kCrcPos; pos < kAttributesPos; ++pos) {
    INFO(pos);
    Bytes bad = good;
    bad[pos] ^= 0x20;
    CHECK(CheckBatch(bad).check == BatchCheck::kCorrupt);
    // Without CRC verification the same bytes pass.
    CHECK(CheckBatch(bad, /*verify_crc=*/false).check == BatchCheck::kValid);
  }
}

TEST_CASE("BaseOffsetAndLeaderEpochAreNotCoveredByCrc", "[record_batch][malformed]") {
  // Kafka's CRC deliberately leaves these out so a broker can assign them without
  // re-signing: a flip there is not detectable (except a now-negative base offset).
  const Bytes good = SampleBatch();
  for (size_t pos : {1, 7, 12, 13, 14, 15}) {
    INFO(pos);
    Bytes bad = good;
    bad[pos] ^= 0x01;
    CHECK(CheckBatch(bad).check == BatchCheck::kValid);
  }
  Bytes negative = good;
  negative[0] = 0x80;
  CHECK(CheckBatch(negative).check == BatchCheck::kCorrupt);
}

TEST_CASE("WrongMagicIsCorrupt", "[record_batch][malformed]") {
  for (int magic : {0, 1, 3, 0x82, 0xff}) {
    INFO(magic);
    Bytes bad = SampleBatch();
    bad[kMagicPos] = static_cast<uint8_t>(magic);
    const BatchCheckResult r = CheckBatch(bad);
    CHECK(r.check == BatchCheck::kCorrupt);
    CHECK(r.reason.find("magic") != std::string_view::npos);
    // Magic is checked as soon as the header is present, before waiting for the rest.
    CHECK(CheckBatch(std::span(bad).first(kBatchHeaderSize)).check == BatchCheck::kCorrupt);
    CHECK(ValidateBatch(bad).status().code() == absl::StatusCode::kDataLoss);
  }
}

TEST_CASE("BatchLengthBelowHeaderSizeIsCorrupt", "[record_batch][malformed]") {
  const Bytes good = SampleBatch();
  for (int32_t length : {48, 1, 0, -1, -12, std::numeric_limits<int32_t>::min()}) {
    INFO(length);
    Bytes bad = good;
    StoreBig32(bad.data() + kBatchLengthPos, static_cast<uint32_t>(length));
    CHECK(CheckBatch(bad).check == BatchCheck::kCorrupt);
    // Known as soon as the length field is there.
    CHECK(CheckBatch(std::span(bad).first(kLogOverhead)).check == BatchCheck::kCorrupt);
    // An iterator handed such a header refuses it rather than computing a bogus end.
    RecordIterator it(bad, *DecodeBatchHeader(bad));
    Record rec;
    CHECK_FALSE(it.Next(&rec));
    CHECK(it.status().code() == absl::StatusCode::kDataLoss);
  }
}

TEST_CASE("BatchLengthBeyondBufferIsIncomplete", "[record_batch][malformed]") {
  // A batchLength larger than the bytes at hand cannot be told from a torn tail.
  Bytes bad = SampleBatch();
  StoreBig32(bad.data() + kBatchLengthPos, std::numeric_limits<int32_t>::max());
  CHECK(CheckBatch(bad).check == BatchCheck::kIncomplete);
  Bytes one_more = SampleBatch();
  StoreBig32(one_more.data() + kBatchLengthPos,
             static_cast<uint32_t>(one_more.size() - kLogOverhead + 1));
  CHECK(CheckBatch(one_more).check == BatchCheck::kIncomplete);
}

TEST_CASE("BatchLengthShorterThanRecordsIsCorrupt", "[record_batch][malformed]") {
  // One byte less: the CRC no longer covers the same bytes.
  Bytes bad = SampleBatch();
  StoreBig32(bad.data() + kBatchLengthPos, static_cast<uint32_t>(bad.size() - kLogOverhead - 1));
  CHECK(CheckBatch(bad).check == BatchCheck::kCorrupt);
  // Re-signed over the shorter span, the batch passes CheckBatch but its last record is cut.
  Bytes resigned(bad.begin(), bad.end() - 1);
  RecomputeCrc(resigned);
  REQUIRE(CheckBatch(resigned).check == BatchCheck::kValid);
  ReadResult read = ReadRecords(resigned);
  CHECK(read.status.code() == absl::StatusCode::kDataLoss);
  CHECK(read.records.size() == 2);
}

TEST_CASE("HeaderOnlyBatchWithZeroRecords", "[record_batch]") {
  // Kafka keeps empty batches after compaction to preserve producer state.
  Bytes batch = SampleBatch();
  batch.resize(kBatchHeaderSize);
  StoreBig32(batch.data() + kBatchLengthPos, kBatchHeaderSize - kLogOverhead);
  StoreBig32(batch.data() + kRecordCountPos, 0);
  Store32AndResign(&batch, kLastOffsetDeltaPos, 2);
  const BatchHeader h = *ValidateBatch(batch);
  CHECK(h.record_count == 0);
  CHECK(h.next_offset() == 3);
  ReadResult read = ReadRecords(batch);
  CHECK_OK(read.status);
  CHECK(read.records.empty());
}

TEST_CASE("NegativeOrAbsurdRecordCountIsCorrupt", "[record_batch][malformed]") {
  const Bytes good = SampleBatch();
  const size_t record_bytes = good.size() - kBatchHeaderSize;
  const auto too_many = static_cast<int32_t>(record_bytes / kMinRecordSize + 1);
  for (int32_t count :
       {-1, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max(), too_many}) {
    INFO(count);
    Bytes bad = good;
    Store32AndResign(&bad, kRecordCountPos, static_cast<uint32_t>(count));
    const BatchCheckResult r = CheckBatch(bad);
    CHECK(r.check == BatchCheck::kCorrupt);
    CHECK(r.reason == "record count does not fit the batch length");
  }
}

TEST_CASE("RecordCountLargerThanRecordsPresent", "[record_batch][malformed]") {
  // Four claimed, three present, and the count still fits the length: CheckBatch cannot
  // tell; the iterator runs off the end of the records and says so.
  Bytes bad = SampleBatch();
  Store32AndResign(&bad, kRecordCountPos, 4);
  Store32AndResign(&bad, kLastOffsetDeltaPos, 3);
  REQUIRE(CheckBatch(bad).check == BatchCheck::kValid);
  ReadResult read = ReadRecords(bad);
  CHECK(read.status.code() == absl::StatusCode::kDataLoss);
  CHECK(read.records.size() == 3);
}

TEST_CASE("RecordCountSmallerThanRecordsPresent", "[record_batch][malformed]") {
  Bytes bad = SampleBatch();
  Store32AndResign(&bad, kRecordCountPos, 2);
  REQUIRE(CheckBatch(bad).check == BatchCheck::kValid);
  ReadResult read = ReadRecords(bad);
  CHECK(read.status.code() == absl::StatusCode::kDataLoss);
  CHECK(read.records.size() == 2);
}

TEST_CASE("LastOffsetDeltaBelowRecordCountIsCorrupt", "[record_batch][malformed]") {
  for (int32_t delta : {-1, 0, 1, std::numeric_limits<int32_t>::min()}) {
    INFO(delta);
    Bytes bad = SampleBatch();  // three records need lastOffsetDelta >= 2
    Store32AndResign(&bad, kLastOffsetDeltaPos, static_cast<uint32_t>(delta));
    CHECK(CheckBatch(bad).check == BatchCheck::kCorrupt);
  }
}

TEST_CASE("LastOffsetDeltaBelowARecordsOffsetDelta", "[record_batch][malformed]") {
  // A batch whose records go to delta 5 but whose header says 2: each record's offsetDelta
  // must lie within lastOffsetDelta.
  RecordBatchBuilder b;
  b.Add(0, "a", "1");
  b.Add(0, "b", "2");
  b.AddWithOffsetDelta(5, 0, "c", "3");
  Bytes bad = b.Build();
  Store32AndResign(&bad, kLastOffsetDeltaPos, 2);
  REQUIRE(CheckBatch(bad).check == BatchCheck::kValid);
  ReadResult read = ReadRecords(bad);
  CHECK(read.status.code() == absl::StatusCode::kDataLoss);
  CHECK(read.records.size() == 2);
}

TEST_CASE("BaseOffsetNearInt64MaxOverflowsIsCorrupt", "[record_batch][malformed]") {
  Bytes batch = SampleBatch();  // lastOffsetDelta 2
  const int64_t max = std::numeric_limits<int64_t>::max();
  SetBaseOffset(batch, max - 3);  // next offset max
  CHECK(CheckBatch(batch).check == BatchCheck::kValid);
  SetBaseOffset(batch, max - 2);  // last offset max, next offset overflows
  CHECK(CheckBatch(batch).check == BatchCheck::kCorrupt);
  SetBaseOffset(batch, max);
  CHECK(CheckBatch(batch).check == BatchCheck::kCorrupt);
  SetBaseOffset(batch, -1);
  CHECK(CheckBatch(batch).check == BatchCheck::kCorrupt);
}

TEST_CASE("CompressedBatchIsUnimplemented", "[record_batch][malformed]") {
  for (int16_t codec = 1; codec <= 7; ++codec) {
    INFO(codec);
    Bytes batch = SampleBatch();
    StoreBig16(batch.data() + kAttributesPos, static_cast<uint16_t>(codec));
    RecomputeCrc(batch);
    const BatchHeader h = *ValidateBatch(batch);
    CHECK(static_cast<int>(h.compression()) == codec);
    ReadResult read = ReadRecords(batch);
    CHECK(read.status.code() == absl::StatusCode::kUnimplemented);
    CHECK(read.records.empty());
  }
  CHECK(CompressionName(CompressionType::kNone) == "none");
  CHECK(CompressionName(CompressionType::kGzip) == "gzip");
  CHECK(CompressionName(CompressionType::kSnappy) == "snappy");
  CHECK(CompressionName(CompressionType::kLz4) == "lz4");
  CHECK(CompressionName(CompressionType::kZstd) == "zstd");
  CHECK(CompressionName(static_cast<CompressionType>(5)) == "unknown");
}

TEST_CASE("CompressedBatchRecordCountIsNotCheckedAgainstLength", "[record_batch][malformed]") {
  // Compressed records can be smaller than 7 bytes each, so only the sign is checked.
  Bytes batch = SampleBatch();
  StoreBig16(batch.data() + kAttributesPos, static_cast<uint16_t>(CompressionType::kZstd));
  StoreBig32(batch.data() + kLastOffsetDeltaPos, 999);
  Store32AndResign(&batch, kRecordCountPos, 1000);
  CHECK(CheckBatch(batch).check == BatchCheck::kValid);
  Store32AndResign(&batch, kRecordCountPos, static_cast<uint32_t>(-5));
  CHECK(CheckBatch(batch).check == BatchCheck::kCorrupt);
}

// --- Records that are CRC-valid but malformed inside ----------------------------------

// A one-record batch whose record bytes are `record` verbatim, correctly framed and signed.
Bytes BatchWithRecordBytes(const Bytes& record, int32_t count = 1, int32_t last_delta = 0) {
  RecordBatchBuilder b;
  b.Add(0, "k", "v");
  Bytes batch = b.Build();
  batch.resize(kBatchHeaderSize);
  batch.insert(batch.end(), record.begin(), record.end());
  StoreBig32(batch.data() + kBatchLengthPos, static_cast<uint32_t>(batch.size() - kLogOverhead));
  StoreBig32(batch.data() + kRecordCountPos, static_cast<uint32_t>(count));
  StoreBig32(batch.data() + kLastOffsetDeltaPos, static_cast<uint32_t>(last_delta));
  RecomputeCrc(batch);
  return batch;
}

// The record must be rejected by the iterator as DataLoss, after CheckBatch accepted it.
void CheckMalformedRecord(const Bytes& record, std::string_view what) {
  INFO(what);
  const Bytes batch = BatchWithRecordBytes(record);
  REQUIRE(CheckBatch(batch).check == BatchCheck::kValid);
  ReadResult read = ReadRecords(batch);
  CHECK(read.status.code() == absl::StatusCode::kDataLoss);
  CHECK(read.records.empty());
}

TEST_CASE("HandBuiltRecordParsesWhenWellFormed", "[record_batch]") {
  // The baseline the malformed variants below depart from.
  const Bytes batch =
      BatchWithRecordBytes({0x16, 0x00, 0x00, 0x00, 0x02, 'k', 0x02, 'v', 0x02, 0x02, 'h', 0x01});
  // length 11: attrs, tsDelta, offsetDelta, key "k", value "v", 1 header "h" with null value.
  ReadResult read = ReadRecords(batch);
  CHECK_OK(read.status);
  REQUIRE(read.records.size() == 1);
  CHECK(read.records[0].key == "k");
  REQUIRE(read.records[0].headers.size() == 1);
  CHECK(read.records[0].headers[0].first == "h");
  CHECK_FALSE(read.records[0].headers[0].second.has_value());
}

TEST_CASE("RecordLengthPastBatchEnd", "[record_batch][malformed]") {
  CheckMalformedRecord({0x14, 0x00, 0x00, 0x00, 0x02, 'k', 0x02, 'v', 0x00}, "length 10 of 8");
  CheckMalformedRecord({0xfe, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x00}, "length INT32_MAX");
}

TEST_CASE("RecordLengthShorterThanFields", "[record_batch][malformed]") {
  // Length 7 where the fields take 8: the header count falls outside the record and the
  // spare byte is read as the next record's length.
  CheckMalformedRecord({0x0e, 0x00, 0x00, 0x00, 0x02, 'k', 0x02, 'v', 0x00}, "length 7 of 8");
  CheckMalformedRecord({0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, "length 0");
}

TEST_CASE("RecordLengthLongerThanFields", "[record_batch][malformed]") {
  CheckMalformedRecord({0x12, 0x00, 0x00, 0x00, 0x02, 'k', 0x02, 'v', 0x00, 0x00},
                       "length 9 with fields of 8 and a spare byte");
}

TEST_CASE("NegativeRecordLength", "[record_batch][malformed]") {
  CheckMalformedRecord({0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, "length -1");
  CheckMalformedRecord({0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x00}, "length INT32_MIN");
}

TEST_CASE("OverlongRecordLengthVarint", "[record_batch][malformed]") {
  CheckMalformedRecord({0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00}, "6-byte length varint");
  CheckMalformedRecord({0x80, 0x80, 0x80, 0x80, 0x10, 0x00, 0x00}, "length above 32 bits");
  CheckMalformedRecord({0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80}, "length never ends");
}

TEST_CASE("RecordFieldVarintsRunPastRecordEnd", "[record_batch][malformed]") {
  CheckMalformedRecord({0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, "record of 1 byte");
  CheckMalformedRecord({0x04, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00}, "tsDelta cut by length");
  CheckMalformedRecord(
      {0x16, 0x00, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00},
      "11-byte timestampDelta");
  CheckMalformedRecord({0x0e, 0x00, 0x00, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00},
                       "6-byte offsetDelta");
}

TEST_CASE("KeyOrValueLengthOutOfBounds", "[record_batch][malformed]") {
  CheckMalformedRecord({0x10, 0x00, 0x00, 0x00, 0x0a, 'k', 0x02, 'v', 0x00}, "key length 5 of 4");
  CheckMalformedRecord({0x10, 0x00, 0x00, 0x00, 0x02, 'k', 0x06, 'v', 0x00}, "value past end");
  CheckMalformedRecord({0x10, 0x00, 0x00, 0x00, 0x03, 'k', 0x02, 'v', 0x00}, "key length -2");
  CheckMalformedRecord({0x10, 0x00, 0x00, 0x00, 0x02, 'k', 0x05, 'v', 0x00}, "value length -3");
  CheckMalformedRecord({0x16, 0x00, 0x00, 0x00, 0xfe, 0xff, 0xff, 0xff, 0x0f, 0x02, 'v', 0x00},
                       "key length INT32_MAX");
  CheckMalformedRecord({0x16, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x02, 'v', 0x00},
                       "key length INT32_MIN");
}

TEST_CASE("HeaderCountOrHeaderFieldsOutOfBounds", "[record_batch][malformed]") {
  CheckMalformedRecord({0x10, 0x00, 0x00, 0x00, 0x02, 'k', 0x02, 'v', 0x02}, "1 header, no bytes");
  CheckMalformedRecord({0x10, 0x00, 0x00, 0x00, 0x02, 'k', 0x02, 'v', 0x01}, "-1 headers");
  CheckMalformedRecord({0x18, 0x00, 0x00, 0x00, 0x02, 'k', 0x02, 'v', 0xfe, 0xff, 0xff, 0xff, 0x0f},
                       "INT32_MAX headers");
  CheckMalformedRecord({0x14, 0x00, 0x00, 0x00, 0x02, 'k', 0x02, 'v', 0x02, 0x01, 0x01},
                       "null header key");
  CheckMalformedRecord({0x14, 0x00, 0x00, 0x00, 0x02, 'k', 0x02, 'v', 0x02, 0x08, 0x01},
                       "header key past end");
  CheckMalformedRecord({0x14, 0x00, 0x00, 0x00, 0x02, 'k', 0x02, 'v', 0x02, 0x00, 0x08},
                       "header value past end");
  CheckMalformedRecord({0x14, 0x00, 0x00, 0x00, 0x02, 'k', 0x02, 'v', 0x02, 0x00, 0x03},
                       "header value length -2");
}

TEST_CASE("OffsetDeltaNotIncreasing", "[record_batch][malformed]") {
  const Bytes rec0 = {0x10, 0x00, 0x00, 0x00, 0x02, 'k', 0x02, 'v', 0x00};  // delta 0
  const Bytes rec1 = {0x10, 0x00, 0x00, 0x02, 0x02, 'k', 0x02, 'v', 0x00};  // delta 1
  const Bytes neg = {0x10, 0x00, 0x00, 0x01, 0x02, 'k', 0x02, 'v', 0x00};   // delta -1
  auto two = [](const Bytes& a, const Bytes& b) {
    Bytes r = a;
    r.insert(r.end(), b.begin(), b.end());
    return r;
  };
  {
    INFO("delta 0 then 0");
    ReadResult read = ReadRecords(BatchWithRecordBytes(two(rec0, rec0), 2, 1));
    CHECK(read.status.code() == absl::StatusCode::kDataLoss);
    CHECK(read.records.size() == 1);
  }
  {
    INFO("delta 1 then 0");
    ReadResult read = ReadRecords(BatchWithRecordBytes(two(rec1, rec0), 2, 1));
    CHECK(read.status.code() == absl::StatusCode::kDataLoss);
    CHECK(read.records.size() == 1);
  }
  {
    INFO("delta 0 then 1 is fine");
    ReadResult read = ReadRecords(BatchWithRecordBytes(two(rec0, rec1), 2, 1));
    CHECK_OK(read.status);
    CHECK(read.records.size() == 2);
  }
  CheckMalformedRecord(neg, "delta -1");
  CheckMalformedRecord(rec1, "delta 1 beyond lastOffsetDelta 0");
}

TEST_CASE("TimestampDeltaExtremesWrapWithoutUndefinedBehaviour", "[record_batch][malformed]") {
  // baseTimestamp INT64_MAX plus a positive delta: the reader must not overflow (UBSan).
  Bytes batch = BatchWithRecordBytes({0x22, 0x00, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                      0xff, 0x01, 0x00, 0x02, 'k', 0x02, 'v', 0x00});
  StoreBig64(batch.data() + kBaseTimestampPos, std::numeric_limits<uint64_t>::max() >> 1);
  RecomputeCrc(batch);
  ReadResult read = ReadRecords(batch);
  CHECK_OK(read.status);
  REQUIRE(read.records.size() == 1);
  CHECK(read.records[0].timestamp == -2);  // wrapped
}

TEST_CASE("EveryByteValueAtEveryRecordPositionNeverCrashes", "[record_batch][malformed]") {
  // Exhaustive single-byte surgery over the records, re-signed so CheckBatch lets each
  // variant through to the iterator. Under ASan this proves no read leaves the batch.
  const Bytes good = SampleBatch();
  int ok = 0, data_loss = 0;
  for (size_t pos = kBatchHeaderSize; pos < good.size(); ++pos) {
    for (int value = 0; value < 256; ++value) {
      Bytes bad = good;
      bad[pos] = static_cast<uint8_t>(value);
      RecomputeCrc(bad);
      // An exact-size copy, so ASan flags any read past the batch.
      const std::unique_ptr<uint8_t[]> exact(new uint8_t[bad.size()]);
      std::copy(bad.begin(), bad.end(), exact.get());
      std::span<const uint8_t> span(exact.get(), bad.size());
      REQUIRE(CheckBatch(span).check == BatchCheck::kValid);
      ReadResult read = ReadRecords(span);
      if (read.status.ok()) {
        ++ok;
      } else {
        INFO("byte " << pos << " = " << value << ": " << read.status.ToString());
        CHECK(read.status.code() == absl::StatusCode::kDataLoss);
        ++data_loss;
      }
    }
  }
  CHECK(ok > 0);
  CHECK(data_loss > 0);
}

}  // namespace
}  // namespace runnel::format
