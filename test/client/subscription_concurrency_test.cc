// Subscription under load, for ThreadSanitizer: eight partitions, a pool of four, two
// producer threads sending while it runs, and a second subscription of the same group that
// joins and leaves in the middle (two rebalances under load). Afterwards (assertions only
// on the test's thread, after the threads are joined): every record was handled exactly
// once, in offset order within each partition, and the bound on in-flight records held.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runnel/broker.h"
#include "runnel/producer.h"
#include "runnel/subscription.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel {
namespace {

using namespace std::chrono_literals;

TEST_CASE("Subscription: 8 partitions, a pool of 4, producers and a rebalance under load",
          "[subscription][concurrency]") {
  constexpr int32_t kPartitions = 8;
  constexpr int kPerProducer = 1500;
  testing::TempDir tmp;
  auto broker = Broker::Open(tmp.Sub("data"));
  REQUIRE_OK(broker);
  TopicConfig config;
  config.segment_index_bytes = 4096;
  REQUIRE_OK((*broker)->CreateTopic("t", kPartitions, config));
  auto producer = Producer::Create(**broker);
  REQUIRE_OK(producer);

  std::mutex mu;
  std::map<int32_t, std::vector<int64_t>> handled;  // per partition, in handling order
  std::map<int32_t, bool> active;
  bool overlap = false;
  std::atomic<int> total{0};
  auto handler = [&](const ConsumerRecord& r) {
    {
      std::lock_guard<std::mutex> lock(mu);
      overlap |= active[r.partition];
      active[r.partition] = true;
    }
    std::this_thread::sleep_for(20us);
    std::lock_guard<std::mutex> lock(mu);
    active[r.partition] = false;
    handled[r.partition].push_back(r.offset);
    ++total;
    return absl::OkStatus();
  };
  SubscriptionOptions options;
  options.consumer.group_id = "g";
  options.consumer.auto_offset_reset = OffsetReset::kEarliest;
  options.consumer.partition_assignment_strategy = {PartitionAssignor::kCooperativeSticky};
  options.threads = 4;
  options.max_in_flight = 32;
  options.poll_timeout = 10ms;
  auto first = Subscription::Start(**broker, {"t"}, handler, options);
  REQUIRE_OK(first);

  std::atomic<int> send_errors{0};
  std::vector<std::thread> producers;
  for (int t = 0; t < 2; ++t) {
    producers.emplace_back([&, t] {
      for (int i = 0; i < kPerProducer; ++i) {
        const std::string value = std::to_string(t) + ":" + std::to_string(i);
        if (!(*producer)->Send({.topic = "t", .key = value, .value = value}).ok()) ++send_errors;
      }
    });
  }
  // A second member joins while records flow, then leaves.
  std::this_thread::sleep_for(50ms);
  auto second = Subscription::Start(**broker, {"t"}, handler, options);
  REQUIRE_OK(second);
  for (std::thread& t : producers) t.join();
  REQUIRE_OK((*producer)->Flush());
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (total.load() < kPerProducer && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(2ms);
  }
  const absl::Status second_closed = (*second)->Close();
  while (total.load() < 2 * kPerProducer && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(2ms);
  }
  const absl::Status first_closed = (*first)->Close();
  const SubscriptionStats s1 = (*first)->stats(), s2 = (*second)->stats();

  CHECK_OK(first_closed);
  CHECK_OK(second_closed);
  CHECK(send_errors.load() == 0);
  CHECK(total.load() == 2 * kPerProducer);
  CHECK_FALSE(overlap);
  CHECK(s1.max_in_flight_seen <= 32);
  CHECK(s2.max_in_flight_seen <= 32);
  CHECK(s1.handled + s2.handled == 2 * kPerProducer);
  int64_t records = 0;
  for (const auto& [partition, offsets] : handled) {
    INFO("partition " << partition);
    for (size_t i = 0; i < offsets.size(); ++i) CHECK(offsets[i] == static_cast<int64_t>(i));
    records += static_cast<int64_t>(offsets.size());
  }
  CHECK(records == 2 * kPerProducer);
}

}  // namespace
}  // namespace runnel
