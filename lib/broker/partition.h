// One topic partition as the broker serves it: the partition log plus a way to wait for
// its visible offset to move (long polling), and a flag that fails appends once the topic
// is deleted. Thread-safe.
#ifndef RUNNEL_BROKER_PARTITION_H_
#define RUNNEL_BROKER_PARTITION_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runnel/types.h"
#include "broker/waker.h"
#include "storage/partition_log.h"

namespace runnel::internal {

class Partition {
 public:
  Partition(TopicPartition id, std::unique_ptr<storage::PartitionLog> log);

  const TopicPartition& id() const { return id_; }
  storage::PartitionLog& log() { return *log_; }
  const storage::PartitionLog& log() const { return *log_; }

  // PartitionLog::Append and AppendBatches, refused with NotFound once the topic is
  // deleted.
  absl::StatusOr<storage::AppendInfo> Append(std::span<uint8_t> batch,
                                             const storage::AppendOptions& options);
  storage::PartitionLog::AppendResult AppendBatches(std::span<const std::span<uint8_t>> batches,
                                                    const storage::AppendOptions& options);
  // Blocks until the visible offset exceeds `offset`, the deadline passes, or Wakeup();
  // returns the visible offset then. Sleeps on a condition variable: no polling.
  int64_t WaitForVisibleBeyond(int64_t offset, std::chrono::steady_clock::time_point deadline);
  // Makes current waiters return at once.
  void Wakeup();
  // Registers a waker to Notify whenever the visible offset moves, or the partition is
  // deleted or closed, until RemoveWaker. Register before checking for data (see Waker).
  void AddWaker(Waker* waker);
  void RemoveWaker(Waker* waker);

  // The topic was deleted: appends fail with NotFound and waiters return, now and later.
  void MarkDeleted();
  bool deleted() const { return deleted_.load(); }
  // The broker closed: waiters return, now and later.
  void MarkClosed();

 private:
  void OnVisible();

  const TopicPartition id_;
  std::unique_ptr<storage::PartitionLog> log_;
  std::atomic<bool> deleted_{false};
  std::atomic<bool> closed_{false};
  std::atomic<int> waiters_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t wakeups_ = 0;  // guarded by mu_
  std::vector<Waker*> wakers_;  // guarded by mu_
};

}  // namespace runnel::internal

#endif  // RUNNEL_BROKER_PARTITION_H_
