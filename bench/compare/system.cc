#include "bench/compare/system.h"

#include <fmt/format.h>

#include <algorithm>
#include <thread>

namespace runnel::bench {
namespace {

using Clock = std::chrono::steady_clock;

LatencyFigures Percentiles(std::vector<double> latencies, double seconds) {
  LatencyFigures f;
  f.records = static_cast<int64_t>(latencies.size());
  f.seconds = seconds;
  if (latencies.empty()) return f;
  std::sort(latencies.begin(), latencies.end());
  auto at = [&](double q) {
    return latencies[std::min(latencies.size() - 1,
                              static_cast<size_t>(q * static_cast<double>(latencies.size())))];
  };
  f.p50 = at(0.5);
  f.p99 = at(0.99);
  f.p999 = at(0.999);
  f.max = latencies.back();
  return f;
}

}  // namespace

int PartitionOf(std::string_view key, int partitions) {
  uint32_t h = 2166136261u;
  for (char c : key) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  return static_cast<int>(h % static_cast<uint32_t>(partitions));
}

int64_t QuotaOf(const ProduceCase& c, int t) {
  if (c.max_records <= 0) return INT64_MAX;
  return c.max_records / c.threads + (t < c.max_records % c.threads ? 1 : 0);
}

absl::StatusOr<RunFigures> TimeThreads(const ProduceCase& c,
                                       const std::function<absl::StatusOr<int64_t>(int t)>& body) {
  std::vector<absl::StatusOr<int64_t>> results(static_cast<size_t>(c.threads), int64_t{0});
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < c.threads; ++t) {
    workers.emplace_back([&, t] { results[static_cast<size_t>(t)] = body(t); });
  }
  for (auto& w : workers) w.join();
  RunFigures figures;
  figures.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (const auto& r : results) {
    if (!r.ok()) return r.status();
    figures.records += *r;
  }
  figures.bytes = static_cast<uint64_t>(figures.records) * (kKeySize + c.value_size);
  return figures;
}

absl::StatusOr<LatencyRun> RunPeerLatency(const LatencyCase& c, const LatencyHooks& hooks) {
  LatencyRun run;
  run.planned = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(c.rate) * c.seconds));
  const double interval_ns = 1e9 * c.burst / static_cast<double>(c.rate);
  const auto origin = Clock::now() + std::chrono::milliseconds(20);
  std::atomic<int64_t> sent{0};
  std::atomic<bool> sender_done{false};
  std::vector<double> latencies;
  latencies.reserve(static_cast<size_t>(run.planned));
  absl::Status receive_status;
  std::thread reader([&] {
    std::vector<int64_t> scheduled;
    auto last_arrival = Clock::now();
    while (true) {
      const bool done = sender_done.load();
      if (done && static_cast<int64_t>(latencies.size()) >= sent.load()) break;
      scheduled.clear();
      receive_status = hooks.receive(&scheduled);
      if (!receive_status.ok()) return;
      const auto now = Clock::now();
      for (int64_t ns : scheduled) {
        latencies.push_back(
            std::chrono::duration<double, std::micro>(now - (origin + std::chrono::nanoseconds(ns))).count());
      }
      if (c.progress != nullptr) c.progress->fetch_add(static_cast<int64_t>(scheduled.size()));
      if (!scheduled.empty()) last_arrival = now;
      if (done && now - last_arrival > std::chrono::seconds(3)) {
        receive_status = absl::DeadlineExceededError(fmt::format(
            "latency: {} of {} records arrived, then none for 3 s", latencies.size(), sent.load()));
        return;
      }
    }
  });
  const RecordPool& pool = RecordPool::Get();
  std::string value(kValueSize, 'v');
  absl::Status send_status;
  int64_t i = 0;
  for (; i < run.planned && send_status.ok(); i += c.burst) {
    const auto scheduled = std::chrono::nanoseconds(
        static_cast<int64_t>(static_cast<double>(i / c.burst) * interval_ns));
    if (Clock::now() > origin + scheduled + std::chrono::seconds(3)) break;  // hopelessly behind
    std::this_thread::sleep_until(origin + scheduled);
    const int64_t ns = scheduled.count();
    std::memcpy(value.data(), &ns, sizeof ns);
    int64_t b = 0;
    for (; b < c.burst && i + b < run.planned; ++b) {
      send_status = hooks.send(pool.at(static_cast<uint64_t>(i + b)).key, value);
      if (!send_status.ok()) break;
    }
    sent.fetch_add(b);
  }
  if (send_status.ok()) send_status = hooks.flush();
  sender_done.store(true);
  reader.join();
  if (!send_status.ok()) return send_status;
  if (!receive_status.ok()) return receive_status;
  run.sent = sent.load();
  run.figures = Percentiles(std::move(latencies),
                            std::chrono::duration<double>(Clock::now() - origin).count());
  return run;
}

}  // namespace runnel::bench
