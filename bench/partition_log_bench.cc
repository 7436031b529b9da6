// The partition log end to end, on the real file system (io::PosixEnv), with the records
// of the raw limit (raw_limit_bench.cc) in ~16 KiB RecordBatches. Items are records.
//
//   PartitionLog/Append            64 MiB per iteration into a new log, sync policy none:
//                                  build each batch with RecordBatchBuilder (timed, as the
//                                  raw limit's framing is) and Append it with verify=false,
//                                  the in-process producer's trusted path
//   PartitionLog/AppendBatches64   the same batches handed over 64 at a time (1 MiB) to
//                                  AppendBatches, which writes them with one pwritev: what
//                                  the producer's sender does with the batches ready for a
//                                  partition
//   PartitionLog/AppendVerify      as Append with verify=true (CheckBatch and its CRC pass)
//   PartitionLog/AppendSyncAlways  8 MiB per iteration, sync policy always, Flush() after
//                                  every batch: compare with RawLimit/WriteFdatasync16K
//   PartitionLog/Append1MiB        as Append, with ~1 MiB batches (the largest that
//                                  max.message.bytes admits): the log's cost when each
//                                  append is as large as the raw limit's write()
//   PartitionLog/SequentialRead    a 256 MiB log in 64 MiB segments (so reads cross rolls),
//                                  read from offset 0 to the end with Read(offset, 1 MiB),
//                                  every batch checked with its CRC (CheckBatch) and every
//                                  record decoded (RecordIterator)
//
// Each append iteration starts from an empty log, opened (and afterwards deleted) outside
// the timing, so the page cache sees what the raw limit's recreated file sees.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "bench_util.h"
#include "format/record_batch.h"
#include "format/record_batch_builder.h"
#include "io/env.h"
#include "storage/log_config.h"
#include "storage/partition_log.h"
#include "util/formatters.h"

namespace runnel::bench {
namespace {

using storage::AppendOptions;
using storage::LogConfig;
using storage::PartitionLog;
using storage::SyncPolicy;

constexpr uint64_t kAppendTotal = 64 * kMiB;
constexpr uint64_t kSyncAppendTotal = 8 * kMiB;
constexpr uint64_t kFilledLogBytes = 256 * kMiB;
constexpr int64_t kFilledSegmentBytes = 64 * kMiB;
constexpr size_t kReadMaxBytes = kMiB;

struct AppendCase {
  size_t batch_bytes = kBatchBytes;
  // Batches handed to one AppendBatches call (1: Append), as the producer's sender hands
  // over everything that is ready for a partition.
  int batches_per_call = 1;
  SyncPolicy sync = SyncPolicy::kNone;
  bool verify = false;
  bool flush_each_batch = false;
  uint64_t total = kAppendTotal;
};

void RemoveAll(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

void BM_Append(benchmark::State& state, AppendCase c) {
  TempDir root;
  if (!CheckOk(state, root.status(), "temp dir")) return;
  const std::string dir = root.Sub("bench-0");
  LogConfig config;
  config.sync = c.sync;
  format::RecordBatchBuilder builder;
  std::vector<format::RecordBatchBuilder> builders(static_cast<size_t>(c.batches_per_call));
  std::vector<std::span<uint8_t>> spans;
  const int per_batch = RecordsPerBatch(c.batch_bytes);
  const AppendOptions options{.verify = c.verify};
  uint64_t seq = 0;
  int64_t records = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    RemoveAll(dir);
    absl::StatusOr<std::unique_ptr<PartitionLog>> log =
        PartitionLog::Open(io::PosixEnv(), dir, config);
    if (!CheckOk(state, log.status(), "open")) break;
    state.ResumeTiming();
    absl::Status st;
    uint64_t written = 0;
    while (written < c.total && st.ok()) {
      if (c.batches_per_call == 1) {
        const std::span<uint8_t> batch = BuildBatch(builder, &seq, per_batch);
        st = (*log)->Append(batch, options).status();
        written += batch.size();
      } else {
        spans.clear();
        for (int b = 0; b < c.batches_per_call; ++b) {
          spans.push_back(BuildBatch(builders[static_cast<size_t>(b)], &seq, per_batch));
          written += spans.back().size();
        }
        st = (*log)->AppendBatches(spans, options).status;
      }
      if (st.ok() && c.flush_each_batch) st = (*log)->Flush();
      records += static_cast<int64_t>(per_batch) * c.batches_per_call;
    }
    bytes += static_cast<int64_t>(written);
    state.PauseTiming();
    log->reset();  // as a crash would: no final fsync
    RemoveAll(dir);
    if (!CheckOk(state, st, "append")) break;
    state.ResumeTiming();
  }
  state.SetItemsProcessed(records);
  state.SetBytesProcessed(bytes);
}
BENCHMARK_CAPTURE(BM_Append, none, AppendCase{})
    ->Name("PartitionLog/Append")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Append, batches_64, AppendCase{.batches_per_call = 64})
    ->Name("PartitionLog/AppendBatches64")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Append, verify, AppendCase{.verify = true})
    ->Name("PartitionLog/AppendVerify")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Append, always,
                  AppendCase{.sync = SyncPolicy::kAlways, .flush_each_batch = true,
                             .total = kSyncAppendTotal})
    ->Name("PartitionLog/AppendSyncAlways")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Append, batch_1mib, AppendCase{.batch_bytes = kMiB})
    ->Name("PartitionLog/Append1MiB")->UseRealTime()->Unit(benchmark::kMillisecond);

// A log of kFilledLogBytes, written once and shared by every SequentialRead run.
struct FilledLog {
  TempDir dir;
  std::unique_ptr<PartitionLog> log;
  int64_t records = 0;
};

absl::StatusOr<FilledLog*> SharedFilledLog() {
  static FilledLog* filled = nullptr;
  if (filled != nullptr) return filled;
  auto made = std::make_unique<FilledLog>();
  if (!made->dir.status().ok()) return made->dir.status();
  LogConfig config;
  config.segment_bytes = kFilledSegmentBytes;
  absl::StatusOr<std::unique_ptr<PartitionLog>> log =
      PartitionLog::Open(io::PosixEnv(), made->dir.Sub("bench-0"), config);
  if (!log.ok()) return log.status();
  made->log = std::move(*log);
  format::RecordBatchBuilder builder;
  const int per_batch = RecordsPerBatch();
  uint64_t seq = 0;
  for (uint64_t written = 0; written < kFilledLogBytes;) {
    const std::span<uint8_t> batch = BuildBatch(builder, &seq, per_batch);
    absl::StatusOr<storage::AppendInfo> info = made->log->Append(batch, {.verify = false});
    if (!info.ok()) return info.status();
    written += batch.size();
    made->records += per_batch;
  }
  filled = made.release();
  AtBenchExit([] {
    delete filled;
    filled = nullptr;
  });
  return filled;
}

// Reads the log from offset 0 to its visible end, checking and decoding every batch.
absl::Status ReadAll(const PartitionLog& log, int64_t* records, int64_t* bytes,
                     uint64_t* touched) {
  const int64_t end = log.visible_offset();
  for (int64_t offset = 0; offset < end;) {
    absl::StatusOr<storage::ReadResult> read = log.Read(offset, kReadMaxBytes);
    if (!read.ok()) return read.status();
    for (const storage::LogSlice& slice : read->slices) {
      for (std::span<const uint8_t> rest = slice.bytes; !rest.empty();) {
        const format::BatchCheckResult check = format::CheckBatch(rest);
        if (check.check != format::BatchCheck::kValid) {
          return absl::DataLossError(fmt::format("bad batch at offset {}: {}", offset, check.reason));
        }
        const std::span<const uint8_t> batch = rest.first(check.header.size_in_bytes());
        format::RecordIterator it(batch, check.header);
        format::Record record;
        while (it.Next(&record)) {
          *touched += (record.key ? record.key->size() : 0) + (record.value ? record.value->size() : 0);
          ++*records;
        }
        if (!it.status().ok()) return it.status();
        *bytes += static_cast<int64_t>(batch.size());
        rest = rest.subspan(batch.size());
      }
    }
    if (read->next_offset <= offset) {
      return absl::InternalError(fmt::format("read at offset {} made no progress", offset));
    }
    offset = read->next_offset;
  }
  return absl::OkStatus();
}

void BM_SequentialRead(benchmark::State& state) {
  absl::StatusOr<FilledLog*> filled = SharedFilledLog();
  if (!CheckOk(state, filled.status(), "filling the log to read")) return;
  int64_t records = 0;
  int64_t bytes = 0;
  uint64_t touched = 0;
  for (auto _ : state) {
    const int64_t before = records;
    if (!CheckOk(state, ReadAll(*(*filled)->log, &records, &bytes, &touched), "read")) break;
    if (records - before != (*filled)->records) {
      state.SkipWithError("the read returned a different number of records than were appended");
      break;
    }
  }
  benchmark::DoNotOptimize(touched);
  state.SetItemsProcessed(records);
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_SequentialRead)
    ->Name("PartitionLog/SequentialRead")->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace runnel::bench
