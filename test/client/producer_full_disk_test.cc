// A full disk under a producing broker (the issue "Bad input: ... a read-only or full
// directory — each a clear status, nothing written half-way").
//
// The broker runs on a FaultEnv whose writes fail the way write(2) does on a full disk:
// with ENOSPC, which the io layer maps to ResourceExhausted (lib/io/errno_status.cc,
// io/env.h), or after writing only part of the bytes (a torn write). The contract under
// test (storage/partition_log.h, runnel/status.h, runnel/producer.h):
//  - a send that finds the disk full fails with ResourceExhausted (retriable), naming the
//    partition; every callback fires exactly once;
//  - nothing of a failed append stays in the log: a torn write is cut off again;
//  - a full disk leaves the partition writable: once there is space, producing resumes on
//    the same partition at the next offset;
//  - after Close and a reopen on the real Env, the log holds exactly the acknowledged
//    records, in order, byte for byte, and nothing else.
// Every scenario runs under sync.policy none and always.
//
// Catch2 assertions are not thread-safe: callbacks (on the sender thread) only record what
// they saw; the test thread checks it. Every wait is bounded.
#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/broker_core.h"
#include "client/producer_testing.h"
#include "io/env.h"
#include "runnel/broker.h"
#include "runnel/producer.h"
#include "runnel/status.h"
#include "storage/checkpoint.h"
#include "storage/file_names.h"
#include "support/fault_env.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel {
namespace {

using Catch::Matchers::Contains;
using internal::BrokerCore;
using testing::CallbackLog;
using testing::FaultEnv;
using testing::FaultOp;
using testing::ReadRecord;
using testing::TempDir;

constexpr std::string_view kTopic = "full";
constexpr auto kWait = std::chrono::seconds(30);

TopicConfig Config(SyncPolicy sync) {
  TopicConfig c;
  c.sync_policy = sync;
  c.segment_index_bytes = 4096;  // FaultEnv keeps the indexes' mapping snapshots in memory
  return c;
}

std::string SyncName(SyncPolicy sync) { return sync == SyncPolicy::kAlways ? "always" : "none"; }

// Record `id` as sent: a key, a value with bytes a C string would stop at, a header and an
// explicit timestamp, so that reading back can compare every field.
struct Sent {
  std::string key;
  std::string value;
  std::string header_value;
  int64_t timestamp = 0;
};

Sent RecordFor(int id, size_t value_size = 24) {
  Sent s;
  s.key = "key-" + std::to_string(id);
  s.value = "value-" + std::to_string(id) + std::string(1, '\0') + "\xff";
  while (s.value.size() < value_size) s.value += static_cast<char>('a' + (s.value.size() % 26));
  s.header_value = "h" + std::to_string(id);
  s.timestamp = 1'700'000'000'000 + id;
  return s;
}

// Holds the producer's sender thread inside one callback until released, so that records
// sent meanwhile queue up as ready batches and then reach the log together, in one append
// (one vectored write). Declare it after the producer: it releases the sender when it goes,
// before the producer's destructor waits for that thread.
class SenderGate {
 public:
  SendCallback Wrap(SendCallback inner) {
    return [this, inner = std::move(inner)](const absl::StatusOr<RecordMetadata>& md) {
      entered_.set_value();
      released_.wait();
      inner(md);
    };
  }
  bool WaitEntered() {
    return entered_future_.wait_for(kWait) == std::future_status::ready;
  }
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

// What one run of the scenario saw. Ids index records; results[id] holds every result its
// callback (or its SendSync) reported, so that size() is how often it fired.
struct Observed {
  std::map<int, std::vector<absl::StatusOr<RecordMetadata>>> results;
  std::map<int, absl::Status> send_returned;  // Send's own return value, for Send ids

  // While the disk was full (ids kFullFirst..kFullLast):
  int64_t log_end_before_full = -1, log_end_while_full = -1;
  uint64_t log_bytes_before_full = 0, log_bytes_while_full = 0;
  uintmax_t file_bytes_before_full = 0, file_bytes_while_full = 0;
  int64_t writes_failed_while_full = 0;  // writes attempted while full (all failed)
  absl::Status health_while_full;
  std::string partition_dir;

  // The torn-write phase:
  int64_t log_end_before_torn = -1, log_end_after_torn = -1;
  uintmax_t file_bytes_after_torn_ok = 0, file_bytes_after_torn = 0;
  absl::Status health_after_torn;

  // Once space is back:
  absl::Status health_after_clear;
  std::vector<ReadRecord> live_read;  // read from the live broker after the last send
  absl::Status live_read_status;

  absl::Status producer_close, broker_close;
  // After reopening on the real Env:
  std::vector<ReadRecord> reopened_read;
  absl::Status reopened_read_status;
  storage::RecoveryReport recovery;
  uintmax_t reopened_file_bytes = 0;
  uint64_t reopened_log_bytes = 0;
};

// Record ids of each phase.
constexpr int kAckedFirst = 0, kAckedLast = 2;          // SendSync, disk fine
constexpr int kFullSync = 3;                            // SendSync, disk full
constexpr int kFullGate = 4;                            // Send holding the sender, full
constexpr int kFullFirst = 5, kFullLast = 12;           // Sends queued behind it, full
constexpr int kResumed = 13;                            // SendSync after space came back
constexpr int kTornGate = 14;                           // Send holding the sender, disk fine
constexpr int kTornFirst = 15, kTornLast = 20;          // queued; the 2nd write is torn
constexpr int kTornSingle = 21;                         // one large batch, torn half-way
constexpr int kLastFirst = 22, kLastLast = 25;          // SendSync, disk fine again

uintmax_t FileSize(const std::string& path) {
  std::error_code ec;
  const uintmax_t n = std::filesystem::file_size(path, ec);
  return ec ? 0 : n;
}

// Runs every phase against a broker on a FaultEnv, then reopens the directory with
// Broker::Open (the real Env) and reads it back.
Observed RunScenario(SyncPolicy sync) {
  Observed o;
  TempDir tmp;
  const std::string dir = tmp.Sub("data");
  std::string log_file;
  {
    FaultEnv env;
    auto core = BrokerCore::Open(&env, dir, BrokerOptions{});
    REQUIRE_OK(core);
    std::unique_ptr<Broker> broker = internal::WrapBrokerCore(std::move(*core));
    REQUIRE_OK(broker->CreateTopic(kTopic, 1, Config(sync)));
    storage::PartitionLog& log = testing::PartitionOf(*broker, kTopic, 0)->log();
    o.partition_dir = log.dir();
    log_file = storage::LogFileName(log.dir(), 0);

    // batch.size 1: every record is a batch of its own, so records queued behind a gate
    // reach the log as several batches in one vectored write. retries 0: this test is
    // about what one failed append leaves (producer_retry_test.cc covers the retries).
    auto created = Producer::Create(*broker, {.batch_size = 1, .linger_ms = 0, .retries = 0});
    REQUIRE_OK(created);
    std::unique_ptr<Producer> producer = std::move(*created);
    CallbackLog callbacks;
    int64_t callbacks_expected = 0;

    std::map<int, Sent> sent;
    auto send_sync = [&](int id, size_t value_size = 24) {
      sent[id] = RecordFor(id, value_size);
      const Sent& s = sent[id];
      const std::array<Header, 1> headers{Header{"h", s.header_value}};
      o.results[id].push_back(producer->SendSync({.topic = kTopic,
                                                  .partition = 0,
                                                  .key = s.key,
                                                  .value = s.value,
                                                  .headers = headers,
                                                  .timestamp = s.timestamp}));
    };
    auto send = [&](int id, SendCallback callback) {
      sent[id] = RecordFor(id);
      const Sent& s = sent[id];
      const std::array<Header, 1> headers{Header{"h", s.header_value}};
      ++callbacks_expected;
      o.send_returned[id] = producer->Send({.topic = kTopic,
                                            .partition = 0,
                                            .key = s.key,
                                            .value = s.value,
                                            .headers = headers,
                                            .timestamp = s.timestamp},
                                           std::move(callback));
    };

    // 1. Acknowledged records while there is space.
    for (int id = kAckedFirst; id <= kAckedLast; ++id) send_sync(id);

    // 2. The disk fills: every write fails with ENOSPC from now on.
    o.log_end_before_full = log.log_end_offset();
    o.log_bytes_before_full = log.size_in_bytes();
    o.file_bytes_before_full = FileSize(log_file);
    const int64_t writes_before_full = env.count(FaultOp::kWrite);
    env.FailNth(FaultOp::kWrite, 1, FaultEnv::NoSpace(log_file), /*persistent=*/true);
    send_sync(kFullSync);
    {
      SenderGate gate;
      send(kFullGate, gate.Wrap(callbacks.Make(kFullGate)));
      REQUIRE(gate.WaitEntered());
      for (int id = kFullFirst; id <= kFullLast; ++id) send(id, callbacks.Make(id));
      gate.Release();
      REQUIRE_OK(producer->Flush());
    }
    REQUIRE(callbacks.WaitFor(callbacks_expected, kWait));
    o.writes_failed_while_full = env.count(FaultOp::kWrite) - writes_before_full;
    o.log_end_while_full = log.log_end_offset();
    o.log_bytes_while_full = log.size_in_bytes();
    o.file_bytes_while_full = FileSize(log_file);
    o.health_while_full = log.health();

    // 3. Space comes back.
    env.ClearFaults();
    o.health_after_clear = log.health();
    send_sync(kResumed);

    // 4. Torn writes: the second write of a multi-batch append stops half-way, and then a
    //    single large batch is torn.
    {
      SenderGate gate;
      send(kTornGate, gate.Wrap(callbacks.Make(kTornGate)));
      REQUIRE(gate.WaitEntered());
      o.log_end_before_torn = log.log_end_offset();
      o.file_bytes_after_torn_ok = FileSize(log_file);  // kTornGate's batch is written
      for (int id = kTornFirst; id <= kTornLast; ++id) send(id, callbacks.Make(id));
      env.ShortWriteNth(2, FaultEnv::NoSpace(log_file));
      gate.Release();
      REQUIRE_OK(producer->Flush());
    }
    REQUIRE(callbacks.WaitFor(callbacks_expected, kWait));
    env.ClearFaults();
    env.ShortWriteNth(1, FaultEnv::NoSpace(log_file));
    send_sync(kTornSingle, 3000);
    env.ClearFaults();
    o.log_end_after_torn = log.log_end_offset();
    o.file_bytes_after_torn = FileSize(log_file);
    o.health_after_torn = log.health();

    // 5. Producing goes on.
    for (int id = kLastFirst; id <= kLastLast; ++id) send_sync(id);
    absl::StatusOr<std::vector<ReadRecord>> live =
        testing::ReadTopicPartition(*broker, kTopic, 0);
    o.live_read_status = live.status();
    if (live.ok()) o.live_read = *live;

    o.producer_close = producer->Close();
    REQUIRE(callbacks.fired() == callbacks_expected);
    for (const auto& [id, results] : callbacks.results()) {
      for (const auto& r : results) o.results[id].push_back(r);
    }
    producer.reset();
    o.broker_close = broker->Close();
    broker.reset();
  }

  // 6. Reopen on the real Env.
  {
    auto reopened = Broker::Open(dir);
    REQUIRE_OK(reopened);
    std::shared_ptr<internal::Partition> p = testing::PartitionOf(**reopened, kTopic, 0);
    REQUIRE(p != nullptr);
    o.recovery = p->log().recovery_report();
    o.reopened_log_bytes = p->log().size_in_bytes();
    absl::StatusOr<std::vector<ReadRecord>> read = testing::ReadPartition(p->log());
    o.reopened_read_status = read.status();
    if (read.ok()) o.reopened_read = *read;
    REQUIRE_OK((*reopened)->Close());
  }
  o.reopened_file_bytes = FileSize(log_file);
  return o;
}

bool Acked(const Observed& o, int id) {
  auto it = o.results.find(id);
  return it != o.results.end() && it->second.size() == 1 && it->second.front().ok();
}

// The acknowledged ids, in offset order.
std::vector<int> AckedIds(const Observed& o) {
  std::map<int64_t, int> by_offset;
  for (const auto& [id, results] : o.results) {
    if (results.size() == 1 && results.front().ok()) by_offset[results.front()->offset] = id;
  }
  std::vector<int> ids;
  for (const auto& [offset, id] : by_offset) ids.push_back(id);
  return ids;
}

// Checks that `read` is exactly the acknowledged records: offsets 0, 1, 2, ... in the
// order acknowledged, each with the key, value, header and timestamp it was sent with.
void CheckHoldsExactlyAcked(const Observed& o, const std::vector<ReadRecord>& read) {
  const std::vector<int> acked = AckedIds(o);
  REQUIRE(read.size() == acked.size());
  for (size_t i = 0; i < acked.size(); ++i) {
    const int id = acked[i];
    INFO("record " << i << " (id " << id << ")");
    const Sent s = RecordFor(id, id == kTornSingle ? 3000 : 24);
    const RecordMetadata& md = *o.results.at(id).front();
    CHECK(md.offset == static_cast<int64_t>(i));
    CHECK(read[i].offset == static_cast<int64_t>(i));
    CHECK(read[i].key == std::optional<std::string>(s.key));
    CHECK(read[i].value == std::optional<std::string>(s.value));
    CHECK(read[i].timestamp == s.timestamp);
    REQUIRE(read[i].headers.size() == 1);
    CHECK(read[i].headers[0].key == "h");
    CHECK(read[i].headers[0].value == std::optional<std::string>(s.header_value));
  }
}

// The status a full disk must give a send: ResourceExhausted, retriable, naming the
// partition and where it lives.
void CheckFullDiskStatus(const Observed& o, const absl::Status& status) {
  INFO(status.ToString());
  CHECK(status.code() == absl::StatusCode::kResourceExhausted);
  CHECK(IsRetriable(status));
  CHECK_THAT(std::string(status.message()), Contains(std::string(kTopic) + "-0"));
  CHECK_THAT(std::string(status.message()), Contains(o.partition_dir));
  CHECK_THAT(std::string(status.message()), Contains("No space left on device"));
}

SyncPolicy GenerateSync() {
  return GENERATE(SyncPolicy::kNone, SyncPolicy::kAlways);
}

// ---------------------------------------------------------------------------------------

TEST_CASE("Full disk: every send fails with ResourceExhausted naming the partition, each "
          "callback exactly once",
          "[producer][full-disk]") {
  const SyncPolicy sync = GenerateSync();
  INFO("sync.policy " << SyncName(sync));
  const Observed o = RunScenario(sync);

  for (int id = kAckedFirst; id <= kAckedLast; ++id) CHECK(Acked(o, id));
  for (int id = kFullSync; id <= kFullLast; ++id) {
    INFO("id " << id);
    REQUIRE(o.results.count(id) == 1);
    REQUIRE(o.results.at(id).size() == 1);  // fired exactly once
    const absl::StatusOr<RecordMetadata>& r = o.results.at(id).front();
    REQUIRE_FALSE(r.ok());
    CheckFullDiskStatus(o, r.status());
  }
  // A full disk is found by the sender, not at Send: the records were queued.
  for (int id = kFullGate; id <= kFullLast; ++id) CHECK_OK(o.send_returned.at(id));
  CHECK_OK(o.producer_close);
}

TEST_CASE("Full disk: nothing of a failed send reaches the log and the partition stays "
          "writable",
          "[producer][full-disk]") {
  const SyncPolicy sync = GenerateSync();
  INFO("sync.policy " << SyncName(sync));
  const Observed o = RunScenario(sync);

  CHECK(o.writes_failed_while_full >= 2);  // the fault was hit: the disk really was full
  CHECK(o.log_end_while_full == o.log_end_before_full);
  CHECK(o.log_end_before_full == kAckedLast - kAckedFirst + 1);
  CHECK(o.log_bytes_while_full == o.log_bytes_before_full);
  CHECK(o.file_bytes_while_full == o.file_bytes_before_full);
  CHECK(o.file_bytes_before_full == o.log_bytes_before_full);
  CHECK_OK(o.health_while_full);
  CHECK_OK(o.health_after_clear);
}

TEST_CASE("Torn write: the records of a write cut short are failed, never acknowledged, and "
          "their bytes are cut off",
          "[producer][full-disk]") {
  const SyncPolicy sync = GenerateSync();
  INFO("sync.policy " << SyncName(sync));
  const Observed o = RunScenario(sync);

  REQUIRE(Acked(o, kTornGate));
  CHECK(o.log_end_before_torn == o.results.at(kTornGate).front()->offset + 1);
  // The batches of one append go in one write; its second part is torn, so that append
  // fails as a whole: the first part, written whole, is cut off with the torn one.
  for (int id = kTornFirst; id <= kTornLast; ++id) {
    INFO("id " << id);
    REQUIRE(o.results.at(id).size() == 1);
    REQUIRE_FALSE(o.results.at(id).front().ok());
    CheckFullDiskStatus(o, o.results.at(id).front().status());
  }
  // A single batch torn half-way.
  REQUIRE(o.results.at(kTornSingle).size() == 1);
  REQUIRE_FALSE(o.results.at(kTornSingle).front().ok());
  CheckFullDiskStatus(o, o.results.at(kTornSingle).front().status());

  CHECK(o.log_end_after_torn == o.log_end_before_torn);
  CHECK(o.file_bytes_after_torn == o.file_bytes_after_torn_ok);
  CHECK_OK(o.health_after_torn);
}

TEST_CASE("Once space is freed, producing resumes on the same partition at the next offset, "
          "readable at once",
          "[producer][full-disk]") {
  const SyncPolicy sync = GenerateSync();
  INFO("sync.policy " << SyncName(sync));
  const Observed o = RunScenario(sync);

  REQUIRE(Acked(o, kResumed));
  CHECK(o.results.at(kResumed).front()->partition == 0);
  CHECK(o.results.at(kResumed).front()->offset == kAckedLast + 1);
  for (int id = kLastFirst; id <= kLastLast; ++id) {
    INFO("id " << id);
    REQUIRE(Acked(o, id));
    CHECK(o.results.at(id).front()->offset == o.log_end_before_torn + (id - kLastFirst));
  }
  // Acknowledged offsets are 0..n-1 with no gap where the failed sends were.
  const std::vector<int> acked = AckedIds(o);
  CHECK(acked.size() == static_cast<size_t>((kAckedLast - kAckedFirst + 1) + 2 +
                                            (kLastLast - kLastFirst + 1)));
  REQUIRE_OK(o.live_read_status);
  CheckHoldsExactlyAcked(o, o.live_read);
}

TEST_CASE("After a full disk and a reopen the log holds exactly the acknowledged records, in "
          "order, byte for byte",
          "[producer][full-disk]") {
  const SyncPolicy sync = GenerateSync();
  INFO("sync.policy " << SyncName(sync));
  const Observed o = RunScenario(sync);

  CHECK_OK(o.broker_close);
  INFO(o.recovery.ToString());
  CHECK(o.recovery.clean_shutdown);
  CHECK(o.recovery.problems.empty());
  CHECK(o.recovery.bytes_truncated == 0);
  REQUIRE_OK(o.reopened_read_status);  // every batch's CRC checked on the way
  CheckHoldsExactlyAcked(o, o.reopened_read);
  // No partial batch left behind: the file is the acknowledged batches and nothing more.
  CHECK(o.reopened_file_bytes == o.reopened_log_bytes);
}

// ---------------------------------------------------------------------------------------
// Where the disk fills outside the write of the records themselves: at a roll, and at the
// recovery checkpoint.

// A broker on a FaultEnv with one topic and a producer that sends one record per batch.
struct SmallBroker {
  explicit SmallBroker(const TopicConfig& config) {
    dir = tmp.Sub("data");
    auto core = BrokerCore::Open(&env, dir, BrokerOptions{});
    REQUIRE_OK(core);
    broker = internal::WrapBrokerCore(std::move(*core));
    REQUIRE_OK(broker->CreateTopic(kTopic, 1, config));
    partition_dir = testing::PartitionOf(*broker, kTopic, 0)->log().dir();
    auto created = Producer::Create(*broker, {.batch_size = 1, .linger_ms = 0, .retries = 0});
    REQUIRE_OK(created);
    producer = std::move(*created);
  }
  ~SmallBroker() {
    producer.reset();
    broker.reset();
  }

  absl::StatusOr<RecordMetadata> Send(int id, size_t value_size) {
    sizes[id] = value_size;
    const Sent s = RecordFor(id, value_size);
    auto result = producer->SendSync(
        {.topic = kTopic, .partition = 0, .key = s.key, .value = s.value, .timestamp = s.timestamp});
    if (result.ok()) acked.push_back(id);
    return result;
  }

  // Closes everything, reopens the directory on the real Env and reads the partition.
  std::vector<ReadRecord> CloseAndReopen(storage::RecoveryReport* report) {
    REQUIRE_OK(producer->Close());
    producer.reset();
    REQUIRE_OK(broker->Close());
    broker.reset();
    auto reopened = Broker::Open(dir);
    REQUIRE_OK(reopened);
    std::shared_ptr<internal::Partition> p = testing::PartitionOf(**reopened, kTopic, 0);
    REQUIRE(p != nullptr);
    *report = p->log().recovery_report();
    auto read = testing::ReadPartition(p->log());
    REQUIRE_OK(read);
    REQUIRE_OK((*reopened)->Close());
    return *read;
  }

  TempDir tmp;
  FaultEnv env;
  std::string dir, partition_dir;
  std::unique_ptr<Broker> broker;
  std::unique_ptr<Producer> producer;
  std::vector<int> acked;         // ids acknowledged, in order
  std::map<int, size_t> sizes;    // value size of each id
};

// A roll that fails for lack of space (fallocate of the new segment's index) must leave
// no empty segment files behind: once records are appended to the old segment past that
// orphan's base offset, the next Open would find it "inside the previous segment" and set
// it and every later segment aside, losing acknowledged records (fixed in Segment::Create).
TEST_CASE("A roll that finds the disk full fails the send, and every record acknowledged "
          "afterwards survives a reopen",
          "[producer][full-disk]") {
  const SyncPolicy sync = GenerateSync();
  INFO("sync.policy " << SyncName(sync));
  TopicConfig config = Config(sync);
  config.segment_bytes = 300;  // a 100-byte record fills a segment; three 20-byte ones fit
  SmallBroker b(config);
  REQUIRE_OK(b.Send(0, 100));  // segment 0
  REQUIRE_OK(b.Send(1, 100));  // segment 1
  const int64_t segments = static_cast<int64_t>(testing::PartitionOf(*b.broker, kTopic, 0)
                                                    ->log().segment_count());

  // The disk fills: the next segment's index cannot be preallocated.
  b.env.FailNth(FaultOp::kTruncate, 1,
                FaultEnv::NoSpace(storage::IndexFileName(b.partition_dir, 2), "fallocate"),
                /*persistent=*/true, std::string(storage::kIndexSuffix));
  const absl::StatusOr<RecordMetadata> failed = b.Send(2, 100);
  REQUIRE_FALSE(failed.ok());
  INFO(failed.status().ToString());
  CHECK(failed.status().code() == absl::StatusCode::kResourceExhausted);
  CHECK(IsRetriable(failed.status()));
  CHECK(static_cast<int64_t>(
            testing::PartitionOf(*b.broker, kTopic, 0)->log().segment_count()) == segments);

  // Space comes back: the next record fits segment 1 (offset 2), later ones roll on.
  b.env.ClearFaults();
  for (int id = 3; id <= 6; ++id) {
    auto md = b.Send(id, 20);
    REQUIRE_OK(md);
    CHECK(md->offset == static_cast<int64_t>(b.acked.size()) - 1);
  }

  storage::RecoveryReport report;
  const std::vector<ReadRecord> read = b.CloseAndReopen(&report);
  INFO(report.ToString());
  CHECK(report.problems.empty());
  CHECK(report.set_aside.empty());
  REQUIRE(read.size() == b.acked.size());
  for (size_t i = 0; i < read.size(); ++i) {
    const Sent s = RecordFor(b.acked[i], b.sizes[b.acked[i]]);
    CHECK(read[i].offset == static_cast<int64_t>(i));
    CHECK(read[i].key == std::optional<std::string>(s.key));
    CHECK(read[i].value == std::optional<std::string>(s.value));
  }
}

// Under sync.policy always, a full disk met after the records were written:
//  - by the fsync (ENOSPC from fdatasync, as delayed allocation and NFS give), which makes
//    the partition read-only, so the send fails with Internal (not retriable: every retry
//    would fail until the broker is reopened) and nothing of it is visible;
//  - by the recovery checkpoint that a flush writes after a roll: the records are durable
//    already and the old checkpoint only makes recovery scan more, so the send succeeds and
//    a later flush writes the checkpoint. (Failing it, as runnel once did, failed a send
//    whose record was stored, and a retry stored it twice.)
TEST_CASE("Under sync.policy always a full disk at the fsync fails the send for good; at "
          "the recovery checkpoint it does not fail it",
          "[producer][full-disk]") {
  TopicConfig config = Config(SyncPolicy::kAlways);
  config.segment_bytes = 300;
  SmallBroker b(config);
  REQUIRE_OK(b.Send(0, 100));
  const int64_t visible_before =
      testing::PartitionOf(*b.broker, kTopic, 0)->log().visible_offset();
  SECTION("fsync") {
    b.env.FailNth(FaultOp::kSync, 1,
                  FaultEnv::NoSpace(storage::LogFileName(b.partition_dir, 0), "fsync"),
                  /*persistent=*/true);
    const absl::StatusOr<RecordMetadata> failed = b.Send(10, 20);  // fits segment 0
    CHECK_STATUS_IS(failed, absl::StatusCode::kInternal, "read-only");
    CHECK_FALSE(IsRetriable(failed.status()));
    CHECK(testing::PartitionOf(*b.broker, kTopic, 0)->log().visible_offset() == visible_before);
    b.env.ClearFaults();
    CHECK_FALSE(b.Send(11, 20).ok());
  }
  SECTION("checkpoint") {
    const std::string checkpoint =
        io::JoinPath(b.partition_dir, std::string(storage::kCheckpointFileName));
    b.env.FailNth(FaultOp::kWrite, 1, FaultEnv::NoSpace(checkpoint + ".tmp"),
                  /*persistent=*/true, std::string(storage::kCheckpointFileName));
    // Rolls to segment 1; the flush then finds no space for the checkpoint.
    const absl::StatusOr<RecordMetadata> sent = b.Send(10, 100);
    REQUIRE_OK(sent);
    CHECK(testing::PartitionOf(*b.broker, kTopic, 0)->log().visible_offset() ==
          sent->offset + 1);
    auto before = storage::ReadCheckpoint(io::PosixEnv(), b.partition_dir);
    const int64_t point_before = before.ok() ? before->recovery_point : 0;
    CHECK(point_before <= sent->offset);  // not written
    b.env.ClearFaults();
    const absl::StatusOr<RecordMetadata> next = b.Send(11, 100);  // rolls again
    REQUIRE_OK(next);
    auto after = storage::ReadCheckpoint(io::PosixEnv(), b.partition_dir);
    REQUIRE_OK(after);
    CHECK(after->recovery_point > sent->offset);  // this flush wrote it
  }
}

}  // namespace
}  // namespace runnel
