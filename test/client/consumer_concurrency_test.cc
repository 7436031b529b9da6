// runnel::Consumer with other threads about: a long Poll woken by a producer on another
// thread, Wakeup from another thread, a consumer reading while several producer threads
// write, the broker closing under a waiting Poll, views while retention runs in the
// background, and an idle Poll that must sleep rather than spin. Also run under
// ThreadSanitizer (make tsan).
//
// Assertions are about what Poll returns, never about how long it took. Where a lost
// wake-up would only make a long Poll slow, a watchdog turns it into a wrong result
// instead: after a generous delay it calls Wakeup (so the Poll returns empty) or produces
// a record the Poll must not return. Catch2 assertions run on the test thread only.
#include <time.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/producer_testing.h"
#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/producer.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel {
namespace {

using namespace std::chrono_literals;
using testing::PartitionOf;
using testing::TempDir;

TopicConfig SmallConfig() {
  TopicConfig c;
  c.segment_index_bytes = 4096;
  return c;
}

TopicPartition TP(std::string topic, int32_t partition) { return {std::move(topic), partition}; }

// Runs `rescue` on its own thread if not disarmed within `after`.
class Watchdog {
 public:
  Watchdog(std::chrono::milliseconds after, std::function<void()> rescue)
      : rescue_(std::move(rescue)), thread_([this, after] {
          std::unique_lock<std::mutex> lock(mu_);
          if (!cv_.wait_for(lock, after, [&] { return disarmed_; })) {
            fired_ = true;
            lock.unlock();
            rescue_();
          }
        }) {}
  ~Watchdog() {
    Disarm();
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void Disarm() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      disarmed_ = true;
    }
    cv_.notify_all();
  }
  bool fired() {
    std::lock_guard<std::mutex> lock(mu_);
    return fired_;
  }

 private:
  std::function<void()> rescue_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool disarmed_ = false;
  bool fired_ = false;
  std::thread thread_;  // last: starts once the rest is built
};

struct Fixture {
  explicit Fixture(const BrokerOptions& options = {}) {
    auto opened = Broker::Open(tmp.Sub("data"), options);
    REQUIRE_OK(opened);
    broker = std::move(*opened);
    producer = MakeProducer();
  }

  std::unique_ptr<Producer> MakeProducer(int64_t linger_ms = 0) {
    ProducerOptions o;
    o.linger_ms = linger_ms;
    auto p = Producer::Create(*broker, o);
    REQUIRE_OK(p);
    return std::move(*p);
  }

  std::unique_ptr<Consumer> MakeConsumer(ConsumerOptions options = {}) {
    auto created = Consumer::Create(*broker, options);
    REQUIRE_OK(created);
    return std::move(*created);
  }

  TempDir tmp;
  std::unique_ptr<Broker> broker;
  std::unique_ptr<Producer> producer;
};

int64_t ThreadCpuNanos() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

TEST_CASE(
    "consumer: A long Poll(30s) returns the record a producer on another thread sends meanwhile, "
    "on whichever assigned partition it lands",
    "[consumer][concurrency]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 3, SmallConfig()));
  ConsumerOptions options;
  options.auto_offset_reset = OffsetReset::kEarliest;
  auto consumer = f.MakeConsumer(options);
  REQUIRE_OK(consumer->Assign({TP("t", 0), TP("t", 1), TP("t", 2)}));
  std::mt19937 rng(42);
  std::map<int32_t, int64_t> next_offset;
  for (int round = 0; round < 12; ++round) {
    INFO("round " << round);
    const int32_t partition = round % 3;
    const std::string value = "round-" + std::to_string(round);
    const auto delay = std::chrono::microseconds(rng() % 20000);
    std::atomic<bool> sent_ok{false};
    std::thread sender([&] {
      std::this_thread::sleep_for(delay);
      sent_ok = f.producer->SendSync({.topic = "t", .partition = partition, .value = value}).ok();
    });
    // A lost wake-up would leave the Poll asleep until its timeout: Wakeup makes it
    // return empty instead, which fails the checks below.
    Watchdog watchdog(10s, [&] { consumer->Wakeup(); });
    auto polled = consumer->Poll(30s);
    watchdog.Disarm();
    sender.join();
    CHECK_FALSE(watchdog.fired());
    REQUIRE(sent_ok.load());
    REQUIRE_OK(polled);
    REQUIRE(polled->size() == 1);
    const ConsumerRecord& r = (*polled)[0];
    CHECK(r.topic == "t");
    CHECK(r.partition == partition);
    CHECK(r.offset == next_offset[partition]++);
    CHECK(r.value == value);
    if (watchdog.fired()) (void)consumer->Poll(0ms);  // use up the rescue's Wakeup
  }
}

TEST_CASE("consumer: Wakeup from another thread makes a blocked Poll(60s) return empty",
          "[consumer][concurrency]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 2, SmallConfig()));
  ConsumerOptions options;
  options.auto_offset_reset = OffsetReset::kEarliest;
  auto consumer = f.MakeConsumer(options);
  REQUIRE_OK(consumer->Assign({TP("t", 0), TP("t", 1)}));
  std::mt19937 rng(7);
  int rescued = 0;
  for (int round = 0; round < 10; ++round) {
    INFO("round " << round);
    const auto delay = std::chrono::microseconds(rng() % 20000);
    std::thread waker([&] {
      std::this_thread::sleep_for(delay);
      consumer->Wakeup();
    });
    // If the Wakeup were lost, a record arrives instead: the Poll would return it.
    Watchdog watchdog(10s, [&] {
      (void)f.producer->SendSync({.topic = "t", .partition = 0, .value = "watchdog"});
    });
    auto polled = consumer->Poll(60s);
    watchdog.Disarm();
    waker.join();
    REQUIRE_OK(polled);
    CHECK(polled->empty());
    CHECK_FALSE(watchdog.fired());
    if (watchdog.fired()) ++rescued;
  }
  // A Wakeup with no Poll running is kept for the next one, which returns empty at once
  // even though a record is there; the one after returns the record.
  REQUIRE_OK(f.producer->SendSync({.topic = "t", .partition = 1, .value = "there"}));
  std::thread([&] { consumer->Wakeup(); }).join();
  auto woken = consumer->Poll(60s);
  REQUIRE_OK(woken);
  CHECK(woken->empty());
  auto polled = consumer->Poll(60s);
  REQUIRE_OK(polled);
  REQUIRE(polled->size() == static_cast<size_t>(1 + rescued));
  CHECK(polled->back().value == "there");
}

TEST_CASE(
    "consumer: A consumer polling while producer threads write to several partitions receives "
    "every record exactly once, in per-key order",
    "[consumer][concurrency]") {
  Fixture f;
  TopicConfig config = SmallConfig();
  config.segment_bytes = 16 * 1024;  // rolls while everyone works
  REQUIRE_OK(f.broker->CreateTopic("t", 4, config));
  ConsumerOptions options;
  options.auto_offset_reset = OffsetReset::kEarliest;
  options.max_poll_records = 61;  // splits batches
  auto consumer = f.MakeConsumer(options);
  REQUIRE_OK(consumer->Assign({TP("t", 0), TP("t", 1), TP("t", 2), TP("t", 3)}));

  const int kThreads = 4;
  const int kPerThread = 600;
  const int kKeysPerThread = 5;
  std::vector<std::unique_ptr<Producer>> producers;
  for (int t = 0; t < kThreads; ++t) producers.push_back(f.MakeProducer(t % 2 == 0 ? 0 : 1));
  std::atomic<int> send_errors{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string key = "w" + std::to_string(t) + "-k" + std::to_string(i % kKeysPerThread);
        const std::string value = std::to_string(t) + ":" + std::to_string(i);
        if (!producers[static_cast<size_t>(t)]
                 ->Send({.topic = "t", .key = key, .value = value})
                 .ok()) {
          ++send_errors;
        }
      }
      if (!producers[static_cast<size_t>(t)]->Flush().ok()) ++send_errors;
    });
  }

  const size_t total = static_cast<size_t>(kThreads * kPerThread);
  std::map<std::pair<int, int>, int> seen;     // (thread, seq) -> times received
  std::map<std::string, int> last_seq_of_key;  // per-key order
  std::map<int32_t, int64_t> next_offset;      // per-partition order, no gaps
  size_t received = 0;
  int order_violations = 0, offset_violations = 0, key_mismatches = 0;
  // Bounded so that a lost record fails the test instead of hanging it.
  const auto give_up = std::chrono::steady_clock::now() + 60s;
  while (received < total && std::chrono::steady_clock::now() < give_up) {
    auto polled = consumer->Poll(1s);
    REQUIRE_OK(polled);
    for (const ConsumerRecord& r : *polled) {
      ++received;
      if (!r.value || !r.key) {
        ++key_mismatches;
        continue;
      }
      const std::string value(*r.value);
      const size_t colon = value.find(':');
      const int t = std::stoi(value.substr(0, colon));
      const int i = std::stoi(value.substr(colon + 1));
      ++seen[{t, i}];
      const std::string key = "w" + std::to_string(t) + "-k" + std::to_string(i % kKeysPerThread);
      if (*r.key != key) ++key_mismatches;
      auto last = last_seq_of_key.find(key);
      if (last != last_seq_of_key.end() && last->second >= i) ++order_violations;
      last_seq_of_key[key] = i;
      if (r.offset != next_offset[r.partition]) ++offset_violations;
      next_offset[r.partition] = r.offset + 1;
    }
  }
  for (auto& w : writers) w.join();
  CHECK(send_errors.load() == 0);
  CHECK(received == total);
  CHECK(seen.size() == total);
  int duplicates = 0;
  for (const auto& [id, times] : seen) duplicates += times > 1 ? 1 : 0;
  CHECK(duplicates == 0);
  CHECK(order_violations == 0);
  CHECK(offset_violations == 0);
  CHECK(key_mismatches == 0);
  auto more = consumer->Poll(0ms);
  REQUIRE_OK(more);
  CHECK(more->empty());
}

TEST_CASE(
    "consumer: Broker Close while a Poll waits makes that Poll return (an error or empty) instead "
    "of sleeping out its timeout",
    "[consumer][concurrency]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 2, SmallConfig()));
  auto consumer = f.MakeConsumer();
  REQUIRE_OK(consumer->Assign({TP("t", 0), TP("t", 1)}));
  REQUIRE_OK(consumer->Poll(0ms));  // positions resolved: the next Poll just waits
  REQUIRE_OK(f.producer->Close());

  std::promise<absl::Status> result;
  std::future<absl::Status> done = result.get_future();
  std::thread poller([&] {
    auto polled = consumer->Poll(std::chrono::hours(1));
    if (!polled.ok()) {
      result.set_value(polled.status());
    } else if (!polled->empty()) {
      result.set_value(absl::InternalError("Poll returned records from an empty topic"));
    } else {
      result.set_value(absl::OkStatus());
    }
  });
  std::this_thread::sleep_for(50ms);  // most likely asleep in Poll by now; either way is valid
  REQUIRE_OK(f.broker->Close());
  // A Poll that missed the close would sleep for an hour: give up long before that.
  const bool returned = done.wait_for(20s) == std::future_status::ready;
  if (!returned) consumer->Wakeup();  // so that the thread can be joined
  poller.join();
  CHECK(returned);
  const absl::Status status = done.get();
  INFO("Poll returned " << status.ToString());
  CHECK((status.ok() || status.code() == absl::StatusCode::kFailedPrecondition));
  auto after = consumer->Poll(0ms);
  CHECK(after.status().code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE(
    "consumer: A consumer polling while producers write and the broker closes stops with "
    "FailedPrecondition, having returned only records that were sent",
    "[consumer][concurrency]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 2, SmallConfig()));
  ConsumerOptions options;
  options.auto_offset_reset = OffsetReset::kEarliest;
  auto consumer = f.MakeConsumer(options);
  REQUIRE_OK(consumer->Assign({TP("t", 0), TP("t", 1)}));
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) {
      const std::string value = "v" + std::to_string(i);
      if (!f.producer->Send({.topic = "t", .value = value}).ok()) break;
      if (i % 100 == 99) std::this_thread::sleep_for(200us);
    }
  });
  // Let the consumer see some data, then close the broker under it.
  size_t received = 0, bad = 0;
  absl::Status final_status;
  std::thread closer([&] {
    std::this_thread::sleep_for(100ms);
    (void)f.broker->Close();
  });
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < give_up) {
    auto polled = consumer->Poll(20ms);
    if (!polled.ok()) {
      final_status = polled.status();
      break;
    }
    for (const ConsumerRecord& r : *polled) {
      ++received;
      if (!r.value || r.value->substr(0, 1) != "v") ++bad;
    }
  }
  stop = true;
  closer.join();
  writer.join();
  INFO("records received " << received);
  CHECK(final_status.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(bad == 0);
}

TEST_CASE(
    "consumer: Views stay valid until the next Poll while a producer thread writes and background "
    "retention deletes segments",
    "[consumer][concurrency][retention]") {
  BrokerOptions broker_options;
  broker_options.log_retention_check_interval_ms = 5;
  Fixture f(broker_options);
  TopicConfig config = SmallConfig();
  config.segment_bytes = 2048;
  config.retention_bytes = 16 * 1024;
  config.retention_ms = -1;
  REQUIRE_OK(f.broker->CreateTopic("t", 1, config));
  auto value_of = [](int64_t offset) {
    return "value-" + std::to_string(offset) + std::string(static_cast<size_t>(offset % 97), '#');
  };
  std::atomic<int> resets{0};
  ConsumerOptions options;
  options.auto_offset_reset = OffsetReset::kEarliest;
  options.max_poll_records = 50;
  options.offset_reset_listener = [&](const TopicPartition&, int64_t, int64_t, std::string_view) {
    ++resets;
  };
  auto consumer = f.MakeConsumer(options);
  REQUIRE_OK(consumer->Assign({TP("t", 0)}));

  const int64_t kRecords = 3000;
  std::atomic<bool> writer_ok{true};
  std::thread writer([&] {
    // One producer, one partition, acknowledged in order: offset i holds value_of(i).
    for (int64_t i = 0; i < kRecords; ++i) {
      const std::string value = value_of(i);
      if (!f.producer->Send({.topic = "t", .partition = 0, .value = value}).ok()) {
        writer_ok = false;
        break;
      }
    }
    if (!f.producer->Flush().ok()) writer_ok = false;
  });

  size_t checked = 0, wrong = 0;
  int64_t last_offset = -1;
  const auto give_up = std::chrono::steady_clock::now() + 60s;
  while (last_offset < kRecords - 1 && std::chrono::steady_clock::now() < give_up) {
    auto polled = consumer->Poll(100ms);
    REQUIRE_OK(polled);
    // Let the writer and retention move on before the views are read.
    std::this_thread::sleep_for(1ms);
    for (const ConsumerRecord& r : *polled) {
      ++checked;
      if (r.offset <= last_offset) ++wrong;  // never backwards, never twice
      last_offset = r.offset;
      if (r.topic != "t" || !r.value || *r.value != value_of(r.offset)) ++wrong;
    }
  }
  writer.join();
  CHECK(writer_ok.load());
  INFO("records checked " << checked << ", resets " << resets.load());
  CHECK(checked > 0);
  CHECK(wrong == 0);
  CHECK(last_offset == kRecords - 1);
}

TEST_CASE(
    "consumer: Poll with the largest timeout (milliseconds::max, Kafka's poll(Long.MAX_VALUE)) "
    "waits for and returns a record sent later",
    "[consumer][concurrency]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 1, SmallConfig()));
  auto consumer = f.MakeConsumer();
  REQUIRE_OK(consumer->Assign({TP("t", 0)}));
  REQUIRE_OK(consumer->Poll(0ms));  // position resolved (latest: 0)
  std::thread sender([&] {
    std::this_thread::sleep_for(20ms);
    (void)f.producer->SendSync({.topic = "t", .partition = 0, .value = "later"});
  });
  // Should the record never end the wait, Wakeup does, and the Poll comes back empty.
  Watchdog watchdog(10s, [&] { consumer->Wakeup(); });
  auto polled = consumer->Poll(std::chrono::milliseconds::max());
  watchdog.Disarm();
  sender.join();
  REQUIRE_OK(polled);
  REQUIRE(polled->size() == 1);
  CHECK((*polled)[0].offset == 0);
  CHECK((*polled)[0].value == "later");
  CHECK_FALSE(watchdog.fired());
}

TEST_CASE(
    "consumer: Two consumers long-polling the same partition on two threads both get the "
    "record sent",
    "[consumer][concurrency]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 2, SmallConfig()));
  auto a = f.MakeConsumer();
  auto b = f.MakeConsumer();
  REQUIRE_OK(a->Assign({TP("t", 0), TP("t", 1)}));
  REQUIRE_OK(b->Assign({TP("t", 1)}));
  REQUIRE_OK(a->Poll(0ms));
  REQUIRE_OK(b->Poll(0ms));
  for (int round = 0; round < 5; ++round) {
    INFO("round " << round);
    const std::string value = "r" + std::to_string(round);
    std::vector<std::string> got_a, got_b;
    absl::Status status_a, status_b;
    auto poll_into = [](Consumer& c, std::vector<std::string>& got, absl::Status& status) {
      auto polled = c.Poll(30s);
      status = polled.status();
      if (polled.ok()) {
        for (const ConsumerRecord& r : *polled) got.emplace_back(r.value.value_or("<null>"));
      }
    };
    std::thread ta([&] { poll_into(*a, got_a, status_a); });
    std::thread tb([&] { poll_into(*b, got_b, status_b); });
    std::this_thread::sleep_for(10ms);
    Watchdog watchdog(10s, [&] {
      a->Wakeup();
      b->Wakeup();
    });
    REQUIRE_OK(f.producer->SendSync({.topic = "t", .partition = 1, .value = value}));
    ta.join();
    tb.join();
    watchdog.Disarm();
    CHECK_FALSE(watchdog.fired());
    REQUIRE_OK(status_a);
    REQUIRE_OK(status_b);
    CHECK(got_a == std::vector<std::string>{value});
    CHECK(got_b == std::vector<std::string>{value});
    if (watchdog.fired()) {  // use up the rescue's wake-ups
      (void)a->Poll(0ms);
      (void)b->Poll(0ms);
    }
  }
}

TEST_CASE("consumer: An idle Poll(300ms) sleeps: the polling thread uses under 50 ms of CPU",
          "[consumer][concurrency]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 3, SmallConfig()));
  ConsumerOptions options;
  options.auto_offset_reset = OffsetReset::kEarliest;
  const std::string situation =
      GENERATE("no data", "fetch.min.bytes not reached", "every partition paused");
  INFO(situation);
  if (situation == "fetch.min.bytes not reached") {
    options.fetch_min_bytes = 1 << 20;
    options.fetch_max_wait_ms = 250;  // returns the record after this, within the Poll
  }
  auto consumer = f.MakeConsumer(options);
  REQUIRE_OK(consumer->Assign({TP("t", 0), TP("t", 1), TP("t", 2)}));
  REQUIRE_OK(consumer->Poll(0ms));  // positions resolved
  if (situation != "no data") {
    REQUIRE_OK(f.producer->SendSync({.topic = "t", .partition = 1, .value = "one"}));
  }
  if (situation == "every partition paused") {
    REQUIRE_OK(consumer->Pause({TP("t", 0), TP("t", 1), TP("t", 2)}));
  }
  const int64_t cpu_before = ThreadCpuNanos();
  auto polled = consumer->Poll(300ms);
  const int64_t cpu_used = ThreadCpuNanos() - cpu_before;
  REQUIRE_OK(polled);
  if (situation == "fetch.min.bytes not reached") {
    REQUIRE(polled->size() == 1);
    CHECK((*polled)[0].value == "one");
  } else {
    CHECK(polled->empty());
  }
  INFO("CPU used by the polling thread: " << cpu_used / 1000 << " us");
  CHECK(cpu_used < 50'000'000);
}

}  // namespace
}  // namespace runnel
