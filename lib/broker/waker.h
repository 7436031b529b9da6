// Waker: what one thread sleeps on while it waits for any of several partitions (a
// consumer's long poll) to publish new data, or for another thread's Wakeup. Partitions
// Notify the wakers registered with them (Partition::AddWaker) whenever their visible
// offset moves. Thread-safe.
//
// No lost wake-ups: read seq() before checking for data, then Wait(seq, deadline); a
// Notify after the read ends the wait at once.
#ifndef RUNNEL_BROKER_WAKER_H_
#define RUNNEL_BROKER_WAKER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace runnel::internal {

class Waker {
 public:
  uint64_t seq() const {
    std::lock_guard<std::mutex> lock(mu_);
    return seq_;
  }
  void Notify() {
    std::lock_guard<std::mutex> lock(mu_);
    ++seq_;
    cv_.notify_all();
  }
  // Returns true if notified since `seen`, false at the deadline.
  bool Wait(uint64_t seen, std::chrono::steady_clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_until(lock, deadline, [&] { return seq_ != seen; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t seq_ = 0;
};

}  // namespace runnel::internal

#endif  // RUNNEL_BROKER_WAKER_H_
