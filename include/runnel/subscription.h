// runnel::Subscription: push on top of pull. A dispatcher thread owns a group Consumer
// (Subscribe-based) and polls it; each record is handed to a handler that runs on a
// bounded pool of threads.
//
//   runnel::SubscriptionOptions options;
//   options.consumer.group_id = "billing";
//   options.threads = 4;
//   options.max_in_flight = 200;
//   auto sub = runnel::Subscription::Start(*broker, {"orders"},
//       [](const runnel::ConsumerRecord& r) { return Bill(r.value); }, options).value();
//   ...
//   absl::Status s = sub->Close();   // drains what is in flight, commits, leaves the group
//
// Guarantees:
//  - Order per partition: the records of one partition are handled one at a time, in
//    offset order; different partitions run in parallel, up to `threads` at once.
//  - Bounded in-flight work (back-pressure): at most max_in_flight records are fetched
//    and not yet finished. At the bound the dispatcher pauses every assigned partition
//    (it keeps calling Poll, so the member stays in the group and rebalances run) and
//    resumes them once work has drained below the bound.
//  - Delivery, by SubscriptionOptions::guarantee:
//    at-least-once (default): the offset after a record is committed only once its handler
//      returned OK (or the record was given up, see on_failure). A failed record is handed
//      to the handler again, after retry_backoff_ms, up to max_attempts times in all; the
//      partition waits meanwhile (its order holds). A crash redelivers what was handled
//      but not yet committed (commits happen every commit_interval_ms, on a rebalance and
//      on Close).
//    at-most-once: the records of each Poll are committed before any of them is handed to
//      the handler (if that commit fails, they are dropped, not handled). A handler
//      failure, or a crash, loses the record; nothing is ever handled twice.
//  - Rebalances: before a partition is given up, the dispatcher waits for the records of
//    it that are in flight (the handler finishes them) and commits them, so the next
//    owner starts exactly after them. Partitions lost (the member was removed) are not
//    committed.
//  - Close drains: it stops fetching, waits for every fetched record to be handled,
//    commits, and closes the consumer.
//
// When a record fails its last attempt under at-least-once: if on_failure is set it is
// called and the record is skipped (committed past: send it to a dead-letter topic there);
// if not, the subscription stops — it stops fetching, finishes the other partitions'
// records in flight, commits what succeeded (not the failed record, so it comes again to
// the next member or run) and leaves the group; status() and Close() return the handler's
// error. A handler that throws counts as a failed attempt, with an Internal status that
// names the record and the exception's what() (exceptions never reach the pool threads'
// tops, nor cross into runnel).
//
// Threads: the handler runs on the pool threads, never two at once for one partition;
// it must be thread-safe across partitions. The ConsumerRecord it gets (and every view in
// it) is valid for the duration of the call. Close, status and stats may be called from
// any thread, but not from the handler (Close would wait for the handler itself).
#ifndef RUNNEL_SUBSCRIPTION_H_
#define RUNNEL_SUBSCRIPTION_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/export.h"

namespace runnel {

enum class DeliveryGuarantee : uint8_t {
  kAtLeastOnce,  // commit after the handler succeeds: may duplicate, never loses
  kAtMostOnce,   // commit before the handler runs: may lose, never duplicates
};

// Returns OK when the record is done with; an error asks for a retry (at-least-once).
using RecordHandler = std::function<absl::Status(const ConsumerRecord&)>;

struct SubscriptionOptions {
  // The consumer the dispatcher polls. group_id is required; enable_auto_commit is
  // ignored (the subscription commits itself); max_poll_records is capped at half of
  // max_in_flight (at least 1), so fetching overlaps handling.
  ConsumerOptions consumer;
  // Called from the dispatcher thread after the subscription's own handling (revoke:
  // after in-flight records were finished and committed).
  RebalanceListener rebalance_listener;
  // Threads running the handler: the most partitions handled at once.
  int threads = 4;
  // Records fetched and not yet finished, at most.
  int max_in_flight = 1000;
  DeliveryGuarantee guarantee = DeliveryGuarantee::kAtLeastOnce;
  // At-least-once: attempts per record, the first included (1: no retry), with
  // retry_backoff_ms between them. Ignored under at-most-once (one attempt).
  int max_attempts = 3;
  int64_t retry_backoff_ms = 100;
  // Called on a pool thread when a record is given up: under at-most-once after its one
  // failed attempt, under at-least-once after its last (the record is then skipped; see
  // above for when this is unset).
  std::function<void(const ConsumerRecord&, const absl::Status&)> on_failure = nullptr;
  // At-least-once: how often handled records are committed (besides rebalances and Close).
  int64_t commit_interval_ms = 1000;
  // The longest a Poll of the dispatcher waits; also how quickly Close is noticed.
  std::chrono::milliseconds poll_timeout{100};
};

struct SubscriptionStats {
  int64_t handled = 0;          // handler calls that returned OK
  int64_t failed_attempts = 0;  // handler calls that returned an error
  int64_t given_up = 0;         // records failed for good (lost or skipped)
  int64_t in_flight = 0;        // fetched, not yet finished, now
  int64_t max_in_flight_seen = 0;
  int64_t pauses = 0;           // times fetching stopped at the bound
  int64_t commits = 0;          // successful commits
};

class RUNNEL_EXPORT Subscription {
 public:
  // Creates the consumer, subscribes it to `topics` and starts the dispatcher and the
  // pool. InvalidArgument for bad options (no group_id, threads or max_in_flight below 1,
  // max_attempts below 1) or a bad topic name; the Consumer's own errors otherwise.
  static absl::StatusOr<std::unique_ptr<Subscription>> Start(
      Broker& broker, const std::vector<std::string>& topics, RecordHandler handler,
      const SubscriptionOptions& options);
  // Close()s if Close was not called.
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // Stops fetching, waits for every fetched record to be finished, commits, closes the
  // consumer and joins the threads. Returns the error that stopped the subscription, if
  // one did, else the first error of the final commit or close. Later calls return the
  // same.
  absl::Status Close();
  // OK while running; the error that stopped it (a record that failed for good, a Poll
  // that failed) once stopped.
  absl::Status status() const;
  SubscriptionStats stats() const;
  // The partitions the member owns now.
  std::vector<TopicPartition> Assignment() const;

  class Impl;

 private:
  explicit Subscription(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace runnel

#endif  // RUNNEL_SUBSCRIPTION_H_
