// One system of the comparison (runnel, a peer, or the raw limit) and the workloads every
// system runs: produce throughput, consume throughput from a full log, and end-to-end
// latency at a fixed rate. Each system maps "partitions" onto its own notion (a Redis
// stream, a NATS subject, an SQLite table per partition) and says how durable a row is.
//
// The records are the pool of tools/bench_workload.h (16-byte keys, 100-byte or 1 KiB
// values), so every system moves the same bytes; figures are RunFigures and
// LatencyFigures from there.
#ifndef RUNNEL_BENCH_COMPARE_SYSTEM_H_
#define RUNNEL_BENCH_COMPARE_SYSTEM_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/bench_workload.h"

namespace runnel::bench {

struct ProduceCase {
  size_t value_size = kValueSize;
  int threads = 1;
  int partitions = 1;
  bool durable = false;  // every acknowledged record is on disk (fsync), group commit allowed
  int64_t max_records = 0;   // stop after this many records in all ...
  double max_seconds = 1;    // ... or after this long, whichever comes first
  std::atomic<int64_t>* progress = nullptr;
};

struct ConsumeCase {
  int partitions = 8;
  int64_t records = 0;  // 100-byte records put in (untimed) before reading
  std::atomic<int64_t>* progress = nullptr;
};

struct ConsumeFigures {
  RunFigures one;    // one consumer reading every partition
  RunFigures group;  // a consumer group of two members on two threads
};

struct LatencyCase {
  int64_t rate = 10000;  // records per second
  int burst = 1;         // records per send slot
  double seconds = 2;
  std::atomic<int64_t>* progress = nullptr;
};

// What a latency run did; `sent` below `planned` means the system could not keep up and
// the run was cut short (the percentiles are then of the records that arrived).
struct LatencyRun {
  LatencyFigures figures;
  int64_t planned = 0;
  int64_t sent = 0;
};

class System {
 public:
  virtual ~System() = default;
  virtual std::string name() const = 0;
  // What a row of this system promises after a crash, for the report ("page cache",
  // "fsync per batch", ...).
  virtual std::string durability(bool durable) const = 0;
  // The version of the server or library, for the report.
  virtual std::string version() const = 0;
  virtual absl::StatusOr<RunFigures> Produce(const ProduceCase& c) = 0;
  virtual absl::StatusOr<ConsumeFigures> Consume(const ConsumeCase& c) = 0;
  virtual bool has_latency() const { return true; }
  virtual absl::StatusOr<LatencyRun> Latency(const LatencyCase& c) = 0;
};

// The systems. A peer's driver is compiled only when its client library was found at build
// time (RUNNEL_COMPARE_REDIS, _NATS, _SQLITE are then defined); a peer whose server program
// is missing fails its cases with NotFound.
std::unique_ptr<System> MakeRunnelSystem();
std::unique_ptr<System> MakeRawSystem();
std::unique_ptr<System> MakeFramingSystem();  // the raw limit without I/O
std::unique_ptr<System> MakeRedisSystem();
std::unique_ptr<System> MakeNatsSystem();
std::unique_ptr<System> MakeSqliteSystem();

// Helpers for the peers' drivers.

// The partition of a pool record's key: FNV-1a, stable across runs and processes.
int PartitionOf(std::string_view key, int partitions);

// The records thread `t` of `threads` sends in a case capped at c.max_records.
int64_t QuotaOf(const ProduceCase& c, int t);

// Runs body(t) on c.threads threads, timing them all; each returns the records it sent.
// The first error wins.
absl::StatusOr<RunFigures> TimeThreads(const ProduceCase& c,
                                       const std::function<absl::StatusOr<int64_t>(int t)>& body);

// A latency run for a peer: `send` is called from one thread at the scheduled times with
// a value whose first 8 bytes hold the scheduled time (ns since the run's origin); then
// `flush` once at the end. `receive` is called in a loop on another thread and appends the
// values' first 8 bytes (use ScheduledOf) of the records that arrived; it may block up to
// about 100 ms. Percentiles of arrival minus schedule (coordinated omission corrected). A
// sender more than 3 s behind its schedule stops early: the run is then marked short.
struct LatencyHooks {
  std::function<absl::Status(std::string_view key, std::string_view value)> send;
  std::function<absl::Status()> flush;
  std::function<absl::Status(std::vector<int64_t>* scheduled_ns)> receive;
};
absl::StatusOr<LatencyRun> RunPeerLatency(const LatencyCase& c, const LatencyHooks& hooks);

inline int64_t ScheduledOf(const void* value) {
  int64_t ns;
  std::memcpy(&ns, value, sizeof ns);
  return ns;
}

}  // namespace runnel::bench

#endif  // RUNNEL_BENCH_COMPARE_SYSTEM_H_
