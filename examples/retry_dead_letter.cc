// Retries, delay tiers, dead letters and redrive.
//
//   build/examples/retry_dead_letter [DIR]   (default: ./retry-data, emptied first)
//
// Twenty orders go to topic "orders". The fulfilment handler:
//  - calls a flaky payment gateway, retried in place by a RetryPolicy (backoff + jitter);
//  - fails some orders transiently (Unavailable): RetryTopics republishes them to the
//    delay tiers orders.retry.20ms and orders.retry.100ms, where they wait until due;
//  - fails some permanently (InvalidArgument, not retriable) and some transiently forever:
//    both end in orders.dlq, with headers saying why.
// Then the bug is "fixed" and Redrive sends the dead letters back to "orders", where they
// are processed. Real applications use longer tiers (the default is 1s, 10s, 1m).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/producer.h"
#include "runnel/retry.h"
#include "runnel/retry_topics.h"

namespace {

int Fail(const char* what, const absl::Status& s) {
  std::fprintf(stderr, "retry_dead_letter: %s: %s\n", what, s.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  const std::string dir = argc > 1 ? argv[1] : "retry-data";
  std::filesystem::remove_all(dir);
  auto broker = runnel::Broker::Open(dir);
  if (!broker.ok()) return Fail("open", broker.status());
  if (auto s = (*broker)->CreateTopic("orders", 2); !s.ok()) return Fail("create", s);

  constexpr int kOrders = 20;
  {
    auto producer = runnel::Producer::Create(**broker);
    if (!producer.ok()) return Fail("producer", producer.status());
    for (int i = 0; i < kOrders; ++i) {
      const std::string id = std::to_string(i);
      (*producer)->Send({.topic = "orders", .key = id, .value = id}).IgnoreError();
    }
    if (auto s = (*producer)->Close(); !s.ok()) return Fail("produce", s);
  }

  // Tiers of 20 ms and 100 ms, three deliveries in all, then the DLQ.
  auto retry = runnel::RetryTopics::Create(**broker, "orders",
                                           {.delays = {20ms, 100ms}, .max_attempts = 3});
  if (!retry.ok()) return Fail("retry topics", retry.status());

  // In-place retries for a quick, idempotent call.
  int gateway_calls = 0, in_place_retries = 0;
  runnel::RetryPolicy gateway_retry({.max_attempts = 4,
                                     .initial_delay = 5ms,
                                     .max_delay = 50ms,
                                     .on_retry = [&](const absl::Status& s, int32_t attempt,
                                                     std::chrono::milliseconds delay) {
                                       ++in_place_retries;
                                       if (in_place_retries == 1) {
                                         std::printf("payment attempt %d failed (%s); retrying "
                                                     "in %lld ms\n",
                                                     attempt, s.ToString().c_str(),
                                                     static_cast<long long>(delay.count()));
                                       }
                                     }});

  bool fixed = false;  // the bug behind the permanent failures, fixed before the redrive
  std::map<int, int> deliveries;
  std::set<int> processed;
  auto handler = [&](const runnel::ConsumerRecord& r) -> absl::Status {
    const int id = std::stoi(std::string(r.value.value_or("-1")));
    const int n = ++deliveries[id];
    if (!fixed && id % 5 == 3) return absl::InvalidArgumentError("order has no address");
    if (!fixed && id % 5 == 4) return absl::UnavailableError("warehouse offline");
    if (id % 5 == 1 && n <= 1) return absl::UnavailableError("inventory busy");
    if (id % 5 == 2 && n <= 2) return absl::UnavailableError("inventory busy");
    // Every other call to the gateway fails once: RetryPolicy absorbs it in place.
    absl::Status paid = gateway_retry.Run([&] {
      return ++gateway_calls % 2 == 1 ? absl::UnavailableError("gateway timeout")
                                      : absl::OkStatus();
    });
    if (!paid.ok()) return paid;
    processed.insert(id);
    return absl::OkStatus();
  };

  auto consumer = runnel::Consumer::Create(
      **broker, {.group_id = "fulfilment", .enable_auto_commit = false,
                 .auto_offset_reset = runnel::OffsetReset::kEarliest});
  if (!consumer.ok()) return Fail("consumer", consumer.status());
  if (auto s = (*consumer)->Subscribe((*retry)->topics()); !s.ok()) return Fail("subscribe", s);

  int retried = 0, dead_lettered = 0;
  auto consume_until = [&](auto done) -> absl::Status {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      auto due = (*retry)->PollDue(**consumer, 100ms);
      if (!due.ok()) return due.status();
      for (const runnel::ConsumerRecord& r : *due) {
        auto outcome = (*retry)->Process(r, handler);
        if (!outcome.ok()) return outcome.status();
        retried += *outcome == runnel::RetryOutcome::kRetried;
        dead_lettered += *outcome == runnel::RetryOutcome::kDeadLettered;
      }
      // At-least-once: commit once the batch is handled (republished records included).
      if (!due->empty()) {
        if (auto s = (*consumer)->CommitSync(); !s.ok()) return s;
      }
    }
    return done() ? absl::OkStatus() : absl::DeadlineExceededError("the workload stalled");
  };

  // 12 orders succeed (some after retries); 8 end in the DLQ.
  if (auto s = consume_until([&] {
        return static_cast<int>(processed.size()) + dead_lettered >= kOrders;
      });
      !s.ok()) {
    return Fail("consume", s);
  }
  std::printf("first pass: processed %zu, retried %d, dead-lettered %d, in-place payment "
              "retries %d\n",
              processed.size(), retried, dead_lettered, in_place_retries);

  // The DLQ is an ordinary topic: inspect it (or `runnel consume orders.dlq`).
  {
    auto reader = runnel::Consumer::Create(**broker,
                                           {.auto_offset_reset = runnel::OffsetReset::kEarliest});
    if (!reader.ok()) return Fail("dlq reader", reader.status());
    (*reader)->Assign({{"orders.dlq", 0}, {"orders.dlq", 1}}).IgnoreError();
    auto polled = (*reader)->Poll(1s);
    if (polled.ok() && !polled->empty()) {
      const runnel::ConsumerRecord& r = polled->front();
      auto h = [&](std::string_view key) {
        return std::string(runnel::FindHeader(r.headers, key).value_or("?"));
      };
      std::printf("dead letter: order %s, %s after %s attempt(s): %s %s\n",
                  std::string(r.value.value_or("")).c_str(),
                  h(runnel::kDlqReasonHeader).c_str(), h(runnel::kRetryAttemptHeader).c_str(),
                  h(runnel::kRetryErrorCodeHeader).c_str(), h(runnel::kRetryErrorHeader).c_str());
    }
  }

  fixed = true;
  auto redriven = runnel::Redrive(**broker, "orders.dlq");
  if (!redriven.ok()) return Fail("redrive", redriven.status());
  auto again = runnel::Redrive(**broker, "orders.dlq");  // resumes: nothing left to send
  if (!again.ok()) return Fail("redrive again", again.status());
  if (auto s = consume_until([&] { return static_cast<int>(processed.size()) >= kOrders; });
      !s.ok()) {
    return Fail("consume redriven", s);
  }

  std::printf("processed %zu, retried %d, dead-lettered %d, redriven %lld (then %lld)\n",
              processed.size(), retried, dead_lettered,
              static_cast<long long>(redriven->redriven), static_cast<long long>(again->redriven));
  (*consumer)->Close().IgnoreError();
  (*retry)->Close().IgnoreError();
  return (*broker)->Close().ok() ? 0 : 1;
}
