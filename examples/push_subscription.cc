// Push on top of pull: the same records consumed by a Poll loop and by a Subscription.
//
//   build/examples/push_subscription [DIR]      (default: ./push-subscription-data, emptied first)
//
// 1. Pull: a consumer of group "pull" calls Poll in a loop at its own pace.
// 2. Push: a runnel::Subscription of group "push" hands each record to a handler on a
//    pool of 4 threads, with at most 8 records in flight (it stops fetching at the bound),
//    one record at a time per partition.
// 3. Delivery guarantees, with a handler that fails once on job 3:
//    at-most-once commits before handling, so the failed job is lost (never retried);
//    at-least-once commits after handling, so the failed job is handed over again.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/producer.h"
#include "runnel/subscription.h"

using namespace std::chrono_literals;

namespace {

[[noreturn]] void Die(const char* what, const absl::Status& s) {
  std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
  std::exit(1);
}

void WaitFor(const std::atomic<int>& counter, int target) {
  for (int i = 0; i < 3000 && counter.load() < target; ++i) std::this_thread::sleep_for(5ms);
}

runnel::SubscriptionOptions Options(const std::string& group) {
  runnel::SubscriptionOptions options;
  options.consumer.group_id = group;
  options.consumer.auto_offset_reset = runnel::OffsetReset::kEarliest;
  options.threads = 4;
  options.max_in_flight = 8;
  options.retry_backoff_ms = 10;
  return options;
}

// Runs a subscription over topic "jobs" whose handler fails the first time it sees job 3.
// Prints how many distinct jobs were done and how often job 3 was handed over.
void Guarantee(runnel::Broker& broker, runnel::DeliveryGuarantee guarantee, const char* name) {
  std::atomic<int> calls{0}, done{0}, job3{0};
  std::atomic<bool> failed_once{false};
  auto sub = runnel::Subscription::Start(
      broker, {"jobs"},
      [&](const runnel::ConsumerRecord& r) {
        ++calls;
        if (r.offset == 3) {
          ++job3;
          if (!failed_once.exchange(true)) return absl::UnavailableError("job 3: try later");
        }
        ++done;
        return absl::OkStatus();
      },
      [&] {
        runnel::SubscriptionOptions o = Options(name);
        o.guarantee = guarantee;
        return o;
      }());
  if (!sub.ok()) Die("subscription", sub.status());
  WaitFor(calls, 10);  // at-most-once: 10 calls; at-least-once: 11 (the retry)
  if (guarantee == runnel::DeliveryGuarantee::kAtLeastOnce) WaitFor(done, 10);
  if (auto s = (*sub)->Close(); !s.ok()) Die("close", s);
  const runnel::SubscriptionStats stats = (*sub)->stats();
  std::printf("%s: %d of 10 jobs done, job 3 handed over %d time%s%s\n", name, done.load(),
              job3.load(), job3.load() == 1 ? "" : "s",
              stats.given_up > 0 ? " and lost (no retry)" : " (retried after its failure)");
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "push-subscription-data";
  std::filesystem::remove_all(dir);
  auto broker = runnel::Broker::Open(dir);
  if (!broker.ok()) Die("open", broker.status());
  runnel::TopicConfig config;
  config.segment_index_bytes = 4096;
  if (auto s = (*broker)->CreateTopic("events", 4, config); !s.ok()) Die("create", s);
  if (auto s = (*broker)->CreateTopic("jobs", 1, config); !s.ok()) Die("create", s);
  auto producer = runnel::Producer::Create(**broker);
  if (!producer.ok()) Die("producer", producer.status());
  for (int i = 0; i < 40; ++i) {
    const std::string key = "user-" + std::to_string(i % 7);
    const std::string value = "event-" + std::to_string(i);
    if (auto s = (*producer)->Send({.topic = "events", .key = key, .value = value}); !s.ok()) {
      Die("send", s);
    }
  }
  for (int i = 0; i < 10; ++i) {
    const std::string value = "job-" + std::to_string(i);
    if (auto s = (*producer)->Send({.topic = "jobs", .value = value}); !s.ok()) Die("send", s);
  }
  if (auto s = (*producer)->Flush(); !s.ok()) Die("flush", s);

  // 1. Pull: the application's own loop.
  runnel::ConsumerOptions pull_options;
  pull_options.group_id = "pull";
  pull_options.auto_offset_reset = runnel::OffsetReset::kEarliest;
  auto consumer = runnel::Consumer::Create(**broker, pull_options);
  if (!consumer.ok()) Die("consumer", consumer.status());
  if (auto s = (*consumer)->Subscribe({"events"}); !s.ok()) Die("subscribe", s);
  int pulled = 0, polls = 0;
  while (pulled < 40 && polls < 500) {
    auto records = (*consumer)->Poll(100ms);
    if (!records.ok()) Die("poll", records.status());
    ++polls;
    pulled += static_cast<int>(records->size());
    if (!records->empty()) (*consumer)->CommitSync().IgnoreError();  // after processing
  }
  if (auto s = (*consumer)->Close(); !s.ok()) Die("close", s);
  std::printf("pull: %d records in %d polls\n", pulled, polls);

  // 2. Push: the handler is called; fetching stops while 8 records are in flight.
  std::atomic<int> pushed{0}, running{0}, max_running{0};
  auto sub = runnel::Subscription::Start(
      **broker, {"events"},
      [&](const runnel::ConsumerRecord&) {
        const int now = ++running;
        int seen = max_running.load();
        while (now > seen && !max_running.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(2ms);  // "work"
        --running;
        ++pushed;
        return absl::OkStatus();
      },
      Options("push"));
  if (!sub.ok()) Die("subscription", sub.status());
  WaitFor(pushed, 40);
  if (auto s = (*sub)->Close(); !s.ok()) Die("close", s);
  const runnel::SubscriptionStats stats = (*sub)->stats();
  std::printf("push: %d records, up to %d handlers at once on 4 threads, at most %lld in "
              "flight (bound 8), fetching paused %lld times\n",
              pushed.load(), max_running.load(), static_cast<long long>(stats.max_in_flight_seen),
              static_cast<long long>(stats.pauses));

  // 3. At-most-once versus at-least-once.
  Guarantee(**broker, runnel::DeliveryGuarantee::kAtMostOnce, "at-most-once");
  Guarantee(**broker, runnel::DeliveryGuarantee::kAtLeastOnce, "at-least-once");

  if (auto s = (*producer)->Close(); !s.ok()) Die("close", s);
  if (auto s = (*broker)->Close(); !s.ok()) Die("close", s);
  return 0;
}
