// runnel::RetryTopics and runnel::Redrive (include/runnel/retry_topics.h): delay tiers
// deliver a record only once it is due and every record eventually, across tiers and
// partitions; the DLQ after the last attempt and for failures that are not retriable,
// with headers saying why; redrive copies back, resumes, and never sends a record twice.
//
// A ManualClock makes records due without sleeping; one end-to-end test uses small real
// delays and asserts only order (delivery time >= not-before time) and completeness.
#include "runnel/retry_topics.h"

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "client/producer_testing.h"
#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/producer.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel {
namespace {

using namespace std::chrono_literals;
using testing::ReadHeader;
using testing::ReadRecord;
using testing::TempDir;

constexpr std::string_view kTopic = "orders";

TopicConfig SmallConfig() {
  TopicConfig c;
  c.segment_index_bytes = 4096;
  return c;
}

std::optional<std::string> HeaderOf(const ReadRecord& r, std::string_view key) {
  std::optional<std::string> found;
  for (const ReadHeader& h : r.headers) {
    if (h.key == key) found = h.value;
  }
  return found;
}

struct Fixture {
  explicit Fixture(int32_t partitions = 2) {
    auto opened = Broker::Open(tmp.Sub("data"));
    REQUIRE_OK(opened);
    broker = std::move(*opened);
    REQUIRE_OK(broker->CreateTopic(kTopic, partitions, SmallConfig()));
    auto p = Producer::Create(*broker, {.linger_ms = 0});
    REQUIRE_OK(p);
    producer = std::move(*p);
  }
  ~Fixture() {
    consumer.reset();
    retry.reset();
    producer.reset();
    broker.reset();
  }
  void MakeRetryTopics(RetryTopicsOptions o) {
    auto created = RetryTopics::Create(*broker, kTopic, o);
    REQUIRE_OK(created);
    retry = std::move(*created);
  }
  // A consumer assigned every partition of `topics`, from the beginning.
  void MakeConsumer(const std::vector<std::string>& topics) {
    auto c = Consumer::Create(*broker, {.auto_offset_reset = OffsetReset::kEarliest});
    REQUIRE_OK(c);
    consumer = std::move(*c);
    std::vector<TopicPartition> all;
    for (const std::string& t : topics) {
      auto d = broker->DescribeTopic(t);
      REQUIRE_OK(d);
      for (const auto& p : d->partitions) all.push_back({t, p.partition});
    }
    REQUIRE_OK(consumer->Assign(all));
  }
  std::vector<ReadRecord> ReadAll(std::string_view topic) {
    std::vector<ReadRecord> out;
    auto d = broker->DescribeTopic(topic);
    REQUIRE_OK(d);
    for (const auto& p : d->partitions) {
      auto read = testing::ReadTopicPartition(*broker, topic, p.partition);
      REQUIRE_OK(read);
      out.insert(out.end(), read->begin(), read->end());
    }
    return out;
  }

  TempDir tmp;
  std::unique_ptr<Broker> broker;
  std::unique_ptr<Producer> producer;
  std::unique_ptr<RetryTopics> retry;
  std::unique_ptr<Consumer> consumer;
};

// A delivered record, copied.
struct Delivery {
  std::string topic;
  int32_t partition = 0;
  std::string value;
  int64_t at = 0;           // the clock when delivered
  int64_t not_before = 0;   // 0 for a source record
};

// Polls with PollDue at the clock's current time until a few polls in a row bring
// nothing, checking that no record is delivered before it is due.
std::vector<Delivery> Drain(Fixture& f, RetryClock& clock) {
  std::vector<Delivery> out;
  for (int empty = 0; empty < 3;) {
    auto due = f.retry->PollDue(*f.consumer, 20ms);
    REQUIRE_OK(due);
    if (due->empty()) {
      ++empty;
      continue;
    }
    empty = 0;
    const int64_t now = clock.NowMillis();
    for (const ConsumerRecord& r : *due) {
      Delivery d{std::string(r.topic), r.partition, std::string(r.value.value_or("")), now,
                 f.retry->NotBefore(r).value_or(0)};
      INFO(d.topic << "-" << d.partition << "@" << r.offset << " " << d.value);
      CHECK(d.not_before <= now);  // never before it is due
      out.push_back(d);
    }
  }
  return out;
}

ConsumerRecord SourceRecord(int32_t partition, int64_t offset, std::string_view value) {
  return ConsumerRecord{.topic = kTopic, .partition = partition, .offset = offset,
                        .timestamp = 1, .key = value, .value = value};
}

TEST_CASE("Tier names say the delay in the largest whole unit", "[retry-topics]") {
  CHECK(RetryTopics::TierName("orders", 1s) == "orders.retry.1s");
  CHECK(RetryTopics::TierName("orders", 10s) == "orders.retry.10s");
  CHECK(RetryTopics::TierName("orders", 1min) == "orders.retry.1m");
  CHECK(RetryTopics::TierName("orders", 90s) == "orders.retry.90s");
  CHECK(RetryTopics::TierName("orders", 2h) == "orders.retry.2h");
  CHECK(RetryTopics::TierName("orders", 250ms) == "orders.retry.250ms");
  CHECK(RetryTopics::TierName("orders", 1500ms) == "orders.retry.1500ms");
}

TEST_CASE("Create makes the default tiers and the DLQ with the source's partitions",
          "[retry-topics]") {
  Fixture f(3);
  f.MakeRetryTopics({});
  CHECK(f.retry->tier_topics() ==
        std::vector<std::string>{"orders.retry.1s", "orders.retry.10s", "orders.retry.1m"});
  CHECK(f.retry->dlq_topic() == "orders.dlq");
  CHECK(f.retry->topics().front() == "orders");
  for (const std::string& t : {std::string("orders.retry.1s"), std::string("orders.retry.10s"),
                               std::string("orders.retry.1m"), std::string("orders.dlq")}) {
    auto d = f.broker->DescribeTopic(t);
    REQUIRE_OK(d);
    CHECK(d->partitions.size() == 3);
  }
  // A second one finds them.
  CHECK_OK(RetryTopics::Create(*f.broker, kTopic, {}));
}

TEST_CASE("Bad retry-topic options are refused", "[retry-topics]") {
  Fixture f;
  CHECK_STATUS_IS(RetryTopics::Create(*f.broker, kTopic, {.delays = {}}),
                  absl::StatusCode::kInvalidArgument, "delay");
  CHECK_STATUS_IS(RetryTopics::Create(*f.broker, kTopic, {.delays = {0ms}}),
                  absl::StatusCode::kInvalidArgument, "delay");
  CHECK_STATUS_IS(RetryTopics::Create(*f.broker, kTopic, {.delays = {1s, 1000ms}}),
                  absl::StatusCode::kInvalidArgument, "orders.retry.1s");
  CHECK_STATUS_IS(RetryTopics::Create(*f.broker, kTopic, {.max_attempts = 0}),
                  absl::StatusCode::kInvalidArgument, "max_attempts");
  CHECK_STATUS_IS(RetryTopics::Create(*f.broker, "nope", {}), absl::StatusCode::kNotFound);
  CHECK_STATUS_IS(RetryTopics::Create(*f.broker, kTopic, {.create_topics = false}),
                  absl::StatusCode::kNotFound, "orders.retry.1s");
}

TEST_CASE("A retriable failure goes to the next tier with its headers; the last failure "
          "and a non-retriable one go to the DLQ, saying why",
          "[retry-topics]") {
  Fixture f;
  auto clock = std::make_shared<ManualClock>(1'000'000);
  f.MakeRetryTopics({.delays = {1s, 10s}, .max_attempts = 4, .clock = clock});
  const std::array<Header, 1> user{Header{"trace", "t-1"}};
  ConsumerRecord source = SourceRecord(1, 7, "order-7");
  source.headers = user;

  // Attempt 1 fails: tier 1s, due in 1 s.
  auto outcome = f.retry->Handle(source, absl::UnavailableError("db down"));
  REQUIRE_OK(outcome);
  CHECK(*outcome == RetryOutcome::kRetried);
  std::vector<ReadRecord> tier = f.ReadAll("orders.retry.1s");
  REQUIRE(tier.size() == 1);
  const ReadRecord& r = tier[0];
  CHECK(r.value == std::optional<std::string>("order-7"));
  CHECK(r.key == std::optional<std::string>("order-7"));
  CHECK(HeaderOf(r, "trace") == std::optional<std::string>("t-1"));
  CHECK(HeaderOf(r, kRetryAttemptHeader) == std::optional<std::string>("1"));
  CHECK(HeaderOf(r, kRetryNotBeforeHeader) == std::optional<std::string>("1001000"));
  CHECK(HeaderOf(r, kRetryOriginalTopicHeader) == std::optional<std::string>("orders"));
  CHECK(HeaderOf(r, kRetryOriginalPartitionHeader) == std::optional<std::string>("1"));
  CHECK(HeaderOf(r, kRetryOriginalOffsetHeader) == std::optional<std::string>("7"));
  CHECK(HeaderOf(r, kRetryErrorHeader) == std::optional<std::string>("db down"));
  CHECK(HeaderOf(r, kRetryErrorCodeHeader) == std::optional<std::string>("UNAVAILABLE"));
  CHECK(f.ReadAll("orders.retry.1s").size() == 1);

  // Attempts 2 and 3 fail from the tiers: 10s, then 10s again (the last tier repeats);
  // attempt 4 is the last: the DLQ.
  f.MakeConsumer(f.retry->tier_topics());
  std::vector<std::string> route;
  for (int attempt = 2; attempt <= 4; ++attempt) {
    clock->Advance(1h);
    std::optional<RetryOutcome> last;
    for (int i = 0; i < 100 && !last; ++i) {
      auto due = f.retry->PollDue(*f.consumer, 20ms);
      REQUIRE_OK(due);
      for (const ConsumerRecord& rec : *due) {
        route.push_back(std::string(rec.topic));
        auto o = f.retry->Handle(rec, absl::ResourceExhaustedError("busy #" + std::to_string(attempt)));
        REQUIRE_OK(o);
        last = *o;
      }
    }
    REQUIRE(last.has_value());
    CHECK(*last == (attempt < 4 ? RetryOutcome::kRetried : RetryOutcome::kDeadLettered));
  }
  CHECK(route == std::vector<std::string>{"orders.retry.1s", "orders.retry.10s",
                                          "orders.retry.10s"});
  std::vector<ReadRecord> dlq = f.ReadAll("orders.dlq");
  REQUIRE(dlq.size() == 1);
  const ReadRecord& d = dlq[0];
  CHECK(d.value == std::optional<std::string>("order-7"));
  CHECK(HeaderOf(d, "trace") == std::optional<std::string>("t-1"));
  CHECK(HeaderOf(d, kRetryAttemptHeader) == std::optional<std::string>("4"));
  CHECK(HeaderOf(d, kDlqReasonHeader) == std::optional<std::string>("attempts exhausted"));
  CHECK(HeaderOf(d, kRetryErrorHeader) == std::optional<std::string>("busy #4"));
  CHECK(HeaderOf(d, kRetryErrorCodeHeader) == std::optional<std::string>("RESOURCE_EXHAUSTED"));
  CHECK(HeaderOf(d, kRetryOriginalTopicHeader) == std::optional<std::string>("orders"));
  CHECK(HeaderOf(d, kRetryOriginalPartitionHeader) == std::optional<std::string>("1"));
  CHECK(HeaderOf(d, kRetryOriginalOffsetHeader) == std::optional<std::string>("7"));
  CHECK_FALSE(HeaderOf(d, kRetryNotBeforeHeader).has_value());
  // Each hop replaced the retry headers rather than piling them up.
  int attempt_headers = 0;
  for (const ReadHeader& h : d.headers) attempt_headers += h.key == kRetryAttemptHeader;
  CHECK(attempt_headers == 1);

  // Not retriable: straight to the DLQ, attempted once.
  outcome = f.retry->Handle(SourceRecord(0, 3, "order-3"), absl::InvalidArgumentError("bad sku"));
  REQUIRE_OK(outcome);
  CHECK(*outcome == RetryOutcome::kDeadLettered);
  dlq = f.ReadAll("orders.dlq");
  REQUIRE(dlq.size() == 2);
  const ReadRecord& bad = dlq[0].value == std::optional<std::string>("order-3") ? dlq[0] : dlq[1];
  CHECK(bad.value == std::optional<std::string>("order-3"));
  CHECK(HeaderOf(bad, kRetryAttemptHeader) == std::optional<std::string>("1"));
  CHECK(HeaderOf(bad, kDlqReasonHeader) == std::optional<std::string>("not retriable"));
  CHECK(HeaderOf(bad, kRetryErrorCodeHeader) == std::optional<std::string>("INVALID_ARGUMENT"));
  CHECK(HeaderOf(bad, kRetryErrorHeader) == std::optional<std::string>("bad sku"));

  // Success: nothing sent.
  outcome = f.retry->Handle(SourceRecord(0, 4, "ok"), absl::OkStatus());
  REQUIRE_OK(outcome);
  CHECK(*outcome == RetryOutcome::kProcessed);
  CHECK(f.ReadAll("orders.dlq").size() == 2);
  // Records from elsewhere are refused.
  ConsumerRecord stranger = SourceRecord(0, 0, "x");
  stranger.topic = "payments";
  CHECK_STATUS_IS(f.retry->Handle(stranger, absl::UnavailableError("x")),
                  absl::StatusCode::kInvalidArgument, "payments");
}

TEST_CASE("max_attempts 1 dead-letters at the first failure; a predicate widens what is "
          "retried",
          "[retry-topics]") {
  Fixture f;
  f.MakeRetryTopics({.max_attempts = 1});
  auto o = f.retry->Handle(SourceRecord(0, 0, "a"), absl::UnavailableError("down"));
  REQUIRE_OK(o);
  CHECK(*o == RetryOutcome::kDeadLettered);
  auto dlq = f.ReadAll("orders.dlq");
  REQUIRE(dlq.size() == 1);
  CHECK(HeaderOf(dlq[0], kDlqReasonHeader) == std::optional<std::string>("attempts exhausted"));

  auto created = RetryTopics::Create(
      *f.broker, kTopic, {.retriable = [](const absl::Status& s) {
        return s.code() == absl::StatusCode::kInvalidArgument;
      }});
  REQUIRE_OK(created);
  o = (*created)->Handle(SourceRecord(0, 1, "b"), absl::InvalidArgumentError("try later"));
  REQUIRE_OK(o);
  CHECK(*o == RetryOutcome::kRetried);
  o = (*created)->Handle(SourceRecord(0, 2, "c"), absl::UnavailableError("down"));
  REQUIRE_OK(o);
  CHECK(*o == RetryOutcome::kDeadLettered);
}

TEST_CASE("A tier delivers no record before it is due, and a partition waiting for its "
          "head does not hold up another whose records are due",
          "[retry-topics]") {
  Fixture f;
  auto clock = std::make_shared<ManualClock>(0);
  f.MakeRetryTopics({.delays = {1s, 10s}, .clock = clock});
  // Republished at different times: tier 1s partition 1 gets Y (due 1000) and Z (due
  // 1200); partition 0 gets X (due 1600), so the heads come due in a different order
  // from the partitions' numbers, and later than records of the other partition.
  clock->Set(0);
  REQUIRE_OK(f.retry->Handle(SourceRecord(1, 0, "Y"), absl::UnavailableError("y")));
  clock->Set(200);
  REQUIRE_OK(f.retry->Handle(SourceRecord(1, 1, "Z"), absl::UnavailableError("z")));
  clock->Set(600);
  REQUIRE_OK(f.retry->Handle(SourceRecord(0, 0, "X"), absl::UnavailableError("x")));
  // Tier 10s partition 0: W, due 10500.
  clock->Set(500);
  ConsumerRecord w = SourceRecord(0, 1, "W");
  REQUIRE_OK(f.retry->Handle(w, absl::UnavailableError("w")));  // to 1s, due 1500
  f.MakeConsumer(f.retry->topics());

  std::map<int64_t, std::vector<std::string>> delivered;  // by the time of delivery
  for (int64_t t : {0, 999, 1000, 1300, 1599, 1600, 5000}) {
    clock->Set(t);
    for (const Delivery& d : Drain(f, *clock)) {
      delivered[t].push_back(d.value);
      // Send W on to the 10s tier when it comes from the 1s tier.
      if (d.value == "W" && d.topic == "orders.retry.1s") {
        ConsumerRecord again = SourceRecord(0, 1, "W");
        again.topic = "orders.retry.1s";
        const std::array<Header, 1> h{Header{kRetryAttemptHeader, "1"}};
        again.headers = h;
        REQUIRE_OK(f.retry->Handle(again, absl::UnavailableError("w2")));  // due t + 10000
      }
    }
  }
  CHECK(delivered[0].empty());
  CHECK(delivered[999].empty());
  CHECK(delivered[1000] == std::vector<std::string>{"Y"});
  CHECK(delivered[1300] == std::vector<std::string>{"Z"});
  CHECK(delivered[1599].empty());
  // X (partition 0, due 1600) and W behind it (due 1500, held by the FIFO head).
  std::vector<std::string> at1600 = delivered[1600];
  std::sort(at1600.begin(), at1600.end());
  CHECK(at1600 == std::vector<std::string>{"W", "X"});
  CHECK(delivered[5000].empty());  // W waits in the 10s tier until 11600
  clock->Set(11'599);
  CHECK(Drain(f, *clock).empty());
  clock->Set(11'600);
  std::vector<Delivery> last = Drain(f, *clock);
  REQUIRE(last.size() == 1);
  CHECK(last[0].value == "W");
  CHECK(last[0].topic == "orders.retry.10s");
}

TEST_CASE("Every record is eventually processed through the tiers, none early, none twice",
          "[retry-topics]") {
  Fixture f;
  auto clock = std::make_shared<ManualClock>(0);
  f.MakeRetryTopics({.delays = {1s, 10s, 1min}, .max_attempts = 5, .clock = clock});
  constexpr int kRecords = 24;
  for (int i = 0; i < kRecords; ++i) {
    const std::string v = std::to_string(i);
    REQUIRE_OK(f.producer->SendSync({.topic = kTopic, .partition = i % 2, .value = v}));
  }
  f.MakeConsumer(f.retry->topics());
  // Record i fails its first i % 5 deliveries (Unavailable), then succeeds.
  std::map<int, int> deliveries, successes;
  auto handler = [&](const ConsumerRecord& r) {
    const int id = std::stoi(std::string(*r.value));
    return ++deliveries[id] <= id % 5 ? absl::UnavailableError("not yet") : absl::OkStatus();
  };
  int64_t now = 0;
  for (int round = 0; round < 200 && static_cast<int>(successes.size()) < kRecords; ++round) {
    clock->Set(now);
    auto due = f.retry->PollDue(*f.consumer, 10ms);
    REQUIRE_OK(due);
    for (const ConsumerRecord& r : *due) {
      CHECK(f.retry->NotBefore(r).value_or(0) <= now);
      auto outcome = f.retry->Process(r, handler);
      REQUIRE_OK(outcome);
      CHECK(*outcome != RetryOutcome::kDeadLettered);
      if (*outcome == RetryOutcome::kProcessed) ++successes[std::stoi(std::string(*r.value))];
    }
    now += 700;  // not a divisor of any delay: records come due between polls
  }
  REQUIRE(static_cast<int>(successes.size()) == kRecords);
  for (int i = 0; i < kRecords; ++i) {
    INFO("record " << i);
    CHECK(successes[i] == 1);
    CHECK(deliveries[i] == i % 5 + 1);
  }
  CHECK(f.ReadAll("orders.dlq").empty());
}

TEST_CASE("End to end with real 50 ms and 200 ms tiers: nothing before its time, every "
          "record in the end",
          "[retry-topics]") {
  Fixture f;
  f.MakeRetryTopics({.delays = {50ms, 200ms}, .max_attempts = 4});
  constexpr int kRecords = 16;
  for (int i = 0; i < kRecords; ++i) {
    const std::string v = std::to_string(i);
    REQUIRE_OK(f.producer->SendSync({.topic = kTopic, .partition = i % 2, .value = v}));
  }
  f.MakeConsumer(f.retry->topics());
  std::shared_ptr<RetryClock> clock = RetryClock::Real();
  std::map<int, int> deliveries;
  std::set<int> done;
  int64_t early = 0;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (static_cast<int>(done.size()) < kRecords && std::chrono::steady_clock::now() < deadline) {
    auto due = f.retry->PollDue(*f.consumer, 100ms);
    REQUIRE_OK(due);
    for (const ConsumerRecord& r : *due) {
      const int64_t now = clock->NowMillis();
      if (f.retry->NotBefore(r).value_or(0) > now) ++early;
      const int id = std::stoi(std::string(*r.value));
      auto outcome = f.retry->Process(r, [&](const ConsumerRecord&) {
        return ++deliveries[id] <= id % 4 ? absl::UnavailableError("later") : absl::OkStatus();
      });
      REQUIRE_OK(outcome);
      if (*outcome == RetryOutcome::kProcessed) done.insert(id);
    }
  }
  CHECK(early == 0);
  CHECK(static_cast<int>(done.size()) == kRecords);
  for (int i = 0; i < kRecords; ++i) CHECK(deliveries[i] == i % 4 + 1);
  CHECK(f.ReadAll("orders.dlq").empty());
}

TEST_CASE("Redrive copies dead letters back without the retry headers, resumes where it "
          "stopped, and never sends one twice",
          "[retry-topics][redrive]") {
  Fixture f;
  f.MakeRetryTopics({});
  const std::array<Header, 1> user{Header{"trace", "abc"}};
  for (int i = 0; i < 5; ++i) {
    const std::string value = "dead-" + std::to_string(i);
    ConsumerRecord r = SourceRecord(i % 2, i, value);
    r.headers = user;
    auto o = f.retry->Handle(r, absl::InvalidArgumentError("bad"));
    REQUIRE_OK(o);
    REQUIRE(*o == RetryOutcome::kDeadLettered);
  }
  auto first = Redrive(*f.broker, "orders.dlq", {.max_records = 2});
  REQUIRE_OK(first);
  CHECK(first->redriven == 2);
  auto second = Redrive(*f.broker, "orders.dlq");
  REQUIRE_OK(second);
  CHECK(second->redriven == 3);
  auto third = Redrive(*f.broker, "orders.dlq");
  REQUIRE_OK(third);
  CHECK(third->redriven == 0);

  std::vector<ReadRecord> back = f.ReadAll(kTopic);
  REQUIRE(back.size() == 5);
  std::set<std::string> values;
  for (const ReadRecord& r : back) {
    INFO(r.value.value_or(""));
    values.insert(*r.value);
    CHECK(r.key == r.value);
    REQUIRE(r.headers.size() == 1);  // only the application's header is left
    CHECK(r.headers[0] == ReadHeader{"trace", "abc"});
  }
  CHECK(values.size() == 5);  // none twice
  // Each went back to its original partition.
  for (int p = 0; p < 2; ++p) {
    auto read = testing::ReadTopicPartition(*f.broker, kTopic, p);
    REQUIRE_OK(read);
    for (const ReadRecord& r : *read) {
      CHECK((std::stoi(r.value->substr(5)) % 2) == p);
    }
  }
  // A new dead letter is the only one the next redrive sends.
  REQUIRE_OK(f.retry->Handle(SourceRecord(0, 9, "late"), absl::NotFoundError("gone")));
  auto fourth = Redrive(*f.broker, "orders.dlq");
  REQUIRE_OK(fourth);
  CHECK(fourth->redriven == 1);
  CHECK(f.ReadAll(kTopic).size() == 6);
}

TEST_CASE("Redrive: a filter skips records for good; a record without its origin needs a "
          "target",
          "[retry-topics][redrive]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("manual.dlq", 1, SmallConfig()));
  for (const char* v : {"keep-1", "drop-2", "keep-3"}) {
    REQUIRE_OK(f.producer->SendSync({.topic = "manual.dlq", .value = v}));
  }
  CHECK_STATUS_IS(Redrive(*f.broker, "manual.dlq"), absl::StatusCode::kInvalidArgument,
                  "manual.dlq-0@0", "runnel.retry.original-topic");
  auto done = Redrive(*f.broker, "manual.dlq",
                      {.target_topic = "orders", .filter = [](const ConsumerRecord& r) {
                         return r.value->starts_with("keep");
                       }});
  REQUIRE_OK(done);
  CHECK(done->redriven == 2);
  CHECK(done->skipped == 1);
  CHECK(f.ReadAll(kTopic).size() == 2);
  auto again = Redrive(*f.broker, "manual.dlq", {.target_topic = "orders"});
  REQUIRE_OK(again);
  CHECK(again->redriven == 0);
  CHECK(again->skipped == 0);
  CHECK_STATUS_IS(Redrive(*f.broker, "nope.dlq"), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace runnel
