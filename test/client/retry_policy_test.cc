// runnel::RetryPolicy and runnel::IsRetriable (include/runnel/retry.h, runnel/status.h):
// the backoff's bounds with a fixed random source, the attempts limit, the predicate, and
// the classification table. A ManualClock stands in for sleeping: no test waits.
#include "runnel/retry.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "runnel/status.h"
#include "support/status_matchers.h"

namespace runnel {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

RetryOptions Manual(std::shared_ptr<ManualClock> clock, double random) {
  RetryOptions o;
  o.clock = std::move(clock);
  o.random = [random] { return random; };
  return o;
}

TEST_CASE("The backoff cap grows exponentially from initial_delay and stops at max_delay",
          "[retry]") {
  RetryOptions o;
  o.initial_delay = 100ms;
  o.max_delay = 1000ms;
  o.multiplier = 2.0;
  RetryPolicy policy(o);
  const std::vector<int64_t> expected = {100, 200, 400, 800, 1000, 1000, 1000};
  for (size_t n = 0; n < expected.size(); ++n) {
    INFO("retry " << n);
    CHECK(policy.Cap(static_cast<int32_t>(n)).count() == expected[n]);
  }
  // Far out, the cap neither overflows nor wraps.
  CHECK(policy.Cap(10'000).count() == 1000);
  CHECK(policy.Cap(INT32_MAX).count() == 1000);
}

TEST_CASE("Each backoff is drawn from [0, cap] by the random source (full jitter)", "[retry]") {
  const double u = GENERATE(0.0, 0.25, 0.5, 0.999999, 1.0);
  INFO("random " << u);
  RetryOptions o = Manual(std::make_shared<ManualClock>(), u);
  o.initial_delay = 100ms;
  o.max_delay = 1000ms;
  RetryPolicy policy(o);
  for (int32_t n = 0; n < 12; ++n) {
    INFO("retry " << n);
    const milliseconds d = policy.Backoff(n);
    CHECK(d >= 0ms);
    CHECK(d <= policy.Cap(n));
  }
  if (u == 0.0) CHECK(policy.Backoff(3) == 0ms);
  if (u == 0.5) CHECK(policy.Backoff(1) == milliseconds(100));  // half of 200 (+1 ms range)
  if (u >= 0.999999) CHECK(policy.Backoff(5) == 1000ms);
}

TEST_CASE("The default random source stays within the bounds", "[retry]") {
  RetryPolicy policy({.initial_delay = 10ms, .max_delay = 50ms});
  for (int i = 0; i < 1000; ++i) {
    const int32_t n = i % 8;
    const milliseconds d = policy.Backoff(n);
    CHECK(d >= 0ms);
    CHECK(d <= policy.Cap(n));
  }
}

TEST_CASE("A max_delay below initial_delay caps every delay; a multiplier below 1 counts "
          "as 1",
          "[retry]") {
  RetryPolicy capped({.initial_delay = 500ms, .max_delay = 100ms});
  CHECK(capped.Cap(0) == 100ms);
  CHECK(capped.Cap(3) == 100ms);
  RetryPolicy flat({.initial_delay = 30ms, .max_delay = 1000ms, .multiplier = 0.5});
  CHECK(flat.Cap(0) == 30ms);
  CHECK(flat.Cap(5) == 30ms);
}

TEST_CASE("Run retries a retriable failure until it succeeds, sleeping each backoff",
          "[retry]") {
  auto clock = std::make_shared<ManualClock>();
  RetryOptions o = Manual(clock, 0.5);
  o.initial_delay = 100ms;
  o.max_delay = 1000ms;
  std::vector<int32_t> retried_attempts;
  o.on_retry = [&](const absl::Status& s, int32_t attempt, milliseconds) {
    CHECK(s.code() == absl::StatusCode::kUnavailable);
    retried_attempts.push_back(attempt);
  };
  RetryPolicy policy(o);
  int calls = 0;
  absl::Status st = policy.Run([&] {
    return ++calls < 3 ? absl::UnavailableError("not yet") : absl::OkStatus();
  });
  CHECK_OK(st);
  CHECK(calls == 3);
  CHECK(retried_attempts == std::vector<int32_t>{1, 2});
  CHECK(clock->sleeps() == std::vector<milliseconds>{policy.Backoff(0), policy.Backoff(1)});
}

TEST_CASE("Run gives up after max_attempts with the last error, its code kept", "[retry]") {
  auto clock = std::make_shared<ManualClock>();
  RetryOptions o = Manual(clock, 0.0);
  o.max_attempts = 4;
  RetryPolicy policy(o);
  int calls = 0;
  absl::StatusOr<int> result = policy.Run([&]() -> absl::StatusOr<int> {
    ++calls;
    return absl::ResourceExhaustedError("disk full #" + std::to_string(calls));
  });
  CHECK(calls == 4);
  CHECK(clock->sleeps().size() == 3);
  CHECK_STATUS_IS(result, absl::StatusCode::kResourceExhausted, "disk full #4",
                  "gave up after 4 attempts");
}

TEST_CASE("Run returns a StatusOr's value once it succeeds", "[retry]") {
  RetryPolicy policy(Manual(std::make_shared<ManualClock>(), 0.3));
  int calls = 0;
  absl::StatusOr<std::string> result = policy.Run([&]() -> absl::StatusOr<std::string> {
    if (++calls == 1) return absl::AbortedError("conflict");
    return std::string("value");
  });
  REQUIRE_OK(result);
  CHECK(*result == "value");
  CHECK(calls == 2);
}

TEST_CASE("Run does not retry a failure that is not retriable", "[retry]") {
  auto clock = std::make_shared<ManualClock>();
  RetryPolicy policy(Manual(clock, 0.5));
  int calls = 0;
  absl::Status st = policy.Run([&] {
    ++calls;
    return absl::InvalidArgumentError("bad record");
  });
  CHECK(calls == 1);
  CHECK(st == absl::InvalidArgumentError("bad record"));  // as is, nothing added
  CHECK(clock->sleeps().empty());
}

TEST_CASE("max_attempts 1 (or less) never retries", "[retry]") {
  const int32_t max = GENERATE(1, 0, -3);
  RetryOptions o = Manual(std::make_shared<ManualClock>(), 0.5);
  o.max_attempts = max;
  RetryPolicy policy(o);
  int calls = 0;
  absl::Status st = policy.Run([&] {
    ++calls;
    return absl::UnavailableError("down");
  });
  CHECK(calls == 1);
  CHECK(st == absl::UnavailableError("down"));
}

TEST_CASE("The predicate decides which failures are retried", "[retry]") {
  RetryOptions o = Manual(std::make_shared<ManualClock>(), 0.5);
  o.max_attempts = 3;
  // Only the application's own "try later" (an InvalidArgument with a marker) is retried;
  // Unavailable, retriable by default, is not.
  o.retriable = [](const absl::Status& s) {
    return std::string(s.message()).find("[later]") != std::string::npos;
  };
  RetryPolicy policy(o);
  CHECK(policy.ShouldRetry(absl::InvalidArgumentError("x [later]")));
  CHECK_FALSE(policy.ShouldRetry(absl::UnavailableError("down")));
  CHECK_FALSE(policy.ShouldRetry(absl::OkStatus()));
  int calls = 0;
  CHECK_FALSE(policy.Run([&] {
                      ++calls;
                      return absl::InvalidArgumentError("x [later]");
                    })
                  .ok());
  CHECK(calls == 3);
  calls = 0;
  CHECK_FALSE(policy.Run([&] {
                      ++calls;
                      return absl::UnavailableError("down");
                    })
                  .ok());
  CHECK(calls == 1);
}

TEST_CASE("IsRetriable follows runnel/status.h's table", "[retry]") {
  using C = absl::StatusCode;
  const std::vector<std::pair<C, bool>> table = {
      {C::kResourceExhausted, true}, {C::kUnavailable, true},
      {C::kDeadlineExceeded, true},  {C::kAborted, true},
      {C::kInvalidArgument, false},  {C::kNotFound, false},
      {C::kPermissionDenied, false}, {C::kFailedPrecondition, false},
      {C::kAlreadyExists, false},    {C::kOutOfRange, false},
      {C::kDataLoss, false},         {C::kInternal, false},
      {C::kUnimplemented, false},    {C::kCancelled, false},
      {C::kUnknown, false},          {C::kUnauthenticated, false},
      {C::kOk, false},
  };
  for (const auto& [code, retriable] : table) {
    INFO(absl::StatusCodeToString(code));
    CHECK(IsRetriable(absl::Status(code, "x")) == retriable);
    CHECK(RetryPolicy().ShouldRetry(absl::Status(code, "x")) == retriable);
  }
}

TEST_CASE("ManualClock: SleepFor advances the time and is recorded", "[retry]") {
  ManualClock clock(1000);
  clock.SleepFor(250ms);
  clock.Advance(50ms);
  CHECK(clock.NowMillis() == 1300);
  CHECK(clock.sleeps() == std::vector<milliseconds>{250ms});
  clock.Set(5);
  CHECK(clock.NowMillis() == 5);
}

}  // namespace
}  // namespace runnel
