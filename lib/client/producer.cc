// runnel::Producer (include/runnel/producer.h). Send() adds a record to its partition's
// open RecordBatch under the producer's lock; a sender thread appends batches that are
// full, have lingered linger.ms, or are flushed, then fsyncs each partition once per round
// when the topic's sync.policy asks for it (group commit), then runs the callbacks.
#include "runnel/producer.h"

#include <fmt/format.h>

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
  if (o.acks != Acks::kNone && o.acks != Acks::kLeader && o.acks != Acks::kAll) {
    return bad("acks", static_cast<int>(o.acks), "0, 1 or -1 (all)");
  }
  return absl::OkStatus();
}

}  // namespace

class Producer::Impl {
 public:
  Impl(std::shared_ptr<internal::BrokerCore> broker, const ProducerOptions& options)
      : broker_(std::move(broker)), options_(options) {
    if (options_.partitioner == nullptr) options_.partitioner = std::make_shared<DefaultPartitioner>();
    if (!options_.client_id.empty()) name_ = fmt::format("producer \"{}\"", options_.client_id);
    sender_ = std::thread([this] { SenderLoop(); });
  }

  ~Impl() { Close().IgnoreError(); }

  // Queues the record; on failure returns why and leaves `callback` to the caller, who
  // runs it outside the producer's lock.
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
  };

  absl::StatusOr<int32_t> ChoosePartition(const internal::Topic& topic,
                                          const ProducerRecord& record);
  absl::StatusOr<std::shared_ptr<internal::Topic>> Lookup(std::string_view topic);
  void MakeReady(std::unordered_map<internal::Partition*, std::unique_ptr<Batch>>::iterator it);
  void SenderLoop();
  void Process(std::vector<std::unique_ptr<Batch>>& batches);

  const std::shared_ptr<internal::BrokerCore> broker_;
  ProducerOptions options_;
  std::string name_ = "producer";

  std::mutex mu_;
  std::condition_variable sender_cv_;  // work for the sender
  std::condition_variable space_cv_;   // buffer.memory freed
  std::condition_variable done_cv_;    // batches completed
  std::unordered_map<internal::Partition*, std::unique_ptr<Batch>> open_;
  std::deque<std::unique_ptr<Batch>> ready_;
  std::set<uint64_t> outstanding_;  // seqs of batches not yet completed
  uint64_t next_seq_ = 0;
  int64_t buffered_ = 0;   // bytes of records queued or being appended
  int64_t in_flight_ = 0;  // of those, the bytes the sender is appending now
  bool force_ = false;    // send open batches now (Flush, Close)
  bool closed_ = false;   // no more sends
  bool stopping_ = false; // the sender exits once idle
  std::map<std::string, std::shared_ptr<internal::Topic>, std::less<>> topics_;
  std::unordered_map<const internal::Topic*, int32_t> sticky_;
  uint64_t rng_ = std::random_device{}() | 1;  // xorshift: any non-zero start
  std::thread sender_;
};

absl::StatusOr<std::shared_ptr<internal::Topic>> Producer::Impl::Lookup(std::string_view name) {
  auto it = topics_.find(name);
  if (it != topics_.end() && !it->second->stale.load(std::memory_order_relaxed)) return it->second;
  RUNNEL_ASSIGN_OR_RETURN(std::shared_ptr<internal::Topic> topic, broker_->FindOrCreateTopic(name));
  if (it != topics_.end()) sticky_.erase(it->second.get());  // the stale topic's
  topics_[std::string(name)] = topic;
  return topic;
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

// Moves an open batch to the sender's queue. A full sticky batch moves the topic's sticky
// partition on, as Kafka's BuiltInPartitioner does.
void Producer::Impl::MakeReady(
    std::unordered_map<internal::Partition*, std::unique_ptr<Batch>>::iterator it) {
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
  ready_.push_back(std::move(it->second));
  open_.erase(it);
  sender_cv_.notify_one();
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
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_) {
    return absl::FailedPreconditionError(fmt::format("{} is closed", name_));
  }
  absl::StatusOr<std::shared_ptr<internal::Topic>> topic = Lookup(record.topic);
  if (!topic.ok()) return topic.status();
  absl::StatusOr<int32_t> partition = ChoosePartition(**topic, record);
  if (!partition.ok()) return partition.status();

  // Sized as the last record of a full batch could be: the largest deltas.
  const auto size = static_cast<int64_t>(format::RecordBatchBuilder::RecordSize(
      INT32_MAX, INT64_MIN, record.key, record.value, headers));
  const int64_t batch_bytes = size + static_cast<int64_t>(format::kBatchHeaderSize);
  if (size > options_.max_request_size) {
    return absl::InvalidArgumentError(fmt::format(
                    "record of {} bytes exceeds max.request.size {} of {}", size,
                    options_.max_request_size, name_));
  }
  // A batch must fit max.message.bytes and a segment; name whichever limit is smaller.
  const bool segment_smaller =
      (*topic)->config.segment_bytes < (*topic)->config.max_message_bytes;
  const int64_t topic_limit =
      segment_smaller ? (*topic)->config.segment_bytes : (*topic)->config.max_message_bytes;
  if (batch_bytes > topic_limit) {
    return absl::InvalidArgumentError(fmt::format(
        "record of {} bytes (in a batch of {}) exceeds {} {} for topic \"{}\"", size,
        batch_bytes, segment_smaller ? "segment.bytes" : "max.message.bytes", topic_limit,
        (*topic)->name));
  }
  if (size > options_.buffer_memory) {
    return absl::InvalidArgumentError(fmt::format(
                    "record of {} bytes exceeds buffer.memory {} of {}", size,
                    options_.buffer_memory, name_));
  }
  // Back-pressure: wait for the sender to free buffer.memory, up to max.block.ms.
  if (buffered_ + size > options_.buffer_memory) {
    const auto deadline = Clock::now() + Millis(options_.max_block_ms);
    while (!closed_ && buffered_ + size > options_.buffer_memory) {
      // Batches on their way free memory as they complete. If there are none, the
      // buffer is all lingering batches: send them now (as Kafka's producer does once
      // its buffer is exhausted). Forcing while others are on their way would only
      // cut batches short.
      if (ready_.empty() && in_flight_ == 0) {
        force_ = true;
        sender_cv_.notify_one();
      }
      if (space_cv_.wait_until(lock, deadline) == std::cv_status::timeout &&
          buffered_ + size > options_.buffer_memory) {
        return absl::ResourceExhaustedError(fmt::format(
            "buffer.memory of {} bytes of {} stayed full for max.block.ms {} ms",
            options_.buffer_memory, name_, options_.max_block_ms));
      }
    }
    if (closed_) {
      return absl::FailedPreconditionError(fmt::format("{} is closed", name_));
    }
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
  if (it == open_.end()) {
    auto batch = std::make_unique<Batch>(static_cast<size_t>(options_.batch_size));
    batch->topic = *topic;
    batch->partition = (*topic)->partitions[static_cast<size_t>(*partition)];
    batch->created = Clock::now();
    batch->seq = next_seq_++;
    outstanding_.insert(batch->seq);
    it = open_.emplace(target, std::move(batch)).first;
    sender_cv_.notify_one();  // a new linger deadline
  }
  Batch& batch = *it->second;
  if (callback) batch.pending.push_back({batch.builder.record_count(), timestamp, std::move(callback)});
  batch.builder.Add(timestamp, record.key, record.value, headers);
  batch.reserved += size;
  buffered_ += size;
  if (urgent || static_cast<int64_t>(batch.builder.size_in_bytes()) >= batch_limit) {
    MakeReady(it);
  } else if (options_.linger_ms == 0) {
    sender_cv_.notify_one();
  }
  return absl::OkStatus();
}

void Producer::Impl::SenderLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    const auto linger = Millis(options_.linger_ms);
    auto due = [&] {
      if (!ready_.empty() || force_) return true;
      for (const auto& [p, b] : open_) {
        if (b->created + linger <= Clock::now()) return true;
      }
      return false;
    };
    while (!due() && !(stopping_ && open_.empty())) {
      Clock::time_point wake = Clock::time_point::max();
      for (const auto& [p, b] : open_) wake = std::min(wake, b->created + linger);
      if (wake == Clock::time_point::max()) {
        sender_cv_.wait(lock);
      } else {
        sender_cv_.wait_until(lock, wake);
      }
    }
    if (stopping_ && open_.empty() && ready_.empty()) break;
    std::vector<std::unique_ptr<Batch>> batches;
    for (auto& b : ready_) batches.push_back(std::move(b));
    ready_.clear();
    for (auto it = open_.begin(); it != open_.end();) {
      if (force_ || it->second->created + linger <= Clock::now()) {
        batches.push_back(std::move(it->second));
        it = open_.erase(it);
      } else {
        ++it;
      }
    }
    force_ = false;
    for (const auto& b : batches) in_flight_ += b->reserved;
    lock.unlock();
    Process(batches);
    lock.lock();
    for (const auto& b : batches) {
      buffered_ -= b->reserved;
      in_flight_ -= b->reserved;
      outstanding_.erase(b->seq);
    }
    space_cv_.notify_all();
    done_cv_.notify_all();
  }
}

void Producer::Impl::Process(std::vector<std::unique_ptr<Batch>>& batches) {
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
  for (size_t i = 0; i < batches.size(); ++i) {
    Batch& b = *batches[i];
    absl::Status status = results[i].status;
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
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_) return absl::FailedPreconditionError(fmt::format("{} is closed", name_));
  const uint64_t target = next_seq_;
  force_ = true;
  sender_cv_.notify_one();
  done_cv_.wait(lock, [&] { return outstanding_.empty() || *outstanding_.begin() >= target; });
  return absl::OkStatus();
}

absl::Status Producer::Impl::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return absl::OkStatus();
    closed_ = true;
    stopping_ = true;
    force_ = true;
  }
  sender_cv_.notify_one();
  space_cv_.notify_all();
  if (sender_.joinable()) sender_.join();
  return absl::OkStatus();
}

Producer::Producer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Producer::~Producer() = default;

absl::StatusOr<std::unique_ptr<Producer>> Producer::Create(Broker& broker,
                                                           const ProducerOptions& options) {
  RUNNEL_RETURN_IF_ERROR(CheckOptions(options));
  RUNNEL_RETURN_IF_ERROR(broker.core()->CheckOpen());
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
