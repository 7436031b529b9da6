// runnel::Producer (include/runnel/producer.h). Send() adds a record to its partition's
// open RecordBatch under the producer's lock; a sender thread appends batches that are
// full, have lingered linger.ms, or are flushed, then fsyncs each partition once per round
// when the topic's sync.policy asks for it (group commit), then runs the callbacks.
// A batch whose append failed retriably waits in retrying_, with the later batches of its
// partition behind it, until its backoff is over (see Retries in runnel/producer.h).
#include "runnel/producer.h"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>

#include "broker/broker_core.h"
#include "format/record_batch_builder.h"
#include "runnel/retry.h"
#include "runnel/status.h"
#include "util/formatters.h"
#include "util/status_macros.h"

namespace runnel {
namespace {

using Clock = std::chrono::steady_clock;

// linger.ms and max.block.ms may be "forever" (INT64_MAX): cap them where adding them to
// a time point would overflow. A century is forever enough.
Clock::duration Millis(int64_t ms) {
  constexpr int64_t kCentury = 100LL * 365 * 24 * 3600 * 1000;
  return std::chrono::milliseconds(std::min(ms, kCentury));
}

absl::Status CheckOptions(const ProducerOptions& o) {
  auto bad = [](std::string_view name, int64_t value, std::string_view range) {
    return absl::InvalidArgumentError(
        fmt::format("{} = {} is invalid: must be {}", name, value, range));
  };
  if (o.batch_size < 1) return bad("batch.size", o.batch_size, "at least 1");
  if (o.linger_ms < 0) return bad("linger.ms", o.linger_ms, "0 or more");
  if (o.buffer_memory < 1) return bad("buffer.memory", o.buffer_memory, "at least 1");
  if (o.max_block_ms < 0) return bad("max.block.ms", o.max_block_ms, "0 or more");
  if (o.max_request_size < 1) return bad("max.request.size", o.max_request_size, "at least 1");
  if (o.retries < 0) return bad("retries", o.retries, "0 or more");
  if (o.retry_backoff_ms < 0) return bad("retry.backoff.ms", o.retry_backoff_ms, "0 or more");
  if (o.retry_backoff_max_ms < 0) {
    return bad("retry.backoff.max.ms", o.retry_backoff_max_ms, "0 or more");
  }
  if (o.delivery_timeout_ms < 0) {
    return bad("delivery.timeout.ms", o.delivery_timeout_ms, "0 or more");
  }
  if (o.acks != Acks::kNone && o.acks != Acks::kLeader && o.acks != Acks::kAll) {
    return bad("acks", static_cast<int>(o.acks), "0, 1 or -1 (all)");
  }
  return absl::OkStatus();
}

}  // namespace

class Producer::Impl {
 public:
  Impl(std::shared_ptr<internal::BrokerCore> broker, const ProducerOptions& options)
      : broker_(std::move(broker)),
        options_(options),
        backoff_(RetryOptions{
            .initial_delay = std::chrono::milliseconds(options.retry_backoff_ms),
            .max_delay = std::chrono::milliseconds(options.retry_backoff_max_ms)}) {
    if (options_.partitioner == nullptr) options_.partitioner = std::make_shared<DefaultPartitioner>();
    if (!options_.client_id.empty()) name_ = fmt::format("producer \"{}\"", options_.client_id);
    sender_ = std::thread([this] { SenderLoop(); });
  }

  ~Impl() { Close().IgnoreError(); }

  // Queues the record; on failure returns why and leaves `callback` to the caller, who
  // runs it outside the producer's locks.
  absl::Status Enqueue(const ProducerRecord& record, SendCallback& callback, bool urgent);
  absl::Status Flush();
  absl::Status Close();

 private:
  struct Pending {
    int32_t index;  // offset delta within the batch
    int64_t timestamp;
    SendCallback callback;
  };
  struct Batch {
    explicit Batch(size_t reserve) : builder(format::BatchOptions{}, 0, reserve + 1024) {}
    std::shared_ptr<internal::Topic> topic;
    std::shared_ptr<internal::Partition> partition;
    format::RecordBatchBuilder builder;
    std::vector<Pending> pending;  // records that have a callback
    Clock::time_point created;
    int64_t reserved = 0;  // bytes of buffer.memory this batch holds
    uint64_t seq = 0;
    int32_t attempts = 0;  // appends tried and failed
  };
  // A partition whose batches wait for a retry, the failed one first.
  struct Retrying {
    std::deque<std::unique_ptr<Batch>> batches;
    Clock::time_point due;
  };
  using OpenMap = std::unordered_map<internal::Partition*, std::unique_ptr<Batch>>;

  absl::StatusOr<int32_t> ChoosePartition(const internal::Topic& topic,
                                          const ProducerRecord& record);
  absl::StatusOr<internal::Topic*> Lookup(std::string_view topic);
  // Takes `size` bytes of buffer.memory if they are free now.
  bool TryReserve(int64_t size);
  // Takes `size` bytes of buffer.memory, waiting up to max.block.ms for them.
  absl::Status Reserve(int64_t size);
  void Unreserve(int64_t size);
  std::unique_ptr<Batch> NewBatch(internal::Topic* topic, int32_t partition);
  void MakeReady(OpenMap::iterator it);
  // Moves the ready batches, then the open batches whose linger.ms is up (all of them if
  // `all`), to `out`, and returns when the next one will be due. Takes mu_ and queue_mu_.
  Clock::time_point TakeLingering(bool all, std::vector<std::unique_ptr<Batch>>& out);
  void SenderLoop();
  // Tells the sender there is work; a system call only when it is asleep. Under queue_mu_.
  void WakeSender() {
    if (sender_sleeping_) sender_cv_.notify_one();
  }
  // Appends the batches and runs their callbacks; a batch to be retried is moved to
  // `retry` (leaving null behind), in order.
  void Process(std::vector<std::unique_ptr<Batch>>& batches,
               std::vector<std::unique_ptr<Batch>>& retry);
  // Whether a batch whose append failed with `status` is kept for a retry; otherwise sets
  // `status` to what its callbacks get.
  bool KeepForRetry(Batch& batch, absl::Status& status, Clock::time_point now) const;
  // Sender thread: moves each batch of a partition waiting for a retry behind it, then
  // the batches of partitions whose retry is due into `batches`.
  void ScheduleRetries(std::vector<std::unique_ptr<Batch>>& batches);
  void Requeue(std::vector<std::unique_ptr<Batch>>& retry);

  const std::shared_ptr<internal::BrokerCore> broker_;
  ProducerOptions options_;
  const RetryPolicy backoff_;  // retry.backoff.ms, retry.backoff.max.ms
  std::string name_ = "producer";

  // Two locks, so that the sender hardly ever takes the one every Send takes: a lock
  // shared per record with another core is a cache line that moves on every record.
  // mu_, the Send side: the batches being filled and how records find them.
  std::mutex mu_;  // taken before queue_mu_
  OpenMap open_;
  uint64_t next_seq_ = 0;
  bool closed_ = false;  // no more sends
  std::map<std::string, std::shared_ptr<internal::Topic>, std::less<>> topics_;
  internal::Topic* last_topic_ = nullptr;  // the last one looked up: most sends repeat it
  std::unordered_map<const internal::Topic*, int32_t> sticky_;
  uint64_t rng_ = std::random_device{}() | 1;  // xorshift: any non-zero start

  // queue_mu_, the hand-off: full batches on their way to the sender, and completions.
  std::mutex queue_mu_;
  std::condition_variable sender_cv_;  // work for the sender
  std::condition_variable space_cv_;   // buffer.memory freed
  std::condition_variable done_cv_;    // batches completed
  std::deque<std::unique_ptr<Batch>> ready_;
  // Sent batches kept for reuse, as many as buffer.memory holds (Kafka's BufferPool): a
  // fresh batch.size buffer per batch costs a malloc and, once glibc has returned the
  // memory, a page fault per 4 KiB, more than filling it.
  std::vector<std::unique_ptr<Batch>> free_;
  const size_t max_free_ = static_cast<size_t>(
      std::max<int64_t>(1, options_.buffer_memory / (int64_t{options_.batch_size} + 1024)));
  std::set<uint64_t> outstanding_;  // seqs of batches not yet completed
  int64_t in_flight_ = 0;  // bytes the sender is appending now
  // The earliest linger deadline of an open batch the sender may not have seen.
  Clock::time_point linger_due_ = Clock::time_point::max();
  bool force_ = false;     // send open batches now (Flush, Close, a full buffer)
  bool stopping_ = false;  // the sender exits once idle
  bool sender_sleeping_ = false;  // waiting on sender_cv_
  int space_waiters_ = 0;         // Sends blocked in Reserve

  // Sender thread only: partitions waiting for a retry, and when the first is due.
  std::map<internal::Partition*, Retrying> retrying_;
  Clock::time_point retry_due_ = Clock::time_point::max();

  // Bytes of records reserved, queued or being appended: Send reserves, the sender frees.
  std::atomic<int64_t> buffered_{0};
  std::thread sender_;
};

// Returns a pointer, not a copy of the shared_ptr: topics_ keeps the topic alive while
// mu_ is held, and a reference count bumped per record is a cache line that every
// producer thread and the sender would fight over.
absl::StatusOr<internal::Topic*> Producer::Impl::Lookup(std::string_view name) {
  if (last_topic_ != nullptr && last_topic_->name == name &&
      !last_topic_->stale.load(std::memory_order_relaxed)) {
    return last_topic_;
  }
  auto it = topics_.find(name);
  if (it == topics_.end() || it->second->stale.load(std::memory_order_relaxed)) {
    RUNNEL_ASSIGN_OR_RETURN(std::shared_ptr<internal::Topic> topic,
                            broker_->FindOrCreateTopic(name));
    if (it != topics_.end()) {
      sticky_.erase(it->second.get());  // the stale topic's
      it->second = std::move(topic);
    } else {
      it = topics_.emplace(std::string(name), std::move(topic)).first;
    }
  }
  last_topic_ = it->second.get();
  return last_topic_;
}

absl::StatusOr<int32_t> Producer::Impl::ChoosePartition(const internal::Topic& topic,
                                                        const ProducerRecord& record) {
  const auto n = static_cast<int32_t>(topic.partitions.size());
  int32_t p;
  if (record.partition) {
    p = *record.partition;
  } else {
    p = options_.partitioner->Partition(topic.name, record.key, n);
    if (p == Partitioner::kStickyPartition) {
      auto [it, inserted] = sticky_.try_emplace(&topic, 0);
      if (inserted || it->second >= n) {
        rng_ ^= rng_ << 13, rng_ ^= rng_ >> 7, rng_ ^= rng_ << 17;
        it->second = static_cast<int32_t>(rng_ % static_cast<uint64_t>(n));
      }
      p = it->second;
    }
  }
  if (p < 0 || p >= n) {
    return absl::InvalidArgumentError(fmt::format(
        "partition {} of topic \"{}\" does not exist: it has partitions 0 to {}", p, topic.name,
        n - 1));
  }
  return p;
}

bool Producer::Impl::TryReserve(int64_t size) {
  int64_t now = buffered_.load(std::memory_order_relaxed);
  while (now + size <= options_.buffer_memory) {
    if (buffered_.compare_exchange_weak(now, now + size, std::memory_order_relaxed)) return true;
  }
  return false;
}

absl::Status Producer::Impl::Reserve(int64_t size) {
  if (TryReserve(size)) return absl::OkStatus();  // lock-free while there is room
  // Back-pressure: wait for the sender to free buffer.memory, up to max.block.ms.
  std::unique_lock<std::mutex> lock(queue_mu_);
  const auto deadline = Clock::now() + Millis(options_.max_block_ms);
  ++space_waiters_;
  struct Leave {
    int& n;
    ~Leave() { --n; }
  } leave{space_waiters_};
  bool timed_out = false;
  while (true) {
    if (stopping_) return absl::FailedPreconditionError(fmt::format("{} is closed", name_));
    if (TryReserve(size)) return absl::OkStatus();
    if (timed_out) {
      return absl::ResourceExhaustedError(fmt::format(
          "buffer.memory of {} bytes of {} stayed full for max.block.ms {} ms",
          options_.buffer_memory, name_, options_.max_block_ms));
    }
    // Batches on their way free memory as they complete. If there are none, the buffer
    // is all lingering batches: send them now (as Kafka's producer does once its buffer is
    // exhausted). Forcing while others are on their way would only cut batches short.
    if (ready_.empty() && in_flight_ == 0) {
      force_ = true;
      WakeSender();
    }
    timed_out = space_cv_.wait_until(lock, deadline) == std::cv_status::timeout;
  }
}

void Producer::Impl::Unreserve(int64_t size) {
  buffered_.fetch_sub(size, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(queue_mu_);
  space_cv_.notify_all();
}

// Under mu_.
std::unique_ptr<Producer::Impl::Batch> Producer::Impl::NewBatch(internal::Topic* topic,
                                                                 int32_t partition) {
  std::unique_ptr<Batch> batch;
  std::lock_guard<std::mutex> lock(queue_mu_);
  if (!free_.empty()) {
    batch = std::move(free_.back());
    free_.pop_back();
  } else {
    batch = std::make_unique<Batch>(static_cast<size_t>(options_.batch_size));
  }
  batch->topic = topics_.find(topic->name)->second;
  batch->partition = topic->partitions[static_cast<size_t>(partition)];
  batch->created = Clock::now();
  batch->seq = next_seq_++;
  outstanding_.insert(batch->seq);
  // A Send is waiting for buffer.memory: a batch opened now (by a Send that reserved its
  // bytes before the wait forced the open batches out) must not linger either.
  if (space_waiters_ > 0) {
    force_ = true;
    WakeSender();
  }
  const Clock::time_point due = batch->created + Millis(options_.linger_ms);
  if (due < linger_due_) {
    linger_due_ = due;
    WakeSender();  // an earlier deadline than it sleeps until
  }
  return batch;
}

// Moves an open batch to the sender's queue. Under mu_. A full sticky batch moves the
// topic's sticky partition on, as Kafka's BuiltInPartitioner does.
void Producer::Impl::MakeReady(OpenMap::iterator it) {
  Batch& batch = *it->second;
  auto sticky = sticky_.find(batch.topic.get());
  if (sticky != sticky_.end() && sticky->second == batch.partition->id().partition) {
    const auto n = static_cast<uint64_t>(batch.topic->partitions.size());
    if (n > 1) {
      rng_ ^= rng_ << 13, rng_ ^= rng_ >> 7, rng_ ^= rng_ << 17;
      sticky->second = static_cast<int32_t>(
          (static_cast<uint64_t>(sticky->second) + 1 + rng_ % (n - 1)) % n);
    }
  }
  std::unique_ptr<Batch> ready = std::move(it->second);
  open_.erase(it);
  std::lock_guard<std::mutex> lock(queue_mu_);
  ready_.push_back(std::move(ready));
  WakeSender();
}

absl::Status Producer::Impl::Enqueue(const ProducerRecord& record, SendCallback& callback,
                                     bool urgent) {
  if (record.timestamp && *record.timestamp < 0) {
    return absl::InvalidArgumentError(fmt::format(
        "invalid timestamp {} for topic \"{}\": a timestamp is non-negative, or unset",
        *record.timestamp, record.topic));
  }
  const int64_t timestamp = record.timestamp ? *record.timestamp : broker_->env()->NowMillis();
  // The caller's headers, as the builder takes them; no allocation when there are none.
  std::vector<format::RecordHeader> headers;
  if (!record.headers.empty()) {
    headers.reserve(record.headers.size());
    for (const Header& h : record.headers) headers.push_back({h.key, h.value});
  }
  // Sized as the last record of a full batch could be: the largest deltas.
  const auto size = static_cast<int64_t>(format::RecordBatchBuilder::RecordSize(
      INT32_MAX, INT64_MIN, record.key, record.value, headers));
  const int64_t batch_bytes = size + static_cast<int64_t>(format::kBatchHeaderSize);
  if (size > options_.max_request_size) {
    return absl::InvalidArgumentError(fmt::format(
                    "record of {} bytes exceeds max.request.size {} of {}", size,
                    options_.max_request_size, name_));
  }
  if (size > options_.buffer_memory) {
    return absl::InvalidArgumentError(fmt::format(
                    "record of {} bytes exceeds buffer.memory {} of {}", size,
                    options_.buffer_memory, name_));
  }
  RUNNEL_RETURN_IF_ERROR(Reserve(size));

  std::unique_lock<std::mutex> lock(mu_);
  auto fail = [&](absl::Status status) {
    lock.unlock();
    Unreserve(size);
    return status;
  };
  if (closed_) return fail(absl::FailedPreconditionError(fmt::format("{} is closed", name_)));
  absl::StatusOr<internal::Topic*> topic = Lookup(record.topic);
  if (!topic.ok()) return fail(topic.status());
  absl::StatusOr<int32_t> partition = ChoosePartition(**topic, record);
  if (!partition.ok()) return fail(partition.status());
  // A batch must fit max.message.bytes and a segment; name whichever limit is smaller.
  const bool segment_smaller =
      (*topic)->config.segment_bytes < (*topic)->config.max_message_bytes;
  const int64_t topic_limit =
      segment_smaller ? (*topic)->config.segment_bytes : (*topic)->config.max_message_bytes;
  if (batch_bytes > topic_limit) {
    return fail(absl::InvalidArgumentError(fmt::format(
        "record of {} bytes (in a batch of {}) exceeds {} {} for topic \"{}\"", size,
        batch_bytes, segment_smaller ? "segment.bytes" : "max.message.bytes", topic_limit,
        (*topic)->name)));
  }

  internal::Partition* target = (*topic)->partitions[static_cast<size_t>(*partition)].get();
  // A batch is one append, so it must also fit the topic's max.message.bytes.
  const int64_t batch_limit = std::min<int64_t>(options_.batch_size, topic_limit);
  auto it = open_.find(target);
  if (it != open_.end() &&
      static_cast<int64_t>(it->second->builder.size_in_bytes()) + size > batch_limit) {
    MakeReady(it);
    it = open_.end();
  }
  if (it == open_.end()) it = open_.emplace(target, NewBatch(*topic, *partition)).first;
  Batch& batch = *it->second;
  if (callback) batch.pending.push_back({batch.builder.record_count(), timestamp, std::move(callback)});
  batch.builder.Add(timestamp, record.key, record.value, headers);
  batch.reserved += size;
  // With linger.ms 0 the batch is due at once, but records sent while the sender is busy
  // still join it, as in Kafka.
  if (urgent || static_cast<int64_t>(batch.builder.size_in_bytes()) >= batch_limit) {
    MakeReady(it);
  }
  return absl::OkStatus();
}

Clock::time_point Producer::Impl::TakeLingering(bool all,
                                                std::vector<std::unique_ptr<Batch>>& out) {
  const auto linger = Millis(options_.linger_ms);
  const Clock::time_point now = Clock::now();
  Clock::time_point next = Clock::time_point::max();
  std::lock_guard<std::mutex> lock(mu_);
  {
    // Batches made ready since the caller emptied ready_ go first: each partition's
    // batches must reach its log in the order they were filled.
    std::lock_guard<std::mutex> queue_lock(queue_mu_);
    for (auto& b : ready_) out.push_back(std::move(b));
    ready_.clear();
  }
  for (auto it = open_.begin(); it != open_.end();) {
    if (all || it->second->created + linger <= now) {
      out.push_back(std::move(it->second));
      it = open_.erase(it);
    } else {
      next = std::min(next, it->second->created + linger);
      ++it;
    }
  }
  return next;
}

void Producer::Impl::SenderLoop() {
  std::unique_lock<std::mutex> lock(queue_mu_);
  std::vector<std::unique_ptr<Batch>> batches;
  while (true) {
    // Closing waits for the retries: they sleep out their backoff as before.
    while (ready_.empty() && !force_ && !(stopping_ && retrying_.empty()) &&
           std::min(linger_due_, retry_due_) > Clock::now()) {
      sender_sleeping_ = true;
      const Clock::time_point until = std::min(linger_due_, retry_due_);
      if (until == Clock::time_point::max()) {
        sender_cv_.wait(lock);
      } else {
        sender_cv_.wait_until(lock, until);
      }
      sender_sleeping_ = false;
    }
    const bool stopping = stopping_;
    const bool all = force_ || stopping;
    force_ = false;
    if (all || linger_due_ <= Clock::now()) {
      // mu_ comes before queue_mu_: TakeLingering takes both, and the ready batches with
      // the lingering ones, in order.
      linger_due_ = Clock::time_point::max();
      lock.unlock();
      const Clock::time_point next = TakeLingering(all, batches);
      lock.lock();
      linger_due_ = std::min(linger_due_, next);
    } else {
      for (auto& b : ready_) batches.push_back(std::move(b));
      ready_.clear();
    }
    if (!retrying_.empty()) ScheduleRetries(batches);
    if (batches.empty()) {
      // closed_ was set before stopping_, so TakeLingering, which ran after, left nothing
      // open or ready, and nothing can be opened again.
      if (stopping && retrying_.empty()) break;
      continue;
    }
    int64_t round = 0;
    for (const auto& b : batches) round += b->reserved;
    in_flight_ += round;
    lock.unlock();
    std::vector<std::unique_ptr<Batch>> retry;
    Process(batches, retry);
    Requeue(retry);
    // Batches kept for a retry keep their buffer.memory.
    std::erase(batches, nullptr);
    int64_t freed = 0;
    for (auto& b : batches) {  // ready for reuse, outside the lock
      freed += b->reserved;
      b->topic.reset();
      b->partition.reset();
      b->builder.Clear();
      b->pending.clear();
    }
    buffered_.fetch_sub(freed, std::memory_order_relaxed);
    lock.lock();
    in_flight_ -= round;
    for (auto& b : batches) {
      outstanding_.erase(b->seq);
      b->reserved = 0;
      // A batch that grew for one large record is not worth keeping.
      if (free_.size() < max_free_ &&
          b->builder.capacity() <= 2 * static_cast<size_t>(options_.batch_size) + 1024) {
        free_.push_back(std::move(b));
      }
    }
    batches.clear();
    space_cv_.notify_all();
    done_cv_.notify_all();
  }
}

void Producer::Impl::ScheduleRetries(std::vector<std::unique_ptr<Batch>>& batches) {
  std::vector<std::unique_ptr<Batch>> fresh;
  fresh.swap(batches);
  for (auto& b : fresh) {
    auto it = retrying_.find(b->partition.get());
    if (it != retrying_.end()) {
      it->second.batches.push_back(std::move(b));
    } else {
      batches.push_back(std::move(b));
    }
  }
  const Clock::time_point now = Clock::now();
  retry_due_ = Clock::time_point::max();
  for (auto it = retrying_.begin(); it != retrying_.end();) {
    if (it->second.due <= now) {
      for (auto& b : it->second.batches) batches.push_back(std::move(b));
      it = retrying_.erase(it);
    } else {
      retry_due_ = std::min(retry_due_, it->second.due);
      ++it;
    }
  }
}

void Producer::Impl::Requeue(std::vector<std::unique_ptr<Batch>>& retry) {
  const Clock::time_point now = Clock::now();
  for (auto& b : retry) {
    auto [it, inserted] = retrying_.try_emplace(b->partition.get());
    if (inserted) {
      // The first batch kept of its partition is the one that failed first: its backoff,
      // but no later than its deadline, so that it gets a last try before it expires.
      const Clock::time_point deadline = b->created + Millis(options_.delivery_timeout_ms);
      it->second.due = std::min(now + backoff_.Backoff(b->attempts - 1), deadline);
      retry_due_ = std::min(retry_due_, it->second.due);
    }
    it->second.batches.push_back(std::move(b));
  }
  retry.clear();
}

bool Producer::Impl::KeepForRetry(Batch& b, absl::Status& status, Clock::time_point now) const {
  ++b.attempts;
  // No retry can succeed on a partition that turned read-only (its error is Internal; the
  // health check also covers a failure that came after this status was made).
  if (!IsRetriable(status) || !b.partition->log().health().ok()) return false;
  const std::string name = fmt::format("{}-{}", b.topic->name, b.partition->id().partition);
  if (b.attempts > options_.retries) {
    if (options_.retries > 0) {
      status = absl::Status(status.code(),
                            fmt::format("{} (gave up after {} attempts: retries = {})",
                                        status.message(), b.attempts, options_.retries));
    }
    return false;
  }
  if (now >= b.created + Millis(options_.delivery_timeout_ms)) {
    status = absl::DeadlineExceededError(fmt::format(
        "delivery.timeout.ms {} expired for {} record(s) to partition {} after {} attempt(s); "
        "the last failed with: {}",
        options_.delivery_timeout_ms, b.builder.record_count(), name, b.attempts,
        status.ToString()));
    return false;
  }
  return true;
}

void Producer::Impl::Process(std::vector<std::unique_ptr<Batch>>& batches,
                             std::vector<std::unique_ptr<Batch>>& retry) {
  struct Result {
    absl::Status status;
    storage::AppendInfo info;
  };
  std::vector<Result> results(batches.size());
  std::vector<internal::Partition*> durable;  // appended to, under sync.policy always
  // Each partition's batches go to the log in one AppendBatches call: one write for all.
  std::vector<bool> done(batches.size(), false);
  std::vector<size_t> group;
  std::vector<std::span<uint8_t>> spans;
  for (size_t first = 0; first < batches.size(); ++first) {
    if (done[first]) continue;
    internal::Partition* partition = batches[first]->partition.get();
    group.clear();
    spans.clear();
    for (size_t i = first; i < batches.size(); ++i) {
      if (!done[i] && batches[i]->partition.get() == partition) {
        done[i] = true;
        group.push_back(i);
        spans.push_back(batches[i]->builder.Finish());
      }
    }
    // The builder is ours: the log need not check the CRC it just computed.
    const storage::PartitionLog::AppendResult appended =
        partition->AppendBatches(spans, storage::AppendOptions{.verify = false});
    for (size_t k = 0; k < group.size(); ++k) {
      if (k < appended.appended.size()) {
        results[group[k]].info = appended.appended[k];
      } else {
        results[group[k]].status = appended.status;
      }
    }
    if (!appended.appended.empty() &&
        batches[first]->topic->config.sync_policy == SyncPolicy::kAlways) {
      durable.push_back(partition);
    }
  }
  // One fsync per partition per round, shared with every other producer's waiting flush.
  std::unordered_map<internal::Partition*, absl::Status> flushed;
  auto flush_all = [&] {
    for (internal::Partition* p : durable) flushed[p] = p->log().Flush();
  };
  if (options_.acks != Acks::kNone) flush_all();
  const Clock::time_point now = Clock::now();
  for (size_t i = 0; i < batches.size(); ++i) {
    Batch& b = *batches[i];
    absl::Status status = results[i].status;
    // Not appended (results[i].status is set only then): a retry cannot duplicate it.
    if (!status.ok() && KeepForRetry(b, status, now)) {
      retry.push_back(std::move(batches[i]));
      continue;
    }
    if (status.ok() && options_.acks != Acks::kNone) {
      auto f = flushed.find(b.partition.get());
      if (f != flushed.end()) status = f->second;
    }
    for (Pending& p : b.pending) {
      if (!status.ok()) {
        p.callback(status);
        continue;
      }
      RecordMetadata md;
      md.topic = b.topic->name;
      md.partition = b.partition->id().partition;
      md.offset = results[i].info.base_offset + p.index;
      md.timestamp = results[i].info.log_append_time >= 0 ? results[i].info.log_append_time
                                                          : p.timestamp;
      p.callback(md);
    }
  }
  // Fire-and-forget still makes the records visible under sync.policy always.
  if (options_.acks == Acks::kNone) flush_all();
}

absl::Status Producer::Impl::Flush() {
  uint64_t target;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return absl::FailedPreconditionError(fmt::format("{} is closed", name_));
    target = next_seq_;
  }
  std::unique_lock<std::mutex> lock(queue_mu_);
  force_ = true;
  WakeSender();
  done_cv_.wait(lock, [&] { return outstanding_.empty() || *outstanding_.begin() >= target; });
  return absl::OkStatus();
}

absl::Status Producer::Impl::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return absl::OkStatus();
    closed_ = true;
  }
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stopping_ = true;
    force_ = true;
    WakeSender();
    space_cv_.notify_all();
  }
  if (sender_.joinable()) sender_.join();
  return absl::OkStatus();
}

Producer::Producer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Producer::~Producer() = default;

absl::StatusOr<std::unique_ptr<Producer>> Producer::Create(Broker& broker,
                                                           const ProducerOptions& options) {
  RUNNEL_RETURN_IF_ERROR(CheckOptions(options));
  RUNNEL_RETURN_IF_ERROR(broker.core()->CheckWritable());
  return std::unique_ptr<Producer>(new Producer(std::make_unique<Impl>(broker.core(), options)));
}

absl::Status Producer::Send(const ProducerRecord& record, SendCallback callback) {
  absl::Status status = impl_->Enqueue(record, callback, /*urgent=*/false);
  if (!status.ok() && callback) callback(status);
  return status;
}

absl::StatusOr<RecordMetadata> Producer::SendSync(const ProducerRecord& record) {
  std::promise<absl::StatusOr<RecordMetadata>> promise;
  std::future<absl::StatusOr<RecordMetadata>> result = promise.get_future();
  SendCallback callback = [&promise](const absl::StatusOr<RecordMetadata>& md) {
    promise.set_value(md);
  };
  RUNNEL_RETURN_IF_ERROR(impl_->Enqueue(record, callback, /*urgent=*/true));
  return result.get();
}

absl::Status Producer::Flush() { return impl_->Flush(); }

absl::Status Producer::Close() { return impl_->Close(); }

}  // namespace runnel
