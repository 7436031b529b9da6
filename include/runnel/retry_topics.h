// Retry at different times, dead letters and redrive, built on ordinary topics (the
// "non-blocking retries" of Spring Kafka and Uber's retry queues, SQS's redrive).
//
// runnel::RetryTopics serves one source topic, say "orders". When a consumer's handler
// fails on a record with a retriable status (runnel::IsRetriable, or the options'
// predicate), Handle republishes the record to a *delay tier*, a topic named
// `<topic>.retry.<delay>` ("orders.retry.1s", "orders.retry.10s", "orders.retry.1m" by
// default), with headers saying when it is due and how often it was tried; the consumer
// commits and goes on, so one failing record does not hold up those behind it. Attempt n
// (n = 1 after the first failure) goes to tier min(n, tiers) - 1. Once max_attempts
// deliveries have failed, or at once for a failure that is not retriable, the record goes
// to the dead-letter topic `<topic>.dlq`, with headers saying why.
//
// Delivery when due: PollDue wraps Consumer::Poll for a consumer of the source topic and
// its tiers. Records of one tier all wait the same delay, so each tier partition is in
// order of due time (up to the skew between the producers that wrote it): PollDue hands
// out a tier partition's records up to the first that is not due, seeks back to that one
// and pauses the partition until then. Other partitions, tiers and the source topic go on
// meanwhile. No record is returned before its not-before time by the options' clock.
//
// Headers written on every republished record (values are decimal text or UTF-8):
//   runnel.retry.attempt             deliveries that failed so far (1, 2, ...)
//   runnel.retry.not-before          Unix ms before which it is not delivered (tiers)
//   runnel.retry.original-topic      where the record was first consumed from...
//   runnel.retry.original-partition  ...its partition
//   runnel.retry.original-offset     ...and offset
//   runnel.retry.original-timestamp  its timestamp there
//   runnel.retry.error               the last failure's message
//   runnel.retry.error-code          its code's name, as absl prints it ("UNAVAILABLE")
//   runnel.dlq.reason                DLQ only: "not retriable" or "attempts exhausted"
// The record's own key, value and other headers are kept; its timestamp is the time of
// the republish.
//
// Guarantees: at-least-once. Handle returns once the republished record is acknowledged
// (SendSync), so a consumer that commits after Handle never loses a record; a crash
// between Handle and the commit delivers it again (and may republish it twice).
//
// Dead-letter topics are ordinary topics: inspect them with a Consumer or
// `runnel consume orders.dlq`. Redrive (below) sends their records back to the source.
//
// Threads: Handle and Process are thread-safe; PollDue is called from the consumer's
// thread, as every Consumer call is.
#ifndef RUNNEL_RETRY_TOPICS_H_
#define RUNNEL_RETRY_TOPICS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/export.h"
#include "runnel/producer.h"
#include "runnel/retry.h"
#include "runnel/types.h"

namespace runnel {

// Header names (see above).
inline constexpr std::string_view kRetryAttemptHeader = "runnel.retry.attempt";
inline constexpr std::string_view kRetryNotBeforeHeader = "runnel.retry.not-before";
inline constexpr std::string_view kRetryOriginalTopicHeader = "runnel.retry.original-topic";
inline constexpr std::string_view kRetryOriginalPartitionHeader =
    "runnel.retry.original-partition";
inline constexpr std::string_view kRetryOriginalOffsetHeader = "runnel.retry.original-offset";
inline constexpr std::string_view kRetryOriginalTimestampHeader =
    "runnel.retry.original-timestamp";
inline constexpr std::string_view kRetryErrorHeader = "runnel.retry.error";
inline constexpr std::string_view kRetryErrorCodeHeader = "runnel.retry.error-code";
inline constexpr std::string_view kDlqReasonHeader = "runnel.dlq.reason";

struct RetryTopicsOptions {
  // One delay tier per delay, in order of use. Names: whole hours "1h", minutes "1m",
  // seconds "10s", else milliseconds "250ms". At least one; each above 0.
  std::vector<std::chrono::milliseconds> delays = {std::chrono::seconds(1),
                                                   std::chrono::seconds(10),
                                                   std::chrono::minutes(1)};
  // Deliveries in all, the first from the source topic included, before a record goes
  // to the DLQ. Beyond delays.size() + 1 the last tier is used again. At least 1.
  int32_t max_attempts = 4;
  // Whether a handler's failure is retried. Null: runnel::IsRetriable.
  std::function<bool(const absl::Status&)> retriable = nullptr;
  // Creates the tiers and the DLQ when missing, with the source topic's partition count
  // and config. Otherwise they must exist (NotFound).
  bool create_topics = true;
  // The time that not-before headers are written in and compared with. Null: real time.
  std::shared_ptr<RetryClock> clock = nullptr;
  // The producer that republishes (linger.ms 0 is a good choice: Handle waits for it).
  ProducerOptions producer = {.linger_ms = 0};
};

// What Handle did with a record.
enum class RetryOutcome : uint8_t {
  kProcessed,     // the handler succeeded: nothing to do
  kRetried,       // republished to a delay tier
  kDeadLettered,  // sent to the DLQ
};

class RUNNEL_EXPORT RetryTopics {
 public:
  // `topic` must exist. InvalidArgument for bad options or a tier name that is not a
  // valid topic name; NotFound when a topic is missing and create_topics is off.
  static absl::StatusOr<std::unique_ptr<RetryTopics>> Create(Broker& broker,
                                                            std::string_view topic,
                                                            const RetryTopicsOptions& options = {});
  ~RetryTopics();
  RetryTopics(const RetryTopics&) = delete;
  RetryTopics& operator=(const RetryTopics&) = delete;

  const std::string& topic() const;
  // The delay tiers' topic names, in order of delay.
  const std::vector<std::string>& tier_topics() const;
  const std::string& dlq_topic() const;
  // The source topic and the tiers: what a consumer subscribes to.
  std::vector<std::string> topics() const;
  // The tier name for a delay: "orders.retry.10s".
  static std::string TierName(std::string_view topic, std::chrono::milliseconds delay);

  // Routes a record after its handler returned `result`: OK does nothing; a retriable
  // failure with attempts left goes to the next tier; anything else to the DLQ.
  // `record` comes from the source topic or one of its tiers (InvalidArgument
  // otherwise). Returns once the record is acknowledged; a send error is returned (do
  // not commit past the record then).
  absl::StatusOr<RetryOutcome> Handle(const ConsumerRecord& record, const absl::Status& result);
  // Runs `handler` on the record, then Handle with what it returned.
  absl::StatusOr<RetryOutcome> Process(
      const ConsumerRecord& record,
      const std::function<absl::Status(const ConsumerRecord&)>& handler);

  // Polls `consumer` (subscribed or assigned to topics()) and returns the records that
  // are due, as described above; views valid until the consumer's next Poll. Resumes
  // tier partitions whose head has come due first, and waits at most until the next one
  // does (by the clock), or `timeout`. Partitions paused here are resumed here: do not
  // pause or resume tier partitions yourself.
  absl::StatusOr<std::vector<ConsumerRecord>> PollDue(Consumer& consumer,
                                                      std::chrono::milliseconds timeout);

  // The not-before time of a record (Unix ms): its runnel.retry.not-before header, or for
  // a tier record without one, its timestamp plus the tier's delay; nullopt when it has
  // no delay (a source record).
  std::optional<int64_t> NotBefore(const ConsumerRecord& record) const;

  // Stops the producer (flushing it). Later Handle calls fail with FailedPrecondition.
  absl::Status Close();

 private:
  class Impl;
  explicit RetryTopics(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The value of the last header named `key`, if the record has one with a value.
RUNNEL_EXPORT std::optional<std::string_view> FindHeader(std::span<const Header> headers,
                                                         std::string_view key);

struct RedriveOptions {
  // The consumer group that keeps the redrive's progress (committed offsets in the DLQ),
  // so that a redrive interrupted resumes where it stopped, and a second one after a
  // clean finish sends nothing again.
  std::string group_id = "runnel-redrive";
  // Where records go. Empty: each record's runnel.retry.original-topic header (a record
  // without one fails the redrive with InvalidArgument, before it is sent). Records go to
  // their original partition when the target has it, else the partitioner chooses.
  std::string target_topic = {};
  // Stops after this many records (the rest stay for the next redrive). Unset: all.
  std::optional<int64_t> max_records = std::nullopt;
  // Records that fail it are skipped (committed past, not sent). Null: all are sent.
  std::function<bool(const ConsumerRecord&)> filter = nullptr;
  ProducerOptions producer = {};
};

struct RedriveResult {
  int64_t redriven = 0;  // records sent back
  int64_t skipped = 0;   // records the filter refused
};

// SQS's redrive: copies the records of `dlq_topic` that the group has not redriven yet,
// up to the end the DLQ had when the call began, back to their topics (key, value and
// headers, without the runnel.retry.* and runnel.dlq.* headers), and commits each poll's
// progress once its records are acknowledged. At-least-once: a crash between a send and
// its commit may send a record twice; a clean finish never does. Records dead-lettered
// during the redrive are left for the next one. On a send error, commits up to the first
// record not acknowledged in each partition and returns the error.
RUNNEL_EXPORT absl::StatusOr<RedriveResult> Redrive(Broker& broker, std::string_view dlq_topic,
                                                    const RedriveOptions& options = {});

}  // namespace runnel

#endif  // RUNNEL_RETRY_TOPICS_H_
