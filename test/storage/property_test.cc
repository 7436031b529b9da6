// Randomised operations on a partition log checked step by step against a model (a vector
// of records and a log start offset): appends of random batches, reads from random
// offsets, rolls, retention, truncation, clean reopens and crash reopens. The seed is
// printed; RUNNEL_SEED=<n> replays one. Pass criteria: after every step the log reads
// back exactly the model's records from its log start.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <random>

#include "storage/partition_log.h"
#include "support/log_testing.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel::storage {
namespace {

using testing::AppendRecords;
using testing::ReadAll;
using testing::TempDir;
using testing::TestRecord;

uint64_t SeedFromEnvOr(uint64_t fallback) {
  const char* s = std::getenv("RUNNEL_SEED");
  return s != nullptr ? std::strtoull(s, nullptr, 10) : fallback;
}

TEST_CASE("random appends, reads, rolls, retention, truncation and reopens match a model",
          "[property]") {
  const uint64_t base_seed = SeedFromEnvOr(std::random_device{}());
  const int rounds = std::getenv("RUNNEL_SEED") != nullptr ? 1 : 6;
  for (int round = 0; round < rounds; ++round) {
    const uint64_t seed = base_seed + static_cast<uint64_t>(round);
    INFO("seed " << seed << " (replay with RUNNEL_SEED=" << seed << ")");
    std::mt19937_64 rng(seed);
    auto pick = [&](int64_t lo, int64_t hi) {
      return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
    };
    TempDir tmp;
    LogConfig config;
    config.segment_bytes = pick(2000, 5000);  // above the largest batch (8 x ~220 bytes)
    config.index_interval_bytes = static_cast<int32_t>(pick(0, 500));
    config.segment_index_bytes = 4096;
    config.retention_ms = -1;
    config.sync = pick(0, 1) ? SyncPolicy::kNone : SyncPolicy::kAlways;

    std::vector<TestRecord> model;  // records from log start on
    int64_t log_start = 0;
    int next_key = 0;
    auto log = PartitionLog::Open(io::PosixEnv(), tmp.path(), config);
    REQUIRE_OK(log);

    for (int step = 0; step < 300; ++step) {
      const int64_t op = pick(0, 99);
      INFO("step " << step << " op " << op);
      if (op < 55) {  // append a random batch
        std::vector<TestRecord> records;
        const int64_t n = pick(1, 8);
        for (int64_t i = 0; i < n; ++i) {
          TestRecord r;
          r.timestamp = pick(0, 1'000'000);
          if (pick(0, 9) > 0) r.key = "key" + std::to_string(next_key++);
          if (pick(0, 9) > 0) r.value = std::string(static_cast<size_t>(pick(0, 200)), static_cast<char>('a' + pick(0, 25)));
          records.push_back(std::move(r));
        }
        // One batch through Append, or the records split over several batches
        // appended by one AppendBatches call.
        const int64_t parts = pick(1, 3);
        if (parts == 1) {
          REQUIRE_OK(AppendRecords(**log, records));
        } else {
          std::vector<std::vector<uint8_t>> built;
          for (int64_t p = 0; p < parts; ++p) {
            const size_t from = records.size() * static_cast<size_t>(p) / static_cast<size_t>(parts);
            const size_t to = records.size() * static_cast<size_t>(p + 1) / static_cast<size_t>(parts);
            if (from < to) {
              built.push_back(testing::MakeBatch(std::vector<TestRecord>(
                  records.begin() + static_cast<ptrdiff_t>(from), records.begin() + static_cast<ptrdiff_t>(to))));
            }
          }
          std::vector<std::span<uint8_t>> spans(built.begin(), built.end());
          const PartitionLog::AppendResult appended = (*log)->AppendBatches(spans);
          REQUIRE_OK(appended.status);
          REQUIRE(appended.appended.size() == built.size());
          // The batches hold the records in order, so offsets run on from the first.
          for (size_t r = 0; r < records.size(); ++r) {
            records[r].offset = appended.appended.front().base_offset + static_cast<int64_t>(r);
          }
          REQUIRE(appended.appended.back().last_offset == records.back().offset);
        }
        REQUIRE_OK((*log)->Flush());
        model.insert(model.end(), records.begin(), records.end());
      } else if (op < 75) {  // read from a random offset with a random limit
        const int64_t end = log_start + static_cast<int64_t>(model.size());
        const int64_t from = pick(log_start, end);
        auto got = ReadAll(**log, from, static_cast<size_t>(pick(1, 2000)));
        REQUIRE_OK(got);
        REQUIRE(*got == std::vector<TestRecord>(model.begin() + (from - log_start), model.end()));
      } else if (op < 80) {
        REQUIRE_OK((*log)->Roll());
      } else if (op < 85) {  // retention by bytes
        LogConfig c = config;
        c.retention_bytes = pick(0, 4000);
        REQUIRE_OK((*log)->Close());
        log = PartitionLog::Open(io::PosixEnv(), tmp.path(), c);
        REQUIRE_OK(log);
        REQUIRE_OK((*log)->EnforceRetention());
        const int64_t new_start = (*log)->log_start_offset();
        REQUIRE(new_start >= log_start);
        model.erase(model.begin(), model.begin() + std::min<int64_t>(new_start - log_start, static_cast<int64_t>(model.size())));
        log_start = new_start;
        REQUIRE_OK((*log)->Close());
        log = PartitionLog::Open(io::PosixEnv(), tmp.path(), config);
        REQUIRE_OK(log);
      } else if (op < 90 && !model.empty()) {  // truncate to a batch boundary or inside one
        const int64_t to = pick(log_start, log_start + static_cast<int64_t>(model.size()) - 1);
        REQUIRE_OK((*log)->TruncateTo(to));
        const int64_t end = (*log)->log_end_offset();
        REQUIRE(end <= to);
        REQUIRE(end >= log_start);
        model.resize(static_cast<size_t>(end - log_start));
      } else if (op < 95) {  // clean reopen
        REQUIRE_OK((*log)->Close());
        log = PartitionLog::Open(io::PosixEnv(), tmp.path(), config);
        REQUIRE_OK(log);
        INFO((*log)->recovery_report().ToString());
        REQUIRE((*log)->recovery_report().segments_scanned == 0);
      } else {  // crash and reopen
        log->reset();
        log = PartitionLog::Open(io::PosixEnv(), tmp.path(), config);
        REQUIRE_OK(log);
        REQUIRE((*log)->recovery_report().problems.empty());
        REQUIRE((*log)->recovery_report().bytes_truncated == 0);
      }
      REQUIRE((*log)->log_start_offset() == log_start);
      REQUIRE((*log)->log_end_offset() == log_start + static_cast<int64_t>(model.size()));
    }
    auto all = ReadAll(**log);
    REQUIRE_OK(all);
    CHECK(*all == model);
  }
}

}  // namespace
}  // namespace runnel::storage
