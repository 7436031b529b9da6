// Shared pieces of runnel's Google Benchmark binaries: filling ~16 KiB RecordBatch v2
// batches from the record pool, and clean-ups that bench_main runs once every benchmark is
// done (for fixtures shared between runs). The record pool, temporary directories and the
// end-to-end workloads are in tools/bench_workload.h, which `runnel bench` shares.
//
// Every benchmark takes its records from the same pool in the same order, so the raw
// limit (raw_limit_bench.cc) and the log (partition_log_bench.cc) move the same bytes.
#ifndef RUNNEL_BENCH_BENCH_UTIL_H_
#define RUNNEL_BENCH_BENCH_UTIL_H_

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "format/record_batch_builder.h"
#include "tools/bench_workload.h"

namespace runnel::bench {

// How many pool records fill one batch of at most `batch_bytes` (129 for 16 KiB).
// Computed by building such a batch: call it outside the timed loop.
int RecordsPerBatch(size_t batch_bytes = kBatchBytes);

// Adds `records` records to `builder` from pool sequence *seq on (advancing it) and
// returns the sealed batch, a view valid until the builder is used again.
std::span<uint8_t> BuildBatch(format::RecordBatchBuilder& builder, uint64_t* seq, int records);

// Fails the benchmark with `what` and the status unless it is OK; true when OK.
bool CheckOk(benchmark::State& state, const absl::Status& status, std::string_view what);

// Runs `fn` after every benchmark has run (bench_main calls RunCleanups), to drop fixtures
// that several runs share, such as a filled log. Runs in reverse order of registration.
void AtBenchExit(std::function<void()> fn);
void RunCleanups();

}  // namespace runnel::bench

#endif  // RUNNEL_BENCH_BENCH_UTIL_H_
