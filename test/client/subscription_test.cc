// Subscription (include/runnel/subscription.h) against a real Broker on a temp dir: every
// record handled once in a stable group (at-least-once), the in-flight bound and the
// pauses it causes, order per partition with partitions in parallel, at-most-once
// (committed before the handler runs, a failure is lost, never retried), at-least-once
// (a failure is retried, then skipped through on_failure or stops the subscription, and
// the record comes again), a process killed inside the handler under each guarantee, and
// a rebalance between two subscriptions that hands partitions over without duplicates.
//
// Handlers run on pool threads: they only record into atomics and mutex-guarded vectors;
// every Catch assertion runs on the test's thread.
#include "runnel/subscription.h"

#include <catch2/catch.hpp>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/producer.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;

TopicConfig SmallConfig() {
  TopicConfig c;
  c.segment_index_bytes = 4096;
  return c;
}

// Waits up to 30 s for `done`; returns whether it came true.
bool WaitFor(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

struct Handled {
  int32_t partition;
  int64_t offset;
  std::string value;
  int subscriber = 0;
};

// What the handlers saw, thread-safely.
class Log {
 public:
  void Add(const ConsumerRecord& r, int subscriber = 0) {
    std::lock_guard<std::mutex> lock(mu_);
    all_.push_back({r.partition, r.offset, std::string(r.value.value_or("")), subscriber});
  }
  std::vector<Handled> all() const {
    std::lock_guard<std::mutex> lock(mu_);
    return all_;
  }
  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return all_.size();
  }
  // How many times each (partition, offset) was handled.
  std::map<std::pair<int32_t, int64_t>, int> Counts() const {
    std::map<std::pair<int32_t, int64_t>, int> out;
    for (const Handled& h : all()) ++out[{h.partition, h.offset}];
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Handled> all_;
};

struct Fixture {
  TempDir tmp;
  std::unique_ptr<Broker> broker;
  std::unique_ptr<Producer> producer;
  int32_t partitions;

  explicit Fixture(int32_t partitions_ = 1, std::string dir = "") : partitions(partitions_) {
    auto b = Broker::Open(dir.empty() ? tmp.Sub("data") : dir);
    REQUIRE_OK(b);
    broker = std::move(*b);
    if (broker->ListTopics().empty()) REQUIRE_OK(broker->CreateTopic("t", partitions, SmallConfig()));
    ProducerOptions po;
    po.linger_ms = 0;
    auto p = Producer::Create(*broker, po);
    REQUIRE_OK(p);
    producer = std::move(*p);
  }

  // `n` records per partition, values "<partition>:<i>".
  void Produce(int n, int first = 0) {
    for (int i = first; i < first + n; ++i) {
      for (int32_t p = 0; p < partitions; ++p) {
        const std::string value = std::to_string(p) + ":" + std::to_string(i);
        REQUIRE_OK(producer->Send({.topic = "t", .partition = p, .value = value}));
      }
    }
    REQUIRE_OK(producer->Flush());
  }

  SubscriptionOptions Options(const std::string& group = "g") const {
    SubscriptionOptions o;
    o.consumer.group_id = group;
    o.consumer.auto_offset_reset = OffsetReset::kEarliest;
    o.consumer.client_id = "sub";
    o.poll_timeout = 20ms;
    o.retry_backoff_ms = 5;
    return o;
  }

  std::map<int32_t, int64_t> Committed(const std::string& group = "g") {
    ConsumerOptions co;
    co.group_id = group;
    auto c = Consumer::Create(*broker, co);
    REQUIRE_OK(c);
    std::vector<TopicPartition> tps;
    for (int32_t p = 0; p < partitions; ++p) tps.push_back({"t", p});
    auto committed = (*c)->Committed(tps);
    REQUIRE_OK(committed);
    std::map<int32_t, int64_t> out;
    for (const auto& [tp, o] : *committed) out[tp.partition] = o ? o->offset : -1;
    return out;
  }
};

TEST_CASE("Subscription at-least-once: every record handled once in a stable group",
          "[subscription]") {
  Fixture f(4);
  f.Produce(50);
  Log log;
  auto sub = Subscription::Start(*f.broker, {"t"}, [&](const ConsumerRecord& r) {
    log.Add(r);
    return absl::OkStatus();
  }, f.Options());
  REQUIRE_OK(sub);
  REQUIRE(WaitFor([&] { return log.size() >= 200; }));
  f.Produce(25, 50);  // while it runs
  REQUIRE(WaitFor([&] { return log.size() >= 300; }));
  CHECK_OK((*sub)->Close());
  const auto counts = log.Counts();
  CHECK(counts.size() == 300);
  for (const auto& [record, n] : counts) {
    INFO("partition " << record.first << " offset " << record.second);
    CHECK(n == 1);
  }
  const SubscriptionStats stats = (*sub)->stats();
  CHECK(stats.handled == 300);
  CHECK(stats.in_flight == 0);
  CHECK(f.Committed() == std::map<int32_t, int64_t>{{0, 75}, {1, 75}, {2, 75}, {3, 75}});
  // A new run of the group starts after them.
  Log again;
  auto sub2 = Subscription::Start(*f.broker, {"t"}, [&](const ConsumerRecord& r) {
    again.Add(r);
    return absl::OkStatus();
  }, f.Options());
  REQUIRE_OK(sub2);
  f.Produce(1, 75);
  REQUIRE(WaitFor([&] { return again.size() >= 4; }));
  CHECK_OK((*sub2)->Close());
  for (const Handled& h : again.all()) CHECK(h.offset == 75);
}

TEST_CASE("Subscription: records in flight never exceed max_in_flight", "[subscription]") {
  Fixture f(4);
  f.Produce(100);
  Log log;
  std::atomic<int> running{0}, max_running{0};
  SubscriptionOptions o = f.Options();
  o.max_in_flight = 8;
  o.threads = 4;
  auto sub = Subscription::Start(*f.broker, {"t"}, [&](const ConsumerRecord& r) {
    const int now = ++running;
    int seen = max_running.load();
    while (now > seen && !max_running.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(200us);
    log.Add(r);
    --running;
    return absl::OkStatus();
  }, o);
  REQUIRE_OK(sub);
  int64_t max_seen_while_running = 0;
  REQUIRE(WaitFor([&] {
    const SubscriptionStats s = (*sub)->stats();
    max_seen_while_running = std::max(max_seen_while_running, s.in_flight);
    return log.size() >= 400;
  }));
  CHECK_OK((*sub)->Close());
  const SubscriptionStats stats = (*sub)->stats();
  CHECK(stats.max_in_flight_seen <= 8);
  CHECK(stats.max_in_flight_seen >= 4);
  CHECK(max_seen_while_running <= 8);
  CHECK(stats.pauses > 0);  // 400 records against a bound of 8: fetching had to stop
  CHECK(max_running.load() <= 4);
  CHECK(log.Counts().size() == 400);
}

TEST_CASE("Subscription keeps order per partition and runs partitions in parallel",
          "[subscription]") {
  Fixture f(4);
  f.Produce(60);
  Log log;
  std::mutex mu;
  std::map<int32_t, bool> active;
  std::atomic<bool> overlap_in_partition{false};
  std::atomic<int> running{0}, max_running{0};
  SubscriptionOptions o = f.Options();
  o.threads = 4;
  o.max_in_flight = 40;
  auto sub = Subscription::Start(*f.broker, {"t"}, [&](const ConsumerRecord& r) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (active[r.partition]) overlap_in_partition = true;
      active[r.partition] = true;
    }
    const int now = ++running;
    int seen = max_running.load();
    while (now > seen && !max_running.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(1ms);
    log.Add(r);
    --running;
    std::lock_guard<std::mutex> lock(mu);
    active[r.partition] = false;
    return absl::OkStatus();
  }, o);
  REQUIRE_OK(sub);
  REQUIRE(WaitFor([&] { return log.size() >= 240; }));
  CHECK_OK((*sub)->Close());
  CHECK_FALSE(overlap_in_partition.load());
  CHECK(max_running.load() > 1);  // partitions did run side by side
  std::map<int32_t, int64_t> last;
  for (const Handled& h : log.all()) {
    auto it = last.find(h.partition);
    if (it != last.end()) {
      INFO("partition " << h.partition);
      CHECK(h.offset == it->second + 1);
    }
    last[h.partition] = h.offset;
  }
  CHECK(last.size() == 4);
}

TEST_CASE("Subscription at-most-once: committed before handling; a failure is lost, never "
          "retried",
          "[subscription]") {
  Fixture f(1);
  f.Produce(10);
  Log log;
  std::mutex mu;
  std::vector<int64_t> failed_records;
  std::atomic<int64_t> committed_while_handling_5{-2};
  SubscriptionOptions o = f.Options();
  o.guarantee = DeliveryGuarantee::kAtMostOnce;
  o.max_attempts = 5;  // ignored under at-most-once
  o.on_failure = [&](const ConsumerRecord& r, const absl::Status& s) {
    std::lock_guard<std::mutex> lock(mu);
    if (s.message() == "boom") failed_records.push_back(r.offset);
  };
  // The handler's own consumer, to look at the group's commits (used on one pool thread at
  // a time: partition 0's records are handled one after another).
  ConsumerOptions co;
  co.group_id = "g";
  auto observer = Consumer::Create(*f.broker, co);
  REQUIRE_OK(observer);
  auto sub = Subscription::Start(*f.broker, {"t"}, [&](const ConsumerRecord& r) {
    log.Add(r);
    if (r.offset == 5) {
      auto c = (*observer)->Committed({{"t", 0}});
      committed_while_handling_5 = c.ok() && (*c)[{"t", 0}] ? (*c)[{"t", 0}]->offset : -1;
    }
    return r.offset == 3 ? absl::InternalError("boom") : absl::OkStatus();
  }, o);
  REQUIRE_OK(sub);
  REQUIRE(WaitFor([&] { return log.size() >= 10; }));
  CHECK_OK((*sub)->Close());
  CHECK(committed_while_handling_5.load() > 5);  // the commit came first
  const auto counts = log.Counts();
  CHECK(counts.size() == 10);
  for (const auto& [record, n] : counts) CHECK(n == 1);  // offset 3 included: no retry
  CHECK(failed_records == std::vector<int64_t>{3});
  const SubscriptionStats stats = (*sub)->stats();
  CHECK(stats.given_up == 1);
  CHECK(stats.handled == 9);
  CHECK(f.Committed()[0] == 10);

  // The group goes on after them: the failed record never comes back.
  Log later;
  auto sub2 = Subscription::Start(*f.broker, {"t"}, [&](const ConsumerRecord& r) {
    later.Add(r);
    return absl::OkStatus();
  }, o);
  REQUIRE_OK(sub2);
  f.Produce(3, 10);
  REQUIRE(WaitFor([&] { return later.size() >= 3; }));
  CHECK_OK((*sub2)->Close());
  for (const Handled& h : later.all()) CHECK(h.offset >= 10);
}

TEST_CASE("Subscription at-least-once: a failed record is handed over again, in order",
          "[subscription]") {
  Fixture f(1);
  f.Produce(10);
  Log log;
  std::atomic<int> failures_left{2};
  std::atomic<int64_t> committed_while_handling_5{-2};
  ConsumerOptions co;
  co.group_id = "g";
  auto observer = Consumer::Create(*f.broker, co);
  REQUIRE_OK(observer);
  SubscriptionOptions o = f.Options();
  o.max_attempts = 3;
  auto sub = Subscription::Start(*f.broker, {"t"}, [&](const ConsumerRecord& r) {
    log.Add(r);
    if (r.offset == 5) {
      auto c = (*observer)->Committed({{"t", 0}});
      committed_while_handling_5 = c.ok() && (*c)[{"t", 0}] ? (*c)[{"t", 0}]->offset : -1;
    }
    if (r.offset == 3 && failures_left.fetch_sub(1) > 0) return absl::UnavailableError("later");
    return absl::OkStatus();
  }, o);
  REQUIRE_OK(sub);
  REQUIRE(WaitFor([&] { return log.size() >= 12; }));
  CHECK_OK((*sub)->Close());
  CHECK(committed_while_handling_5.load() <= 5);  // not committed before it ran
  std::vector<int64_t> order;
  for (const Handled& h : log.all()) order.push_back(h.offset);
  CHECK(order == std::vector<int64_t>{0, 1, 2, 3, 3, 3, 4, 5, 6, 7, 8, 9});
  const SubscriptionStats stats = (*sub)->stats();
  CHECK(stats.failed_attempts == 2);
  CHECK(stats.handled == 10);
  CHECK(stats.given_up == 0);
  CHECK(f.Committed()[0] == 10);
}

TEST_CASE("Subscription at-least-once: out of attempts, on_failure skips the record",
          "[subscription]") {
  Fixture f(1);
  f.Produce(6);
  Log log;
  std::atomic<int64_t> skipped{-1};
  SubscriptionOptions o = f.Options();
  o.max_attempts = 2;
  o.on_failure = [&](const ConsumerRecord& r, const absl::Status&) { skipped = r.offset; };
  auto sub = Subscription::Start(*f.broker, {"t"}, [&](const ConsumerRecord& r) {
    log.Add(r);
    return r.offset == 2 ? absl::InternalError("poison") : absl::OkStatus();
  }, o);
  REQUIRE_OK(sub);
  REQUIRE(WaitFor([&] { return log.size() >= 7; }));
  CHECK_OK((*sub)->Close());
  CHECK(skipped.load() == 2);
  CHECK(log.Counts()[{0, 2}] == 2);
  CHECK(f.Committed()[0] == 6);
}

TEST_CASE("Subscription at-least-once: out of attempts without on_failure, it stops and the "
          "record comes again",
          "[subscription]") {
  Fixture f(1);
  f.Produce(6);
  Log log;
  SubscriptionOptions o = f.Options();
  o.max_attempts = 2;
  auto sub = Subscription::Start(*f.broker, {"t"}, [&](const ConsumerRecord& r) {
    log.Add(r);
    return r.offset == 3 ? absl::InternalError("poison") : absl::OkStatus();
  }, o);
  REQUIRE_OK(sub);
  REQUIRE(WaitFor([&] { return !(*sub)->status().ok(); }));
  CHECK_STATUS_IS((*sub)->status(), absl::StatusCode::kInternal, "t-0@3", "2 times", "poison");
  CHECK_STATUS_IS((*sub)->Close(), absl::StatusCode::kInternal, "t-0@3");
  CHECK(log.Counts()[{0, 3}] == 2);
  CHECK(log.Counts().count({0, 4}) == 0);  // the partition stopped at the failed record
  CHECK(f.Committed()[0] == 3);

  Log again;
  auto sub2 = Subscription::Start(*f.broker, {"t"}, [&](const ConsumerRecord& r) {
    again.Add(r);
    return absl::OkStatus();
  }, f.Options());
  REQUIRE_OK(sub2);
  REQUIRE(WaitFor([&] { return again.size() >= 3; }));
  CHECK_OK((*sub2)->Close());
  std::vector<int64_t> order;
  for (const Handled& h : again.all()) order.push_back(h.offset);
  CHECK(order == std::vector<int64_t>{3, 4, 5});
}

TEST_CASE("Subscription: a handler that throws counts as a failed attempt, and so does "
          "an on_failure that throws",
          "[subscription]") {
  Fixture f(1);
  f.Produce(5);
  Log log;
  std::atomic<int> skipped{0};
  SubscriptionOptions o = f.Options();
  o.max_attempts = 2;
  o.on_failure = [&](const ConsumerRecord&, const absl::Status& s) {
    const std::string m(s.message());
    if (m.find("threw") != std::string::npos && m.find("boom") != std::string::npos) {
      ++skipped;
    }
    throw std::runtime_error("on_failure too");
  };
  auto sub = Subscription::Start(*f.broker, {"t"}, [&](const ConsumerRecord& r) -> absl::Status {
    log.Add(r);
    if (r.offset == 1) throw std::runtime_error("boom");
    if (r.offset == 3) throw 42;
    return absl::OkStatus();
  }, o);
  REQUIRE_OK(sub);
  REQUIRE(WaitFor([&] { return log.size() >= 7; }));
  CHECK_OK((*sub)->Close());
  CHECK(log.Counts()[{0, 1}] == 2);
  CHECK(log.Counts()[{0, 3}] == 2);
  CHECK(skipped.load() == 1);  // offset 3's exception is not a std::exception: no what()
  const SubscriptionStats stats = (*sub)->stats();
  CHECK(stats.failed_attempts == 4);
  CHECK(stats.given_up == 2);
  CHECK(stats.handled == 3);
  CHECK(f.Committed()[0] == 5);
}

TEST_CASE("Subscription: bad options", "[subscription]") {
  Fixture f(1);
  auto ok = [](const ConsumerRecord&) { return absl::OkStatus(); };
  SubscriptionOptions o = f.Options();
  o.consumer.group_id = "";
  CHECK_STATUS_IS(Subscription::Start(*f.broker, {"t"}, ok, o), absl::StatusCode::kInvalidArgument,
                  "group_id");
  o = f.Options();
  o.max_in_flight = 0;
  CHECK_STATUS_IS(Subscription::Start(*f.broker, {"t"}, ok, o), absl::StatusCode::kInvalidArgument,
                  "max_in_flight");
  o = f.Options();
  o.threads = 0;
  CHECK_STATUS_IS(Subscription::Start(*f.broker, {"t"}, ok, o), absl::StatusCode::kInvalidArgument,
                  "threads");
  CHECK_STATUS_IS(Subscription::Start(*f.broker, {"t"}, nullptr, f.Options()),
                  absl::StatusCode::kInvalidArgument, "handler");
}

TEST_CASE("Subscription: a rebalance hands partitions over without losing or repeating",
          "[subscription]") {
  Fixture f(4);
  f.Produce(30);
  Log log;
  std::atomic<int> a_revoked{0};
  auto handler = [&](int who) {
    return [&log, who](const ConsumerRecord& r) {
      std::this_thread::sleep_for(100us);
      log.Add(r, who);
      return absl::OkStatus();
    };
  };
  SubscriptionOptions oa = f.Options();
  oa.max_in_flight = 10;
  oa.consumer.client_id = "a";
  oa.rebalance_listener.on_partitions_revoked = [&](const std::vector<TopicPartition>&) {
    ++a_revoked;
  };
  auto a = Subscription::Start(*f.broker, {"t"}, handler(1), oa);
  REQUIRE_OK(a);
  REQUIRE(WaitFor([&] { return log.size() >= 40; }));
  SubscriptionOptions ob = f.Options();
  ob.max_in_flight = 10;
  ob.consumer.client_id = "b";
  auto b = Subscription::Start(*f.broker, {"t"}, handler(2), ob);
  REQUIRE_OK(b);
  REQUIRE(WaitFor([&] { return (*b)->Assignment().size() == 2 && (*a)->Assignment().size() == 2; }));
  f.Produce(20, 30);
  REQUIRE(WaitFor([&] { return log.size() >= 200; }));
  CHECK_OK((*a)->Close());
  CHECK_OK((*b)->Close());
  CHECK(a_revoked.load() >= 1);
  const auto counts = log.Counts();
  CHECK(counts.size() == 200);
  for (const auto& [record, n] : counts) {
    INFO("partition " << record.first << " offset " << record.second);
    CHECK(n == 1);
  }
  std::set<int> who;
  for (const Handled& h : log.all()) who.insert(h.subscriber);
  CHECK(who == std::set<int>{1, 2});
  CHECK(f.Committed() == std::map<int32_t, int64_t>{{0, 50}, {1, 50}, {2, 50}, {3, 50}});
}

// --- A process killed inside the handler ------------------------------------------------

// The child runs a subscription whose handler kills the process (_exit, no Close) when it
// gets offset 5. Returns the offsets the next run of the group gets.
std::vector<int64_t> HandledAfterCrash(DeliveryGuarantee guarantee) {
  TempDir tmp;
  {
    Fixture f(1, tmp.Sub("data"));
    f.Produce(10);
  }
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    auto broker = Broker::Open(tmp.Sub("data"));
    if (!broker.ok()) ::_exit(3);
    SubscriptionOptions o;
    o.consumer.group_id = "g";
    o.consumer.auto_offset_reset = OffsetReset::kEarliest;
    o.guarantee = guarantee;
    o.commit_interval_ms = 0;  // at-least-once: commit as often as the loop turns
    auto sub = Subscription::Start(**broker, {"t"}, [](const ConsumerRecord& r) {
      if (r.offset == 5) ::_exit(0);  // dies with the record in hand
      std::this_thread::sleep_for(5ms);
      return absl::OkStatus();
    }, o);
    if (!sub.ok()) ::_exit(4);
    std::this_thread::sleep_for(30s);
    ::_exit(5);
  }
  int wstatus = 0;
  ::waitpid(child, &wstatus, 0);
  REQUIRE(WIFEXITED(wstatus));
  REQUIRE(WEXITSTATUS(wstatus) == 0);

  Fixture f(1, tmp.Sub("data"));
  f.Produce(2, 10);  // offsets 10 and 11, so the next run has something either way
  Log log;
  SubscriptionOptions o = f.Options();
  o.guarantee = guarantee;
  auto sub = Subscription::Start(*f.broker, {"t"}, [&](const ConsumerRecord& r) {
    log.Add(r);
    return absl::OkStatus();
  }, o);
  REQUIRE_OK(sub);
  REQUIRE(WaitFor([&] {
    auto all = log.all();
    return !all.empty() && all.back().offset == 11;
  }));
  CHECK_OK((*sub)->Close());
  std::vector<int64_t> offsets;
  for (const Handled& h : log.all()) offsets.push_back(h.offset);
  return offsets;
}

TEST_CASE("Subscription at-most-once: a crash in the handler loses the record, never repeats "
          "one",
          "[subscription][crash]") {
  const std::vector<int64_t> offsets = HandledAfterCrash(DeliveryGuarantee::kAtMostOnce);
  // The Poll that brought offset 5 was committed before any of its records was handled:
  // the next run starts after 5 (5, and whatever came with it, is lost); nothing repeats.
  REQUIRE_FALSE(offsets.empty());
  CHECK(offsets.front() > 5);
  for (size_t i = 1; i < offsets.size(); ++i) CHECK(offsets[i] == offsets[i - 1] + 1);
  CHECK(offsets.back() == 11);
}

TEST_CASE("Subscription at-least-once: a crash in the handler redelivers the record",
          "[subscription][crash]") {
  const std::vector<int64_t> offsets = HandledAfterCrash(DeliveryGuarantee::kAtLeastOnce);
  REQUIRE_FALSE(offsets.empty());
  // It resumes at or before 5 (what was handled but not yet committed comes again), and
  // then gets everything in order.
  CHECK(offsets.front() <= 5);
  for (size_t i = 1; i < offsets.size(); ++i) CHECK(offsets[i] == offsets[i - 1] + 1);
  CHECK(offsets.back() == 11);
}

}  // namespace
}  // namespace runnel
