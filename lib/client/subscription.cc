// runnel::Subscription (include/runnel/subscription.h). One dispatcher thread owns the
// Consumer (which is single-threaded) and does everything with it: Poll, Pause/Resume,
// commits, and the rebalance listener. Fetched records are copied (a Poll's views die at
// the next Poll) into a queue per partition; a partition with work is put on the ready
// list, and a pool thread takes it, runs the handler on its head record and puts it back
// if more is queued, so one partition never runs on two threads. All shared state is
// guarded by mu_; the handler runs without it.
#include "runnel/subscription.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "util/formatters.h"
#include "util/status_macros.h"

namespace runnel {
namespace {

using Clock = std::chrono::steady_clock;

// A ConsumerRecord that owns its bytes. Held by unique_ptr: `view` points into it.
struct OwnedRecord {
  std::string topic;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<std::string> header_keys;
  std::vector<std::optional<std::string>> header_values;
  std::vector<Header> headers;
  ConsumerRecord view;

  explicit OwnedRecord(const ConsumerRecord& r) : topic(r.topic) {
    if (r.key) key.emplace(*r.key);
    if (r.value) value.emplace(*r.value);
    header_keys.reserve(r.headers.size());
    header_values.reserve(r.headers.size());
    for (const Header& h : r.headers) {
      header_keys.emplace_back(h.key);
      header_values.push_back(h.value ? std::optional<std::string>(std::string(*h.value))
                                      : std::nullopt);
    }
    for (size_t i = 0; i < header_keys.size(); ++i) {
      headers.push_back({header_keys[i], header_values[i]
                                             ? std::optional<std::string_view>(*header_values[i])
                                             : std::nullopt});
    }
    view = r;
    view.topic = topic;
    view.key = key ? std::optional<std::string_view>(*key) : std::nullopt;
    view.value = value ? std::optional<std::string_view>(*value) : std::nullopt;
    view.headers = headers;
  }
};

struct PartitionState {
  std::deque<std::unique_ptr<OwnedRecord>> queue;  // head: the next record to handle
  bool running = false;   // a pool thread is handling the head
  bool ready = false;     // on the ready list
  bool failed = false;    // failed for good; the subscription is stopping
  int attempts = 0;       // failed attempts of the head record
  std::optional<Clock::time_point> retry_at;  // the head waits for a retry
  int64_t committable = -1;  // the offset after the last finished record
  int64_t committed = -1;
};

absl::Status CheckOptions(const SubscriptionOptions& o) {
  if (o.consumer.group_id.empty()) {
    return absl::InvalidArgumentError("a Subscription needs consumer.group_id");
  }
  if (o.threads < 1) {
    return absl::InvalidArgumentError(fmt::format("Subscription threads {} is below 1", o.threads));
  }
  if (o.max_in_flight < 1) {
    return absl::InvalidArgumentError(
        fmt::format("Subscription max_in_flight {} is below 1", o.max_in_flight));
  }
  if (o.max_attempts < 1) {
    return absl::InvalidArgumentError(
        fmt::format("Subscription max_attempts {} is below 1", o.max_attempts));
  }
  if (o.retry_backoff_ms < 0 || o.commit_interval_ms < 0 || o.poll_timeout.count() < 0) {
    return absl::InvalidArgumentError(
        "Subscription retry_backoff_ms, commit_interval_ms and poll_timeout must not be negative");
  }
  return absl::OkStatus();
}

}  // namespace

class Subscription::Impl {
 public:
  Impl(RecordHandler handler, const SubscriptionOptions& options)
      : handler_(std::move(handler)),
        options_(options),
        batch_(std::max(1, std::min(options.consumer.max_poll_records,
                                    std::max(1, options.max_in_flight / 2)))) {}

  ~Impl() { Close().IgnoreError(); }

  absl::Status Start(Broker& broker, const std::vector<std::string>& topics) {
    ConsumerOptions co = options_.consumer;
    co.enable_auto_commit = false;
    co.max_poll_records = batch_;
    RUNNEL_ASSIGN_OR_RETURN(consumer_, Consumer::Create(broker, co));
    RebalanceListener listener;
    listener.on_partitions_revoked = [this](const std::vector<TopicPartition>& tps) {
      OnRevoked(tps, /*lost=*/false);
    };
    listener.on_partitions_lost = [this](const std::vector<TopicPartition>& tps) {
      OnRevoked(tps, /*lost=*/true);
    };
    listener.on_partitions_assigned = [this](const std::vector<TopicPartition>& tps) {
      OnAssigned(tps);
    };
    RUNNEL_RETURN_IF_ERROR(consumer_->Subscribe(topics, std::move(listener)));
    for (int i = 0; i < options_.threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
    dispatcher_ = std::thread([this] { DispatchLoop(); });
    return absl::OkStatus();
  }

  absl::Status Close() {
    std::lock_guard<std::mutex> closing(close_mu_);
    if (!closed_) {
      closed_ = true;
      stop_.store(true);
      if (consumer_) consumer_->Wakeup();
      if (dispatcher_.joinable()) dispatcher_.join();
      StopWorkers();  // when Start failed half-way, the dispatcher never ran
    }
    std::lock_guard<std::mutex> lock(mu_);
    return fatal_.ok() ? close_status_ : fatal_;
  }

  absl::Status status() const {
    std::lock_guard<std::mutex> lock(mu_);
    return fatal_;
  }

  SubscriptionStats stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    SubscriptionStats s = stats_;
    s.in_flight = in_flight_;
    return s;
  }

  std::vector<TopicPartition> Assignment() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<TopicPartition> out;
    for (const auto& [tp, state] : parts_) out.push_back(tp);
    return out;
  }

 private:
  bool at_least_once() const { return options_.guarantee == DeliveryGuarantee::kAtLeastOnce; }
  bool Full() const { return in_flight_ + batch_ > options_.max_in_flight; }

  // --- The dispatcher thread -----------------------------------------------------------

  void DispatchLoop() {
    Clock::time_point last_commit = Clock::now();
    for (;;) {
      std::optional<Clock::time_point> next_retry;
      bool full;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_.load() || !fatal_.ok()) break;
        next_retry = ScheduleDueRetriesLocked();
        full = Full();
      }
      AdjustPause(full);
      if (at_least_once() &&
          Clock::now() - last_commit >= std::chrono::milliseconds(options_.commit_interval_ms)) {
        CommitFinished(std::nullopt).IgnoreError();  // retried at the next interval
        last_commit = Clock::now();
      }
      auto timeout = options_.poll_timeout;
      if (next_retry) {
        timeout = std::min(timeout, std::chrono::ceil<std::chrono::milliseconds>(
                                        std::max(Clock::duration::zero(), *next_retry - Clock::now())));
      }
      absl::StatusOr<std::span<const ConsumerRecord>> records = consumer_->Poll(timeout);
      if (!records.ok()) {
        SetFatal(records.status());
        break;
      }
      if (records->empty()) continue;
      if (!at_least_once() && !CommitBeforeHandling(*records).ok()) continue;
      Enqueue(*records);
    }
    // Stopping: finish what was fetched, commit it, then leave the group. The workers go
    // before the consumer closes, so its final revoke finds nothing in flight.
    WaitUntil([this] { return in_flight_ == 0; });
    if (at_least_once()) SetCloseStatus(CommitFinished(std::nullopt));
    StopWorkers();
    SetCloseStatus(consumer_->Close());
  }

  // Pauses every assigned partition at the bound, resumes them below it.
  void AdjustPause(bool full) {
    if (full == paused_.load()) return;
    if (full) {
      consumer_->Pause(consumer_->Assignment()).IgnoreError();
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.pauses;
    } else {
      consumer_->Resume(consumer_->Paused()).IgnoreError();
    }
    paused_.store(full);
  }

  // At-most-once: the offsets after this Poll's records, committed before any is handled.
  absl::Status CommitBeforeHandling(std::span<const ConsumerRecord> records) {
    std::map<TopicPartition, OffsetAndMetadata> offsets;
    for (const ConsumerRecord& r : records) {
      OffsetAndMetadata& o = offsets[{std::string(r.topic), r.partition}];
      o.offset = std::max(o.offset, r.offset + 1);
    }
    absl::Status s = consumer_->CommitSync(offsets);
    std::lock_guard<std::mutex> lock(mu_);
    if (s.ok()) ++stats_.commits;
    return s;
  }

  void Enqueue(std::span<const ConsumerRecord> records) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const ConsumerRecord& r : records) {
      PartitionState& ps = parts_[{std::string(r.topic), r.partition}];
      // A Poll already under way when the partition failed may still return its records:
      // they are never handled here (and stay uncommitted, for the next owner), so they
      // must not count as in flight, or draining would wait for them for ever.
      if (ps.failed) continue;
      ps.queue.push_back(std::make_unique<OwnedRecord>(r));
      ++in_flight_;
      MakeReadyLocked(ps);
    }
    stats_.max_in_flight_seen = std::max(stats_.max_in_flight_seen, in_flight_);
  }

  // Commits, for the given partitions (all: nullopt), the offsets after the records
  // finished since the last commit.
  absl::Status CommitFinished(const std::optional<std::vector<TopicPartition>>& only) {
    std::map<TopicPartition, OffsetAndMetadata> offsets;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [tp, ps] : parts_) {
        if (only && std::find(only->begin(), only->end(), tp) == only->end()) continue;
        if (ps.committable > ps.committed) offsets[tp].offset = ps.committable;
      }
    }
    if (offsets.empty()) return absl::OkStatus();
    absl::Status s = consumer_->CommitSync(offsets);
    std::lock_guard<std::mutex> lock(mu_);
    if (!s.ok()) return s;
    ++stats_.commits;
    for (const auto& [tp, o] : offsets) {
      auto it = parts_.find(tp);
      if (it != parts_.end()) it->second.committed = std::max(it->second.committed, o.offset);
    }
    return s;
  }

  // From Poll (or Close) on the dispatcher thread: finish the records in flight of these
  // partitions — a lost partition's that have not started are dropped — commit them unless
  // lost, and forget the partitions.
  void OnRevoked(const std::vector<TopicPartition>& tps, bool lost) {
    auto contains = [&](const TopicPartition& tp) {
      return std::find(tps.begin(), tps.end(), tp) != tps.end();
    };
    if (lost) {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [tp, ps] : parts_) {
        if (!contains(tp)) continue;
        const size_t keep = ps.running ? 1 : 0;
        in_flight_ -= static_cast<int64_t>(ps.queue.size() - std::min(keep, ps.queue.size()));
        ps.queue.resize(std::min(keep, ps.queue.size()));
        ps.retry_at.reset();
        if (ps.ready) {  // its queue is empty now: no worker may take it
          ready_.erase(std::find(ready_.begin(), ready_.end(), &ps));
          ps.ready = false;
        }
      }
    }
    WaitUntil([&] {
      for (const auto& [tp, ps] : parts_) {
        if (contains(tp) && (!ps.queue.empty() || ps.running)) return false;
      }
      return true;
    });
    if (at_least_once() && !lost) CommitFinished(tps).IgnoreError();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const TopicPartition& tp : tps) parts_.erase(tp);
    }
    const RebalanceListener& user = options_.rebalance_listener;
    if (lost && user.on_partitions_lost) {
      user.on_partitions_lost(tps);
    } else if (user.on_partitions_revoked) {
      user.on_partitions_revoked(tps);
    }
  }

  void OnAssigned(const std::vector<TopicPartition>& tps) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const TopicPartition& tp : tps) parts_.try_emplace(tp);
    }
    // Fetching is stopped at the bound: new partitions start paused too.
    if (paused_.load()) consumer_->Pause(tps).IgnoreError();
    if (options_.rebalance_listener.on_partitions_assigned) {
      options_.rebalance_listener.on_partitions_assigned(tps);
    }
  }

  // Waits (on the dispatcher thread) until `done()` holds under mu_, meanwhile handing
  // records whose retry is due back to the pool.
  template <typename Pred>
  void WaitUntil(Pred done) {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      const std::optional<Clock::time_point> next_retry = ScheduleDueRetriesLocked();
      if (done()) return;
      Clock::time_point until = Clock::now() + options_.poll_timeout;
      if (next_retry) until = std::min(until, *next_retry);
      done_cv_.wait_until(lock, until);
    }
  }

  // Puts partitions whose retry is due on the ready list; returns the earliest retry
  // still to come.
  std::optional<Clock::time_point> ScheduleDueRetriesLocked() {
    std::optional<Clock::time_point> next;
    const Clock::time_point now = Clock::now();
    for (auto& [tp, ps] : parts_) {
      if (!ps.retry_at) continue;
      if (*ps.retry_at <= now) {
        ps.retry_at.reset();
        MakeReadyLocked(ps);
      } else if (!next || *ps.retry_at < *next) {
        next = ps.retry_at;
      }
    }
    return next;
  }

  // --- The pool --------------------------------------------------------------------------

  void MakeReadyLocked(PartitionState& ps) {
    if (ps.running || ps.ready || ps.failed || ps.retry_at || ps.queue.empty()) return;
    ps.ready = true;
    ready_.push_back(&ps);
    work_cv_.notify_one();
  }

  // The handler is the application's code: an exception from it must not end the pool
  // thread (std::terminate), so it counts as a failed attempt like an error status.
  absl::Status CallHandler(const ConsumerRecord& record) {
    try {
      return handler_(record);
    } catch (const std::exception& e) {
      return absl::InternalError(fmt::format("subscription handler threw for {}-{} offset {}: {}",
                                             record.topic, record.partition, record.offset,
                                             e.what()));
    } catch (...) {
      return absl::InternalError(
          fmt::format("subscription handler threw a non-std::exception for {}-{} offset {}",
                      record.topic, record.partition, record.offset));
    }
  }

  void WorkerLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      work_cv_.wait(lock, [&] { return stop_workers_ || !ready_.empty(); });
      if (ready_.empty()) return;
      PartitionState* ps = ready_.front();  // parts_ keeps it: it is erased only when idle
      ready_.pop_front();
      ps->ready = false;
      ps->running = true;
      const ConsumerRecord& record = ps->queue.front()->view;
      lock.unlock();
      absl::Status status = CallHandler(record);
      lock.lock();
      if (status.ok()) {
        ++stats_.handled;
        FinishHeadLocked(*ps);
      } else {
        ++stats_.failed_attempts;
        ++ps->attempts;
        if (at_least_once() && ps->attempts < options_.max_attempts) {
          ps->retry_at = Clock::now() + std::chrono::milliseconds(options_.retry_backoff_ms);
          consumer_->Wakeup();  // so the dispatcher's wait covers the retry
        } else if (!at_least_once() || options_.on_failure) {
          ++stats_.given_up;
          if (options_.on_failure) {
            lock.unlock();
            try {
              options_.on_failure(record, status);
            } catch (...) {
              // Given up either way; an exception must not end the pool thread.
            }
            lock.lock();
          }
          FinishHeadLocked(*ps);
        } else {
          FailLocked(*ps, record, status);
        }
      }
      ps->running = false;
      MakeReadyLocked(*ps);
      done_cv_.notify_all();
      if (paused_.load() && !Full()) consumer_->Wakeup();  // room to fetch again
    }
  }

  void FinishHeadLocked(PartitionState& ps) {
    ps.committable = ps.queue.front()->view.offset + 1;
    ps.queue.pop_front();
    ps.attempts = 0;
    --in_flight_;
  }

  // At-least-once, the last attempt failed and nobody takes the record: stop, leaving
  // it uncommitted. The partition's other records are dropped (they come again too).
  void FailLocked(PartitionState& ps, const ConsumerRecord& record, const absl::Status& status) {
    ps.failed = true;
    if (fatal_.ok()) {
      fatal_ = absl::Status(status.code(),
                            fmt::format("the handler failed record {}-{}@{} {} times, last: {}",
                                        record.topic, record.partition, record.offset,
                                        ps.attempts, status.message()));
    }
    in_flight_ -= static_cast<int64_t>(ps.queue.size());
    ps.queue.clear();  // `record` dies here: use it no more
    consumer_->Wakeup();
  }

  void SetFatal(const absl::Status& status) {
    std::lock_guard<std::mutex> lock(mu_);
    if (fatal_.ok()) fatal_ = status;
  }

  void SetCloseStatus(const absl::Status& status) {
    std::lock_guard<std::mutex> lock(mu_);
    if (close_status_.ok()) close_status_ = status;
  }

  void StopWorkers() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_workers_ = true;
      work_cv_.notify_all();
    }
    for (std::thread& t : workers_) {
      if (t.joinable()) t.join();
    }
  }

  const RecordHandler handler_;
  const SubscriptionOptions options_;
  const int batch_;  // max.poll.records of the consumer
  std::unique_ptr<Consumer> consumer_;
  std::thread dispatcher_;
  std::vector<std::thread> workers_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> paused_{false};  // written by the dispatcher only

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // workers: ready_ or stop_workers_
  std::condition_variable done_cv_;  // the dispatcher: a record finished
  std::map<TopicPartition, PartitionState> parts_;
  std::deque<PartitionState*> ready_;
  int64_t in_flight_ = 0;
  bool stop_workers_ = false;
  absl::Status fatal_;
  absl::Status close_status_;
  SubscriptionStats stats_;

  std::mutex close_mu_;
  bool closed_ = false;
};

absl::StatusOr<std::unique_ptr<Subscription>> Subscription::Start(
    Broker& broker, const std::vector<std::string>& topics, RecordHandler handler,
    const SubscriptionOptions& options) {
  RUNNEL_RETURN_IF_ERROR(CheckOptions(options));
  if (!handler) return absl::InvalidArgumentError("a Subscription needs a handler");
  auto impl = std::make_unique<Impl>(std::move(handler), options);
  RUNNEL_RETURN_IF_ERROR(impl->Start(broker, topics));
  return std::unique_ptr<Subscription>(new Subscription(std::move(impl)));
}

Subscription::Subscription(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Subscription::~Subscription() { impl_->Close().IgnoreError(); }
absl::Status Subscription::Close() { return impl_->Close(); }
absl::Status Subscription::status() const { return impl_->status(); }
SubscriptionStats Subscription::stats() const { return impl_->stats(); }
std::vector<TopicPartition> Subscription::Assignment() const { return impl_->Assignment(); }

}  // namespace runnel
