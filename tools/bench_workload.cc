#include "tools/bench_workload.h"

#include <fmt/format.h>
#include <stdlib.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

#include "runnel/consumer.h"
#include "util/formatters.h"

namespace runnel::bench {
namespace {

using Clock = std::chrono::steady_clock;
// Workloads publish progress this many records at a time, not per record.
constexpr int64_t kProgressStep = 256;

// splitmix64: a fixed sequence from a fixed seed, so every run sees the same bytes.
uint64_t NextRandom(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void AddProgress(std::atomic<int64_t>* progress, int64_t n) {
  if (progress != nullptr && n > 0) progress->fetch_add(n, std::memory_order_relaxed);
}

ProducerRecord MakeRecord(const std::string& topic, const BenchRecord& r, size_t key_size) {
  ProducerRecord record{.topic = topic, .value = r.value};
  if (key_size > 0) record.key = r.key;
  return record;
}

// One consumer assigned `partitions`, reading from the beginning until `expected` records
// came (or a second passes with none).
absl::StatusOr<int64_t> ConsumeAssigned(Broker& broker, const ConsumeSpec& spec,
                                        std::vector<TopicPartition> partitions, int64_t expected,
                                        uint64_t* touched) {
  ConsumerOptions options;
  options.auto_offset_reset = OffsetReset::kEarliest;
  options.max_poll_records = spec.max_poll_records;
  auto consumer = Consumer::Create(broker, options);
  if (!consumer.ok()) return consumer.status();
  if (absl::Status s = (*consumer)->Assign(partitions); !s.ok()) return s;
  int64_t got = 0;
  while (got < expected) {
    auto records = (*consumer)->Poll(std::chrono::milliseconds(1000));
    if (!records.ok()) return records.status();
    if (records->empty()) break;
    for (const ConsumerRecord& r : *records) {
      *touched += (r.key ? r.key->size() : 0) + (r.value ? r.value->size() : 0);
    }
    got += static_cast<int64_t>(records->size());
    AddProgress(spec.progress, static_cast<int64_t>(records->size()));
  }
  if (absl::Status s = (*consumer)->Close(); !s.ok()) return s;
  return got;
}

// One member of group "bench-group": polls until the group as a whole has read `expected`.
absl::Status ConsumeInGroup(Broker& broker, const ConsumeSpec& spec, int64_t expected,
                            std::atomic<int64_t>* group_total, uint64_t* touched) {
  ConsumerOptions options;
  options.group_id = "bench-group";
  options.auto_offset_reset = OffsetReset::kEarliest;
  options.max_poll_records = spec.max_poll_records;
  auto consumer = Consumer::Create(broker, options);
  if (!consumer.ok()) return consumer.status();
  if (absl::Status s = (*consumer)->Subscribe({spec.topic}); !s.ok()) return s;
  while (group_total->load() < expected) {
    auto records = (*consumer)->Poll(std::chrono::milliseconds(100));
    if (!records.ok()) return records.status();
    for (const ConsumerRecord& r : *records) {
      *touched += (r.key ? r.key->size() : 0) + (r.value ? r.value->size() : 0);
    }
    group_total->fetch_add(static_cast<int64_t>(records->size()));
    AddProgress(spec.progress, static_cast<int64_t>(records->size()));
  }
  return (*consumer)->Close();
}

}  // namespace

RecordPool::RecordPool(size_t value_size, size_t key_size)
    : value_size_(value_size), key_size_(key_size) {
  constexpr std::string_view kAlphabet =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
  uint64_t rng = 42;
  bytes_.reserve(kCount * (key_size + value_size));
  for (size_t i = 0; i < kCount; ++i) {
    // "key-" and 12 digits: 16 bytes, spread over the key space like user or device ids.
    const uint64_t id = NextRandom(&rng) % 1'000'000'000'000ULL;
    if (key_size <= kKeySize) {
      bytes_ += fmt::format("key-{:012d}", id).substr(kKeySize - key_size);
    } else {
      bytes_ += fmt::format("key-{:0{}d}", id, key_size - 4);
    }
    for (size_t j = 0; j < value_size; ++j) bytes_ += kAlphabet[NextRandom(&rng) & 63];
  }
  records_.reserve(kCount);
  const std::string_view all = bytes_;
  for (size_t i = 0; i < kCount; ++i) {
    const size_t at = i * (key_size + value_size);
    records_.push_back({all.substr(at, key_size), all.substr(at + key_size, value_size)});
  }
}

const RecordPool& RecordPool::Get(size_t value_size, size_t key_size) {
  static std::mutex mu;
  static auto* pools = new std::map<std::pair<size_t, size_t>, std::unique_ptr<RecordPool>>();
  std::lock_guard<std::mutex> lock(mu);
  std::unique_ptr<RecordPool>& pool = (*pools)[{value_size, key_size}];
  if (pool == nullptr) pool.reset(new RecordPool(value_size, key_size));
  return *pool;
}

std::string TempRoot() {
  const char* env = std::getenv("TMPDIR");
  return env != nullptr && env[0] != '\0' ? std::string(env) : std::string("/tmp");
}

TempDir::TempDir() {
  std::string templ = TempRoot() + "/runnel-bench-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    status_ = absl::InternalError(
        fmt::format("cannot make a temporary directory {}: {}", templ, std::strerror(errno)));
    return;
  }
  path_ = std::move(templ);
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  if (ec) fmt::print(stderr, "runnel bench: cannot remove {}: {}\n", path_, ec.message());
}

std::string TempDir::Sub(std::string_view name) const {
  return fmt::format("{}/{}", path_, name);
}

absl::StatusOr<RunFigures> RunProduceWorkload(Broker& broker, const ProduceSpec& spec) {
  const int threads = std::max(1, spec.threads);
  std::vector<std::unique_ptr<Producer>> producers;
  for (int t = 0; t < threads; ++t) {
    auto p = Producer::Create(broker, spec.producer);
    if (!p.ok()) return p.status();
    producers.push_back(std::move(*p));
  }
  const RecordPool& pool = RecordPool::Get(spec.value_size, std::max<size_t>(spec.key_size, 1));
  const uint64_t record_bytes = spec.key_size + spec.value_size;
  std::vector<absl::Status> errors(static_cast<size_t>(threads));
  std::vector<int64_t> sent(static_cast<size_t>(threads), 0);
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(spec.seconds));
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      const auto i = static_cast<size_t>(t);
      Producer& producer = *producers[i];
      const int64_t quota = spec.records > 0 ? spec.records / threads + (t < spec.records % threads ? 1 : 0)
                                             : INT64_MAX;
      uint64_t seq = static_cast<uint64_t>(t) * 4096;
      int64_t n = 0;
      int64_t reported = 0;
      for (; n < quota; ++n) {
        if (n - reported == kProgressStep) {
          AddProgress(spec.progress, n - reported);
          reported = n;
          if (spec.records <= 0 && Clock::now() >= deadline) break;
        }
        absl::Status s = producer.Send(MakeRecord(spec.topic, pool.at(seq++), spec.key_size));
        if (!s.ok()) {
          errors[i] = s;
          return;
        }
      }
      AddProgress(spec.progress, n - reported);
      sent[i] = n;
      errors[i] = producer.Flush();
    });
  }
  for (auto& w : workers) w.join();
  RunFigures figures;
  figures.seconds = SecondsSince(start);
  for (const absl::Status& e : errors) {
    if (!e.ok()) return e;
  }
  for (auto& p : producers) {
    if (absl::Status s = p->Close(); !s.ok()) return s;
  }
  for (int64_t n : sent) figures.records += n;
  figures.bytes = static_cast<uint64_t>(figures.records) * record_bytes;
  return figures;
}

absl::StatusOr<RunFigures> RunConsumeWorkload(Broker& broker, const ConsumeSpec& spec) {
  absl::StatusOr<TopicDescription> topic = broker.DescribeTopic(spec.topic);
  if (!topic.ok()) return topic.status();
  const int consumers = std::max(1, spec.consumers);
  std::vector<std::vector<TopicPartition>> assigned(static_cast<size_t>(consumers));
  std::vector<int64_t> expected(static_cast<size_t>(consumers), 0);
  int64_t total = 0;
  for (const PartitionDescription& p : topic->partitions) {
    const auto c = static_cast<size_t>(p.partition % consumers);
    assigned[c].push_back({spec.topic, p.partition});
    expected[c] += p.log_end_offset - p.log_start_offset;
    total += p.log_end_offset - p.log_start_offset;
  }
  std::vector<absl::Status> errors(static_cast<size_t>(consumers));
  std::vector<int64_t> got(static_cast<size_t>(consumers), 0);
  std::vector<uint64_t> touched(static_cast<size_t>(consumers), 0);
  std::atomic<int64_t> group_total{0};
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int c = 0; c < consumers; ++c) {
    workers.emplace_back([&, c] {
      const auto i = static_cast<size_t>(c);
      if (spec.group) {
        errors[i] = ConsumeInGroup(broker, spec, total, &group_total, &touched[i]);
        return;
      }
      absl::StatusOr<int64_t> n = ConsumeAssigned(broker, spec, assigned[i], expected[i], &touched[i]);
      if (n.ok()) {
        got[i] = *n;
      } else {
        errors[i] = n.status();
      }
    });
  }
  for (auto& w : workers) w.join();
  RunFigures figures;
  figures.seconds = SecondsSince(start);
  for (const absl::Status& e : errors) {
    if (!e.ok()) return e;
  }
  for (int64_t n : got) figures.records += n;
  if (spec.group) figures.records = group_total.load();
  for (uint64_t t : touched) figures.bytes += t;
  if (figures.records < total) {
    return absl::InternalError(
        fmt::format("read {} of the {} records of topic {}", figures.records, total, spec.topic));
  }
  return figures;
}

absl::StatusOr<LatencyFigures> RunLatencyWorkload(Broker& broker, const LatencySpec& spec) {
  if (spec.value_size < sizeof(int64_t) || spec.rate < 1 || spec.burst < 1) {
    return absl::InvalidArgumentError("latency: value size must be at least 8, rate and burst at least 1");
  }
  if (absl::Status s = broker.CreateTopic(spec.topic, spec.partitions, spec.topic_config); !s.ok()) {
    return s;
  }
  auto producer = Producer::Create(broker, spec.producer);
  if (!producer.ok()) return producer.status();
  auto consumer = Consumer::Create(broker, ConsumerOptions{.auto_offset_reset = OffsetReset::kEarliest});
  if (!consumer.ok()) return consumer.status();
  std::vector<TopicPartition> all;
  for (int p = 0; p < spec.partitions; ++p) all.push_back({spec.topic, p});
  if (absl::Status s = (*consumer)->Assign(all); !s.ok()) return s;

  const auto total = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(spec.rate) * spec.seconds));
  const double interval_ns = 1e9 * spec.burst / static_cast<double>(spec.rate);
  // A quiet spell longer than this means records were lost, not late.
  const auto give_up = std::chrono::milliseconds(2000 + static_cast<int64_t>(3 * interval_ns / 1e6));
  std::vector<double> latencies;
  latencies.reserve(static_cast<size_t>(total));
  const auto origin = Clock::now() + std::chrono::milliseconds(20);
  absl::Status consume_status;
  std::thread reader([&] {
    while (static_cast<int64_t>(latencies.size()) < total) {
      auto records = (*consumer)->Poll(give_up);
      if (!records.ok()) {
        consume_status = records.status();
        return;
      }
      if (records->empty()) {
        consume_status = absl::DeadlineExceededError(
            fmt::format("latency: no record for {} ms", give_up.count()));
        return;
      }
      const auto now = Clock::now();
      for (const ConsumerRecord& r : *records) {
        int64_t scheduled_ns;
        std::memcpy(&scheduled_ns, r.value->data(), sizeof scheduled_ns);
        latencies.push_back(std::chrono::duration<double, std::micro>(
                                now - (origin + std::chrono::nanoseconds(scheduled_ns)))
                                .count());
      }
      AddProgress(spec.progress, static_cast<int64_t>(records->size()));
    }
  });
  const RecordPool& pool = RecordPool::Get();
  std::string value(spec.value_size, 'v');
  absl::Status send_status;
  for (int64_t i = 0; i < total && send_status.ok(); i += spec.burst) {
    const auto scheduled = std::chrono::nanoseconds(
        static_cast<int64_t>(static_cast<double>(i / spec.burst) * interval_ns));
    // Sleep rather than spin: on two cores a spinning sender would leave the producer's
    // sender thread and the consumer one core to share.
    std::this_thread::sleep_until(origin + scheduled);
    const int64_t ns = scheduled.count();
    std::memcpy(value.data(), &ns, sizeof ns);
    for (int b = 0; b < spec.burst && i + b < total; ++b) {
      // One key for one partition (the drivers' case); spread keys over several.
      const std::string_view key =
          spec.partitions == 1 ? std::string_view("k") : pool.at(static_cast<uint64_t>(i + b)).key;
      send_status = (*producer)->Send({.topic = spec.topic, .key = key, .value = value});
      if (!send_status.ok()) break;
    }
  }
  if (!send_status.ok()) (*consumer)->Wakeup();
  reader.join();
  if (!send_status.ok()) return send_status;
  if (!consume_status.ok()) return consume_status;
  const double seconds = SecondsSince(origin);
  if (absl::Status s = (*producer)->Close(); !s.ok()) return s;
  if (absl::Status s = (*consumer)->Close(); !s.ok()) return s;
  std::sort(latencies.begin(), latencies.end());
  auto at = [&](double q) {
    return latencies[std::min(latencies.size() - 1,
                              static_cast<size_t>(q * static_cast<double>(latencies.size())))];
  };
  return LatencyFigures{static_cast<int64_t>(latencies.size()), seconds, at(0.5), at(0.99),
                        at(0.999), latencies.back()};
}

}  // namespace runnel::bench
