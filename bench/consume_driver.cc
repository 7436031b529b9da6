// Consumer throughput and end-to-end latency beside the raw read limit, in one run
// (issue: "Consumers, consumer groups and committed offsets").
//
//   build/bench/runnel_consume_bench [--repetitions R] [--megabytes M] [--quick]
//
// Throughput: M MiB of 100-byte records (16-byte keys) are produced into a topic of 8
// partitions (not timed); then one consumer assigned all 8, two consumers on two threads
// assigned 4 each, and a consumer group of two members on two threads (Subscribe; the
// join and first rebalance are timed too) read everything from the beginning through the
// public API, touching every key and value. Beside it, the raw read limit: the same records framed in
// a file and read back with read() in 1 MiB chunks, every frame's CRC checked. Both read
// from the page cache.
//
// Latency: a producer thread sends at a fixed rate (linger.ms 0, sync.policy none); each
// record carries the time it was *scheduled* to be sent, so a stalled sender is charged
// for every record it delays (no coordinated omission). A consumer thread in a blocking
// Poll takes the time each record arrives. Percentiles of arrival minus schedule, for one
// record per send slot and for bursts of 100.
#include <fmt/format.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "bench_util.h"
#include "raw_limit.h"
#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/producer.h"
#include "util/formatters.h"

namespace runnel::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kPartitions = 8;

struct Throughput {
  double one = 0, two = 0, group = 0, raw = 0;  // records/s
};

absl::StatusOr<Throughput> RunThroughput(uint64_t megabytes) {
  TempDir dir;
  if (!dir.status().ok()) return dir.status();
  auto broker = Broker::Open(dir.Sub("data"));
  if (!broker.ok()) return broker.status();
  if (absl::Status s = (*broker)->CreateTopic("bench", kPartitions); !s.ok()) return s;
  const int64_t records = static_cast<int64_t>(megabytes * kMiB / (kKeySize + kValueSize));
  ProduceSpec produce;
  produce.records = records;
  if (absl::StatusOr<RunFigures> run = RunProduceWorkload(**broker, produce); !run.ok()) {
    return run.status();
  }

  Throughput t;
  uint64_t touched = 0;
  // One consumer assigned all partitions, two assigned half each, a group of two.
  for (auto [consumers, group, figure] : {std::tuple{1, false, &t.one}, std::tuple{2, false, &t.two},
                                          std::tuple{2, true, &t.group}}) {
    ConsumeSpec spec;
    spec.consumers = consumers;
    spec.group = group;
    absl::StatusOr<RunFigures> run = RunConsumeWorkload(**broker, spec);
    if (!run.ok()) return run.status();
    if (run->records != records) {
      return absl::InternalError(fmt::format("read {} of {} records", run->records, records));
    }
    *figure = run->records_per_second();
    touched += run->bytes;
  }
  if (absl::Status s = (*broker)->Close(); !s.ok()) return s;

  // The raw limit: the same bytes framed, written, then read back with CRC checks.
  const std::string path = dir.Sub("raw.log");
  absl::StatusOr<int> fd = CreateFile(path);
  if (!fd.ok()) return fd.status();
  std::vector<uint8_t> chunk(kMiB);
  uint64_t seq = 0;
  int64_t raw_records = 0, raw_bytes = 0;
  absl::Status st = WriteFramed(RecordPool::Get(), *fd, path, chunk, megabytes * kMiB, false, &seq,
                                &raw_records, &raw_bytes);
  close(*fd);
  if (!st.ok()) return st;
  const int rfd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (rfd < 0) return absl::InternalError(fmt::format("cannot open {}", path));
  std::vector<uint8_t> buf;
  int64_t read_bytes = 0;
  const auto start = Clock::now();
  absl::StatusOr<int64_t> n = ReadFramed(rfd, path, buf, &read_bytes, &touched);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  close(rfd);
  if (!n.ok()) return n.status();
  t.raw = static_cast<double>(*n) / seconds;
  if (touched == 0) std::printf(" ");  // keeps the touching alive
  return t;
}

absl::StatusOr<LatencyFigures> RunLatency(int64_t rate, int burst, double seconds) {
  TempDir dir;
  if (!dir.status().ok()) return dir.status();
  auto broker = Broker::Open(dir.Sub("data"));
  if (!broker.ok()) return broker.status();
  LatencySpec spec;
  spec.producer.linger_ms = 0;
  spec.rate = rate;
  spec.burst = burst;
  spec.seconds = seconds;
  absl::StatusOr<LatencyFigures> figures = RunLatencyWorkload(**broker, spec);
  if (!figures.ok()) return figures.status();
  if (absl::Status s = (*broker)->Close(); !s.ok()) return s;
  return figures;
}

int Main(int argc, char** argv) {
  int repetitions = 3;
  uint64_t megabytes = 256;
  double latency_seconds = 2;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--repetitions" && i + 1 < argc) {
      repetitions = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--megabytes" && i + 1 < argc) {
      megabytes = static_cast<uint64_t>(std::max(1, std::atoi(argv[++i])));
    } else if (arg == "--quick") {
      repetitions = 1;
      megabytes = 32;
      latency_seconds = 0.5;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--repetitions R] [--megabytes M] [--quick]\n"
                   "  R runs of each case (default 3, medians printed); M MiB of records to\n"
                   "  consume per run (default 256).\n",
                   argv[0]);
      return 2;
    }
  }
  std::vector<double> one, two, group, raw;
  for (int r = 0; r < repetitions; ++r) {
    absl::StatusOr<Throughput> t = RunThroughput(megabytes);
    if (!t.ok()) {
      std::fprintf(stderr, "error: %s\n", t.status().ToString().c_str());
      return 1;
    }
    one.push_back(t->one);
    two.push_back(t->two);
    group.push_back(t->group);
    raw.push_back(t->raw);
  }
  std::printf("%-40s %14s %9s\n", "consume, 100 B records, 8 partitions", "records/s", "vs raw");
  std::printf("%-40s %14.0f %8.0f%%\n", "one consumer", Median(one), 100 * Median(one) / Median(raw));
  std::printf("%-40s %14.0f %8.0f%%\n", "two consumers (4 partitions each)", Median(two),
              100 * Median(two) / Median(raw));
  std::printf("%-40s %14.0f %8.0f%%\n", "group of two (Subscribe, rebalance)", Median(group),
              100 * Median(group) / Median(raw));
  std::printf("%-40s %14.0f\n\n", "raw read limit (read() + CRC per frame)", Median(raw));

  std::printf("%-40s %9s %9s %9s %9s\n", "end-to-end latency (us), sync none", "p50", "p99",
              "p99.9", "max");
  for (int64_t rate : {10000, 100000}) {
    for (int burst : {1, 100}) {
      std::vector<double> p50, p99, p999, mx;
      for (int r = 0; r < repetitions; ++r) {
        absl::StatusOr<LatencyFigures> l = RunLatency(rate, burst, latency_seconds);
        if (!l.ok()) {
          std::fprintf(stderr, "error: %s\n", l.status().ToString().c_str());
          return 1;
        }
        p50.push_back(l->p50);
        p99.push_back(l->p99);
        p999.push_back(l->p999);
        mx.push_back(l->max);
      }
      const std::string name = fmt::format("{} records/s, {}", rate,
                                           burst == 1 ? "one per send slot" : "bursts of 100");
      std::printf("%-40s %9.1f %9.1f %9.1f %9.1f\n", name.c_str(), Median(p50), Median(p99),
                  Median(p999), Median(mx));
    }
  }
  std::printf("\nMedians of %d runs. Latency: arrival in a blocking Poll minus the time the\n"
              "record was scheduled to be sent (coordinated omission corrected).\n",
              repetitions);
  return 0;
}

}  // namespace
}  // namespace runnel::bench

int main(int argc, char** argv) { return runnel::bench::Main(argc, argv); }
