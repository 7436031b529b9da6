// runnel::Producer sends records to a Broker's topics, as Kafka's KafkaProducer does:
// records are partitioned (by key, or sticky for a null key), gathered into one
// RecordBatch per partition (batch.size, linger.ms), and appended by a background sender
// thread, which then runs each record's callback.
//
// Acknowledgement (acks) and the topic's sync.policy decide when a callback fires and
// what a crash can then take back:
//
// | acks        | sync.policy | callback fires once the record is   | process crash | power loss |
// | ----------- | ----------- | ----------------------------------- | ------------- | ---------- |
// | 0           | any         | written to the log (page cache)     | kept          | may lose   |
// | 1 or all    | none        | written to the log (page cache)     | kept          | may lose   |
// | 1 or all    | interval    | written; fsynced within the interval | kept         | may lose the last interval |
// | 1 or all    | always      | written and fsynced (group commit)  | kept          | kept       |
//
// "Kept" holds for every record whose callback reported success. A record whose callback
// has not fired when the process dies may or may not be in the log: a producer that must
// not duplicate numbers its records (later: the idempotent producer).
//
// Back-pressure: buffer.memory bounds the bytes waiting to be appended; when it is full,
// Send blocks up to max.block.ms and then fails with ResourceExhausted (retriable).
//
// Retries: an append that fails with a status a retry can clear — a full disk
// (ResourceExhausted) that left the partition writable — is tried again after a backoff
// (retry.backoff.ms doubling up to retry.backoff.max.ms, with full jitter, as
// runnel::RetryPolicy computes it), up to `retries` times and until delivery.timeout.ms
// after the batch was opened. Order holds per partition, as Kafka's with
// max.in.flight.requests.per.connection=1: while a batch waits for its retry, later
// batches of its partition wait behind it (other partitions go on). A batch that reached
// the log is never appended again, so a retry never duplicates: a failure after the
// append (an fsync under sync.policy always) is reported, not retried. A batch that runs
// out of time fails with DeadlineExceeded naming the partition and the attempts; one out
// of retries fails with its last error. Retried batches keep their buffer.memory, so a
// disk that stays full pushes back on Send.
//
// Callbacks: every callback given to Send fires exactly once — with the record's metadata,
// or with the error — including when the producer is closed or the broker fails. They run
// on the sender thread (or, for errors found before queuing, on the calling thread): keep
// them short, and do not call SendSync, Flush or Close from one (they would wait for the
// thread that runs it).
//
// Threads: Send, SendSync and Flush are thread-safe; many threads may share one producer,
// and a broker may have many producers. Close may be called once from any thread.
#ifndef RUNNEL_PRODUCER_H_
#define RUNNEL_PRODUCER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runnel/broker.h"
#include "runnel/export.h"
#include "runnel/partitioner.h"
#include "runnel/types.h"

namespace runnel {

enum class Acks : int8_t {
  kNone = 0,   // acks=0: fire and forget; never waits for an fsync
  kLeader = 1, // acks=1: as kAll here, since an embedded log has a single replica
  kAll = -1,   // acks=all (Kafka's default): waits for the topic's sync.policy
};

struct ProducerOptions {
  Acks acks = Acks::kAll;
  // batch.size: bytes of records gathered per partition before a batch is sent.
  int32_t batch_size = 16384;
  // linger.ms: how long a batch that is not full waits for more records (Kafka 4's
  // default). 0 sends as soon as the sender thread is free.
  int64_t linger_ms = 5;
  // buffer.memory: the bytes of records waiting to be appended, beyond which Send blocks.
  int64_t buffer_memory = 32 * 1024 * 1024;
  // max.block.ms: how long Send blocks on a full buffer before failing.
  int64_t max_block_ms = 60 * 1000;
  // max.request.size: the largest record the producer accepts.
  int32_t max_request_size = 1024 * 1024;
  // Null: DefaultPartitioner (Kafka's).
  std::shared_ptr<Partitioner> partitioner = nullptr;
  // client.id: named in error messages.
  std::string client_id = {};
  // retries: how many times a batch whose append failed retriably is tried again
  // (Kafka's default, INT32_MAX: until delivery.timeout.ms). 0: never.
  int32_t retries = INT32_MAX;
  // retry.backoff.ms and retry.backoff.max.ms: the delay before retry n is drawn from
  // [0, min(retry.backoff.max.ms, retry.backoff.ms * 2^n)] (full jitter). A
  // retry.backoff.ms above the max is capped at it.
  int64_t retry_backoff_ms = 100;
  int64_t retry_backoff_max_ms = 1000;
  // delivery.timeout.ms: how long after its batch was opened a record may still be
  // retried; a retriable failure after that fails the record with DeadlineExceeded. The
  // last retry is made at this deadline at the latest. (Unlike Kafka's, a batch still
  // lingering or queued is not expired: only retries are bounded by it.)
  int64_t delivery_timeout_ms = 120 * 1000;
};

using SendCallback = std::function<void(const absl::StatusOr<RecordMetadata>&)>;

class RUNNEL_EXPORT Producer {
 public:
  // InvalidArgument for bad options; FailedPrecondition if the broker is closed.
  static absl::StatusOr<std::unique_ptr<Producer>> Create(Broker& broker,
                                                          const ProducerOptions& options = {});
  // Close()s if Close was not called.
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Queues the record and returns; `callback` (may be null) fires once it is acknowledged
  // or has failed. A failure found at once (unknown topic: NotFound; a record over
  // max.request.size or the topic's max.message.bytes: InvalidArgument; a full buffer
  // after max.block.ms: ResourceExhausted; a closed producer: FailedPrecondition) is both
  // returned and passed to the callback.
  absl::Status Send(const ProducerRecord& record, SendCallback callback = nullptr);
  // Sends and waits for the acknowledgement. Under linger.ms > 0 prefer Send with a
  // callback, or Flush, when sending many records: each SendSync waits for its batch.
  absl::StatusOr<RecordMetadata> SendSync(const ProducerRecord& record);
  // Sends everything queued so far at once (ignoring linger.ms) and waits until every
  // callback of those records has fired. Their errors go to their callbacks (Kafka's
  // flush() reports none either); Flush fails only on a closed producer.
  absl::Status Flush();
  // Flushes, then stops the sender thread. Later sends fail with FailedPrecondition. A
  // batch waiting for a retry is still retried, so Close may wait up to
  // delivery.timeout.ms for it (set retries = 0 for a producer that must close at once).
  absl::Status Close();

 private:
  class Impl;
  explicit Producer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace runnel

#endif  // RUNNEL_PRODUCER_H_
