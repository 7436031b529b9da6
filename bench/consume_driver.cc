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
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
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

absl::Status Produce(Broker& broker, const std::string& topic, int64_t records) {
  auto producer = Producer::Create(broker);
  if (!producer.ok()) return producer.status();
  const RecordPool& pool = RecordPool::Get();
  for (int64_t i = 0; i < records; ++i) {
    const BenchRecord& r = pool.at(static_cast<uint64_t>(i));
    if (absl::Status s = (*producer)->Send({.topic = topic, .key = r.key, .value = r.value}); !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = (*producer)->Flush(); !s.ok()) return s;
  return (*producer)->Close();
}

// Reads `partitions` from the beginning until `expected` records came; returns the count
// and adds the key and value sizes to *touched.
absl::StatusOr<int64_t> ConsumeAll(Broker& broker, std::vector<TopicPartition> partitions,
                                   int64_t expected, uint64_t* touched) {
  ConsumerOptions options;
  options.auto_offset_reset = OffsetReset::kEarliest;
  options.max_poll_records = 10000;
  auto consumer = Consumer::Create(broker, options);
  if (!consumer.ok()) return consumer.status();
  if (absl::Status s = (*consumer)->Assign(partitions); !s.ok()) return s;
  int64_t got = 0;
  while (got < expected) {
    auto records = (*consumer)->Poll(std::chrono::milliseconds(1000));
    if (!records.ok()) return records.status();
    if (records->empty()) break;
    for (const ConsumerRecord& r : *records) *touched += r.key->size() + r.value->size();
    got += static_cast<int64_t>(records->size());
  }
  return got;
}

// One member of group "bench-group": polls until the group as a whole has read
// `expected` records. Joining and the rebalance are part of the time, as in a real start.
absl::Status ConsumeInGroup(Broker& broker, int64_t expected, std::atomic<int64_t>* group_total,
                            uint64_t* touched) {
  ConsumerOptions options;
  options.group_id = "bench-group";
  options.auto_offset_reset = OffsetReset::kEarliest;
  options.max_poll_records = 10000;
  auto consumer = Consumer::Create(broker, options);
  if (!consumer.ok()) return consumer.status();
  if (absl::Status s = (*consumer)->Subscribe({"bench"}); !s.ok()) return s;
  while (group_total->load() < expected) {
    auto records = (*consumer)->Poll(std::chrono::milliseconds(100));
    if (!records.ok()) return records.status();
    for (const ConsumerRecord& r : *records) *touched += r.key->size() + r.value->size();
    group_total->fetch_add(static_cast<int64_t>(records->size()));
  }
  return (*consumer)->Close();
}

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
  if (absl::Status s = Produce(**broker, "bench", records); !s.ok()) return s;

  std::vector<TopicPartition> all;
  for (int p = 0; p < kPartitions; ++p) all.push_back({"bench", p});
  Throughput t;
  uint64_t touched = 0;
  {
    const auto start = Clock::now();
    auto got = ConsumeAll(**broker, all, records, &touched);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (!got.ok()) return got.status();
    if (*got != records) return absl::InternalError(fmt::format("read {} of {}", *got, records));
    t.one = static_cast<double>(records) / seconds;
  }
  {
    // Each half's expected count comes from its partitions' end offsets.
    std::vector<TopicPartition> half[2];
    for (int p = 0; p < kPartitions; ++p) half[p % 2].push_back(all[static_cast<size_t>(p)]);
    int64_t expected[2] = {0, 0};
    for (int h = 0; h < 2; ++h) {
      for (const TopicPartition& tp : half[h]) {
        expected[h] += (*broker)->DescribeTopic("bench")->partitions[static_cast<size_t>(tp.partition)].log_end_offset;
      }
    }
    absl::StatusOr<int64_t> got[2] = {0, 0};
    uint64_t touched2[2] = {0, 0};
    const auto start = Clock::now();
    std::thread other([&] { got[1] = ConsumeAll(**broker, half[1], expected[1], &touched2[1]); });
    got[0] = ConsumeAll(**broker, half[0], expected[0], &touched2[0]);
    other.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    for (auto& g : got) {
      if (!g.ok()) return g.status();
    }
    if (*got[0] + *got[1] != records) return absl::InternalError("two consumers missed records");
    t.two = static_cast<double>(records) / seconds;
    touched += touched2[0] + touched2[1];
  }
  {
    std::atomic<int64_t> total{0};
    uint64_t touched2[2] = {0, 0};
    absl::Status st[2];
    const auto start = Clock::now();
    std::thread other([&] { st[1] = ConsumeInGroup(**broker, records, &total, &touched2[1]); });
    st[0] = ConsumeInGroup(**broker, records, &total, &touched2[0]);
    other.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    for (const absl::Status& s : st) {
      if (!s.ok()) return s;
    }
    if (total.load() != records) {
      return absl::InternalError(fmt::format("the group read {} of {} records", total.load(), records));
    }
    t.group = static_cast<double>(records) / seconds;
    touched += touched2[0] + touched2[1];
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

struct Latency {
  double p50 = 0, p99 = 0, p999 = 0, max = 0;  // microseconds
};

absl::StatusOr<Latency> RunLatency(int64_t rate, int burst, double seconds) {
  TempDir dir;
  if (!dir.status().ok()) return dir.status();
  auto broker = Broker::Open(dir.Sub("data"));
  if (!broker.ok()) return broker.status();
  if (absl::Status s = (*broker)->CreateTopic("latency", 1); !s.ok()) return s;
  ProducerOptions po;
  po.linger_ms = 0;
  auto producer = Producer::Create(**broker, po);
  if (!producer.ok()) return producer.status();
  auto consumer = Consumer::Create(**broker, ConsumerOptions{.auto_offset_reset = OffsetReset::kEarliest});
  if (!consumer.ok()) return consumer.status();
  if (absl::Status s = (*consumer)->Assign({{"latency", 0}}); !s.ok()) return s;

  const int64_t total = static_cast<int64_t>(static_cast<double>(rate) * seconds);
  std::vector<double> latencies;
  latencies.reserve(static_cast<size_t>(total));
  const auto origin = Clock::now() + std::chrono::milliseconds(20);
  absl::Status consume_status;
  std::thread reader([&] {
    while (static_cast<int64_t>(latencies.size()) < total) {
      auto records = (*consumer)->Poll(std::chrono::milliseconds(2000));
      if (!records.ok()) {
        consume_status = records.status();
        return;
      }
      if (records->empty()) {
        consume_status = absl::DeadlineExceededError("no record for 2 s");
        return;
      }
      const auto now = Clock::now();
      for (const ConsumerRecord& r : *records) {
        int64_t scheduled_ns;
        std::memcpy(&scheduled_ns, r.value->data(), sizeof scheduled_ns);
        latencies.push_back(
            std::chrono::duration<double, std::micro>(now - (origin + std::chrono::nanoseconds(scheduled_ns)))
                .count());
      }
    }
  });
  char value[100] = {};
  const double interval_ns = 1e9 * burst / static_cast<double>(rate);
  absl::Status send_status;
  for (int64_t i = 0; i < total && send_status.ok(); i += burst) {
    const auto scheduled =
        std::chrono::nanoseconds(static_cast<int64_t>(static_cast<double>(i / burst) * interval_ns));
    // Sleep rather than spin: on two cores a spinning sender would leave the producer's
    // sender thread and the consumer one core to share.
    std::this_thread::sleep_until(origin + scheduled);
    const int64_t ns = scheduled.count();
    std::memcpy(value, &ns, sizeof ns);
    for (int b = 0; b < burst && i + b < total; ++b) {
      send_status = (*producer)->Send({.topic = "latency", .key = "k", .value = std::string_view(value, sizeof value)});
      if (!send_status.ok()) break;
    }
  }
  reader.join();
  if (!send_status.ok()) return send_status;
  if (!consume_status.ok()) return consume_status;
  (void)(*producer)->Close();
  (void)(*consumer)->Close();
  if (absl::Status s = (*broker)->Close(); !s.ok()) return s;
  std::sort(latencies.begin(), latencies.end());
  auto at = [&](double q) { return latencies[std::min(latencies.size() - 1, static_cast<size_t>(q * static_cast<double>(latencies.size())))]; };
  return Latency{at(0.5), at(0.99), at(0.999), latencies.back()};
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
        absl::StatusOr<Latency> l = RunLatency(rate, burst, latency_seconds);
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
