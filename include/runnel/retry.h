// runnel::RetryPolicy runs an operation again when it fails with a retriable status,
// sleeping between attempts by exponential backoff with "full jitter" (AWS Architecture
// Blog, "Exponential Backoff And Jitter"): before retry n (n = 0 after the first failure)
// it sleeps a uniformly random time in [0, min(max_delay, initial_delay * multiplier^n)],
// so that clients that failed together do not retry in lockstep.
//
// Which failures are retried: RetryOptions::retriable, by default runnel::IsRetriable
// (runnel/status.h), which reads runnel's status codes as MESSAGING.md reads HTTP's:
//
// | code               | HTTP analogue                 | retried | why                                |
// | ------------------ | ----------------------------- | ------- | ---------------------------------- |
// | ResourceExhausted  | 429 too many requests         | yes     | back-pressure, a full disk: wait   |
// | Unavailable        | 503 unavailable               | yes     | not there now, may be later        |
// | DeadlineExceeded   | 504 gateway timeout           | yes     | a wait timed out                   |
// | Aborted            | 409 conflict (concurrent op)  | yes     | interrupted by a concurrent change |
// | InvalidArgument    | 400 bad request               | no      | the request itself is wrong        |
// | PermissionDenied   | 403 access denied             | no      | needs a change by someone          |
// | NotFound           | 404 not found                 | no      | unknown topic, partition, group    |
// | AlreadyExists      | 409 conflict (it exists)      | no      | the same call fails again          |
// | FailedPrecondition | 412 precondition failed       | no      | a closed handle, a locked dir      |
// | OutOfRange         | 416 range not satisfiable     | no      | past the end: a retry reads nothing|
// | DataLoss           | 500, not idempotent           | no      | corruption stays corrupt           |
// | Internal           | 500, not idempotent           | no      | an I/O error: partition read-only  |
// | Unimplemented      | 501 not implemented           | no      |                                    |
// | Cancelled, Unknown | 499, 500                      | no      | the caller gave up / unknown cause |
//
// RetryPolicy::Run works around any call returning absl::Status or absl::StatusOr<T>:
//
//   runnel::RetryPolicy retry({.max_attempts = 5});
//   absl::StatusOr<runnel::RecordMetadata> sent =
//       retry.Run([&] { return producer->SendSync(record); });
//
// Time and randomness are injectable (RetryOptions::clock, ::random), so a test runs
// without sleeping and sees the exact delays; ManualClock is such a clock.
//
// Threads: a RetryPolicy is immutable after construction except for its random generator,
// which is locked: Run and Backoff may be called from many threads at once. Copies share
// the generator.
#ifndef RUNNEL_RETRY_H_
#define RUNNEL_RETRY_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runnel/export.h"
#include "runnel/status.h"

namespace runnel {

// Wall-clock time and sleeping, for RetryPolicy and RetryTopics. NowMillis is the Unix
// time in milliseconds (what record timestamps hold), so that not-before times written
// into records mean the same in every process.
class RUNNEL_EXPORT RetryClock {
 public:
  virtual ~RetryClock() = default;
  virtual int64_t NowMillis() = 0;
  virtual void SleepFor(std::chrono::milliseconds duration) = 0;
  // The system clock and std::this_thread::sleep_for. Shared; thread-safe.
  static std::shared_ptr<RetryClock> Real();
};

// A clock that moves only when told to: SleepFor advances it (and records the duration)
// instead of sleeping. For tests. Thread-safe.
class RUNNEL_EXPORT ManualClock : public RetryClock {
 public:
  explicit ManualClock(int64_t start_ms = 1'700'000'000'000);
  int64_t NowMillis() override;
  void SleepFor(std::chrono::milliseconds duration) override;
  void Advance(std::chrono::milliseconds duration);
  void Set(int64_t now_ms);
  // Every duration passed to SleepFor, in order.
  std::vector<std::chrono::milliseconds> sleeps() const;

 private:
  mutable std::mutex mu_;
  int64_t now_ms_;
  std::vector<std::chrono::milliseconds> sleeps_;
};

struct RetryOptions {
  // Attempts in all, the first one included: 1 never retries. Values below 1 count as 1.
  int32_t max_attempts = 5;
  // The cap of the first retry's delay, multiplied by `multiplier` for each later retry up
  // to `max_delay`. A max_delay below initial_delay caps every delay at max_delay (as
  // Kafka's retry.backoff.max.ms does); a multiplier below 1 counts as 1.
  std::chrono::milliseconds initial_delay{100};
  std::chrono::milliseconds max_delay{10'000};
  double multiplier = 2.0;
  // Whether a failure may be retried. Null: runnel::IsRetriable. Use it to narrow
  // (only Unavailable) or widen (an application's own codes) the table above.
  std::function<bool(const absl::Status&)> retriable = nullptr;
  // Called before each sleep with the failure, the attempt that failed (1-based) and the
  // delay chosen: for logging and metrics.
  std::function<void(const absl::Status&, int32_t attempt, std::chrono::milliseconds delay)>
      on_retry = nullptr;
  // Null: RetryClock::Real().
  std::shared_ptr<RetryClock> clock = nullptr;
  // Uniform random numbers in [0, 1). Null: a generator seeded from std::random_device.
  std::function<double()> random = nullptr;
};

class RUNNEL_EXPORT RetryPolicy {
 public:
  explicit RetryPolicy(RetryOptions options = {});

  // The upper bound of the delay before retry `retry` (0 after the first failure):
  // min(max_delay, initial_delay * multiplier^retry).
  std::chrono::milliseconds Cap(int32_t retry) const;
  // A delay drawn uniformly from [0, Cap(retry)] with the random source.
  std::chrono::milliseconds Backoff(int32_t retry) const;
  // Whether `status` (not OK) is one to retry, by RetryOptions::retriable.
  bool ShouldRetry(const absl::Status& status) const;
  const RetryOptions& options() const { return options_; }

  // Calls `op` until it succeeds, fails with a status ShouldRetry refuses (returned as
  // is), or has been called max_attempts times (the last status is returned, its code
  // kept and "gave up after N attempts" added to its message). Sleeps Backoff(n) on the
  // clock between attempts. `op` returns absl::Status or absl::StatusOr<T>.
  template <typename Op>
  std::invoke_result_t<Op&> Run(Op&& op) const {
    using Result = std::invoke_result_t<Op&>;
    for (int32_t attempt = 1;; ++attempt) {
      Result result = op();
      const absl::Status& status = StatusOf(result);
      if (status.ok()) return result;
      absl::Status final_status = AfterFailure(status, attempt);
      if (!final_status.ok()) return Result(std::move(final_status));
    }
  }

 private:
  struct Random;
  static const absl::Status& StatusOf(const absl::Status& s) { return s; }
  template <typename T>
  static const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
    return s.status();
  }
  // After attempt `attempt` failed with `status`: sleeps and returns OK to go again, or
  // returns the status to give up with.
  absl::Status AfterFailure(const absl::Status& status, int32_t attempt) const;

  RetryOptions options_;
  std::shared_ptr<Random> random_;
};

}  // namespace runnel

#endif  // RUNNEL_RETRY_H_
