#include "broker/partition.h"

#include <fmt/format.h>

namespace runnel::internal {

Partition::Partition(TopicPartition id, std::unique_ptr<storage::PartitionLog> log)
    : id_(std::move(id)), log_(std::move(log)) {
  log_->set_visible_offset_listener([this](int64_t) { OnVisible(); });
}

absl::StatusOr<storage::AppendInfo> Partition::Append(std::span<uint8_t> batch,
                                                      const storage::AppendOptions& options) {
  if (deleted()) {
    return absl::NotFoundError(fmt::format("topic \"{}\" was deleted", id_.topic));
  }
  return log_->Append(batch, options);
}

storage::PartitionLog::AppendResult Partition::AppendBatches(
    std::span<const std::span<uint8_t>> batches, const storage::AppendOptions& options) {
  if (deleted()) {
    return {{}, absl::NotFoundError(fmt::format("topic \"{}\" was deleted", id_.topic))};
  }
  return log_->AppendBatches(batches, options);
}

// Called by the log whenever the visible offset moves, on the appending (or flushing)
// thread. The common case, nobody waiting, costs one load. The log stores the visible
// offset sequentially consistently, and this load and the waiter's increment and reload
// are too: so either the waiter sees the new offset, or we see it waiting and notify
// under the lock it checks the offset under. (Atomics, not fences: ThreadSanitizer
// understands these.)
void Partition::OnVisible() {
  if (waiters_.load(std::memory_order_seq_cst) == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  cv_.notify_all();
  for (Waker* w : wakers_) w->Notify();
}

// A registered waker counts as a waiter for as long as it is registered, so OnVisible's
// one-load fast path still cannot miss it.
void Partition::AddWaker(Waker* waker) {
  waiters_.fetch_add(1, std::memory_order_seq_cst);
  std::lock_guard<std::mutex> lock(mu_);
  wakers_.push_back(waker);
  if (deleted_.load() || closed_.load()) waker->Notify();
}

void Partition::RemoveWaker(Waker* waker) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::erase(wakers_, waker);
  }
  waiters_.fetch_sub(1, std::memory_order_seq_cst);
}

int64_t Partition::WaitForVisibleBeyond(int64_t offset,
                                        std::chrono::steady_clock::time_point deadline) {
  waiters_.fetch_add(1, std::memory_order_seq_cst);
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t wakeups = wakeups_;
  cv_.wait_until(lock, deadline, [&] {
    return log_->visible_offset(std::memory_order_seq_cst) > offset || wakeups_ != wakeups ||
           deleted_.load() || closed_.load();
  });
  waiters_.fetch_sub(1);
  return log_->visible_offset();
}

void Partition::MarkDeleted() {
  deleted_.store(true);
  Wakeup();
}

void Partition::MarkClosed() {
  closed_.store(true);
  Wakeup();
}

void Partition::Wakeup() {
  std::lock_guard<std::mutex> lock(mu_);
  ++wakeups_;
  cv_.notify_all();
  for (Waker* w : wakers_) w->Notify();
}

}  // namespace runnel::internal
