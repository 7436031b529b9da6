// The workloads of runnel's end-to-end benchmarks, shared by the drivers in bench/
// (runnel_produce_bench, runnel_consume_bench) and by `runnel bench`: a deterministic
// pool of records shaped like a typical event (16-byte keys, 100-byte values by default),
// temporary directories, and the produce, consume and end-to-end latency loops over the
// public API. It lives under tools/ (built into the tool, and as the static library
// runnel_bench_workload by bench/CMakeLists.txt) because benchmarks may be built without
// the tool and the other way round. No Google Benchmark here.
//
// Progress: each workload adds the records it has done to an optional atomic counter,
// every few hundred records, so a caller can show a live progress line.
#ifndef RUNNEL_TOOLS_BENCH_WORKLOAD_H_
#define RUNNEL_TOOLS_BENCH_WORKLOAD_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runnel/broker.h"
#include "runnel/producer.h"

namespace runnel::bench {

inline constexpr size_t kKeySize = 16;
inline constexpr size_t kValueSize = 100;
// The target size of one RecordBatch: a producer's batch.size (Kafka's default is 16 KiB).
inline constexpr size_t kBatchBytes = 16 * 1024;
inline constexpr size_t kMiB = 1024 * 1024;
// Record n of a run carries the timestamp kBaseTimestamp + n (milliseconds).
inline constexpr int64_t kBaseTimestamp = 1'700'000'000'000;

// The median of several runs' figures, as every driver reports them.
inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct BenchRecord {
  std::string_view key;
  std::string_view value;
};

// A fixed set of records, identical on every run; benchmarks cycle through it by a
// running sequence number. Small enough (~1 MiB) to stay in cache, as a producer's
// freshly made records would be.
class RecordPool {
 public:
  // The pool of records with `value_size`-byte values and `key_size`-byte keys: "key-"
  // and 12 digits for 16, the last key_size characters of that when shorter, padded with
  // '0' after "key-" when longer. Thread-safe.
  static const RecordPool& Get(size_t value_size = kValueSize, size_t key_size = kKeySize);
  const BenchRecord& at(uint64_t seq) const { return records_[seq & kMask]; }
  size_t value_size() const { return value_size_; }
  size_t key_size() const { return key_size_; }

 private:
  static constexpr size_t kCount = 8192;  // a power of two
  static constexpr uint64_t kMask = kCount - 1;
  RecordPool(size_t value_size, size_t key_size);

  size_t value_size_;
  size_t key_size_;
  std::string bytes_;
  std::vector<BenchRecord> records_;
};

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

// What a throughput workload did.
struct RunFigures {
  int64_t records = 0;
  uint64_t bytes = 0;  // keys plus values
  double seconds = 0;
  double records_per_second() const { return seconds > 0 ? static_cast<double>(records) / seconds : 0; }
  double megabytes_per_second() const {
    return seconds > 0 ? static_cast<double>(bytes) / seconds / 1e6 : 0;
  }
};

struct ProduceSpec {
  std::string topic = "bench";
  size_t value_size = kValueSize;
  size_t key_size = kKeySize;  // 0: null keys (the sticky partitioner spreads them)
  int threads = 1;             // a Producer each
  ProducerOptions producer;
  // How much: `records` if above 0, else `seconds` if above 0 (each thread sends until
  // then). Records are split evenly between the threads.
  int64_t records = 0;
  double seconds = 0;
  std::atomic<int64_t>* progress = nullptr;  // records sent so far
};

// Sends pool records (keyed, partitioner's choice) to spec.topic, which must exist, from
// spec.threads threads, and times them until every Producer's Flush returns, i.e. until
// every record is acknowledged.
absl::StatusOr<RunFigures> RunProduceWorkload(Broker& broker, const ProduceSpec& spec);

struct ConsumeSpec {
  std::string topic = "bench";
  int consumers = 1;  // threads, a Consumer each
  // false: the partitions are split round-robin and Assign-ed; true: every consumer joins
  // group "bench-group" with Subscribe (joining and the first rebalance are timed).
  bool group = false;
  int32_t max_poll_records = 10000;
  std::atomic<int64_t>* progress = nullptr;  // records read so far
};

// Reads spec.topic from the beginning to its end offsets as they are when called,
// touching every key and value.
absl::StatusOr<RunFigures> RunConsumeWorkload(Broker& broker, const ConsumeSpec& spec);

struct LatencySpec {
  std::string topic = "latency";  // created by the workload: must not exist
  int partitions = 1;
  TopicConfig topic_config;
  ProducerOptions producer;  // linger.ms 0 is usual
  int64_t rate = 10000;      // records per second
  int burst = 1;             // records per send slot
  double seconds = 2;
  size_t value_size = kValueSize;  // at least 8: the value carries the scheduled time
  std::atomic<int64_t>* progress = nullptr;  // records received so far
};

struct LatencyFigures {
  int64_t records = 0;
  double seconds = 0;
  double p50 = 0, p99 = 0, p999 = 0, max = 0;  // microseconds
};

// A producer thread sends at a fixed rate; each record carries the time it was
// *scheduled* to be sent, so a stalled sender is charged for every record it delays (no
// coordinated omission). A consumer thread in a blocking Poll takes the time each record
// arrives. Percentiles of arrival minus schedule.
absl::StatusOr<LatencyFigures> RunLatencyWorkload(Broker& broker, const LatencySpec& spec);

}  // namespace runnel::bench

#endif  // RUNNEL_TOOLS_BENCH_WORKLOAD_H_
