// Concurrent appenders, flushers and readers on one partition log (run under TSan in CI).
// Pass criteria: offsets are handed out exactly once and contiguously, each appender's
// batches keep their order, readers see only whole valid batches below the visible
// offset, and the final log holds every acknowledged record.
#include <catch2/catch.hpp>
#include <atomic>
#include <map>
#include <thread>

#include "storage/partition_log.h"
#include "support/log_testing.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel::storage {
namespace {

using testing::MakeBatch;
using testing::MakeRecords;
using testing::ReadAll;
using testing::TempDir;
using testing::TestRecord;

void RunConcurrent(SyncPolicy sync, bool with_retention) {
  TempDir tmp;
  LogConfig config;
  config.segment_bytes = 4096;
  config.index_interval_bytes = 256;
  config.sync = sync;
  if (with_retention) {
    config.retention_bytes = 16384;
    config.retention_ms = -1;
  }
  auto opened = PartitionLog::Open(io::PosixEnv(), tmp.path(), config);
  REQUIRE_OK(opened);
  PartitionLog& log = **opened;

  constexpr int kWriters = 4;
  constexpr int kBatches = 150;
  std::vector<std::vector<std::pair<AppendInfo, std::vector<TestRecord>>>> acked(kWriters);
  std::atomic<int> writers_done{0};
  std::atomic<int> reader_errors{0};
  std::atomic<int64_t> reader_records{0};

  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int b = 0; b < kBatches; ++b) {
        auto records = MakeRecords(1 + b % 4, w * 100000 + b * 10, 16 + b % 40);
        std::vector<uint8_t> batch = MakeBatch(records);
        auto info = log.Append(batch);
        if (!info.ok() || !log.Flush().ok()) {
          reader_errors.fetch_add(1000);
          break;
        }
        acked[static_cast<size_t>(w)].emplace_back(*info, records);
      }
      writers_done.fetch_add(1);
    });
  }
  threads.emplace_back([&] {  // a tailing reader
    int64_t offset = 0;
    while (writers_done.load() < kWriters || offset < log.visible_offset()) {
      auto read = log.Read(offset, 2048);
      if (!read.ok()) {
        if (read.status().code() == absl::StatusCode::kOutOfRange && with_retention) {
          offset = log.log_start_offset();  // retention overtook us
          continue;
        }
        reader_errors.fetch_add(1);
        break;
      }
      if (read->empty()) {
        std::this_thread::yield();
        continue;
      }
      if (read->slices.back().next_offset > read->visible_offset) reader_errors.fetch_add(1);
      auto records = testing::Decode(*read);
      if (!records.ok()) {
        reader_errors.fetch_add(1);
        break;
      }
      for (const auto& r : *records) {
        if (r.offset >= offset) {
          if (r.offset != offset) reader_errors.fetch_add(1);  // a gap or a repeat
          offset = r.offset + 1;
          reader_records.fetch_add(1);
        }
      }
    }
  });
  if (with_retention) {
    threads.emplace_back([&] {
      while (writers_done.load() < kWriters) {
        if (!log.EnforceRetention().ok()) reader_errors.fetch_add(1);
        std::this_thread::yield();
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(reader_errors.load() == 0);

  // Offsets: each acknowledged batch got its own contiguous range, covering [0, end).
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (const auto& per_writer : acked) {
    REQUIRE(per_writer.size() == static_cast<size_t>(kBatches));
    for (size_t i = 1; i < per_writer.size(); ++i) {
      CHECK(per_writer[i].first.base_offset > per_writer[i - 1].first.last_offset);
    }
    for (const auto& [info, records] : per_writer) {
      CHECK(info.last_offset - info.base_offset + 1 == static_cast<int64_t>(records.size()));
      ranges.emplace_back(info.base_offset, info.last_offset);
    }
  }
  std::sort(ranges.begin(), ranges.end());
  CHECK(ranges.front().first == 0);
  for (size_t i = 1; i < ranges.size(); ++i) CHECK(ranges[i].first == ranges[i - 1].second + 1);
  CHECK(log.log_end_offset() == ranges.back().second + 1);
  CHECK(reader_records.load() >= log.log_end_offset() - (with_retention ? log.log_end_offset() : 0));

  // Content: every record still retained reads back as it was acknowledged.
  auto all = ReadAll(log);
  REQUIRE_OK(all);
  std::map<int64_t, TestRecord> expected;
  for (const auto& per_writer : acked) {
    for (const auto& [info, records] : per_writer) {
      for (size_t i = 0; i < records.size(); ++i) {
        TestRecord r = records[i];
        r.offset = info.base_offset + static_cast<int64_t>(i);
        expected[r.offset] = r;
      }
    }
  }
  for (const auto& r : *all) CHECK(expected.at(r.offset) == r);
  if (!with_retention) CHECK(all->size() == expected.size());
  REQUIRE_OK(log.Close());
}

TEST_CASE("concurrent appenders and a tailing reader, sync none", "[concurrency]") {
  RunConcurrent(SyncPolicy::kNone, false);
}

TEST_CASE("concurrent appenders share fsyncs under sync always", "[concurrency]") {
  RunConcurrent(SyncPolicy::kAlways, false);
}

TEST_CASE("concurrent appenders, reader and retention", "[concurrency]") {
  RunConcurrent(SyncPolicy::kNone, true);
}

}  // namespace
}  // namespace runnel::storage
