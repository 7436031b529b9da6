// runnel::RetryPolicy and the clocks (include/runnel/retry.h).
#include "runnel/retry.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>

#include "util/formatters.h"

namespace runnel {
namespace {

class RealClock : public RetryClock {
 public:
  int64_t NowMillis() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  void SleepFor(std::chrono::milliseconds duration) override {
    if (duration.count() > 0) std::this_thread::sleep_for(duration);
  }
};

}  // namespace

std::shared_ptr<RetryClock> RetryClock::Real() {
  static const std::shared_ptr<RetryClock> clock = std::make_shared<RealClock>();
  return clock;
}

ManualClock::ManualClock(int64_t start_ms) : now_ms_(start_ms) {}

int64_t ManualClock::NowMillis() {
  std::lock_guard<std::mutex> lock(mu_);
  return now_ms_;
}

void ManualClock::SleepFor(std::chrono::milliseconds duration) {
  std::lock_guard<std::mutex> lock(mu_);
  sleeps_.push_back(duration);
  now_ms_ += std::max<int64_t>(0, duration.count());
}

void ManualClock::Advance(std::chrono::milliseconds duration) {
  std::lock_guard<std::mutex> lock(mu_);
  now_ms_ += duration.count();
}

void ManualClock::Set(int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  now_ms_ = now_ms;
}

std::vector<std::chrono::milliseconds> ManualClock::sleeps() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sleeps_;
}

// The default random source: one generator per policy (shared by copies), locked.
struct RetryPolicy::Random {
  std::mutex mu;
  std::mt19937_64 engine{std::random_device{}()};
  double Next() {
    std::lock_guard<std::mutex> lock(mu);
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
  }
};

RetryPolicy::RetryPolicy(RetryOptions options)
    : options_(std::move(options)), random_(std::make_shared<Random>()) {
  options_.max_attempts = std::max(options_.max_attempts, 1);
  options_.initial_delay = std::max(options_.initial_delay, std::chrono::milliseconds(0));
  options_.max_delay = std::max(options_.max_delay, std::chrono::milliseconds(0));
  if (!(options_.multiplier >= 1.0)) options_.multiplier = 1.0;  // NaN too
  if (options_.clock == nullptr) options_.clock = RetryClock::Real();
}

std::chrono::milliseconds RetryPolicy::Cap(int32_t retry) const {
  const double max = static_cast<double>(options_.max_delay.count());
  // Grows until it passes max_delay; pow saturates to infinity, never wraps.
  const double grown = static_cast<double>(options_.initial_delay.count()) *
                       std::pow(options_.multiplier, std::max(retry, 0));
  // A century bounds it, so the cast, cap + 1 and now + delay cannot overflow.
  constexpr double kCenturyMs = 100.0 * 365 * 24 * 3600 * 1000;
  return std::chrono::milliseconds(static_cast<int64_t>(std::min({grown, max, kCenturyMs})));
}

std::chrono::milliseconds RetryPolicy::Backoff(int32_t retry) const {
  const int64_t cap = Cap(retry).count();
  double u = options_.random ? options_.random() : random_->Next();
  u = std::clamp(u, 0.0, 1.0);
  // [0, 1) onto the cap+1 whole milliseconds 0..cap; a source returning 1.0 gives cap.
  const auto delay = static_cast<int64_t>(u * static_cast<double>(cap + 1));
  return std::chrono::milliseconds(std::min(delay, cap));
}

bool RetryPolicy::ShouldRetry(const absl::Status& status) const {
  if (status.ok()) return false;
  return options_.retriable ? options_.retriable(status) : IsRetriable(status);
}

absl::Status RetryPolicy::AfterFailure(const absl::Status& status, int32_t attempt) const {
  if (!ShouldRetry(status)) return status;
  if (attempt >= options_.max_attempts) {
    if (attempt == 1) return status;
    return absl::Status(status.code(), fmt::format("{} (gave up after {} attempts)",
                                                   status.message(), attempt));
  }
  const std::chrono::milliseconds delay = Backoff(attempt - 1);
  if (options_.on_retry) options_.on_retry(status, attempt, delay);
  options_.clock->SleepFor(delay);
  return absl::OkStatus();
}

}  // namespace runnel
