// The partition log under injected faults (FaultEnv). Pass criteria: every record whose
// append and flush succeeded under sync policy always survives a power cut at any point;
// what reopens is a valid prefix of what was written; a failed write or fsync leaves the
// partition read-only without retrying; a full disk fails the append cleanly and leaves the
// partition writable.
#include <catch2/catch.hpp>

#include "runnel/status.h"
#include "storage/partition_log.h"
#include "support/fault_env.h"
#include "support/log_testing.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel::storage {
namespace {

using testing::AppendRecords;
using testing::FaultEnv;
using testing::FaultOp;
using testing::MakeRecords;
using testing::ReadAll;
using testing::TempDir;
using testing::TestRecord;

LogConfig SmallDurableConfig() {
  LogConfig config;
  config.segment_bytes = 700;
  config.index_interval_bytes = 100;
  config.segment_index_bytes = 4096;  // FaultEnv keeps mapped files in memory
  config.sync = SyncPolicy::kAlways;
  return config;
}

// Same key, value and timestamp (offsets are compared separately).
bool SameContent(const TestRecord& a, const TestRecord& b) {
  return a.key == b.key && a.value == b.value && a.timestamp == b.timestamp;
}

struct Outcome {
  std::vector<TestRecord> attempted;     // in append order, with the offsets they would get
  size_t acknowledged = 0;               // a prefix of attempted was appended and flushed
};

// Appends and flushes batches until `batches` are done or an operation fails.
Outcome RunWorkload(PartitionLog& log, int batches, int first_index = 0) {
  Outcome out;
  for (int b = 0; b < batches; ++b) {
    auto records = MakeRecords(1 + b % 3, first_index + static_cast<int>(out.attempted.size()),
                               20 + (b * 7) % 50);
    const int64_t next = log.log_end_offset();
    for (size_t i = 0; i < records.size(); ++i) records[i].offset = next + static_cast<int64_t>(i);
    out.attempted.insert(out.attempted.end(), records.begin(), records.end());
    if (!AppendRecords(log, records).ok() || !log.Flush().ok()) break;
    out.acknowledged = out.attempted.size();
  }
  return out;
}

// Reopens and checks the log is a prefix of `attempted` holding every acknowledged
// record, readable with valid CRCs, and that appends continue after it.
void CheckSurvivors(io::Env* env, const std::string& dir, const Outcome& o, int64_t start = 0) {
  auto log = PartitionLog::Open(env, dir, SmallDurableConfig());
  REQUIRE_OK(log);
  INFO((*log)->recovery_report().ToString());
  CHECK((*log)->recovery_report().problems.empty());
  auto got = ReadAll(**log);
  REQUIRE_OK(got);
  REQUIRE(got->size() >= o.acknowledged);
  REQUIRE(got->size() <= o.attempted.size());
  for (size_t i = 0; i < got->size(); ++i) {
    INFO("record " << i);
    CHECK((*got)[i].offset == start + static_cast<int64_t>(i));
    CHECK(SameContent((*got)[i], o.attempted[i]));
  }
  auto more = MakeRecords(2, 5000);
  REQUIRE_OK(AppendRecords(**log, more));
  CHECK(more.front().offset == start + static_cast<int64_t>(got->size()));
  REQUIRE_OK((*log)->Flush());
}

TEST_CASE("PowerCutAtEveryOperation: synced records survive and the log is a prefix",
          "[fault][power]") {
  // First learn how many mutating operations the whole workload makes.
  int64_t total_ops = 0;
  {
    TempDir tmp;
    FaultEnv env;
    auto log = PartitionLog::Open(&env, tmp.path(), SmallDurableConfig());
    REQUIRE_OK(log);
    const int64_t before = env.count(FaultOp::kAny);
    const Outcome o = RunWorkload(**log, 25);
    REQUIRE(o.acknowledged == o.attempted.size());
    total_ops = env.count(FaultOp::kAny) - before;
  }
  REQUIRE(total_ops > 50);
  for (int64_t n = 0; n <= total_ops; ++n) {
    INFO("power cut after " << n << " of " << total_ops << " operations");
    TempDir tmp;
    FaultEnv env;
    Outcome o;
    {
      auto log = PartitionLog::Open(&env, tmp.path(), SmallDurableConfig());
      REQUIRE_OK(log);
      env.KillAfter(n);
      o = RunWorkload(**log, 25);
    }
    REQUIRE_OK(env.PowerCut(static_cast<uint64_t>(n)));
    CheckSurvivors(&env, tmp.path(), o);
  }
}

TEST_CASE("PowerCutDuringRecovery: a second recovery ends in a valid state", "[fault][power]") {
  for (int64_t first_cut : {15, 40, 77}) {
    for (int64_t second_cut = 0; second_cut < 30; ++second_cut) {
      INFO("cuts after " << first_cut << " then " << second_cut << " operations");
      TempDir tmp;
      FaultEnv env;
      Outcome o;
      {
        auto log = PartitionLog::Open(&env, tmp.path(), SmallDurableConfig());
        REQUIRE_OK(log);
        env.KillAfter(first_cut);
        o = RunWorkload(**log, 25);
      }
      REQUIRE_OK(env.PowerCut(static_cast<uint64_t>(first_cut)));
      env.KillAfter(second_cut);
      {
        auto interrupted = PartitionLog::Open(&env, tmp.path(), SmallDurableConfig());
        (void)interrupted;  // may fail: the power went out during recovery
      }
      REQUIRE_OK(env.PowerCut(static_cast<uint64_t>(second_cut) + 1000));
      CheckSurvivors(&env, tmp.path(), o);
    }
  }
}

TEST_CASE("WriteErrorMakesReadOnly: an EIO on write is final, not retried", "[fault]") {
  for (bool persistent : {false, true}) {
    TempDir tmp;
    FaultEnv env;
    auto log = PartitionLog::Open(&env, tmp.path(), SmallDurableConfig());
    REQUIRE_OK(log);
    auto good = MakeRecords(2);
    REQUIRE_OK(AppendRecords(**log, good));
    REQUIRE_OK((*log)->Flush());
    env.FailNth(FaultOp::kWrite, 1, FaultEnv::IoError(tmp.path()), persistent, ".log");
    auto bad = MakeRecords(2, 2);
    const absl::Status st = AppendRecords(**log, bad);
    CHECK(st.code() == absl::StatusCode::kInternal);
    CHECK_THAT(std::string(st.message()), Catch::Contains("read-only after a write failed"));
    CHECK(!(*log)->health().ok());
    // Even once the disk works again, the partition stays read-only.
    env.ClearFaults();
    auto later = MakeRecords(1, 4);
    CHECK(AppendRecords(**log, later) == st);
    CHECK((*log)->Flush() == st);
    CHECK((*log)->log_end_offset() == 2);
    CHECK((*log)->Close() == st);
    log->reset();
    auto reopened = PartitionLog::Open(&env, tmp.path(), SmallDurableConfig());
    REQUIRE_OK(reopened);
    auto got = ReadAll(**reopened);
    REQUIRE_OK(got);
    CHECK(*got == good);
  }
}

TEST_CASE("FsyncErrorMakesReadOnly: a failed fsync is never retried or acknowledged", "[fault]") {
  TempDir tmp;
  FaultEnv env;
  auto log = PartitionLog::Open(&env, tmp.path(), SmallDurableConfig());
  REQUIRE_OK(log);
  auto first = MakeRecords(2);
  REQUIRE_OK(AppendRecords(**log, first));
  REQUIRE_OK((*log)->Flush());
  auto second = MakeRecords(2, 2);
  REQUIRE_OK(AppendRecords(**log, second));
  env.FailNth(FaultOp::kSync, 1, FaultEnv::IoError(tmp.path(), "fdatasync"));
  const absl::Status st = (*log)->Flush();
  CHECK(st.code() == absl::StatusCode::kInternal);
  CHECK_THAT(std::string(st.message()), Catch::Contains("read-only after an fsync failed"));
  // The unsynced records never become visible, and no second fsync is attempted.
  CHECK((*log)->visible_offset() == 2);
  const int64_t syncs = env.count(FaultOp::kSync);
  CHECK((*log)->Flush() == st);
  CHECK(env.count(FaultOp::kSync) == syncs);
  auto third = MakeRecords(1, 4);
  CHECK(AppendRecords(**log, third) == st);
}

TEST_CASE("FullDiskOnWrite: the append fails cleanly and the partition stays writable", "[fault]") {
  TempDir tmp;
  FaultEnv env;
  auto log = PartitionLog::Open(&env, tmp.path(), SmallDurableConfig());
  REQUIRE_OK(log);
  auto first = MakeRecords(2);
  REQUIRE_OK(AppendRecords(**log, first));
  REQUIRE_OK((*log)->Flush());
  const uint64_t size = (*log)->size_in_bytes();
  // A write that gets half its bytes out before the disk fills.
  env.ShortWriteNth(1, FaultEnv::NoSpace(tmp.path()), ".log");
  auto second = MakeRecords(2, 2);
  const absl::Status st = AppendRecords(**log, second);
  CHECK(st.code() == absl::StatusCode::kResourceExhausted);
  CHECK_THAT(std::string(st.message()), Catch::Contains(tmp.path()) && Catch::Contains("no space"));
  CHECK(runnel::IsRetriable(st));
  CHECK((*log)->health().ok());
  CHECK((*log)->size_in_bytes() == size);
  CHECK((*log)->log_end_offset() == 2);
  // Space is back: producing resumes at the same offset.
  auto third = MakeRecords(2, 2);
  REQUIRE_OK(AppendRecords(**log, third));
  CHECK(third.front().offset == 2);
  REQUIRE_OK((*log)->Flush());
  REQUIRE_OK((*log)->Close());
  auto reopened = PartitionLog::Open(&env, tmp.path(), SmallDurableConfig());
  REQUIRE_OK(reopened);
  auto got = ReadAll(**reopened);
  REQUIRE_OK(got);
  REQUIRE(got->size() == 4);
  CHECK((*got)[2] == third[0]);
}

TEST_CASE("FullDiskOnRoll: no room for a new segment's index leaves the old one active",
          "[fault]") {
  TempDir tmp;
  FaultEnv env;
  LogConfig config = SmallDurableConfig();
  auto log = PartitionLog::Open(&env, tmp.path(), config);
  REQUIRE_OK(log);
  std::vector<TestRecord> all;
  while ((*log)->segment_count() == 1) {
    auto records = MakeRecords(2, static_cast<int>(all.size()), 60);
    // Fail the next index preallocation: the roll that this append needs.
    env.FailNth(FaultOp::kTruncate, 1, FaultEnv::NoSpace(tmp.path(), "allocate"), false, ".index");
    const absl::Status st = AppendRecords(**log, records);
    env.ClearFaults();
    if (!st.ok()) {
      CHECK(st.code() == absl::StatusCode::kResourceExhausted);
      CHECK((*log)->health().ok());
      REQUIRE_OK(AppendRecords(**log, records));  // retried once space is back
    }
    all.insert(all.end(), records.begin(), records.end());
  }
  REQUIRE_OK((*log)->Flush());
  auto got = ReadAll(**log);
  REQUIRE_OK(got);
  CHECK(*got == all);
}

// Regression: a roll failing part way through AppendBatches returned before publishing
// the batches already written, so they were acknowledged but stayed invisible.
TEST_CASE("RollFailureInAppendBatches: the batches before it are written and visible",
          "[fault][regression]") {
  TempDir tmp;
  FaultEnv env;
  LogConfig config = SmallDurableConfig();
  config.sync = SyncPolicy::kNone;
  auto log = PartitionLog::Open(&env, tmp.path(), config);
  REQUIRE_OK(log);
  std::vector<std::vector<uint8_t>> built;
  for (int b = 0; b < 6; ++b) built.push_back(testing::MakeBatch(MakeRecords(2, b * 2, 150)));
  std::vector<std::span<uint8_t>> spans(built.begin(), built.end());
  // The first roll in this call cannot create its segment.
  env.FailNth(FaultOp::kOpen, 1, FaultEnv::NoSpace(tmp.path(), "open"), false, ".log");
  const PartitionLog::AppendResult result = (*log)->AppendBatches(spans);
  CHECK(result.status.code() == absl::StatusCode::kResourceExhausted);
  REQUIRE(!result.appended.empty());
  REQUIRE(result.appended.size() < built.size());
  const int64_t end = result.appended.back().last_offset + 1;
  CHECK((*log)->log_end_offset() == end);
  CHECK((*log)->visible_offset() == end);
  auto got = ReadAll(**log);
  REQUIRE_OK(got);
  CHECK(static_cast<int64_t>(got->size()) == end);
}

TEST_CASE("OpenErrors: failing to open a segment fails Open with the file named", "[fault]") {
  TempDir tmp;
  {
    auto log = PartitionLog::Open(io::PosixEnv(), tmp.path(), SmallDurableConfig());
    REQUIRE_OK(log);
    auto records = MakeRecords(3);
    REQUIRE_OK(AppendRecords(**log, records));
    REQUIRE_OK((*log)->Close());
  }
  FaultEnv env;
  env.FailNth(FaultOp::kOpen, 1, FaultEnv::IoError(tmp.Sub("00000000000000000000.log"), "open"),
              false, ".log");
  const absl::Status st = PartitionLog::Open(&env, tmp.path(), SmallDurableConfig()).status();
  CHECK(st.code() == absl::StatusCode::kInternal);
  CHECK_THAT(std::string(st.message()), Catch::Contains("00000000000000000000.log"));
  auto log = PartitionLog::Open(&env, tmp.path(), SmallDurableConfig());
  REQUIRE_OK(log);
  CHECK((*log)->log_end_offset() == 3);
}

TEST_CASE("RetentionThenPowerCut: deleting every segment keeps the log's offsets",
          "[fault][power]") {
  // Found by the soak torture: retention.ms deleted every segment after rolling a fresh
  // one whose directory entry was not yet durable; a power cut then left no segment and
  // the log started again at offset 0, handing out offsets it had used before.
  TempDir tmp;
  testing::ManualClockEnv clock(io::PosixEnv(), 1'000'000);
  FaultEnv env(&clock);
  LogConfig config = SmallDurableConfig();
  config.sync = SyncPolicy::kNone;
  config.retention_ms = 1000;
  int64_t end = 0;
  {
    auto log = PartitionLog::Open(&env, tmp.path(), config);
    REQUIRE_OK(log);
    for (int b = 0; b < 8; ++b) {
      auto records = MakeRecords(3, b * 3, 30, 1'000'000);
      REQUIRE_OK(AppendRecords(**log, records));
    }
    end = (*log)->log_end_offset();
    REQUIRE((*log)->segment_count() > 1);
    clock.Advance(5000);
    auto deleted = (*log)->EnforceRetention();
    REQUIRE_OK(deleted);
    REQUIRE((*log)->log_start_offset() == end);
  }  // dropped without Close, as a crash would
  REQUIRE_OK(env.PowerCut(7));
  auto log = PartitionLog::Open(&env, tmp.path(), config);
  REQUIRE_OK(log);
  CHECK((*log)->log_start_offset() == end);
  CHECK((*log)->log_end_offset() == end);
}

}  // namespace
}  // namespace runnel::storage
