// Producer retries (runnel/producer.h "Retries"): a broker on a FaultEnv whose writes to a
// partition's log fail with ENOSPC (ResourceExhausted, the partition left writable), once
// or until cleared. A failed append is tried again after a backoff, before the later
// batches of its partition and never twice once appended; one that keeps failing fails
// with its last error after `retries`, or with DeadlineExceeded after delivery.timeout.ms.
//
// Assertions are about outcomes (offsets, contents, statuses), never about time. Catch2
// is not thread-safe: callbacks only record, the test thread checks.
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/broker_core.h"
#include "client/producer_testing.h"
#include "runnel/broker.h"
#include "runnel/producer.h"
#include "runnel/status.h"
#include "storage/file_names.h"
#include "support/fault_env.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel {
namespace {

using internal::BrokerCore;
using testing::CallbackLog;
using testing::FaultEnv;
using testing::FaultOp;
using testing::ReadRecord;
using testing::TempDir;

constexpr std::string_view kTopic = "full";
constexpr auto kWait = std::chrono::seconds(60);

// A broker on a FaultEnv with one topic of `partitions` partitions.
struct FaultyBroker {
  explicit FaultyBroker(int32_t partitions = 1, SyncPolicy sync = SyncPolicy::kNone) {
    dir = tmp.Sub("data");
    auto core = BrokerCore::Open(&env, dir, BrokerOptions{});
    REQUIRE_OK(core);
    broker = internal::WrapBrokerCore(std::move(*core));
    TopicConfig c;
    c.sync_policy = sync;
    c.segment_index_bytes = 4096;  // FaultEnv keeps the indexes' mapping snapshots in memory
    REQUIRE_OK(broker->CreateTopic(kTopic, partitions, c));
  }
  ~FaultyBroker() {
    producer.reset();
    broker.reset();
  }
  void MakeProducer(ProducerOptions o) {
    o.batch_size = 1;  // a batch per record
    o.linger_ms = 0;
    auto created = Producer::Create(*broker, o);
    REQUIRE_OK(created);
    producer = std::move(*created);
  }
  storage::PartitionLog& Log(int32_t p) { return testing::PartitionOf(*broker, kTopic, p)->log(); }
  std::string LogFile(int32_t p) { return storage::LogFileName(Log(p).dir(), 0); }
  std::vector<ReadRecord> Read(int32_t p) {
    auto read = testing::ReadTopicPartition(*broker, kTopic, p);
    REQUIRE_OK(read);
    return *read;
  }

  TempDir tmp;
  FaultEnv env;
  std::string dir;
  std::unique_ptr<Broker> broker;
  std::unique_ptr<Producer> producer;
};

std::string Key(int id) { return "key-" + std::to_string(id); }

// Quick retries, so that the tests finish fast; nothing asserts how fast.
ProducerOptions Quick() {
  ProducerOptions o;
  o.retry_backoff_ms = 1;
  o.retry_backoff_max_ms = 5;
  return o;
}

// Holds the sender inside a callback, so that records sent meanwhile reach the log
// together as several batches in one append (one write). Declare after the producer.
class SenderGate {
 public:
  SendCallback Wrap(SendCallback inner) {
    return [this, inner = std::move(inner)](const absl::StatusOr<RecordMetadata>& md) {
      entered_.set_value();
      released_.wait();
      inner(md);
    };
  }
  bool WaitEntered() { return entered_future_.wait_for(kWait) == std::future_status::ready; }
  void Release() {
    if (!released_flag_) release_.set_value();
    released_flag_ = true;
  }
  ~SenderGate() { Release(); }

 private:
  std::promise<void> entered_;
  std::future<void> entered_future_ = entered_.get_future();
  std::promise<void> release_;
  std::shared_future<void> released_ = release_.get_future().share();
  bool released_flag_ = false;
};

TEST_CASE("A write that fails once with ENOSPC is retried: every record is acknowledged "
          "once, at contiguous offsets in send order",
          "[producer][retry]") {
  FaultyBroker b;
  const bool retry = GENERATE(true, false);
  INFO("retries " << (retry ? "default" : "0"));
  ProducerOptions o = Quick();
  if (!retry) o.retries = 0;
  b.MakeProducer(o);
  CallbackLog log;
  constexpr int kRecords = 10;
  // The third write to the log fails (the first two records are written). Each record is
  // sent once the one before is acknowledged: one append, one write each.
  b.env.FailNth(FaultOp::kWrite, 3, FaultEnv::NoSpace(b.LogFile(0)), /*persistent=*/false,
                b.LogFile(0));
  for (int id = 0; id < kRecords; ++id) {
    const std::string key = Key(id);
    REQUIRE_OK(b.producer->Send({.topic = kTopic, .partition = 0, .key = key, .value = key},
                                log.Make(id)));
    REQUIRE_OK(b.producer->Flush());
  }
  REQUIRE(log.WaitFor(kRecords, kWait));

  std::vector<int> acked;
  std::map<int64_t, int> by_offset;
  int failed = 0;
  for (const auto& [id, results] : log.results()) {
    INFO("id " << id);
    REQUIRE(results.size() == 1);  // every callback fires exactly once
    if (results.front().ok()) {
      by_offset[results.front()->offset] = static_cast<int>(id);
    } else {
      ++failed;
      CHECK(results.front().status().code() == absl::StatusCode::kResourceExhausted);
    }
  }
  CHECK(failed == (retry ? 0 : 1));  // the fault fired; only a retry recovers from it
  const std::vector<ReadRecord> read = b.Read(0);
  REQUIRE(read.size() == by_offset.size());
  int64_t expected = 0;
  int previous = -1;
  for (const auto& [offset, id] : by_offset) {
    CHECK(offset == expected);
    CHECK(id > previous);  // send order
    CHECK(read[static_cast<size_t>(offset)].key == std::optional<std::string>(Key(id)));
    previous = id;
    ++expected;
  }
}

TEST_CASE("A failed append of several batches is retried whole and in order, before the "
          "batches sent after it",
          "[producer][retry]") {
  FaultyBroker b;
  b.MakeProducer(Quick());
  CallbackLog log;
  SenderGate gate;
  REQUIRE_OK(b.producer->Send({.topic = kTopic, .partition = 0, .value = Key(0)},
                              gate.Wrap(log.Make(0))));
  REQUIRE(gate.WaitEntered());
  for (int id = 1; id <= 6; ++id) {
    const std::string key = Key(id);
    REQUIRE_OK(b.producer->Send({.topic = kTopic, .partition = 0, .key = key}, log.Make(id)));
  }
  // The next write, the six batches in one vectored write, fails.
  b.env.FailNth(FaultOp::kWrite, 1, FaultEnv::NoSpace(b.LogFile(0)), false, b.LogFile(0));
  gate.Release();
  // Sent while the six wait for their retry: they must land after them.
  for (int id = 7; id <= 9; ++id) {
    const std::string key = Key(id);
    REQUIRE_OK(b.producer->Send({.topic = kTopic, .partition = 0, .key = key}, log.Make(id)));
  }
  REQUIRE_OK(b.producer->Flush());
  REQUIRE(log.WaitFor(10, kWait));
  for (const auto& [id, results] : log.results()) {
    INFO("id " << id);
    REQUIRE(results.size() == 1);
    REQUIRE_OK(results.front());
    CHECK(results.front()->offset == id);
  }
  const std::vector<ReadRecord> read = b.Read(0);
  REQUIRE(read.size() == 10);
  for (int id = 1; id <= 9; ++id) {
    CHECK(read[static_cast<size_t>(id)].key == std::optional<std::string>(Key(id)));
  }
}

TEST_CASE("A disk that stays full fails the send after `retries` with its last error; the "
          "partition then takes the next record at the next offset",
          "[producer][retry]") {
  FaultyBroker b;
  ProducerOptions o = Quick();
  o.retries = 3;
  b.MakeProducer(o);
  REQUIRE_OK(b.producer->SendSync({.topic = kTopic, .partition = 0, .value = "first"}));
  const int64_t writes_before = b.env.count(FaultOp::kWrite);
  b.env.FailNth(FaultOp::kWrite, 1, FaultEnv::NoSpace(b.LogFile(0)), /*persistent=*/true,
                b.LogFile(0));
  absl::StatusOr<RecordMetadata> failed =
      b.producer->SendSync({.topic = kTopic, .partition = 0, .value = "lost"});
  CHECK_STATUS_IS(failed, absl::StatusCode::kResourceExhausted, "full-0",
                  "No space left on device", "gave up after 4 attempts", "retries = 3");
  CHECK(b.env.count(FaultOp::kWrite) - writes_before == 4);  // 1 + 3 retries
  CHECK(b.Log(0).log_end_offset() == 1);

  b.env.ClearFaults();
  absl::StatusOr<RecordMetadata> next =
      b.producer->SendSync({.topic = kTopic, .partition = 0, .value = "next"});
  REQUIRE_OK(next);
  CHECK(next->offset == 1);
  const std::vector<ReadRecord> read = b.Read(0);
  REQUIRE(read.size() == 2);
  CHECK(read[1].value == std::optional<std::string>("next"));
}

TEST_CASE("A disk that stays full fails the send with DeadlineExceeded once "
          "delivery.timeout.ms has passed, naming the partition and the attempts",
          "[producer][retry]") {
  FaultyBroker b;
  ProducerOptions o = Quick();
  o.delivery_timeout_ms = 50;
  b.MakeProducer(o);
  b.env.FailNth(FaultOp::kWrite, 1, FaultEnv::NoSpace(b.LogFile(0)), /*persistent=*/true,
                b.LogFile(0));
  absl::StatusOr<RecordMetadata> failed =
      b.producer->SendSync({.topic = kTopic, .partition = 0, .value = "lost"});
  CHECK_STATUS_IS(failed, absl::StatusCode::kDeadlineExceeded, "delivery.timeout.ms 50",
                  "partition full-0", "attempt", "No space left on device");
  CHECK(IsRetriable(failed.status()));
  CHECK(b.Log(0).log_end_offset() == 0);
  CHECK_OK(b.Log(0).health());
}

TEST_CASE("A partition waiting for a retry does not hold up the other partitions",
          "[producer][retry]") {
  FaultyBroker b(2);
  b.MakeProducer(Quick());
  CallbackLog log;
  // Partition 0's log is full until cleared; partition 1's is fine.
  b.env.FailNth(FaultOp::kWrite, 1, FaultEnv::NoSpace(b.LogFile(0)), /*persistent=*/true,
                b.LogFile(0));
  REQUIRE_OK(b.producer->Send({.topic = kTopic, .partition = 0, .value = "a"}, log.Make(0)));
  REQUIRE_OK(b.producer->Send({.topic = kTopic, .partition = 0, .value = "b"}, log.Make(1)));
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<RecordMetadata> other =
        b.producer->SendSync({.topic = kTopic, .partition = 1, .value = "other"});
    REQUIRE_OK(other);
    CHECK(other->offset == i);
  }
  CHECK(log.fired() == 0);  // still retrying: the disk is still full
  b.env.ClearFaults();
  REQUIRE_OK(b.producer->Flush());
  REQUIRE(log.fired() == 2);
  REQUIRE_OK(log.result(0));
  REQUIRE_OK(log.result(1));
  CHECK(log.result(0)->offset == 0);
  CHECK(log.result(1)->offset == 1);
}

// Under sync.policy always a full disk met by the fsync leaves the batch in the log and the
// partition read-only: a retry could only duplicate it or fail, so there is none.
TEST_CASE("A failure after the append (an fsync) is not retried: the batch is in the log "
          "once",
          "[producer][retry]") {
  FaultyBroker b(1, SyncPolicy::kAlways);
  b.MakeProducer(Quick());  // retries and delivery.timeout.ms at Kafka's defaults
  b.env.FailNth(FaultOp::kSync, 1, FaultEnv::NoSpace(b.LogFile(0), "fsync"),
                /*persistent=*/true);
  absl::StatusOr<RecordMetadata> failed =
      b.producer->SendSync({.topic = kTopic, .partition = 0, .value = "once"});
  REQUIRE_FALSE(failed.ok());
  CHECK(b.Log(0).log_end_offset() == 1);  // appended once, not again
  CHECK_FALSE(b.Log(0).health().ok());
}

TEST_CASE("Bad retry options are refused", "[producer][retry]") {
  FaultyBroker b;
  auto check = [&](ProducerOptions o, std::string name) {
    auto created = Producer::Create(*b.broker, o);
    CHECK_STATUS_IS(created, absl::StatusCode::kInvalidArgument, name);
  };
  check({.retries = -1}, "retries");
  check({.retry_backoff_ms = -1}, "retry.backoff.ms");
  check({.retry_backoff_max_ms = -1}, "retry.backoff.max.ms");
  check({.delivery_timeout_ms = -1}, "delivery.timeout.ms");
}

}  // namespace
}  // namespace runnel
