// Shared pieces of runnel's benchmarks: a deterministic pool of records shaped like a
// typical event (a 16-byte key and a 100-byte value), filling ~16 KiB RecordBatch v2
// batches from it, temporary directories under $TMPDIR (or /tmp), and clean-ups that
// bench_main runs once every benchmark is done (for fixtures shared between runs).
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

namespace runnel::bench {

inline constexpr size_t kKeySize = 16;
inline constexpr size_t kValueSize = 100;
// The target size of one RecordBatch: a producer's batch.size (Kafka's default is 16 KiB).
inline constexpr size_t kBatchBytes = 16 * 1024;
inline constexpr size_t kMiB = 1024 * 1024;
// Record n of a run carries the timestamp kBaseTimestamp + n (milliseconds).
// The median of several runs' figures, as every driver reports them.
inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

inline constexpr int64_t kBaseTimestamp = 1'700'000'000'000;

struct BenchRecord {
  std::string_view key;
  std::string_view value;
};

// A fixed set of records, identical on every run; benchmarks cycle through it by a
// running sequence number. Small enough (~1 MiB) to stay in cache, as a producer's
// freshly made records would be.
class RecordPool {
 public:
  // The pool of records with `value_size`-byte values (kValueSize by default).
  static const RecordPool& Get(size_t value_size = kValueSize);
  const BenchRecord& at(uint64_t seq) const { return records_[seq & kMask]; }
  size_t value_size() const { return value_size_; }

 private:
  static constexpr size_t kCount = 8192;  // a power of two
  static constexpr uint64_t kMask = kCount - 1;
  explicit RecordPool(size_t value_size);

  size_t value_size_;
  std::string bytes_;
  std::vector<BenchRecord> records_;
};

// How many pool records fill one batch of at most `batch_bytes` (129 for 16 KiB).
// Computed by building such a batch: call it outside the timed loop.
int RecordsPerBatch(size_t batch_bytes = kBatchBytes);

// Adds `records` records to `builder` from pool sequence *seq on (advancing it) and
// returns the sealed batch, a view valid until the builder is used again.
std::span<uint8_t> BuildBatch(format::RecordBatchBuilder& builder, uint64_t* seq, int records);

// The directory temporary files go under: $TMPDIR, or /tmp.
std::string TempRoot();

// A fresh directory `<TempRoot()>/runnel-bench-XXXXXX`, removed with its contents when
// destroyed. path() is empty if it could not be made (status() says why).
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  const absl::Status& status() const { return status_; }
  std::string Sub(std::string_view name) const;

 private:
  std::string path_;
  absl::Status status_;
};

// Fails the benchmark with `what` and the status unless it is OK; true when OK.
bool CheckOk(benchmark::State& state, const absl::Status& status, std::string_view what);

// Runs `fn` after every benchmark has run (bench_main calls RunCleanups), to drop fixtures
// that several runs share, such as a filled log. Runs in reverse order of registration.
void AtBenchExit(std::function<void()> fn);
void RunCleanups();

}  // namespace runnel::bench

#endif  // RUNNEL_BENCH_BENCH_UTIL_H_
