// PartitionLog::DeleteSegmentsBefore (lib/storage/partition_log.h), which the offset store
// uses to drop the segments its compaction copied: only whole segments holding nothing at
// or above the offset and nothing at or above the visible offset go; the active segment
// always stays; the log start moves to the first segment kept, also after a reopen.
// And the durability of a freshly rolled segment, which the compaction relies on.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "storage/partition_log.h"
#include "support/fault_env.h"
#include "support/log_testing.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel::storage {
namespace {

using testing::AppendRecords;
using testing::MakeRecords;
using testing::ReadAll;
using testing::TempDir;
using testing::TestRecord;

LogConfig SmallLogConfig(SyncPolicy sync = SyncPolicy::kNone) {
  LogConfig config;
  config.segment_index_bytes = 4096;
  config.retention_ms = -1;
  config.sync = sync;
  return config;
}

std::unique_ptr<PartitionLog> OpenLog(io::Env* env, const std::string& dir, const LogConfig& config) {
  auto log = PartitionLog::Open(env, dir, config);
  REQUIRE_OK(log);
  return std::move(*log);
}

std::vector<std::string> LogFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".log") out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string SegmentName(int64_t base) {
  std::string digits = std::to_string(base);
  return std::string(20 - digits.size(), '0') + digits + ".log";
}

// Appends `n` records as one batch starting at record index `first`; returns them.
std::vector<TestRecord> Append(PartitionLog& log, int n, int first) {
  std::vector<TestRecord> records = MakeRecords(n, first, 30);
  REQUIRE_OK(AppendRecords(log, records));
  return records;
}

std::vector<int64_t> OffsetsOf(const std::vector<TestRecord>& records) {
  std::vector<int64_t> out;
  for (const auto& r : records) out.push_back(r.offset);
  return out;
}

std::vector<int64_t> Range(int64_t from, int64_t to) {
  std::vector<int64_t> out;
  for (int64_t o = from; o < to; ++o) out.push_back(o);
  return out;
}

// Four segments of five records each: [0,5) [5,10) [10,15) and the active [15,20).
std::unique_ptr<PartitionLog> FourSegments(const std::string& dir, LogConfig config = SmallLogConfig()) {
  auto log = OpenLog(io::PosixEnv(), dir, config);
  for (int s = 0; s < 4; ++s) {
    Append(*log, 5, s * 5);
    if (s < 3) REQUIRE_OK(log->Roll());
  }
  REQUIRE_OK(log->Flush());
  REQUIRE(log->segment_count() == 4);
  REQUIRE(log->log_end_offset() == 20);
  return log;
}

TEST_CASE("DeleteSegmentsBefore deletes only whole segments below the offset", "[partition_log][delete]") {
  TempDir tmp;
  auto log = FourSegments(tmp.path());
  const uint64_t total = log->size_in_bytes();

  // Nothing lies wholly below offset 0, nor below 4 (segment 0 holds offset 4).
  for (int64_t offset : {0, 3, 4}) {
    auto none = log->DeleteSegmentsBefore(offset);
    REQUIRE_OK(none);
    CHECK(none->segments_deleted == 0);
    CHECK(none->bytes_deleted == 0);
    CHECK(log->log_start_offset() == 0);
  }
  // 7 falls inside [5,10): only [0,5) goes.
  auto first = log->DeleteSegmentsBefore(7);
  REQUIRE_OK(first);
  CHECK(first->segments_deleted == 1);
  CHECK(first->bytes_deleted > 0);
  CHECK(log->log_start_offset() == 5);
  CHECK(log->segment_count() == 3);
  CHECK(log->size_in_bytes() == total - first->bytes_deleted);
  CHECK(LogFiles(tmp.path()) ==
        std::vector<std::string>{SegmentName(5), SegmentName(10), SegmentName(15)});
  // Exactly at a segment boundary: [5,10) goes, [10,15) stays.
  auto second = log->DeleteSegmentsBefore(10);
  REQUIRE_OK(second);
  CHECK(second->segments_deleted == 1);
  CHECK(log->log_start_offset() == 10);

  auto read = ReadAll(*log);
  REQUIRE_OK(read);
  CHECK(OffsetsOf(*read) == Range(10, 20));
  // Reading below the new start is out of range.
  CHECK(log->Read(9, 4096).status().code() == absl::StatusCode::kOutOfRange);
  CHECK(log->log_end_offset() == 20);
  CHECK(log->visible_offset() == 20);
}

TEST_CASE("DeleteSegmentsBefore keeps the active segment whatever the offset", "[partition_log][delete]") {
  TempDir tmp;
  auto log = FourSegments(tmp.path());
  auto deleted = log->DeleteSegmentsBefore(1'000'000);
  REQUIRE_OK(deleted);
  CHECK(deleted->segments_deleted == 3);
  CHECK(log->segment_count() == 1);
  CHECK(log->log_start_offset() == 15);
  CHECK(LogFiles(tmp.path()) == std::vector<std::string>{SegmentName(15)});
  auto read = ReadAll(*log);
  REQUIRE_OK(read);
  CHECK(OffsetsOf(*read) == Range(15, 20));
  // Even at its end, the active segment stays, and appends go on after it.
  auto again = log->DeleteSegmentsBefore(20);
  REQUIRE_OK(again);
  CHECK(again->segments_deleted == 0);
  auto more = Append(*log, 3, 100);
  CHECK(OffsetsOf(more) == Range(20, 23));
  CHECK(log->log_start_offset() == 15);
}

TEST_CASE("DeleteSegmentsBefore on an empty or one-segment log deletes nothing", "[partition_log][delete]") {
  TempDir tmp;
  auto log = OpenLog(io::PosixEnv(), tmp.path(), SmallLogConfig());
  auto empty = log->DeleteSegmentsBefore(100);
  REQUIRE_OK(empty);
  CHECK(empty->segments_deleted == 0);
  Append(*log, 4, 0);
  auto one = log->DeleteSegmentsBefore(100);
  REQUIRE_OK(one);
  CHECK(one->segments_deleted == 0);
  CHECK(log->log_start_offset() == 0);
  // An explicit Roll makes the full segment deletable; the new active one is empty.
  REQUIRE_OK(log->Roll());
  auto rolled = log->DeleteSegmentsBefore(100);
  REQUIRE_OK(rolled);
  CHECK(rolled->segments_deleted == 1);
  CHECK(log->log_start_offset() == 4);
  CHECK(log->log_end_offset() == 4);
  CHECK(log->size_in_bytes() == 0);
}

TEST_CASE("DeleteSegmentsBefore deletes nothing at or above the visible offset", "[partition_log][delete]") {
  // Under sync.policy always, records appended but not yet flushed are not visible.
  TempDir tmp;
  auto log = OpenLog(io::PosixEnv(), tmp.path(), SmallLogConfig(SyncPolicy::kAlways));
  Append(*log, 5, 0);
  REQUIRE_OK(log->Flush());
  REQUIRE_OK(log->Roll());
  Append(*log, 5, 5);  // [5,10): not flushed
  REQUIRE_OK(log->Roll());
  Append(*log, 5, 10);  // the active segment
  REQUIRE(log->visible_offset() == 5);

  auto deleted = log->DeleteSegmentsBefore(100);
  REQUIRE_OK(deleted);
  CHECK(deleted->segments_deleted == 1);  // [0,5) only: [5,10) reaches past the visible 5
  CHECK(log->log_start_offset() == 5);

  REQUIRE_OK(log->Flush());
  REQUIRE(log->visible_offset() == 15);
  auto after = log->DeleteSegmentsBefore(100);
  REQUIRE_OK(after);
  CHECK(after->segments_deleted == 1);  // [5,10) now; the active one stays
  CHECK(log->log_start_offset() == 10);
  auto read = ReadAll(*log);
  REQUIRE_OK(read);
  CHECK(OffsetsOf(*read) == Range(10, 15));
}

TEST_CASE("DeleteSegmentsBefore: the new log start survives Close and reopen", "[partition_log][delete]") {
  TempDir tmp;
  {
    auto log = FourSegments(tmp.path());
    REQUIRE_OK(log->DeleteSegmentsBefore(12));
    CHECK(log->log_start_offset() == 10);
    REQUIRE_OK(log->Close());
  }
  {
    auto log = OpenLog(io::PosixEnv(), tmp.path(), SmallLogConfig());
    CHECK(log->log_start_offset() == 10);
    CHECK(log->log_end_offset() == 20);
    auto read = ReadAll(*log);
    REQUIRE_OK(read);
    CHECK(OffsetsOf(*read) == Range(10, 20));
    // A crash (no Close) after another deletion.
    REQUIRE_OK(log->DeleteSegmentsBefore(15));
    CHECK(log->log_start_offset() == 15);
  }
  auto log = OpenLog(io::PosixEnv(), tmp.path(), SmallLogConfig());
  CHECK(log->log_start_offset() == 15);
  CHECK(log->log_end_offset() == 20);
}

TEST_CASE("DeleteSegmentsBefore on a closed log fails with FailedPrecondition", "[partition_log][delete]") {
  TempDir tmp;
  auto log = FourSegments(tmp.path());
  REQUIRE_OK(log->Close());
  CHECK(log->DeleteSegmentsBefore(10).status().code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("A segment rolled at the last checkpointed offset survives a power cut once flushed",
          "[partition_log][power]") {
  // Under sync.policy always a flushed record must survive a power cut. A segment made by
  // Roll has a new directory entry, which must be made durable (the directory fsynced)
  // before what is in it counts as flushed. The offset store's compaction rolls right
  // after a flush and then deletes the older segments, so if the entry is lost, every
  // committed offset is lost with it.
  TempDir tmp;
  testing::FaultEnv env;
  const LogConfig config = SmallLogConfig(SyncPolicy::kAlways);
  {
    auto log = OpenLog(&env, tmp.path(), config);
    Append(*log, 1, 0);
    REQUIRE_OK(log->Flush());
    REQUIRE_OK(log->Roll());
    Append(*log, 1, 1);
    REQUIRE_OK(log->Flush());  // records the recovery point at offset 2
    REQUIRE_OK(log->Roll());   // a new segment based at that same offset
    Append(*log, 1, 2);
    REQUIRE_OK(log->Flush());
    REQUIRE(log->visible_offset() == 3);  // acknowledged
  }
  REQUIRE_OK(env.PowerCut(1));
  auto log = OpenLog(io::PosixEnv(), tmp.path(), config);
  INFO(log->recovery_report().ToString());
  CHECK(log->log_end_offset() == 3);
  auto read = ReadAll(*log);
  REQUIRE_OK(read);
  CHECK(OffsetsOf(*read) == Range(0, 3));
}

}  // namespace
}  // namespace runnel::storage
