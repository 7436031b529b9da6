// Producer throughput beside the raw limit, in one run (issue: "Topics, the data
// directory, and the Producer").
//
//   build/bench/runnel_produce_bench [--repetitions R] [--megabytes M] [--filter TEXT] [--quick]
//
// For 100-byte and 1 KiB values (16-byte keys), 1 and 2 producer threads (a Producer
// each), 1 and 8 partitions, and sync.policy none and always, it sends keyed records
// through the public API (Broker + Producer, acks=all) and times them until Flush
// returns, i.e. until every record is acknowledged. In the same run it measures the raw
// limit for the same bytes: framed records written 1 MiB at a time (sync none), or with
// an fdatasync after every 16 KiB batch (sync always). It prints the medians of R runs and
// their ratio. Data lives under $TMPDIR (or /tmp) and is removed.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench_util.h"
#include "raw_limit.h"
#include "runnel/broker.h"
#include "runnel/producer.h"
#include "util/formatters.h"

namespace runnel::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Config {
  size_t value_size;
  int threads;
  int partitions;
  SyncPolicy sync;
};

struct Figure {
  double records_per_second = 0;
  double megabytes_per_second = 0;
};

absl::StatusOr<Figure> RunProducer(const Config& c, uint64_t total_bytes) {
  TempDir dir;
  if (!dir.status().ok()) return dir.status();
  auto broker = Broker::Open(dir.Sub("data"));
  if (!broker.ok()) return broker.status();
  TopicConfig topic;
  topic.sync_policy = c.sync;
  if (absl::Status s = (*broker)->CreateTopic("bench", c.partitions, topic); !s.ok()) return s;
  const uint64_t record_bytes = kKeySize + c.value_size;
  ProduceSpec spec;
  spec.value_size = c.value_size;
  spec.threads = c.threads;
  spec.records = static_cast<int64_t>(total_bytes / record_bytes) / c.threads * c.threads;
  absl::StatusOr<RunFigures> run = RunProduceWorkload(**broker, spec);
  if (!run.ok()) return run.status();
  if (absl::Status s = (*broker)->Close(); !s.ok()) return s;
  return Figure{run->records_per_second(), run->megabytes_per_second()};
}

absl::StatusOr<Figure> RunRawLimit(const Config& c, uint64_t total_bytes) {
  TempDir dir;
  if (!dir.status().ok()) return dir.status();
  const std::string path = dir.Sub("raw.log");
  absl::StatusOr<int> fd = CreateFile(path);
  if (!fd.ok()) return fd.status();
  const bool sync = c.sync == SyncPolicy::kAlways;
  std::vector<uint8_t> chunk(sync ? kBatchBytes : kMiB);
  uint64_t seq = 0;
  int64_t records = 0;
  int64_t bytes = 0;
  const auto start = Clock::now();
  absl::Status st = WriteFramed(RecordPool::Get(c.value_size), *fd, path, chunk, total_bytes, sync,
                                &seq, &records, &bytes);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  close(*fd);
  if (!st.ok()) return st;
  return Figure{static_cast<double>(records) / seconds, static_cast<double>(bytes) / seconds / 1e6};
}

int Main(int argc, char** argv) {
  int repetitions = 3;
  uint64_t megabytes = 256;
  uint64_t durable_megabytes = 32;
  std::string filter;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--repetitions" && i + 1 < argc) {
      repetitions = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--megabytes" && i + 1 < argc) {
      megabytes = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--filter" && i + 1 < argc) {
      filter = argv[++i];
    } else if (arg == "--quick") {
      repetitions = 1;
      megabytes = 32;
      durable_megabytes = 4;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--repetitions R] [--megabytes M] [--filter TEXT] [--quick]\n"
                   "  R runs of each case (default 3, medians printed); M MiB per run without\n"
                   "  fsync (default 256; durable runs write 32); only the cases whose name\n"
                   "  contains TEXT, e.g. \"100B 1thr 1part sync=none\".\n",
                   argv[0]);
      return 2;
    }
  }
  std::printf("%-34s %12s %9s %12s %9s %7s\n", "case", "runnel rec/s", "MB/s", "raw rec/s",
              "MB/s", "ratio");
  for (SyncPolicy sync : {SyncPolicy::kNone, SyncPolicy::kAlways}) {
    for (size_t value_size : {size_t{100}, size_t{1024}}) {
      for (int threads : {1, 2}) {
        for (int partitions : {1, 8}) {
          const Config c{value_size, threads, partitions, sync};
          const std::string name =
              fmt::format("{}B {}thr {}part sync={}", value_size, threads, partitions,
                          sync == SyncPolicy::kNone ? "none" : "always");
          if (name.find(filter) == std::string::npos) continue;
          const uint64_t total = (sync == SyncPolicy::kAlways ? durable_megabytes : megabytes) * kMiB;
          std::vector<double> ours, ours_mb, raw, raw_mb;
          for (int r = 0; r < repetitions; ++r) {
            absl::StatusOr<Figure> f = RunProducer(c, total);
            absl::StatusOr<Figure> l = RunRawLimit(c, total);
            if (!f.ok() || !l.ok()) {
              std::fprintf(stderr, "error: %s\n", (!f.ok() ? f.status() : l.status()).ToString().c_str());
              return 1;
            }
            ours.push_back(f->records_per_second);
            ours_mb.push_back(f->megabytes_per_second);
            raw.push_back(l->records_per_second);
            raw_mb.push_back(l->megabytes_per_second);
          }
          std::printf("%-34s %12.0f %9.0f %12.0f %9.0f %6.0f%%\n", name.c_str(), Median(ours),
                      Median(ours_mb), Median(raw), Median(raw_mb),
                      100.0 * Median(ours) / Median(raw));
          std::fflush(stdout);
        }
      }
    }
  }
  std::printf(
      "\nraw limit: sync=none rows write() 1 MiB at a time; sync=always rows fdatasync after\n"
      "every 16 KiB, the producer's batch.size. Medians of %d runs.\n",
      repetitions);
  return 0;
}

}  // namespace
}  // namespace runnel::bench

int main(int argc, char** argv) { return runnel::bench::Main(argc, argv); }
