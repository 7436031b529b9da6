// PartitionLog::OpenReadOnly and Refresh: a reader of a partition another process owns.
// Pass criteria: it returns exactly the valid batches the owner wrote, never part of a
// batch still being written, follows appends, rolls and retention through Refresh, and
// never changes a file (not even to rebuild an index).
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "storage/file_names.h"
#include "storage/partition_log.h"
#include "support/log_testing.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel::storage {
namespace {

namespace fs = std::filesystem;
using testing::AppendRecords;
using testing::MakeBatch;
using testing::MakeRecords;
using testing::ReadAll;
using testing::TempDir;
using testing::TestRecord;

LogConfig SmallConfig() {
  LogConfig c;
  c.segment_bytes = 2048;
  c.segment_index_bytes = 4096;
  c.index_interval_bytes = 128;
  return c;
}

// Every file under `dir` with its bytes: what "writes nothing" is checked against.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::ifstream f(e.path(), std::ios::binary);
    files[e.path().filename().string()] =
        std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  return files;
}

std::string LastLog(const std::string& dir) {
  std::vector<std::string> logs;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".log") logs.push_back(e.path().string());
  }
  std::sort(logs.begin(), logs.end());
  return logs.back();
}

void AppendBytes(const std::string& path, const uint8_t* data, size_t n) {
  std::ofstream f(path, std::ios::binary | std::ios::app);
  f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n));
}

std::vector<TestRecord> AppendMany(PartitionLog& log, int batches, int first = 0) {
  std::vector<TestRecord> all;
  for (int b = 0; b < batches; ++b) {
    auto records = MakeRecords(3, first + b * 3, 40, 1000 + first + b * 3);
    REQUIRE_OK(AppendRecords(log, records));
    all.insert(all.end(), records.begin(), records.end());
  }
  return all;
}

TEST_CASE("a read-only log reads what the owner wrote, without an owner's clean shutdown") {
  TempDir tmp;
  auto owner = PartitionLog::Open(io::PosixEnv(), tmp.path(), SmallConfig());
  REQUIRE_OK(owner);
  const std::vector<TestRecord> written = AppendMany(**owner, 40);  // several segments
  REQUIRE((*owner)->segment_count() > 2);
  const auto before = Snapshot(tmp.path());

  auto reader = PartitionLog::OpenReadOnly(io::PosixEnv(), tmp.path(), SmallConfig());
  REQUIRE_OK(reader);
  CHECK((*reader)->read_only());
  CHECK((*reader)->recovery_report().problems.empty());
  CHECK((*reader)->log_start_offset() == 0);
  CHECK((*reader)->visible_offset() == 120);
  CHECK((*reader)->segment_count() == (*owner)->segment_count());
  auto all = ReadAll(**reader);
  REQUIRE_OK(all);
  CHECK(*all == written);
  // Reads from the middle use the reader's own indexes.
  for (int64_t from : {1, 47, 90, 119}) {
    auto tail = ReadAll(**reader, from, 256);
    REQUIRE_OK(tail);
    REQUIRE_FALSE(tail->empty());
    CHECK(tail->back() == written.back());
    CHECK(tail->size() >= written.size() - static_cast<size_t>(from));
  }
  auto by_time = (*reader)->OffsetForTimestamp(1050);
  REQUIRE_OK(by_time);
  REQUIRE(by_time->has_value());
  CHECK((*by_time)->offset == 50);
  CHECK(Snapshot(tmp.path()) == before);
}

TEST_CASE("a read-only log never shows a batch still being written, and follows it once whole") {
  TempDir tmp;
  const std::string writer_dir = tmp.Sub("source");
  const std::string dir = tmp.Sub("followed");
  // The batches to "write" byte by byte come from a log of their own.
  std::vector<uint8_t> batch;
  {
    auto source = PartitionLog::Open(io::PosixEnv(), writer_dir, LogConfig{});
    REQUIRE_OK(source);
    AppendMany(**source, 1);
    auto read = (*source)->Read(0, 1 << 20);
    REQUIRE_OK(read);
    batch.assign(read->slices[0].bytes.begin(), read->slices[0].bytes.end());
  }
  {
    auto owner = PartitionLog::Open(io::PosixEnv(), dir, LogConfig{});
    REQUIRE_OK(owner);
    AppendMany(**owner, 1);  // offsets 0-2; the copied batch then continues at 3
  }
  // Give the copy the offsets that follow (base offset is the first 8 bytes, big-endian),
  // which leaves its CRC (over the bytes after the CRC field) valid.
  batch[7] = 3;

  auto reader = PartitionLog::OpenReadOnly(io::PosixEnv(), dir, LogConfig{});
  REQUIRE_OK(reader);
  REQUIRE((*reader)->visible_offset() == 3);
  const std::string log = LastLog(dir);
  size_t written = 0;
  for (size_t upto : {size_t{1}, size_t{11}, size_t{61}, batch.size() - 1, batch.size()}) {
    AppendBytes(log, batch.data() + written, upto - written);
    written = upto;
    INFO("written so far: " << written << " of " << batch.size() << " bytes");
    auto changed = (*reader)->Refresh(/*entries_changed=*/false);
    REQUIRE_OK(changed);
    if (written < batch.size()) {
      CHECK_FALSE(*changed);
      CHECK((*reader)->visible_offset() == 3);
      auto read = (*reader)->Read(3, 1 << 20);
      REQUIRE_OK(read);
      CHECK(read->empty());
    } else {
      CHECK(*changed);
      CHECK((*reader)->visible_offset() == 6);
      auto all = ReadAll(**reader);
      REQUIRE_OK(all);
      REQUIRE(all->size() == 6);
      CHECK((*all)[5].value == (*all)[2].value);
    }
  }
  CHECK((*reader)->recovery_report().problems.empty());
}

TEST_CASE("Refresh follows the owner's appends, rolls and retention") {
  TempDir tmp;
  auto owner = PartitionLog::Open(io::PosixEnv(), tmp.path(), SmallConfig());
  REQUIRE_OK(owner);
  std::vector<TestRecord> written = AppendMany(**owner, 2);
  auto reader = PartitionLog::OpenReadOnly(io::PosixEnv(), tmp.path(), SmallConfig());
  REQUIRE_OK(reader);
  int64_t seen = -1;
  (*reader)->set_visible_offset_listener([&](int64_t v) { seen = v; });

  auto more = AppendMany(**owner, 30, 6);  // rolls several times
  written.insert(written.end(), more.begin(), more.end());
  auto changed = (*reader)->Refresh();
  REQUIRE_OK(changed);
  CHECK(*changed);
  CHECK(seen == 96);
  CHECK((*reader)->segment_count() == (*owner)->segment_count());
  auto all = ReadAll(**reader);
  REQUIRE_OK(all);
  CHECK(*all == written);

  // Nothing new: no change, no wake-up.
  seen = -1;
  changed = (*reader)->Refresh();
  REQUIRE_OK(changed);
  CHECK_FALSE(*changed);
  CHECK(seen == -1);

  REQUIRE_OK((*owner)->DeleteSegmentsBefore(60).status());
  changed = (*reader)->Refresh();
  REQUIRE_OK(changed);
  CHECK(*changed);
  CHECK((*reader)->log_start_offset() == (*owner)->log_start_offset());
  auto rest = ReadAll(**reader);
  REQUIRE_OK(rest);
  CHECK(rest->front().offset == (*owner)->log_start_offset());
  CHECK(rest->back() == written.back());
  CHECK_STATUS_IS((*reader)->Read(0, 100).status(), absl::StatusCode::kOutOfRange);
}

TEST_CASE("a read-only log refuses every change and leaves the files as they are") {
  TempDir tmp;
  {
    auto owner = PartitionLog::Open(io::PosixEnv(), tmp.path(), SmallConfig());
    REQUIRE_OK(owner);
    AppendMany(**owner, 20);
    REQUIRE_OK((*owner)->Close());
  }
  const auto before = Snapshot(tmp.path());
  auto reader = PartitionLog::OpenReadOnly(io::PosixEnv(), tmp.path(), SmallConfig());
  REQUIRE_OK(reader);
  std::vector<uint8_t> batch = MakeBatch(MakeRecords(1));
  CHECK_STATUS_IS((*reader)->Append(batch).status(), absl::StatusCode::kFailedPrecondition);
  CHECK_THAT(std::string((*reader)->Append(batch).status().message()), Catch::Contains("read-only"));
  CHECK_STATUS_IS((*reader)->Flush(), absl::StatusCode::kFailedPrecondition);
  CHECK_STATUS_IS((*reader)->Roll(), absl::StatusCode::kFailedPrecondition);
  CHECK_STATUS_IS((*reader)->TruncateTo(3), absl::StatusCode::kFailedPrecondition);
  CHECK_STATUS_IS((*reader)->EnforceRetention().status(), absl::StatusCode::kFailedPrecondition);
  CHECK_STATUS_IS((*reader)->DeleteSegmentsBefore(30).status(),
                  absl::StatusCode::kFailedPrecondition);
  CHECK_OK((*reader)->Close());
  CHECK(Snapshot(tmp.path()) == before);
}

// Damage is handled as the owner's own open handles it: the segment being written (and
// any the owner did not seal) is scanned, so the log ends before damage in it; a sealed
// segment is trusted by its indexes, so damage inside a batch shows as DataLoss when the
// batch is read (its CRC), never as records.
TEST_CASE("a read-only log stops at damage, reports it, and repairs nothing") {
  TempDir tmp;
  std::vector<TestRecord> written;
  {
    auto owner = PartitionLog::Open(io::PosixEnv(), tmp.path(), SmallConfig());
    REQUIRE_OK(owner);
    written = AppendMany(**owner, 30);
  }
  std::vector<std::string> logs;
  for (const auto& e : fs::directory_iterator(tmp.path())) {
    if (e.path().extension() == ".log") logs.push_back(e.path().string());
  }
  std::sort(logs.begin(), logs.end());
  REQUIRE(logs.size() > 3);
  REQUIRE(fs::file_size(logs.back()) > 300);
  auto flip = [](const std::string& path, std::streamoff at) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(at);
    char c;
    f.get(c);
    f.seekp(at);
    f.put(static_cast<char>(c ^ 0x5a));
  };
  flip(logs.back(), 200);
  flip(logs[1], 200);
  const std::string first_index = fs::path(logs[0]).replace_extension(".index").string();
  fs::resize_file(first_index, 5);  // not a whole number of entries: rebuilt in memory
  const auto before = Snapshot(tmp.path());

  auto reader = PartitionLog::OpenReadOnly(io::PosixEnv(), tmp.path(), SmallConfig());
  REQUIRE_OK(reader);
  REQUIRE((*reader)->recovery_report().problems.size() == 1);
  CHECK_THAT((*reader)->recovery_report().problems[0], Catch::Contains(logs.back()));
  CHECK((*reader)->visible_offset() < static_cast<int64_t>(written.size()));

  // Reading on reaches the sealed segment's damage, which comes as DataLoss.
  auto all = ReadAll(**reader, 0, 64);
  CHECK_STATUS_IS(all.status(), absl::StatusCode::kDataLoss);
  // The first segment, whose index was rebuilt in memory, reads whole.
  auto prefix = (*reader)->Read(0, 1024);
  REQUIRE_OK(prefix);
  auto decoded = testing::Decode(*prefix);
  REQUIRE_OK(decoded);
  REQUIRE_FALSE(decoded->empty());
  CHECK(std::equal(decoded->begin(), decoded->end(), written.begin()));
  CHECK(Snapshot(tmp.path()) == before);
}

TEST_CASE("Refresh is only for logs opened read-only; OpenReadOnly needs segments") {
  TempDir tmp;
  auto owner = PartitionLog::Open(io::PosixEnv(), tmp.path(), SmallConfig());
  REQUIRE_OK(owner);
  CHECK_STATUS_IS((*owner)->Refresh().status(), absl::StatusCode::kFailedPrecondition);
  CHECK_STATUS_IS(PartitionLog::OpenReadOnly(io::PosixEnv(), tmp.Sub("empty"), SmallConfig()).status(),
                  absl::StatusCode::kNotFound);
  fs::create_directory(tmp.Sub("empty"));
  CHECK_STATUS_IS(PartitionLog::OpenReadOnly(io::PosixEnv(), tmp.Sub("empty"), SmallConfig()).status(),
                  absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace runnel::storage
