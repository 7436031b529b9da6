// runnel::RetryTopics and runnel::Redrive (include/runnel/retry_topics.h): delay tiers and
// dead letters as ordinary topics, written with a Producer and read with a Consumer.
#include "runnel/retry_topics.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <mutex>
#include <set>
#include <utility>

#include "runnel/status.h"
#include "util/formatters.h"
#include "util/status_macros.h"

namespace runnel {
namespace {

bool IsRetryHeader(std::string_view key) {
  return key.starts_with("runnel.retry.") || key.starts_with("runnel.dlq.");
}

template <typename T>
std::optional<T> ParseNumber(std::optional<std::string_view> text) {
  if (!text) return std::nullopt;
  T value{};
  const char* end = text->data() + text->size();
  auto [ptr, ec] = std::from_chars(text->data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

// Headers to send: the record's own without the retry headers, then `added`. Views into
// `record` and `added`, which must outlive the send.
std::vector<Header> OutgoingHeaders(std::span<const Header> original,
                                    const std::vector<std::pair<std::string_view, std::string>>& added) {
  std::vector<Header> out;
  out.reserve(original.size() + added.size());
  for (const Header& h : original) {
    if (!IsRetryHeader(h.key)) out.push_back(h);
  }
  for (const auto& [key, value] : added) out.push_back({key, std::string_view(value)});
  return out;
}

absl::StatusOr<int32_t> EnsureTopic(Broker& broker, const std::string& name,
                                    const TopicDescription& like, bool create) {
  absl::StatusOr<TopicDescription> found = broker.DescribeTopic(name);
  if (found.ok()) return static_cast<int32_t>(found->partitions.size());
  if (found.status().code() != absl::StatusCode::kNotFound || !create) return found.status();
  const auto n = static_cast<int32_t>(like.partitions.size());
  absl::Status created = broker.CreateTopic(name, n, like.config);
  if (!created.ok() && created.code() != absl::StatusCode::kAlreadyExists) return created;
  RUNNEL_ASSIGN_OR_RETURN(TopicDescription now, broker.DescribeTopic(name));
  return static_cast<int32_t>(now.partitions.size());
}

}  // namespace

std::optional<std::string_view> FindHeader(std::span<const Header> headers, std::string_view key) {
  for (auto it = headers.rbegin(); it != headers.rend(); ++it) {
    if (it->key == key) return it->value;
  }
  return std::nullopt;
}

class RetryTopics::Impl {
 public:
  std::string topic;
  std::string dlq;
  std::vector<std::string> tiers;
  RetryTopicsOptions options;
  std::map<std::string, int32_t, std::less<>> partition_counts;  // tiers and the DLQ
  std::unique_ptr<Producer> producer;
  // PollDue's thread: tier partitions paused until their head is due (Unix ms).
  std::map<TopicPartition, int64_t> paused;

  // The index of `name` in tiers, or -1.
  int TierIndex(std::string_view name) const {
    for (size_t i = 0; i < tiers.size(); ++i) {
      if (tiers[i] == name) return static_cast<int>(i);
    }
    return -1;
  }
  absl::StatusOr<RetryOutcome> Handle(const ConsumerRecord& record, const absl::Status& result);
};

RetryTopics::RetryTopics(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RetryTopics::~RetryTopics() = default;

std::string RetryTopics::TierName(std::string_view topic, std::chrono::milliseconds delay) {
  const int64_t ms = delay.count();
  if (ms > 0 && ms % 3'600'000 == 0) return fmt::format("{}.retry.{}h", topic, ms / 3'600'000);
  if (ms > 0 && ms % 60'000 == 0) return fmt::format("{}.retry.{}m", topic, ms / 60'000);
  if (ms > 0 && ms % 1000 == 0) return fmt::format("{}.retry.{}s", topic, ms / 1000);
  return fmt::format("{}.retry.{}ms", topic, ms);
}

absl::StatusOr<std::unique_ptr<RetryTopics>> RetryTopics::Create(
    Broker& broker, std::string_view topic, const RetryTopicsOptions& options) {
  if (options.delays.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("retry topics for \"{}\": at least one delay is needed", topic));
  }
  if (options.max_attempts < 1) {
    return absl::InvalidArgumentError(fmt::format(
        "retry topics for \"{}\": max_attempts = {} is invalid: must be at least 1", topic,
        options.max_attempts));
  }
  auto impl = std::make_unique<Impl>();
  impl->topic = std::string(topic);
  impl->dlq = impl->topic + ".dlq";
  impl->options = options;
  if (impl->options.clock == nullptr) impl->options.clock = RetryClock::Real();
  for (std::chrono::milliseconds delay : options.delays) {
    if (delay.count() <= 0) {
      return absl::InvalidArgumentError(fmt::format(
          "retry topics for \"{}\": delay {} ms is invalid: must be above 0", topic,
          delay.count()));
    }
    std::string name = TierName(topic, delay);
    if (impl->TierIndex(name) >= 0) {
      return absl::InvalidArgumentError(fmt::format(
          "retry topics for \"{}\": two delays give the same tier {}", topic, name));
    }
    impl->tiers.push_back(std::move(name));
  }
  RUNNEL_ASSIGN_OR_RETURN(TopicDescription source, broker.DescribeTopic(topic));
  std::vector<std::string> targets = impl->tiers;
  targets.push_back(impl->dlq);
  for (const std::string& name : targets) {
    RUNNEL_ASSIGN_OR_RETURN(int32_t n, EnsureTopic(broker, name, source, options.create_topics));
    impl->partition_counts[name] = n;
  }
  RUNNEL_ASSIGN_OR_RETURN(impl->producer, Producer::Create(broker, options.producer));
  return std::unique_ptr<RetryTopics>(new RetryTopics(std::move(impl)));
}

const std::string& RetryTopics::topic() const { return impl_->topic; }
const std::vector<std::string>& RetryTopics::tier_topics() const { return impl_->tiers; }
const std::string& RetryTopics::dlq_topic() const { return impl_->dlq; }

std::vector<std::string> RetryTopics::topics() const {
  std::vector<std::string> all{impl_->topic};
  all.insert(all.end(), impl_->tiers.begin(), impl_->tiers.end());
  return all;
}

std::optional<int64_t> RetryTopics::NotBefore(const ConsumerRecord& record) const {
  const int tier = impl_->TierIndex(record.topic);
  if (tier < 0) return std::nullopt;
  if (auto due = ParseNumber<int64_t>(FindHeader(record.headers, kRetryNotBeforeHeader))) {
    return due;
  }
  return record.timestamp + impl_->options.delays[static_cast<size_t>(tier)].count();
}

absl::StatusOr<RetryOutcome> RetryTopics::Handle(const ConsumerRecord& record,
                                                 const absl::Status& result) {
  return impl_->Handle(record, result);
}

absl::StatusOr<RetryOutcome> RetryTopics::Impl::Handle(const ConsumerRecord& record,
                                                       const absl::Status& result) {
  if (result.ok()) return RetryOutcome::kProcessed;
  // Where the record came from first, and how often it failed before.
  int32_t failed_before = 0;
  std::string original_topic(record.topic);
  int64_t original_partition = record.partition;
  int64_t original_offset = record.offset;
  int64_t original_timestamp = record.timestamp;
  if (record.topic != topic) {
    const int tier = TierIndex(record.topic);
    if (tier < 0) {
      return absl::InvalidArgumentError(fmt::format(
          "record {}-{}@{} is not from \"{}\" or its retry tiers", record.topic,
          record.partition, record.offset, topic));
    }
    failed_before = ParseNumber<int32_t>(FindHeader(record.headers, kRetryAttemptHeader))
                        .value_or(tier + 1);
    if (auto t = FindHeader(record.headers, kRetryOriginalTopicHeader)) original_topic = *t;
    auto number = [&](std::string_view key, int64_t fallback) {
      return ParseNumber<int64_t>(FindHeader(record.headers, key)).value_or(fallback);
    };
    original_partition = number(kRetryOriginalPartitionHeader, original_partition);
    original_offset = number(kRetryOriginalOffsetHeader, original_offset);
    original_timestamp = number(kRetryOriginalTimestampHeader, original_timestamp);
  }
  const int32_t attempts = failed_before + 1;
  const bool retriable = options.retriable ? options.retriable(result) : IsRetriable(result);
  const bool retry = retriable && attempts < options.max_attempts;

  std::vector<std::pair<std::string_view, std::string>> added = {
      {kRetryAttemptHeader, std::to_string(attempts)},
      {kRetryOriginalTopicHeader, original_topic},
      {kRetryOriginalPartitionHeader, std::to_string(original_partition)},
      {kRetryOriginalOffsetHeader, std::to_string(original_offset)},
      {kRetryOriginalTimestampHeader, std::to_string(original_timestamp)},
      {kRetryErrorHeader, std::string(result.message())},
      {kRetryErrorCodeHeader, absl::StatusCodeToString(result.code())},
  };
  const std::string* target;
  if (retry) {
    const size_t tier = std::min(static_cast<size_t>(attempts), tiers.size()) - 1;
    target = &tiers[tier];
    const int64_t due = options.clock->NowMillis() + options.delays[tier].count();
    added.emplace_back(kRetryNotBeforeHeader, std::to_string(due));
  } else {
    target = &dlq;
    added.emplace_back(kDlqReasonHeader, retriable ? "attempts exhausted" : "not retriable");
  }
  const std::vector<Header> headers = OutgoingHeaders(record.headers, added);
  const int32_t n = partition_counts.at(*target);
  const auto partition = static_cast<int32_t>(std::max<int64_t>(original_partition, 0) % n);
  RUNNEL_RETURN_IF_ERROR(producer
                             ->SendSync({.topic = *target,
                                         .partition = partition,
                                         .key = record.key,
                                         .value = record.value,
                                         .headers = headers})
                             .status());
  return retry ? RetryOutcome::kRetried : RetryOutcome::kDeadLettered;
}

absl::StatusOr<RetryOutcome> RetryTopics::Process(
    const ConsumerRecord& record,
    const std::function<absl::Status(const ConsumerRecord&)>& handler) {
  return Handle(record, handler(record));
}

absl::StatusOr<std::vector<ConsumerRecord>> RetryTopics::PollDue(
    Consumer& consumer, std::chrono::milliseconds timeout) {
  auto& paused = impl_->paused;
  int64_t now = impl_->options.clock->NowMillis();
  // Resume the partitions whose head is due; forget those no longer assigned.
  if (!paused.empty()) {
    const std::vector<TopicPartition> assigned = consumer.Assignment();
    const std::set<TopicPartition> assigned_set(assigned.begin(), assigned.end());
    std::vector<TopicPartition> due;
    for (auto it = paused.begin(); it != paused.end();) {
      if (!assigned_set.contains(it->first)) {
        it = paused.erase(it);
      } else if (it->second <= now) {
        due.push_back(it->first);
        it = paused.erase(it);
      } else {
        ++it;
      }
    }
    if (!due.empty()) RUNNEL_RETURN_IF_ERROR(consumer.Resume(due));
  }
  std::chrono::milliseconds wait = std::max(timeout, std::chrono::milliseconds(0));
  for (const auto& [tp, due] : paused) {
    wait = std::min(wait, std::chrono::milliseconds(std::max<int64_t>(due - now, 0)));
  }
  RUNNEL_ASSIGN_OR_RETURN(std::span<const ConsumerRecord> polled, consumer.Poll(wait));
  now = impl_->options.clock->NowMillis();
  std::vector<ConsumerRecord> out;
  out.reserve(polled.size());
  std::set<TopicPartition> held;  // paused in this call: their later records wait too
  for (const ConsumerRecord& record : polled) {
    const std::optional<int64_t> due = NotBefore(record);
    if (!due && held.empty()) {
      out.push_back(record);
      continue;
    }
    TopicPartition tp{std::string(record.topic), record.partition};
    if (held.contains(tp)) continue;
    if (due && *due > now) {
      RUNNEL_RETURN_IF_ERROR(consumer.Seek(tp, record.offset));
      RUNNEL_RETURN_IF_ERROR(consumer.Pause({tp}));
      paused[tp] = *due;
      held.insert(std::move(tp));
      continue;
    }
    out.push_back(record);
  }
  return out;
}

absl::Status RetryTopics::Close() { return impl_->producer->Close(); }

namespace {

// One record sent by Redrive, and what its callback reported.
struct RedriveSend {
  TopicPartition from;
  int64_t offset = 0;
  absl::Status status;
};

}  // namespace

absl::StatusOr<RedriveResult> Redrive(Broker& broker, std::string_view dlq_topic,
                                      const RedriveOptions& options) {
  RUNNEL_ASSIGN_OR_RETURN(TopicDescription dlq, broker.DescribeTopic(dlq_topic));
  std::vector<TopicPartition> partitions;
  for (const PartitionDescription& p : dlq.partitions) {
    partitions.push_back({std::string(dlq_topic), p.partition});
  }
  ConsumerOptions consumer_options;
  consumer_options.client_id = "runnel-redrive";
  consumer_options.group_id = options.group_id;
  consumer_options.enable_auto_commit = false;
  consumer_options.auto_offset_reset = OffsetReset::kEarliest;
  RUNNEL_ASSIGN_OR_RETURN(std::unique_ptr<Consumer> consumer,
                          Consumer::Create(broker, consumer_options));
  RUNNEL_RETURN_IF_ERROR(consumer->Assign(partitions));
  // The end as of now: records dead-lettered from here on wait for the next redrive.
  RUNNEL_ASSIGN_OR_RETURN(auto ends, consumer->EndOffsets(partitions));
  RUNNEL_ASSIGN_OR_RETURN(std::unique_ptr<Producer> producer,
                          Producer::Create(broker, options.producer));

  std::map<std::string, int32_t, std::less<>> target_partitions;
  auto partitions_of = [&](std::string_view topic) -> absl::StatusOr<int32_t> {
    auto it = target_partitions.find(topic);
    if (it != target_partitions.end()) return it->second;
    RUNNEL_ASSIGN_OR_RETURN(TopicDescription d, broker.DescribeTopic(topic));
    const auto n = static_cast<int32_t>(d.partitions.size());
    target_partitions.emplace(std::string(topic), n);
    return n;
  };

  RedriveResult result;
  absl::Status failure;
  std::set<TopicPartition> finished;
  bool limit_reached = false;
  int empty_polls = 0;
  while (failure.ok() && !limit_reached) {
    // Partitions at their end are paused, so that Poll serves only the others.
    std::vector<TopicPartition> newly_finished;
    for (const TopicPartition& tp : partitions) {
      if (finished.contains(tp)) continue;
      RUNNEL_ASSIGN_OR_RETURN(int64_t position, consumer->Position(tp));
      if (position >= ends[tp]) {
        finished.insert(tp);
        newly_finished.push_back(tp);
      }
    }
    if (!newly_finished.empty()) RUNNEL_RETURN_IF_ERROR(consumer->Pause(newly_finished));
    if (finished.size() == partitions.size()) break;

    RUNNEL_ASSIGN_OR_RETURN(std::span<const ConsumerRecord> polled,
                            consumer->Poll(std::chrono::milliseconds(100)));
    // A partition whose last records below the end are gone (compaction, retention) never
    // reaches it by position: a few empty polls in a row end the redrive.
    empty_polls = polled.empty() ? empty_polls + 1 : 0;
    if (empty_polls >= 20) break;
    std::mutex mu;  // the callbacks run on the producer's thread
    std::vector<RedriveSend> sends;
    sends.reserve(polled.size());
    std::map<TopicPartition, int64_t> handled;  // next offset to commit, per partition
    std::set<TopicPartition> beyond;            // reached the end in this poll
    for (const ConsumerRecord& record : polled) {
      TopicPartition tp{std::string(record.topic), record.partition};
      if (beyond.contains(tp)) continue;
      if (record.offset >= ends[tp]) {
        beyond.insert(std::move(tp));
        continue;
      }
      if (options.max_records && result.redriven + result.skipped >= *options.max_records) {
        limit_reached = true;
        break;
      }
      if (options.filter && !options.filter(record)) {
        ++result.skipped;
        handled[tp] = record.offset + 1;
        continue;
      }
      std::string_view target = options.target_topic;
      if (target.empty()) {
        std::optional<std::string_view> original =
            FindHeader(record.headers, kRetryOriginalTopicHeader);
        if (!original || original->empty()) {
          failure = absl::InvalidArgumentError(fmt::format(
              "cannot redrive {}-{}@{}: it has no {} header and no target_topic was given",
              record.topic, record.partition, record.offset, kRetryOriginalTopicHeader));
          break;
        }
        target = *original;
      }
      absl::StatusOr<int32_t> n = partitions_of(target);
      if (!n.ok()) {
        failure = n.status();
        break;
      }
      std::optional<int32_t> partition;
      if (auto p = ParseNumber<int32_t>(FindHeader(record.headers, kRetryOriginalPartitionHeader));
          p && *p >= 0 && *p < *n) {
        partition = *p;
      }
      std::vector<Header> headers;
      for (const Header& h : record.headers) {
        if (!IsRetryHeader(h.key)) headers.push_back(h);
      }
      const size_t index = sends.size();
      sends.push_back({tp, record.offset, absl::OkStatus()});
      handled[tp] = record.offset + 1;
      ++result.redriven;
      producer
          ->Send({.topic = target,
                  .partition = partition,
                  .key = record.key,
                  .value = record.value,
                  .headers = headers},
                 [&mu, &sends, index](const absl::StatusOr<RecordMetadata>& sent) {
                   std::lock_guard<std::mutex> lock(mu);
                   sends[index].status = sent.status();
                 })
          .IgnoreError();  // the callback has it too
    }
    RUNNEL_RETURN_IF_ERROR(producer->Flush());
    // Commit up to the first record of each partition that was not acknowledged.
    {
      std::lock_guard<std::mutex> lock(mu);
      std::set<TopicPartition> failed;
      for (const RedriveSend& s : sends) {
        if (s.status.ok() || failed.contains(s.from)) continue;
        failed.insert(s.from);
        handled[s.from] = s.offset;
        --result.redriven;
        if (failure.ok()) failure = s.status;
      }
      for (const RedriveSend& s : sends) {
        if (failed.contains(s.from) && s.offset > handled[s.from]) --result.redriven;
      }
    }
    for (const TopicPartition& tp : beyond) finished.insert(tp);
    if (!beyond.empty()) {
      RUNNEL_RETURN_IF_ERROR(
          consumer->Pause(std::vector<TopicPartition>(beyond.begin(), beyond.end())));
    }
    if (!handled.empty()) {
      std::map<TopicPartition, OffsetAndMetadata> offsets;
      for (const auto& [tp, offset] : handled) offsets[tp] = OffsetAndMetadata{offset, ""};
      RUNNEL_RETURN_IF_ERROR(consumer->CommitSync(offsets));
    }
  }
  RUNNEL_RETURN_IF_ERROR(producer->Close());
  RUNNEL_RETURN_IF_ERROR(consumer->Close());
  if (!failure.ok()) return failure;
  return result;
}

}  // namespace runnel
