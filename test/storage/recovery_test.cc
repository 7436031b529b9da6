// Recovery after crashes and damage: torn tails cut at every byte, flipped bytes in
// sealed segments, missing and garbled indexes. Pass criteria for each: reopening
// succeeds, the log is a valid prefix of what was written, nothing corrupt is returned,
// the report names what was cut or set aside, and appends continue.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "storage/file_names.h"
#include "storage/partition_log.h"
#include "support/log_testing.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel::storage {
namespace {

namespace fs = std::filesystem;
using testing::AppendRecords;
using testing::MakeRecords;
using testing::ReadAll;
using testing::TempDir;
using testing::TestRecord;

struct Written {
  std::vector<TestRecord> records;
  std::vector<size_t> batch_ends;  // records.size() after each batch
};

// Writes `batches` batches of 2 records into `dir`, then drops the log (no Close) when
// `crash`, else closes it cleanly.
Written WriteLog(const std::string& dir, const LogConfig& config, int batches, bool crash) {
  Written w;
  auto log = PartitionLog::Open(io::PosixEnv(), dir, config);
  REQUIRE_OK(log);
  for (int b = 0; b < batches; ++b) {
    auto records = MakeRecords(2, b * 2, 30 + b % 7, 1000 + b * 10);
    REQUIRE_OK(AppendRecords(**log, records));
    w.records.insert(w.records.end(), records.begin(), records.end());
    w.batch_ends.push_back(w.records.size());
  }
  if (!crash) REQUIRE_OK((*log)->Close());
  return w;
}

void CopyDir(const std::string& from, const std::string& to) {
  fs::remove_all(to);
  fs::copy(from, to, fs::copy_options::recursive);
}

std::string LastLog(const std::string& dir) {
  std::vector<std::string> logs;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".log") logs.push_back(e.path().string());
  }
  std::sort(logs.begin(), logs.end());
  return logs.back();
}

void FlipByte(const std::string& path, uint64_t position) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(position));
  char c;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(position));
  f.put(static_cast<char>(c ^ 0x5A));
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << bytes;
}

// Reopens `dir`, checks the log holds exactly `expected` (read with CRC checks), and that
// an append lands right after it.
std::unique_ptr<PartitionLog> ReopenAndCheck(const std::string& dir, const LogConfig& config,
                                             const std::vector<TestRecord>& expected) {
  auto log = PartitionLog::Open(io::PosixEnv(), dir, config);
  REQUIRE_OK(log);
  INFO((*log)->recovery_report().ToString());
  auto got = ReadAll(**log);
  REQUIRE_OK(got);
  CHECK(*got == expected);
  auto more = MakeRecords(1, 1000);
  REQUIRE_OK(AppendRecords(**log, more));
  CHECK(more.front().offset == (expected.empty() ? (*log)->log_start_offset()
                                                 : expected.back().offset + 1));
  return std::move(*log);
}

TEST_CASE("TornTail: the last batch cut at every byte is dropped and reported", "[recovery]") {
  TempDir tmp;
  LogConfig config;
  const std::string ref = tmp.Sub("ref");
  const Written w = WriteLog(ref, config, 5, /*crash=*/true);
  // The data ends before the blocks reserved ahead of it; the last batch starts where
  // the first four end.
  uint64_t full = 0;
  uint64_t last_start = 0;
  {
    auto log = PartitionLog::Open(io::PosixEnv(), ref, config);
    REQUIRE_OK(log);
    auto all = (*log)->Read(0, 1 << 20);
    REQUIRE_OK(all);
    full = all->size_in_bytes();
    auto read = (*log)->Read(8, 1 << 20);
    REQUIRE_OK(read);
    last_start = full - read->size_in_bytes();
  }
  fs::resize_file(LastLog(ref), full);
  const std::vector<TestRecord> prefix(w.records.begin(), w.records.begin() + 8);
  for (uint64_t cut = last_start; cut < full; ++cut) {
    INFO("cut at " << cut);
    const std::string dir = tmp.Sub("cut");
    CopyDir(ref, dir);
    fs::resize_file(LastLog(dir), cut);
    auto log = ReopenAndCheck(dir, config, prefix);
    // A cut inside the big-endian baseOffset leaves only its zero high bytes, which look
    // like reserved space and are not counted as torn data.
    const uint64_t torn = cut - last_start;
    CHECK(log->recovery_report().bytes_truncated == (torn < 8 ? 0 : torn));
    CHECK(log->recovery_report().problems.empty());
    CHECK(log->recovery_report().set_aside.empty());
  }
}

TEST_CASE("TornTailZeros: zero bytes after the last batch are cut", "[recovery]") {
  TempDir tmp;
  LogConfig config;
  const Written w = WriteLog(tmp.path(), config, 3, /*crash=*/true);
  const std::string log_file = LastLog(tmp.path());
  const uint64_t size = fs::file_size(log_file);
  fs::resize_file(log_file, size + 4096);  // what a crash after a size update leaves
  auto log = ReopenAndCheck(tmp.path(), config, w.records);
  CHECK(log->recovery_report().bytes_truncated == 0);  // zeros are not data
  CHECK(log->recovery_report().problems.empty());
  CHECK(fs::file_size(log_file) < size + 4096);
}

TEST_CASE("TornLastBatchCrc: a bad CRC in the batch that ends the file is a torn write", "[recovery]") {
  TempDir tmp;
  LogConfig config;
  const Written w = WriteLog(tmp.path(), config, 3, /*crash=*/true);
  const std::string log_file = LastLog(tmp.path());
  uint64_t data_end = 0;
  {
    auto log = PartitionLog::Open(io::PosixEnv(), tmp.path(), config);
    REQUIRE_OK(log);
    auto all = (*log)->Read(0, 1 << 20);
    REQUIRE_OK(all);
    data_end = all->size_in_bytes();
  }
  fs::resize_file(log_file, data_end);
  FlipByte(log_file, data_end - 3);
  auto log = ReopenAndCheck(tmp.path(), config,
                            std::vector<TestRecord>(w.records.begin(), w.records.begin() + 4));
  CHECK(log->recovery_report().bytes_truncated > 0);
  CHECK(log->recovery_report().problems.empty());
}

TEST_CASE("MiddleCorruption: a flipped byte mid-segment is reported and set aside", "[recovery]") {
  TempDir tmp;
  LogConfig config;
  config.segment_bytes = 600;
  const std::string ref = tmp.Sub("ref");
  const Written w = WriteLog(ref, config, 30, /*crash=*/true);
  std::vector<std::string> logs;
  for (const auto& e : fs::directory_iterator(ref)) {
    if (e.path().extension() == ".log") logs.push_back(e.path().filename().string());
  }
  std::sort(logs.begin(), logs.end());
  REQUIRE(logs.size() >= 4);
  // Damage the second batch of the second segment: its first batch survives, the rest of
  // it and every later segment go aside.
  const std::string victim = logs[1];
  const int64_t base = *ParseOffsetFileName(victim, ".log");
  auto first_batch = [&] {
    auto log = PartitionLog::Open(io::PosixEnv(), ref, config);
    REQUIRE_OK(log);
    auto read = (*log)->Read(base, 1, /*min_one=*/true);
    REQUIRE_OK(read);
    return read->size_in_bytes();
  }();
  const std::string dir = tmp.Sub("damaged");
  CopyDir(ref, dir);
  for (const auto& e : fs::directory_iterator(dir)) {  // make it a crash that scans all
    if (e.path().filename() == kCheckpointFileName) fs::remove(e.path());
  }
  FlipByte(dir + "/" + victim, first_batch + 30);

  std::vector<TestRecord> expected;
  for (const auto& r : w.records) {
    if (r.offset < base + 2) expected.push_back(r);
  }
  auto log = ReopenAndCheck(dir, config, expected);
  const RecoveryReport& report = log->recovery_report();
  REQUIRE(report.problems.size() == 1);
  CHECK_THAT(report.problems[0], Catch::Contains(victim) &&
                                     Catch::Contains("at byte " + std::to_string(first_batch)) &&
                                     Catch::Contains("CRC"));
  CHECK(report.set_aside.size() == logs.size() - 1);
  CHECK(fs::exists(dir + "/" + victim + ".corrupt"));
  CHECK(fs::file_size(dir + "/" + victim) == first_batch);
  // Nothing was deleted: the damaged original is kept whole.
  CHECK(fs::file_size(dir + "/" + victim + ".corrupt") == fs::file_size(ref + "/" + victim));
}

TEST_CASE("CorruptLengthInLastSegment: a length pointing past the end is corruption, not a tear",
          "[recovery]") {
  TempDir tmp;
  LogConfig config;
  const Written w = WriteLog(tmp.path(), config, 6, /*crash=*/true);
  const std::string log_file = LastLog(tmp.path());
  // The third batch's batchLength gets a huge high byte: it now claims to run past EOF.
  uint64_t third = 0;
  {
    auto log = PartitionLog::Open(io::PosixEnv(), tmp.path(), config);
    REQUIRE_OK(log);
    auto read = (*log)->Read(0, 1, /*min_one=*/true);
    REQUIRE_OK(read);
    auto two = (*log)->Read(0, read->size_in_bytes() * 2 + 20, /*min_one=*/true);
    REQUIRE_OK(two);
    third = two->size_in_bytes();
    REQUIRE(two->next_offset == 4);
  }
  fs::remove(tmp.Sub(std::string(kCheckpointFileName)));
  FlipByte(log_file, third + 8);
  auto log = ReopenAndCheck(tmp.path(), config,
                            std::vector<TestRecord>(w.records.begin(), w.records.begin() + 4));
  const RecoveryReport& report = log->recovery_report();
  REQUIRE(report.problems.size() == 1);
  CHECK_THAT(report.problems[0], Catch::Contains("at byte " + std::to_string(third)));
  CHECK(report.bytes_truncated == 0);
  CHECK(report.set_aside.size() == 1);
}

TEST_CASE("SealedCorruptionAfterCleanShutdown: a damaged batch is never returned as data",
          "[recovery]") {
  TempDir tmp;
  LogConfig config;
  config.segment_bytes = 600;
  WriteLog(tmp.path(), config, 20, /*crash=*/false);
  FlipByte(tmp.Sub("00000000000000000000.log"), 100);
  auto log = PartitionLog::Open(io::PosixEnv(), tmp.path(), config);
  REQUIRE_OK(log);
  // A clean shutdown skips the scan; the reader's CRC check catches the damage.
  auto got = ReadAll(**log);
  CHECK(got.status().code() == absl::StatusCode::kDataLoss);
}

TEST_CASE("IndexRebuild: missing, garbled, short and ragged indexes are rebuilt", "[recovery]") {
  TempDir tmp;
  LogConfig config;
  config.segment_bytes = 4000;
  config.index_interval_bytes = 64;
  const std::string ref = tmp.Sub("ref");
  const Written w = WriteLog(ref, config, 60, /*crash=*/false);
  const std::string index = "00000000000000000000.index";
  const std::string timeindex = "00000000000000000000.timeindex";
  REQUIRE(fs::file_size(ref + "/" + index) >= 5 * 8);

  struct Damage {
    const char* name;
    std::function<void(const std::string&)> apply;
  };
  const std::vector<Damage> damages = {
      {"missing index", [&](const std::string& d) { fs::remove(d + "/" + index); }},
      {"missing time index", [&](const std::string& d) { fs::remove(d + "/" + timeindex); }},
      {"garbled index",
       [&](const std::string& d) {
         const auto size = fs::file_size(d + "/" + index);
         WriteBytes(d + "/" + index, std::string(size, '\x7f'));
       }},
      {"garbled time index",
       [&](const std::string& d) { FlipByte(d + "/" + timeindex, 1); }},
      {"short index (whole entries)",
       [&](const std::string& d) { fs::resize_file(d + "/" + index, 8); }},
      {"ragged index (half an entry)",
       [&](const std::string& d) { fs::resize_file(d + "/" + index, 8 * 3 + 4); }},
      {"index pointing past the log",
       [&](const std::string& d) {
         std::fstream f(d + "/" + index, std::ios::in | std::ios::out | std::ios::binary);
         f.seekp(12);
         f.write("\x7f\xff\xff\x00", 4);
       }},
  };
  for (const Damage& damage : damages) {
    INFO(damage.name);
    const std::string dir = tmp.Sub("d");
    CopyDir(ref, dir);
    damage.apply(dir);
    auto log = ReopenAndCheck(dir, config, w.records);
    CHECK(!log->recovery_report().rebuilt_indexes.empty());
    // Every offset is still found through the rebuilt index.
    for (int64_t o = 0; o < static_cast<int64_t>(w.records.size()); o += 7) {
      auto got = ReadAll(*log, o, 1);
      REQUIRE_OK(got);
      CHECK(got->front() == w.records[static_cast<size_t>(o)]);
    }
    REQUIRE_OK(log->Close());
    // The rebuilt index is trusted next time.
    auto again = PartitionLog::Open(io::PosixEnv(), dir, config);
    REQUIRE_OK(again);
    CHECK((*again)->recovery_report().rebuilt_indexes.empty());
  }
}

TEST_CASE("CorruptCheckpoint: a garbled checkpoint means a full scan", "[recovery]") {
  TempDir tmp;
  LogConfig config;
  config.segment_bytes = 600;
  const Written w = WriteLog(tmp.path(), config, 10, /*crash=*/false);
  FlipByte(tmp.Sub(std::string(kCheckpointFileName)), 40);
  auto log = ReopenAndCheck(tmp.path(), config, w.records);
  CHECK(!log->recovery_report().clean_shutdown);
  CHECK(log->recovery_report().problems.size() == 1);
  CHECK(static_cast<size_t>(log->recovery_report().segments_scanned) + 1 >= log->segment_count());
}

TEST_CASE("SegmentGap: segments after a missing one are set aside, never read past a hole",
          "[recovery]") {
  // What a recovery cut short leaves: it set aside a damaged segment, then power failed
  // before the later segments' renames were durable, so they came back.
  TempDir tmp;
  LogConfig config;
  config.segment_bytes = 600;
  const Written w = WriteLog(tmp.path(), config, 30, /*crash=*/true);
  std::vector<std::string> logs;
  for (const auto& e : fs::directory_iterator(tmp.path())) {
    if (e.path().extension() == ".log") logs.push_back(e.path().filename().string());
  }
  std::sort(logs.begin(), logs.end());
  REQUIRE(logs.size() >= 4);
  const int64_t hole = *ParseOffsetFileName(logs[1], ".log");
  fs::rename(tmp.Sub(logs[1]), tmp.Sub(logs[1] + ".corrupt"));
  fs::remove(tmp.Sub(std::string(kCheckpointFileName)));
  std::vector<TestRecord> expected;
  for (const auto& r : w.records) {
    if (r.offset < hole) expected.push_back(r);
  }
  auto log = ReopenAndCheck(tmp.path(), config, expected);
  const RecoveryReport& report = log->recovery_report();
  REQUIRE(report.problems.size() == 1);
  CHECK_THAT(report.problems[0], Catch::Contains(logs[2]) && Catch::Contains("gap"));
  CHECK(report.set_aside.size() == logs.size() - 2);
  CHECK(fs::exists(tmp.Sub(logs[2] + ".corrupt")));
}

TEST_CASE("LeftoverFiles: interrupted deletes and temp files are cleaned up", "[recovery]") {
  TempDir tmp;
  LogConfig config;
  const Written w = WriteLog(tmp.path(), config, 3, /*crash=*/false);
  WriteBytes(tmp.Sub("00000000000000000099.log.deleted"), "old");
  WriteBytes(tmp.Sub("00000000000000000099.index"), std::string(8, '\0'));
  WriteBytes(tmp.Sub(std::string(kCheckpointFileName) + ".tmp"), "partial");
  auto log = ReopenAndCheck(tmp.path(), config, w.records);
  CHECK(!fs::exists(tmp.Sub("00000000000000000099.log.deleted")));
  CHECK(!fs::exists(tmp.Sub("00000000000000000099.index")));
  CHECK(!fs::exists(tmp.Sub(std::string(kCheckpointFileName) + ".tmp")));
}

}  // namespace
}  // namespace runnel::storage
