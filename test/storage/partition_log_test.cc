#include "storage/partition_log.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "format/record_batch_builder.h"
#include "storage/file_names.h"
#include "support/log_testing.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"
#include "util/formatters.h"

namespace runnel::storage {
namespace {

using testing::AppendRecords;
using testing::Decode;
using testing::MakeBatch;
using testing::MakeRecords;
using testing::ManualClockEnv;
using testing::ReadAll;
using testing::TempDir;
using testing::TestRecord;

std::unique_ptr<PartitionLog> OpenLog(io::Env* env, const std::string& dir, LogConfig config = {}) {
  auto log = PartitionLog::Open(env, dir, config);
  REQUIRE_OK(log);
  return std::move(*log);
}

std::vector<std::string> FilesWithSuffix(const std::string& dir, std::string_view suffix) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.size() >= suffix.size() && name.substr(name.size() - suffix.size()) == suffix) {
      out.push_back(name);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST_CASE("a new log is empty and named by Kafka's rules", "[partition_log]") {
  TempDir tmp;
  auto log = OpenLog(io::PosixEnv(), tmp.Sub("orders-0"));
  CHECK(log->name() == "orders-0");
  CHECK(log->log_start_offset() == 0);
  CHECK(log->log_end_offset() == 0);
  CHECK(log->visible_offset() == 0);
  CHECK(FilesWithSuffix(tmp.Sub("orders-0"), ".log") ==
        std::vector<std::string>{"00000000000000000000.log"});
  auto read = log->Read(0, 1024);
  REQUIRE_OK(read);
  CHECK(read->empty());
  REQUIRE_OK(log->Close());
}

TEST_CASE("append assigns consecutive offsets and reads return the records", "[partition_log]") {
  TempDir tmp;
  auto log = OpenLog(io::PosixEnv(), tmp.path());
  std::vector<TestRecord> all;
  for (int b = 0; b < 10; ++b) {
    auto records = MakeRecords(1 + b, static_cast<int>(all.size()));
    REQUIRE_OK(AppendRecords(*log, records));
    CHECK(records.front().offset == static_cast<int64_t>(all.size()));
    all.insert(all.end(), records.begin(), records.end());
  }
  CHECK(log->log_end_offset() == 55);
  auto got = ReadAll(*log);
  REQUIRE_OK(got);
  CHECK(*got == all);
  // Reading from the middle of a batch returns that batch whole; ReadAll drops the head.
  auto tail = ReadAll(*log, 20);
  REQUIRE_OK(tail);
  CHECK(*tail == std::vector<TestRecord>(all.begin() + 20, all.end()));
}

TEST_CASE("append keeps nulls, empty values and arbitrary bytes", "[partition_log]") {
  TempDir tmp;
  auto log = OpenLog(io::PosixEnv(), tmp.path());
  std::vector<TestRecord> records = {
      {-1, 5, std::nullopt, std::string("no key")},
      {-1, 4, std::string("tombstone"), std::nullopt},
      {-1, 6, std::string(""), std::string("")},
      {-1, 7, std::string("\0\xff\x01", 3), std::string(3000, '\0')},
  };
  REQUIRE_OK(AppendRecords(*log, records));
  auto got = ReadAll(*log);
  REQUIRE_OK(got);
  CHECK(*got == records);
}

TEST_CASE("read bounds: out of range, max bytes and one oversized batch", "[partition_log]") {
  TempDir tmp;
  auto log = OpenLog(io::PosixEnv(), tmp.path());
  auto small = MakeRecords(3, 0, 10);
  REQUIRE_OK(AppendRecords(*log, small));
  auto big = MakeRecords(1, 3, 5000);
  REQUIRE_OK(AppendRecords(*log, big));

  CHECK(log->Read(-1, 100).status().code() == absl::StatusCode::kOutOfRange);
  const absl::Status past = log->Read(5, 100).status();
  CHECK(past.code() == absl::StatusCode::kOutOfRange);
  CHECK_THAT(std::string(past.message()), Catch::Contains("visible end 4"));

  // max_bytes smaller than the first batch still returns it (a consumer never stalls)...
  auto one = log->Read(3, 10);
  REQUIRE_OK(one);
  REQUIRE(one->slices.size() == 1);
  CHECK(one->size_in_bytes() > 5000);
  CHECK(one->next_offset == 4);
  // ...unless the caller asks for no oversized first batch.
  auto none = log->Read(3, 10, /*min_one=*/false);
  REQUIRE_OK(none);
  CHECK(none->empty());
  // A limit between the two batches returns only the first.
  auto first = log->Read(0, 200);
  REQUIRE_OK(first);
  CHECK(first->next_offset == 3);
  // Reading at the visible end is empty, not an error.
  auto at_end = log->Read(4, 100);
  REQUIRE_OK(at_end);
  CHECK(at_end->empty());
}

TEST_CASE("segments roll at segment.bytes and reads cross them", "[partition_log]") {
  TempDir tmp;
  LogConfig config;
  config.segment_bytes = 1024;
  config.index_interval_bytes = 100;
  auto log = OpenLog(io::PosixEnv(), tmp.path(), config);
  std::vector<TestRecord> all;
  for (int b = 0; b < 40; ++b) {
    auto records = MakeRecords(3, static_cast<int>(all.size()), 40);
    REQUIRE_OK(AppendRecords(*log, records));
    all.insert(all.end(), records.begin(), records.end());
  }
  CHECK(log->segment_count() > 5);
  const auto logs = FilesWithSuffix(tmp.path(), ".log");
  CHECK(logs.size() == log->segment_count());
  for (const auto& name : logs) {
    CHECK(std::filesystem::file_size(tmp.Sub(name)) <= 1024);
    // Each segment is named after the first offset it holds.
    auto base = ParseOffsetFileName(name, ".log");
    REQUIRE(base.has_value());
    CHECK(*base % 3 == 0);
  }
  for (size_t max : {size_t{1}, size_t{300}, size_t{5000}}) {
    auto got = ReadAll(*log, -1, max);
    REQUIRE_OK(got);
    CHECK(*got == all);
  }
  // Every offset can be read from directly (index lookup then scan).
  for (int64_t o = 0; o < static_cast<int64_t>(all.size()); ++o) {
    auto got = ReadAll(*log, o, 1);
    REQUIRE_OK(got);
    REQUIRE(!got->empty());
    CHECK(got->front() == all[static_cast<size_t>(o)]);
  }
  // Sealed segments' indexes are trimmed to their entries.
  for (const auto& name : FilesWithSuffix(tmp.path(), ".index")) {
    CHECK(std::filesystem::file_size(tmp.Sub(name)) % 8 == 0);
  }
}

TEST_CASE("AppendBatches writes many batches, across rolls, with contiguous offsets",
          "[partition_log]") {
  TempDir tmp;
  LogConfig config;
  config.segment_bytes = 1000;
  auto log = OpenLog(io::PosixEnv(), tmp.path(), config);
  std::vector<TestRecord> all;
  std::vector<std::vector<uint8_t>> built;
  for (int b = 0; b < 20; ++b) {
    auto records = MakeRecords(3, b * 3, 40);
    built.push_back(MakeBatch(records));
    all.insert(all.end(), records.begin(), records.end());
  }
  std::vector<std::span<uint8_t>> spans(built.begin(), built.end());
  const PartitionLog::AppendResult result = log->AppendBatches(spans);
  REQUIRE_OK(result.status);
  REQUIRE(result.appended.size() == 20);
  for (size_t i = 0; i < result.appended.size(); ++i) {
    CHECK(result.appended[i].base_offset == static_cast<int64_t>(i) * 3);
    CHECK(result.appended[i].last_offset == static_cast<int64_t>(i) * 3 + 2);
  }
  CHECK(log->segment_count() > 3);
  for (auto& r : all) r.offset = &r - all.data();
  auto got = ReadAll(*log);
  REQUIRE_OK(got);
  CHECK(*got == all);
}

TEST_CASE("AppendBatches checks every batch before writing any", "[partition_log]") {
  TempDir tmp;
  auto log = OpenLog(io::PosixEnv(), tmp.path());
  std::vector<std::vector<uint8_t>> built = {MakeBatch(MakeRecords(2)), MakeBatch(MakeRecords(2)),
                                             MakeBatch(MakeRecords(2))};
  built[1].back() ^= 1;  // a bad CRC in the middle one
  std::vector<std::span<uint8_t>> spans(built.begin(), built.end());
  const PartitionLog::AppendResult result = log->AppendBatches(spans);
  CHECK(result.status.code() == absl::StatusCode::kInvalidArgument);
  CHECK(result.appended.empty());
  CHECK(log->log_end_offset() == 0);
  CHECK(log->size_in_bytes() == 0);
}

TEST_CASE("a batch larger than max.message.bytes is refused by name", "[partition_log]") {
  TempDir tmp;
  LogConfig config;
  config.max_message_bytes = 1000;
  auto log = OpenLog(io::PosixEnv(), tmp.Sub("orders-3"), config);
  auto records = MakeRecords(1, 0, 2000);
  std::vector<uint8_t> batch = MakeBatch(records);
  const absl::Status st = log->Append(batch).status();
  CHECK(st.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(st.message()),
             Catch::Contains("exceeds max.message.bytes 1000") && Catch::Contains("orders-3") &&
                 Catch::Contains(std::to_string(batch.size())));
  CHECK(log->log_end_offset() == 0);
}

TEST_CASE("a log near the top of the offset range refuses records past INT64_MAX",
          "[partition_log]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("orders-0");
  std::filesystem::create_directories(dir);
  constexpr int64_t kBase = INT64_MAX - 7;
  std::ofstream(dir + "/" + fmt::format("{:020d}", kBase) + ".log").flush();
  auto log = OpenLog(io::PosixEnv(), dir);
  REQUIRE(log->log_end_offset() == kBase);

  auto ten = MakeRecords(10);
  std::vector<uint8_t> too_many = MakeBatch(ten);
  const absl::Status st = log->Append(too_many).status();
  CHECK(st.code() == absl::StatusCode::kOutOfRange);
  CHECK_THAT(std::string(st.message()),
             Catch::Contains("orders-0") && Catch::Contains("cannot take 10 more records"));
  CHECK(log->log_end_offset() == kBase);

  auto seven = MakeRecords(7);
  REQUIRE_OK(AppendRecords(*log, seven));
  CHECK(log->log_end_offset() == INT64_MAX);
  auto one = MakeRecords(1);
  std::vector<uint8_t> last = MakeBatch(one);
  CHECK(log->Append(last).status().code() == absl::StatusCode::kOutOfRange);
  auto back = ReadAll(*log, kBase);
  REQUIRE_OK(back);
  CHECK(back->size() == 7);
}

TEST_CASE("a batch whose baseOffset was damaged (outside the CRC) is reported, never skipped",
          "[partition_log]") {
  TempDir tmp;
  auto log = OpenLog(io::PosixEnv(), tmp.path());
  size_t first_batch_bytes = 0;
  for (int i = 0; i < 3; ++i) {
    auto records = MakeRecords(1, i);
    if (i == 0) first_batch_bytes = MakeBatch(records).size();
    REQUIRE_OK(AppendRecords(*log, records));
  }
  // Zero the second batch's baseOffset (its first 8 bytes): it now claims offset 0.
  {
    std::fstream f(LogFileName(tmp.path(), 0), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(first_batch_bytes));
    const char zeros[8] = {};
    f.write(zeros, sizeof(zeros));
  }
  auto from_start = log->Read(0, 1 << 16);
  REQUIRE_OK(from_start);
  auto got = Decode(*from_start);
  REQUIRE_OK(got);
  CHECK(got->size() == 1);  // what precedes the damage
  CHECK(from_start->next_offset == 1);
  const auto at_damage = log->Read(1, 1 << 16);
  CHECK(at_damage.status().code() == absl::StatusCode::kDataLoss);
  CHECK_THAT(std::string(at_damage.status().message()),
             Catch::Contains(LogFileName(tmp.path(), 0)) && Catch::Contains("backwards"));
}

TEST_CASE("a malformed batch is refused and nothing is written", "[partition_log]") {
  TempDir tmp;
  auto log = OpenLog(io::PosixEnv(), tmp.path());
  std::vector<uint8_t> batch = MakeBatch(MakeRecords(2));
  batch[batch.size() - 1] ^= 0x40;  // breaks the CRC
  CHECK(log->Append(batch).status().code() == absl::StatusCode::kInvalidArgument);
  std::vector<uint8_t> two = MakeBatch(MakeRecords(2));
  std::vector<uint8_t> joined = two;
  joined.insert(joined.end(), two.begin(), two.end());
  CHECK(log->Append(joined).status().code() == absl::StatusCode::kInvalidArgument);
  std::vector<uint8_t> shortened(two.begin(), two.end() - 1);
  CHECK(log->Append(shortened).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(log->log_end_offset() == 0);
  CHECK(log->size_in_bytes() == 0);
}

TEST_CASE("bad config values are named", "[partition_log]") {
  TempDir tmp;
  LogConfig config;
  config.segment_bytes = 5;
  const absl::Status st = PartitionLog::Open(io::PosixEnv(), tmp.path(), config).status();
  CHECK(st.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(st.message()), Catch::Contains("segment.bytes = 5"));
  config = {};
  config.flush_messages = 0;
  CHECK_THAT(std::string(PartitionLog::Open(io::PosixEnv(), tmp.path(), config).status().message()),
             Catch::Contains("flush.messages"));
}

TEST_CASE("segment.ms rolls an old segment", "[partition_log]") {
  TempDir tmp;
  ManualClockEnv env(io::PosixEnv(), 1'000'000);
  LogConfig config;
  config.segment_ms = 60'000;
  auto log = OpenLog(&env, tmp.path(), config);
  auto r1 = MakeRecords(2, 0, 10, 1'000'000);
  REQUIRE_OK(AppendRecords(*log, r1));
  env.Advance(30'000);
  auto r2 = MakeRecords(2, 2, 10, 1'030'000);
  REQUIRE_OK(AppendRecords(*log, r2));
  CHECK(log->segment_count() == 1);
  env.Advance(31'000);
  auto r3 = MakeRecords(2, 4, 10, 1'061'000);
  REQUIRE_OK(AppendRecords(*log, r3));
  CHECK(log->segment_count() == 2);
  CHECK(FilesWithSuffix(tmp.path(), ".log").back() == "00000000000000000004.log");
}

TEST_CASE("retention.bytes deletes the oldest whole segments", "[partition_log]") {
  TempDir tmp;
  LogConfig config;
  config.segment_bytes = 1000;
  config.retention_bytes = 2500;
  config.retention_ms = -1;  // the test records' timestamps are from 1970
  auto log = OpenLog(io::PosixEnv(), tmp.path(), config);
  for (int b = 0; b < 30; ++b) {
    auto records = MakeRecords(2, b * 2, 50);
    REQUIRE_OK(AppendRecords(*log, records));
  }
  const uint64_t before = log->size_in_bytes();
  const size_t segments_before = log->segment_count();
  auto result = log->EnforceRetention();
  REQUIRE_OK(result);
  CHECK(result->segments_deleted > 0);
  CHECK(log->segment_count() == segments_before - static_cast<size_t>(result->segments_deleted));
  CHECK(log->size_in_bytes() == before - result->bytes_deleted);
  CHECK(log->size_in_bytes() >= 2500);
  CHECK(log->log_start_offset() > 0);
  CHECK(FilesWithSuffix(tmp.path(), ".log").size() == log->segment_count());
  CHECK(FilesWithSuffix(tmp.path(), ".deleted").empty());
  // The survivors read back from the new log start.
  auto got = ReadAll(*log);
  REQUIRE_OK(got);
  CHECK(got->front().offset == log->log_start_offset());
  CHECK(got->back().offset == 59);
  CHECK(log->Read(0, 100).status().code() == absl::StatusCode::kOutOfRange);
}

TEST_CASE("retention.ms deletes expired segments, the active one included", "[partition_log]") {
  TempDir tmp;
  ManualClockEnv env(io::PosixEnv(), 10'000'000);
  LogConfig config;
  config.segment_bytes = 500;
  config.retention_ms = 60'000;
  auto log = OpenLog(&env, tmp.path(), config);
  for (int b = 0; b < 10; ++b) {
    auto records = MakeRecords(2, b * 2, 50, 10'000'000 + b);
    REQUIRE_OK(AppendRecords(*log, records));
  }
  auto nothing = log->EnforceRetention();
  REQUIRE_OK(nothing);
  CHECK(nothing->segments_deleted == 0);
  env.Advance(120'000);
  auto result = log->EnforceRetention();
  REQUIRE_OK(result);
  CHECK(result->segments_deleted >= 2);
  CHECK(log->log_start_offset() == 20);
  CHECK(log->log_end_offset() == 20);
  CHECK(log->segment_count() == 1);
  // Appends go on at the old end.
  auto more = MakeRecords(1, 20, 10, 10'120'000);
  REQUIRE_OK(AppendRecords(*log, more));
  CHECK(more.front().offset == 20);
}

TEST_CASE("slices stay readable after retention deletes their segment", "[partition_log]") {
  TempDir tmp;
  LogConfig config;
  config.segment_bytes = 400;
  config.retention_bytes = 0;
  auto log = OpenLog(io::PosixEnv(), tmp.path(), config);
  std::vector<TestRecord> first;
  for (int b = 0; b < 6; ++b) {
    auto records = MakeRecords(2, b * 2, 60);
    REQUIRE_OK(AppendRecords(*log, records));
    if (b == 0) first = records;
  }
  auto held = log->Read(0, 100);
  REQUIRE_OK(held);
  auto deleted = log->EnforceRetention();
  REQUIRE_OK(deleted);
  REQUIRE(deleted->segments_deleted > 0);
  CHECK(!std::filesystem::exists(tmp.Sub("00000000000000000000.log")));
  auto decoded = testing::Decode(*held);
  REQUIRE_OK(decoded);
  CHECK(*decoded == first);
}

TEST_CASE("offset for timestamp finds the first record at or after it", "[partition_log]") {
  TempDir tmp;
  LogConfig config;
  config.segment_bytes = 600;
  config.index_interval_bytes = 50;
  auto log = OpenLog(io::PosixEnv(), tmp.path(), config);
  // Timestamps 100, 110, ..., with one batch going back in time.
  std::vector<TestRecord> all;
  for (int b = 0; b < 20; ++b) {
    std::vector<TestRecord> records = MakeRecords(3, b * 3, 20, 100 + b * 30);
    for (int i = 0; i < 3; ++i) records[static_cast<size_t>(i)].timestamp = 100 + (b * 3 + i) * 10;
    if (b == 7) records[1].timestamp = 50;
    REQUIRE_OK(AppendRecords(*log, records));
    all.insert(all.end(), records.begin(), records.end());
  }
  for (int64_t ts : {0, 50, 51, 100, 105, 110, 333, 689, 690}) {
    auto found = log->OffsetForTimestamp(ts);
    REQUIRE_OK(found);
    const auto expected = std::find_if(all.begin(), all.end(),
                                       [&](const TestRecord& r) { return r.timestamp >= ts; });
    INFO("timestamp " << ts);
    REQUIRE(found->has_value());
    CHECK((*found)->offset == expected->offset);
    CHECK((*found)->timestamp == expected->timestamp);
  }
  auto beyond = log->OffsetForTimestamp(691);
  REQUIRE_OK(beyond);
  CHECK(!beyond->has_value());
}

TEST_CASE("offset for timestamp finds the first of several records sharing it",
          "[partition_log]") {
  // Found by the soak torture: the time index names the last offset of a batch holding the
  // segment's newest timestamp, and a lookup of exactly that timestamp used to start the
  // scan there, skipping the batches before it that hold the same timestamp.
  TempDir tmp;
  LogConfig config;
  config.index_interval_bytes = 1;  // an index entry after every batch
  auto log = OpenLog(io::PosixEnv(), tmp.path(), config);
  std::vector<TestRecord> all;
  for (int b = 0; b < 4; ++b) {
    std::vector<TestRecord> records = MakeRecords(2, b * 2, 20, b < 1 ? 100 : 200);
    for (auto& r : records) r.timestamp = b < 1 ? 100 : 200;
    REQUIRE_OK(AppendRecords(*log, records));
    all.insert(all.end(), records.begin(), records.end());
  }
  auto found = log->OffsetForTimestamp(200);
  REQUIRE_OK(found);
  REQUIRE(found->has_value());
  CHECK((*found)->offset == 2);
  CHECK((*found)->timestamp == 200);
  found = log->OffsetForTimestamp(100);
  REQUIRE_OK(found);
  REQUIRE(found->has_value());
  CHECK((*found)->offset == 0);
}

TEST_CASE("LogAppendTime stamps batches with the append time", "[partition_log]") {
  TempDir tmp;
  ManualClockEnv env(io::PosixEnv(), 5'000'000);
  LogConfig config;
  config.timestamp_type = format::TimestampType::kLogAppendTime;
  auto log = OpenLog(&env, tmp.path(), config);
  auto records = MakeRecords(3, 0, 10, 42);
  std::vector<uint8_t> batch = MakeBatch(records);
  auto info = log->Append(batch);
  REQUIRE_OK(info);
  CHECK(info->log_append_time == 5'000'000);
  auto got = ReadAll(*log);
  REQUIRE_OK(got);
  for (const auto& r : *got) CHECK(r.timestamp == 5'000'000);
}

TEST_CASE("sync policy always hides appends until a flush", "[partition_log]") {
  TempDir tmp;
  LogConfig config;
  config.sync = SyncPolicy::kAlways;
  auto log = OpenLog(io::PosixEnv(), tmp.path(), config);
  std::vector<int64_t> seen;
  log->set_visible_offset_listener([&](int64_t v) { seen.push_back(v); });
  auto records = MakeRecords(4);
  REQUIRE_OK(AppendRecords(*log, records));
  CHECK(log->log_end_offset() == 4);
  CHECK(log->visible_offset() == 0);
  auto hidden = log->Read(0, 1000);
  REQUIRE_OK(hidden);
  CHECK(hidden->empty());
  REQUIRE_OK(log->Flush());
  CHECK(log->visible_offset() == 4);
  CHECK(log->flushed_offset() == 4);
  CHECK(seen == std::vector<int64_t>{4});
}

TEST_CASE("sync policy interval flushes every flush.messages records", "[partition_log]") {
  TempDir tmp;
  LogConfig config;
  config.sync = SyncPolicy::kInterval;
  config.flush_messages = 5;
  auto log = OpenLog(io::PosixEnv(), tmp.path(), config);
  auto r1 = MakeRecords(3);
  REQUIRE_OK(AppendRecords(*log, r1));
  CHECK(log->visible_offset() == 3);
  CHECK(log->flushed_offset() == 0);
  auto r2 = MakeRecords(3, 3);
  REQUIRE_OK(AppendRecords(*log, r2));
  CHECK(log->flushed_offset() == 6);
}

TEST_CASE("truncate removes the tail, across segments, and appends continue", "[partition_log]") {
  TempDir tmp;
  LogConfig config;
  config.segment_bytes = 500;
  auto log = OpenLog(io::PosixEnv(), tmp.path(), config);
  std::vector<TestRecord> all;
  for (int b = 0; b < 12; ++b) {
    auto records = MakeRecords(2, b * 2, 60);
    REQUIRE_OK(AppendRecords(*log, records));
    all.insert(all.end(), records.begin(), records.end());
  }
  const size_t segments = log->segment_count();
  auto held = log->Read(6, 10'000);  // a reader holds bytes that the truncation removes
  REQUIRE_OK(held);
  REQUIRE_OK(log->TruncateTo(7));  // offset 7 is inside batch [6, 7]: the whole batch goes
  CHECK(log->log_end_offset() == 6);
  CHECK(log->segment_count() < segments);
  auto got = ReadAll(*log);
  REQUIRE_OK(got);
  CHECK(*got == std::vector<TestRecord>(all.begin(), all.begin() + 6));
  auto still = testing::Decode(*held);
  REQUIRE_OK(still);
  CHECK(still->front().offset == 6);
  auto more = MakeRecords(2, 100, 60);
  REQUIRE_OK(AppendRecords(*log, more));
  CHECK(more.front().offset == 6);
  CHECK(log->TruncateTo(-1).code() == absl::StatusCode::kInvalidArgument);
  REQUIRE_OK(log->Close());
  auto reopened = OpenLog(io::PosixEnv(), tmp.path(), config);
  auto again = ReadAll(*reopened);
  REQUIRE_OK(again);
  REQUIRE(again->size() == 8);
  CHECK(again->back().key == more.back().key);
}

TEST_CASE("a clean close is reopened without a scan", "[partition_log]") {
  TempDir tmp;
  LogConfig config;
  config.segment_bytes = 700;
  std::vector<TestRecord> all;
  {
    auto log = OpenLog(io::PosixEnv(), tmp.path(), config);
    for (int b = 0; b < 15; ++b) {
      auto records = MakeRecords(2, b * 2, 50);
      REQUIRE_OK(AppendRecords(*log, records));
      all.insert(all.end(), records.begin(), records.end());
    }
    REQUIRE_OK(log->Close());
    CHECK(log->Close().code() == absl::StatusCode::kFailedPrecondition);
    auto extra = MakeRecords(1);
    CHECK(AppendRecords(*log, extra).code() == absl::StatusCode::kFailedPrecondition);
  }
  auto log = OpenLog(io::PosixEnv(), tmp.path(), config);
  CHECK(log->recovery_report().clean_shutdown);
  CHECK(log->recovery_report().segments_scanned == 0);
  CHECK(log->recovery_report().rebuilt_indexes.empty());
  CHECK(log->log_end_offset() == 30);
  auto got = ReadAll(*log);
  REQUIRE_OK(got);
  CHECK(*got == all);
  auto more = MakeRecords(2, 30, 50);
  REQUIRE_OK(AppendRecords(*log, more));
  CHECK(more.front().offset == 30);
}

TEST_CASE("an unclean shutdown scans only past the recovery point", "[partition_log]") {
  TempDir tmp;
  LogConfig config;
  config.segment_bytes = 700;
  std::vector<TestRecord> all;
  {
    auto log = OpenLog(io::PosixEnv(), tmp.path(), config);
    for (int b = 0; b < 15; ++b) {
      auto records = MakeRecords(2, b * 2, 50);
      REQUIRE_OK(AppendRecords(*log, records));
      all.insert(all.end(), records.begin(), records.end());
      if (b == 10) REQUIRE_OK(log->Flush());
    }
    // Dropped without Close: a crash.
  }
  auto log = OpenLog(io::PosixEnv(), tmp.path(), config);
  const RecoveryReport& report = log->recovery_report();
  INFO(report.ToString());
  CHECK(!report.clean_shutdown);
  CHECK(report.segments_scanned >= 1);
  CHECK(static_cast<size_t>(report.segments_scanned) < log->segment_count());
  CHECK(report.bytes_truncated == 0);
  CHECK(report.problems.empty());
  auto got = ReadAll(*log);
  REQUIRE_OK(got);
  CHECK(*got == all);
}

}  // namespace
}  // namespace runnel::storage
