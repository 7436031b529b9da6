// runnel::Producer against a real Broker on a temp dir: where records land, what the log
// holds afterwards, what callbacks report, acks and sync.policy, Flush and Close, every
// documented error, back-pressure, and topics changing underneath the producer.
//
// Catch2 assertions are not thread-safe: callbacks (which run on the sender thread) only
// record what they saw; the test thread checks it. Every wait is bounded, so a lost
// callback fails a test instead of hanging it.
//
// The tests at the end are regression tests for bugs these tests found; each comment says
// what was wrong.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <limits>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/producer_testing.h"
#include "runnel/broker.h"
#include "runnel/partitioner.h"
#include "runnel/producer.h"
#include "runnel/status.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel {
namespace {

using Catch::Matchers::Contains;
using testing::CallbackLog;
using testing::PartitionOf;
using testing::ReadHeader;
using testing::ReadRecord;
using testing::ReadTopicPartition;
using testing::TempDir;
using testing::WallMillis;

// A broker on a fresh temp dir.
struct Fixture {
  explicit Fixture(const BrokerOptions& options = {}) {
    auto opened = Broker::Open(tmp.Sub("data"), options);
    REQUIRE_OK(opened);
    broker = std::move(*opened);
  }

  std::unique_ptr<Producer> MakeProducer(const ProducerOptions& options = {}) {
    auto created = Producer::Create(*broker, options);
    REQUIRE_OK(created);
    return std::move(*created);
  }

  std::vector<ReadRecord> Read(std::string_view topic, int32_t partition) {
    auto records = ReadTopicPartition(*broker, topic, partition);
    REQUIRE_OK(records);
    return std::move(*records);
  }

  TempDir tmp;
  std::unique_ptr<Broker> broker;
};

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

// The integers a message names, e.g. {2094, 1000} for "record of 2094 bytes exceeds ... 1000".
std::vector<int64_t> NumbersIn(const std::string& s) {
  std::vector<int64_t> out;
  static const std::regex number("[0-9]+");
  for (auto it = std::sregex_iterator(s.begin(), s.end(), number); it != std::sregex_iterator();
       ++it) {
    out.push_back(std::stoll(it->str()));
  }
  return out;
}

bool Names(const std::vector<int64_t>& numbers, int64_t n) {
  return std::find(numbers.begin(), numbers.end(), n) != numbers.end();
}

// Releases a promise the sender thread may be blocked on, however the test ends.
struct Releaser {
  std::promise<void>& promise;
  bool released = false;
  void Release() {
    if (!released) promise.set_value();
    released = true;
  }
  ~Releaser() { Release(); }
};

// ---------------------------------------------------------------------------------------
// Where records land.

TEST_CASE("SendSync to an explicit partition returns where the record landed", "[producer]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 3));
  auto producer = f.MakeProducer();
  for (int i = 0; i < 3; ++i) {
    const std::string value = "v" + std::to_string(i);
    auto md = producer->SendSync({.topic = "t", .partition = 2, .key = "k", .value = value});
    REQUIRE_OK(md);
    CHECK(md->topic == "t");
    CHECK(md->partition == 2);
    CHECK(md->offset == i);
  }
  auto md = producer->SendSync({.topic = "t", .partition = 0, .value = "p0"});
  REQUIRE_OK(md);
  CHECK(md->partition == 0);
  CHECK(md->offset == 0);

  std::vector<ReadRecord> p2 = f.Read("t", 2);
  REQUIRE(p2.size() == 3);
  for (int i = 0; i < 3; ++i) {
    CHECK(p2[static_cast<size_t>(i)].offset == i);
    CHECK(p2[static_cast<size_t>(i)].value == "v" + std::to_string(i));
  }
  CHECK(f.Read("t", 1).empty());
  REQUIRE(f.Read("t", 0).size() == 1);
}

TEST_CASE("A keyed record lands in KeyPartition(key, partitions), always", "[producer]") {
  Fixture f;
  const int32_t n = GENERATE(1, 2, 5, 8);
  REQUIRE_OK(f.broker->CreateTopic("t", n));
  ProducerOptions options;
  options.linger_ms = GENERATE(0, 5);
  auto producer = f.MakeProducer(options);
  CallbackLog log;
  constexpr int kRecords = 300;
  std::vector<std::string> keys;
  for (int i = 0; i < kRecords; ++i) keys.push_back("key-" + std::to_string(i % 37));
  for (int i = 0; i < kRecords; ++i) {
    const std::string value = "value-" + std::to_string(i);
    REQUIRE_OK(producer->Send({.topic = "t", .key = keys[static_cast<size_t>(i)], .value = value},
                              log.Make(i)));
    if (i % 50 == 0) {  // null-key records in between must not disturb keyed ones
      REQUIRE_OK(producer->Send({.topic = "t", .value = "null-key"}));
    }
  }
  REQUIRE_OK(producer->Flush());
  REQUIRE(log.fired() == kRecords);

  std::map<std::string, int32_t> partition_of_key;
  std::map<int32_t, std::vector<ReadRecord>> contents;
  for (int32_t p = 0; p < n; ++p) contents[p] = f.Read("t", p);
  for (int i = 0; i < kRecords; ++i) {
    auto md = log.result(i);
    REQUIRE_OK(md);
    const std::string& key = keys[static_cast<size_t>(i)];
    CHECK(md->partition == KeyPartition(key, n));
    auto [it, inserted] = partition_of_key.emplace(key, md->partition);
    CHECK(it->second == md->partition);
    const std::vector<ReadRecord>& records = contents[md->partition];
    REQUIRE(md->offset < static_cast<int64_t>(records.size()));
    CHECK(records[static_cast<size_t>(md->offset)].key == key);
    CHECK(records[static_cast<size_t>(md->offset)].value == "value-" + std::to_string(i));
  }
}

TEST_CASE("An explicit partition overrides the key", "[producer]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 4));
  auto producer = f.MakeProducer();
  for (int32_t p = 0; p < 4; ++p) {
    auto md = producer->SendSync({.topic = "t", .partition = p, .key = "same-key", .value = "v"});
    REQUIRE_OK(md);
    CHECK(md->partition == p);
  }
}

TEST_CASE("Null-key records stick to one partition for a batch, then move", "[producer]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 4));
  ProducerOptions options;
  options.batch_size = 300;   // about four of the records below per batch
  options.linger_ms = 60000;  // batches close by size only (and the final Flush)
  auto producer = f.MakeProducer(options);
  CallbackLog log;
  constexpr int kRecords = 200;
  for (int i = 0; i < kRecords; ++i) {
    const std::string value = fmt::format("{:04}-{}", i, std::string(35, 'x'));
    REQUIRE_OK(producer->Send({.topic = "t", .value = value}, log.Make(i)));
  }
  REQUIRE_OK(producer->Flush());
  REQUIRE(log.fired() == kRecords);

  std::vector<int32_t> partition(kRecords);
  std::set<int32_t> used;
  for (int i = 0; i < kRecords; ++i) {
    auto md = log.result(i);
    REQUIRE_OK(md);
    partition[static_cast<size_t>(i)] = md->partition;
    used.insert(md->partition);
  }
  // Spread over partitions, not all in one.
  CHECK(used.size() > 1);
  // ... but sticky: runs of consecutive sends share a partition (a batch holds about four
  // records), never a new partition per record.
  std::vector<int> runs;
  for (int i = 0; i < kRecords; ++i) {
    if (i == 0 || partition[static_cast<size_t>(i)] != partition[static_cast<size_t>(i - 1)]) {
      runs.push_back(0);
    }
    ++runs.back();
  }
  INFO("runs of sends to one partition: " << runs.size());
  for (size_t r = 0; r + 1 < runs.size(); ++r) CHECK(runs[r] >= 2);
  CHECK(runs.size() < static_cast<size_t>(kRecords) / 2);

  // The log holds batches of several records, each record in send order per partition.
  std::set<std::pair<int32_t, int64_t>> batches;
  int64_t total = 0;
  for (int32_t p = 0; p < 4; ++p) {
    std::vector<ReadRecord> records = f.Read("t", p);
    total += static_cast<int64_t>(records.size());
    for (size_t i = 0; i < records.size(); ++i) {
      batches.insert({p, records[i].batch_base_offset});
      if (i > 0) CHECK(*records[i - 1].value < *records[i].value);  // "0007-..." < "0012-..."
    }
  }
  CHECK(total == kRecords);
  CHECK(batches.size() <= static_cast<size_t>(kRecords) / 2);
}

TEST_CASE("Null-key records on a one-partition topic all go to partition 0", "[producer]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 1));
  ProducerOptions options;
  options.batch_size = 100;
  auto producer = f.MakeProducer(options);
  for (int i = 0; i < 50; ++i) REQUIRE_OK(producer->Send({.topic = "t", .value = "v"}));
  REQUIRE_OK(producer->Flush());
  CHECK(f.Read("t", 0).size() == 50);
}

TEST_CASE("A custom partitioner decides; kStickyPartition defers to the sticky choice",
          "[producer]") {
  struct LastByte : Partitioner {
    int32_t Partition(std::string_view, std::optional<std::string_view> key, int32_t n) override {
      if (!key || key->empty()) return kStickyPartition;
      if (*key == "out") return n;  // out of range
      return static_cast<unsigned char>(key->back()) % n;
    }
  };
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 3));
  ProducerOptions options;
  options.partitioner = std::make_shared<LastByte>();
  auto producer = f.MakeProducer(options);
  for (char c : std::string("abcdef")) {
    const std::string key(1, c);
    auto md = producer->SendSync({.topic = "t", .key = key, .value = "v"});
    REQUIRE_OK(md);
    CHECK(md->partition == static_cast<unsigned char>(c) % 3);
  }
  auto sticky = producer->SendSync({.topic = "t", .key = "", .value = "v"});
  REQUIRE_OK(sticky);
  CHECK(sticky->partition >= 0);
  CHECK(sticky->partition < 3);

  CallbackLog log;
  absl::Status st = producer->Send({.topic = "t", .key = "out", .value = "v"}, log.Make(1));
  CHECK(st.code() == absl::StatusCode::kInvalidArgument);
  CHECK(log.count(1) == 1);
}

// ---------------------------------------------------------------------------------------
// Callbacks and metadata.

TEST_CASE("Every callback fires once with the record's topic, partition, offset and timestamp",
          "[producer]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 3));
  ProducerOptions options;
  options.linger_ms = GENERATE(0, 5, 60000);
  options.batch_size = GENERATE(200, 16384);
  auto producer = f.MakeProducer(options);
  CallbackLog log;
  constexpr int kRecords = 500;
  std::map<int, int64_t> sent_timestamp;
  for (int i = 0; i < kRecords; ++i) {
    const std::string key = "k" + std::to_string(i % 11);
    const std::string value = "v" + std::to_string(i);
    ProducerRecord record{.topic = "t", .value = value};
    if (i % 3 != 0) record.key = key;          // every third has a null key
    if (i % 4 == 0) record.partition = i % 3;  // some go to an explicit partition
    if (i % 5 == 0) record.timestamp = 1'000'000 + i;
    sent_timestamp[i] = record.timestamp ? *record.timestamp : -1;
    const int64_t before = WallMillis();
    REQUIRE_OK(producer->Send(record, log.Make(i)));
    if (!record.timestamp) sent_timestamp[i] = -before;  // lower bound, marked negative
  }
  const int64_t after = WallMillis();
  REQUIRE_OK(producer->Flush());
  // Flush returns once every callback fired: no waiting needed.
  REQUIRE(log.fired() == kRecords);

  std::map<int32_t, std::set<int64_t>> offsets;
  std::map<int32_t, std::vector<ReadRecord>> contents;
  for (int32_t p = 0; p < 3; ++p) contents[p] = f.Read("t", p);
  for (int i = 0; i < kRecords; ++i) {
    INFO("record " << i);
    CHECK(log.count(i) == 1);
    auto md = log.result(i);
    REQUIRE_OK(md);
    CHECK(md->topic == "t");
    if (i % 4 == 0) CHECK(md->partition == i % 3);
    if (i % 4 != 0 && i % 3 != 0) {
      CHECK(md->partition == KeyPartition("k" + std::to_string(i % 11), 3));
    }
    CHECK(offsets[md->partition].insert(md->offset).second);  // no offset twice
    if (sent_timestamp[i] >= 0) {
      CHECK(md->timestamp == sent_timestamp[i]);
    } else {
      CHECK(md->timestamp >= -sent_timestamp[i]);
      CHECK(md->timestamp <= after);
    }
    const auto& records = contents[md->partition];
    REQUIRE(md->offset >= 0);
    REQUIRE(md->offset < static_cast<int64_t>(records.size()));
    const ReadRecord& r = records[static_cast<size_t>(md->offset)];
    CHECK(r.offset == md->offset);
    CHECK(r.value == "v" + std::to_string(i));
    CHECK(r.timestamp == md->timestamp);
  }
  // Offsets per partition: exactly 0 .. n-1, and the log holds nothing else.
  for (int32_t p = 0; p < 3; ++p) {
    const std::set<int64_t>& got = offsets[p];
    CHECK(got.size() == contents[p].size());
    if (!got.empty()) {
      CHECK(*got.begin() == 0);
      CHECK(*got.rbegin() == static_cast<int64_t>(got.size()) - 1);
    }
  }
}

TEST_CASE("Callbacks of one partition fire in offset order", "[producer]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 2));
  ProducerOptions options;
  options.batch_size = 150;
  auto producer = f.MakeProducer(options);
  CallbackLog log;
  for (int i = 0; i < 300; ++i) {
    REQUIRE_OK(producer->Send({.topic = "t", .partition = i % 2, .value = "v"}, log.Make(i)));
  }
  REQUIRE_OK(producer->Flush());
  std::map<int32_t, int64_t> last;
  for (int64_t id : log.order()) {
    auto md = log.result(id);
    REQUIRE_OK(md);
    auto [it, inserted] = last.emplace(md->partition, md->offset);
    if (!inserted) {
      CHECK(md->offset > it->second);
      it->second = md->offset;
    }
  }
}

TEST_CASE("A null callback is allowed", "[producer]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 1));
  auto producer = f.MakeProducer();
  REQUIRE_OK(producer->Send({.topic = "t", .value = "a"}));
  REQUIRE_OK(producer->Send({.topic = "t", .value = "b"}, nullptr));
  CHECK(producer->Send({.topic = "missing", .value = "c"}).code() == absl::StatusCode::kNotFound);
  REQUIRE_OK(producer->Flush());
  CHECK(f.Read("t", 0).size() == 2);
}

// ---------------------------------------------------------------------------------------
// What the log holds.

struct Sent {
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<ReadHeader> headers;
  std::optional<int64_t> timestamp;
};

TEST_CASE("Keys, values, headers and timestamps are read back exactly", "[producer]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 1));
  ProducerOptions options;
  options.linger_ms = GENERATE(0, 60000);
  auto producer = f.MakeProducer(options);

  std::string binary;
  for (int b = 0; b < 256; ++b) binary.push_back(static_cast<char>(b));
  std::string big(200 * 1024, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 31 + 7) % 256);

  std::vector<Sent> sent = {
      {"key", "value", {}, std::nullopt},
      {std::nullopt, "null key", {}, 5},
      {"null value", std::nullopt, {}, 3},  // a tombstone; timestamps going backwards
      {std::nullopt, std::nullopt, {}, 0},
      {"", "", {}, 1},  // empty, not null
      {std::string("\0k\xff", 3), std::string("\0\x80\xff\0", 4), {}, std::nullopt},
      {binary, binary, {}, 1'700'000'000'000},
      {"h", "headers", {{"a", "1"}, {"b", std::nullopt}, {"", ""}, {"a", "2"}}, 4'102'444'800'000},
      {std::nullopt, "binary header", {{std::string("\0\xff", 2), binary}}, std::nullopt},
      {"big", big, {{"size", std::to_string(big.size())}}, 42},
      {"after big", "v", {}, std::nullopt},
  };
  CallbackLog log;
  const int64_t before = WallMillis();
  for (size_t i = 0; i < sent.size(); ++i) {
    std::vector<Header> headers;
    for (const ReadHeader& h : sent[i].headers) {
      headers.push_back(
          Header{h.key, h.value ? std::optional<std::string_view>(*h.value) : std::nullopt});
    }
    ProducerRecord record{
        .topic = "t", .partition = 0, .headers = headers, .timestamp = sent[i].timestamp};
    if (sent[i].key) record.key = *sent[i].key;
    if (sent[i].value) record.value = *sent[i].value;
    REQUIRE_OK(producer->Send(record, log.Make(static_cast<int64_t>(i))));
  }
  REQUIRE_OK(producer->Flush());
  const int64_t after = WallMillis();
  REQUIRE(log.fired() == static_cast<int64_t>(sent.size()));

  std::vector<ReadRecord> records = f.Read("t", 0);
  REQUIRE(records.size() == sent.size());
  for (size_t i = 0; i < sent.size(); ++i) {
    INFO("record " << i);
    const ReadRecord& r = records[i];
    auto md = log.result(static_cast<int64_t>(i));
    REQUIRE_OK(md);
    CHECK(md->offset == static_cast<int64_t>(i));
    CHECK(r.offset == static_cast<int64_t>(i));
    CHECK(r.key == sent[i].key);
    CHECK(r.value == sent[i].value);
    CHECK(r.headers == sent[i].headers);
    CHECK_FALSE(r.log_append_time);
    if (sent[i].timestamp) {
      CHECK(r.timestamp == *sent[i].timestamp);
    } else {
      CHECK(r.timestamp >= before);
      CHECK(r.timestamp <= after);
    }
    CHECK(md->timestamp == r.timestamp);
  }
}

TEST_CASE("Send copies the record: its memory need only live for the call", "[producer]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 1));
  ProducerOptions options;
  options.linger_ms = 60000;
  auto producer = f.MakeProducer(options);
  std::string key(64, ' '), value(64, ' '), hkey(16, ' '), hvalue(16, ' ');
  for (int i = 0; i < 20; ++i) {
    std::fill(key.begin(), key.end(), static_cast<char>('a' + i));
    std::fill(value.begin(), value.end(), static_cast<char>('A' + i));
    std::fill(hkey.begin(), hkey.end(), static_cast<char>('0' + i % 10));
    std::fill(hvalue.begin(), hvalue.end(), static_cast<char>('a' + i));
    {
      std::vector<Header> headers = {{hkey, hvalue}};
      REQUIRE_OK(producer->Send({.topic = "t", .key = key, .value = value, .headers = headers}));
    }  // the headers array is gone; key and value are overwritten next round
  }
  std::fill(key.begin(), key.end(), '#');
  std::fill(value.begin(), value.end(), '#');
  REQUIRE_OK(producer->Flush());
  std::vector<ReadRecord> records = f.Read("t", 0);
  REQUIRE(records.size() == 20);
  for (int i = 0; i < 20; ++i) {
    const ReadRecord& r = records[static_cast<size_t>(i)];
    CHECK(r.key == std::string(64, static_cast<char>('a' + i)));
    CHECK(r.value == std::string(64, static_cast<char>('A' + i)));
    REQUIRE(r.headers.size() == 1);
    CHECK(r.headers[0].key == std::string(16, static_cast<char>('0' + i % 10)));
    CHECK(r.headers[0].value == std::string(16, static_cast<char>('a' + i)));
  }
}

TEST_CASE("LogAppendTime topics report the append time in the metadata", "[producer]") {
  Fixture f;
  TopicConfig config;
  config.message_timestamp_type = TimestampType::kLogAppendTime;
  REQUIRE_OK(f.broker->CreateTopic("t", 2, config));
  ProducerOptions options;
  options.linger_ms = GENERATE(0, 60000);
  auto producer = f.MakeProducer(options);
  CallbackLog log;
  const int64_t before = WallMillis();
  auto md = producer->SendSync({.topic = "t", .partition = 0, .value = "sync", .timestamp = 1000});
  REQUIRE_OK(md);
  for (int i = 0; i < 20; ++i) {
    ProducerRecord record{.topic = "t", .partition = i % 2, .value = "v"};
    if (i % 2 == 0) record.timestamp = 2000 + i;  // replaced by the log
    REQUIRE_OK(producer->Send(record, log.Make(i)));
  }
  REQUIRE_OK(producer->Flush());
  const int64_t after = WallMillis();
  CHECK(md->timestamp != 1000);
  CHECK(md->timestamp >= before);
  CHECK(md->timestamp <= after);
  std::vector<ReadRecord> p0 = f.Read("t", 0), p1 = f.Read("t", 1);
  REQUIRE(!p0.empty());
  CHECK(p0[0].log_append_time);
  CHECK(p0[0].timestamp == md->timestamp);
  for (int i = 0; i < 20; ++i) {
    auto r = log.result(i);
    REQUIRE_OK(r);
    CHECK(r->timestamp >= before);
    CHECK(r->timestamp <= after);
    const std::vector<ReadRecord>& records = r->partition == 0 ? p0 : p1;
    REQUIRE(r->offset < static_cast<int64_t>(records.size()));
    CHECK(records[static_cast<size_t>(r->offset)].log_append_time);
    CHECK(records[static_cast<size_t>(r->offset)].timestamp == r->timestamp);
  }
}

// ---------------------------------------------------------------------------------------
// acks and sync.policy.

TEST_CASE("acks=0, 1 and all all deliver every record", "[producer]") {
  Fixture f;
  const Acks acks = GENERATE(Acks::kNone, Acks::kLeader, Acks::kAll);
  const SyncPolicy sync = GENERATE(SyncPolicy::kNone, SyncPolicy::kInterval, SyncPolicy::kAlways);
  TopicConfig config;
  config.sync_policy = sync;
  if (sync == SyncPolicy::kInterval) config.flush_messages = 7;
  REQUIRE_OK(f.broker->CreateTopic("t", 2, config));
  ProducerOptions options;
  options.acks = acks;
  options.batch_size = 256;
  auto producer = f.MakeProducer(options);
  CallbackLog log;
  for (int i = 0; i < 100; ++i) {
    const std::string key = "k" + std::to_string(i);
    REQUIRE_OK(producer->Send({.topic = "t", .key = key, .value = key}, log.Make(i)));
  }
  auto md = producer->SendSync({.topic = "t", .partition = 1, .value = "sync"});
  REQUIRE_OK(md);
  REQUIRE_OK(producer->Flush());
  REQUIRE(log.fired() == 100);
  auto p0 = f.Read("t", 0), p1 = f.Read("t", 1);
  CHECK(p0.size() + p1.size() == 101);
  for (int i = 0; i < 100; ++i) {
    auto r = log.result(i);
    REQUIRE_OK(r);
    const auto& records = r->partition == 0 ? p0 : p1;
    REQUIRE(r->offset < static_cast<int64_t>(records.size()));
    CHECK(records[static_cast<size_t>(r->offset)].key == "k" + std::to_string(i));
  }
}

TEST_CASE("Under sync.policy always an acknowledged record is visible (acks=1, all)",
          "[producer]") {
  Fixture f;
  TopicConfig config;
  config.sync_policy = SyncPolicy::kAlways;
  REQUIRE_OK(f.broker->CreateTopic("t", 2, config));
  ProducerOptions options;
  options.acks = GENERATE(Acks::kLeader, Acks::kAll);
  options.linger_ms = GENERATE(0, 5);
  auto producer = f.MakeProducer(options);
  std::shared_ptr<internal::Partition> parts[2] = {PartitionOf(*f.broker, "t", 0),
                                                   PartitionOf(*f.broker, "t", 1)};
  REQUIRE(parts[0] != nullptr);
  REQUIRE(parts[1] != nullptr);
  constexpr int kRecords = 200;
  std::mutex mu;
  int fired = 0, invisible = 0, flushed_short = 0, failed = 0;
  for (int i = 0; i < kRecords; ++i) {
    const std::string value = "v" + std::to_string(i);
    REQUIRE_OK(producer->Send({.topic = "t", .partition = i % 2, .value = value},
                              [&](const absl::StatusOr<RecordMetadata>& md) {
                                std::lock_guard<std::mutex> lock(mu);
                                ++fired;
                                if (!md.ok()) {
                                  ++failed;
                                  return;
                                }
                                const storage::PartitionLog& log = parts[md->partition]->log();
                                if (log.visible_offset() <= md->offset) ++invisible;
                                if (log.flushed_offset() <= md->offset) ++flushed_short;
                              }));
  }
  auto md = producer->SendSync({.topic = "t", .partition = 1, .value = "sync"});
  REQUIRE_OK(md);
  CHECK(parts[1]->log().visible_offset() > md->offset);
  CHECK(parts[1]->log().flushed_offset() > md->offset);
  REQUIRE_OK(producer->Flush());
  std::lock_guard<std::mutex> lock(mu);
  CHECK(fired == kRecords);
  CHECK(failed == 0);
  CHECK(invisible == 0);
  CHECK(flushed_short == 0);
}

TEST_CASE("Under sync.policy always, acks=0 records become visible by Flush", "[producer]") {
  Fixture f;
  TopicConfig config;
  config.sync_policy = SyncPolicy::kAlways;
  REQUIRE_OK(f.broker->CreateTopic("t", 2, config));
  ProducerOptions options;
  options.acks = Acks::kNone;
  options.linger_ms = GENERATE(0, 60000);
  auto producer = f.MakeProducer(options);
  CallbackLog log;
  for (int i = 0; i < 100; ++i) {
    REQUIRE_OK(producer->Send({.topic = "t", .partition = i % 2, .value = "v"}, log.Make(i)));
  }
  REQUIRE_OK(producer->Flush());
  REQUIRE(log.fired() == 100);
  for (int i = 0; i < 100; ++i) {
    auto md = log.result(i);
    REQUIRE_OK(md);
    CHECK(PartitionOf(*f.broker, "t", md->partition)->log().visible_offset() > md->offset);
  }
  CHECK(f.Read("t", 0).size() == 50);
  CHECK(f.Read("t", 1).size() == 50);
}

// ---------------------------------------------------------------------------------------
// Flush and Close.

TEST_CASE("Flush sends lingering batches and waits for all their callbacks", "[producer]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 3));
  ProducerOptions options;
  options.linger_ms = 60000;
  auto producer = f.MakeProducer(options);
  REQUIRE_OK(producer->Flush());  // nothing queued
  CallbackLog log;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 100; ++i) {
      REQUIRE_OK(producer->Send({.topic = "t", .value = "v"}, log.Make(round * 100 + i)));
    }
    REQUIRE_OK(producer->Flush());
    CHECK(log.fired() == (round + 1) * 100);  // no waiting: Flush returned after them
  }
  for (int i = 0; i < 300; ++i) CHECK(log.count(i) == 1);
}

TEST_CASE("SendSync does not wait out linger.ms", "[producer]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 1));
  ProducerOptions options;
  options.linger_ms = 600000;  // were it waited out, the test would time out
  auto producer = f.MakeProducer(options);
  CallbackLog log;
  REQUIRE_OK(producer->Send({.topic = "t", .value = "queued"}, log.Make(1)));
  auto md = producer->SendSync({.topic = "t", .value = "sync"});
  REQUIRE_OK(md);
  CHECK(md->offset == 1);  // the queued record went first, in the same batch
  CHECK(log.WaitFor(1, std::chrono::seconds(30)));
}

TEST_CASE("Close fires every pending callback and writes every queued record", "[producer]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 3));
  ProducerOptions options;
  options.linger_ms = 60000;
  options.client_id = "closing-app";
  auto producer = f.MakeProducer(options);
  CallbackLog log;
  for (int i = 0; i < 150; ++i) {
    const std::string key = "k" + std::to_string(i);
    REQUIRE_OK(producer->Send({.topic = "t", .key = key, .value = "v"}, log.Make(i)));
  }
  REQUIRE_OK(producer->Close());
  CHECK(log.fired() == 150);
  for (int i = 0; i < 150; ++i) {
    CHECK(log.count(i) == 1);
    CHECK_OK(log.result(i));
  }
  CHECK(f.Read("t", 0).size() + f.Read("t", 1).size() + f.Read("t", 2).size() == 150);

  SECTION("and later calls fail with FailedPrecondition") {
    absl::Status st = producer->Send({.topic = "t", .value = "late"}, log.Make(1000));
    CHECK(st.code() == absl::StatusCode::kFailedPrecondition);
    CHECK_THAT(Msg(st), Contains("closing-app"));
    REQUIRE(log.count(1000) == 1);
    CHECK(log.result(1000).status() == st);
    CHECK(producer->SendSync({.topic = "t", .value = "late"}).status().code() ==
          absl::StatusCode::kFailedPrecondition);
    CHECK(producer->Flush().code() == absl::StatusCode::kFailedPrecondition);
    CHECK_OK(producer->Close());  // a second Close is harmless
    CHECK(f.Read("t", 0).size() + f.Read("t", 1).size() + f.Read("t", 2).size() == 150);
  }
}

TEST_CASE("Destroying a producer fires its pending callbacks", "[producer]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 1));
  ProducerOptions options;
  options.linger_ms = 60000;
  auto producer = f.MakeProducer(options);
  CallbackLog log;
  for (int i = 0; i < 30; ++i)
    REQUIRE_OK(producer->Send({.topic = "t", .value = "v"}, log.Make(i)));
  producer.reset();
  CHECK(log.fired() == 30);
  CHECK(f.Read("t", 0).size() == 30);
}

// ---------------------------------------------------------------------------------------
// Errors.

TEST_CASE("An unknown topic is NotFound, returned and given to the callback once",
          "[producer][errors]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("known", 1));
  auto producer = f.MakeProducer();
  CallbackLog log;
  absl::Status st = producer->Send({.topic = "unknown", .value = "v"}, log.Make(1));
  CHECK(st.code() == absl::StatusCode::kNotFound);
  CHECK_THAT(Msg(st), Contains("unknown"));
  CHECK(log.count(1) == 1);
  CHECK(log.result(1).status() == st);
  CHECK_FALSE(IsRetriable(st));
  CHECK(producer->SendSync({.topic = "unknown", .value = "v"}).status().code() ==
        absl::StatusCode::kNotFound);
  // The failure leaves the producer working, and creates nothing.
  REQUIRE_OK(producer->SendSync({.topic = "known", .value = "v"}));
  REQUIRE_OK(producer->Flush());
  CHECK(log.count(1) == 1);
  CHECK(f.broker->ListTopics() == std::vector<std::string>{"known"});
}

TEST_CASE("auto.create.topics.enable creates an unknown topic on Send", "[producer][errors]") {
  BrokerOptions options;
  options.auto_create_topics_enable = true;
  options.num_partitions = 3;
  options.default_topic_config.sync_policy = SyncPolicy::kAlways;
  Fixture f(options);
  auto producer = f.MakeProducer();
  CallbackLog log;
  REQUIRE_OK(producer->Send({.topic = "auto", .key = "k", .value = "v"}, log.Make(1)));
  REQUIRE_OK(producer->Flush());
  auto md = log.result(1);
  REQUIRE_OK(md);
  CHECK(md->partition == KeyPartition("k", 3));
  auto described = f.broker->DescribeTopic("auto");
  REQUIRE_OK(described);
  CHECK(described->partitions.size() == 3);
  CHECK(described->config.sync_policy == SyncPolicy::kAlways);
  CHECK(f.Read("auto", md->partition).size() == 1);
  // A name Kafka would refuse is still refused, and not created.
  absl::Status bad = producer->Send({.topic = "no spaces allowed", .value = "v"}, log.Make(2));
  CHECK(bad.code() == absl::StatusCode::kInvalidArgument);
  CHECK(log.count(2) == 1);
  CHECK(producer->Send({.topic = "", .value = "v"}).code() == absl::StatusCode::kInvalidArgument);
  CHECK(f.broker->ListTopics() == std::vector<std::string>{"auto"});
}

TEST_CASE("A partition out of range is InvalidArgument", "[producer][errors]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 3));
  auto producer = f.MakeProducer();
  for (int32_t p : {3, 4, 1000, -1, -2, std::numeric_limits<int32_t>::min()}) {
    CallbackLog log;
    absl::Status st = producer->Send({.topic = "t", .partition = p, .value = "v"}, log.Make(1));
    CHECK(st.code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(Msg(st), Contains(std::to_string(p)));
    CHECK(log.count(1) == 1);
    CHECK(producer->SendSync({.topic = "t", .partition = p, .value = "v"}).status().code() ==
          absl::StatusCode::kInvalidArgument);
  }
  REQUIRE_OK(producer->Flush());
  for (int32_t p = 0; p < 3; ++p) CHECK(f.Read("t", p).empty());
}

TEST_CASE("A record over max.request.size is InvalidArgument naming both sizes",
          "[producer][errors]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 1));
  ProducerOptions options;
  options.max_request_size = 1000;
  auto producer = f.MakeProducer(options);
  CallbackLog log;
  const std::string value(2000, 'v');
  absl::Status st = producer->Send({.topic = "t", .value = value}, log.Make(1));
  CHECK(st.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(Msg(st), Contains("max.request.size"));
  const std::vector<int64_t> numbers = NumbersIn(Msg(st));
  CHECK(Names(numbers, 1000));
  CHECK(std::any_of(numbers.begin(), numbers.end(), [](int64_t n) { return n >= 2000; }));
  CHECK(log.count(1) == 1);
  CHECK(log.result(1).status() == st);
  // Header bytes count too.
  const std::string hv(2000, 'h');
  const Header headers[] = {{"h", hv}};
  CHECK(producer->Send({.topic = "t", .value = "small", .headers = headers}).code() ==
        absl::StatusCode::kInvalidArgument);
  // A record under the limit still goes.
  REQUIRE_OK(producer->SendSync({.topic = "t", .value = std::string(500, 'v')}));
  CHECK(f.Read("t", 0).size() == 1);
}

TEST_CASE("A record over the topic's max.message.bytes is InvalidArgument naming both sizes",
          "[producer][errors]") {
  Fixture f;
  TopicConfig config;
  config.max_message_bytes = 1000;
  REQUIRE_OK(f.broker->CreateTopic("small", 1, config));
  auto producer = f.MakeProducer();
  CallbackLog log;
  const std::string value(2000, 'v');
  absl::Status st = producer->Send({.topic = "small", .value = value}, log.Make(1));
  CHECK(st.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(Msg(st), Contains("max.message.bytes"));
  CHECK_THAT(Msg(st), Contains("small"));
  const std::vector<int64_t> numbers = NumbersIn(Msg(st));
  CHECK(Names(numbers, 1000));
  CHECK(std::any_of(numbers.begin(), numbers.end(), [](int64_t n) { return n >= 2000; }));
  CHECK(log.count(1) == 1);
  CHECK(producer->SendSync({.topic = "small", .value = value}).status().code() ==
        absl::StatusCode::kInvalidArgument);
  REQUIRE_OK(producer->SendSync({.topic = "small", .value = std::string(500, 'v')}));
}

TEST_CASE("A record over buffer.memory is InvalidArgument, not a wait", "[producer][errors]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 1));
  ProducerOptions options;
  options.buffer_memory = 4096;
  options.max_block_ms = 600000;  // were it waited for, the test would time out
  auto producer = f.MakeProducer(options);
  absl::Status st = producer->Send({.topic = "t", .value = std::string(8192, 'v')});
  CHECK(st.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(Msg(st), Contains("buffer.memory"));
}

TEST_CASE("Invalid ProducerOptions fail Create with InvalidArgument naming the option",
          "[producer][errors]") {
  Fixture f;
  struct Bad {
    std::string name;
    ProducerOptions options;
  };
  std::vector<Bad> bad;
  auto add = [&](std::string name, auto change) {
    ProducerOptions o;
    change(o);
    bad.push_back({std::move(name), o});
  };
  add("batch.size", [](ProducerOptions& o) { o.batch_size = 0; });
  add("batch.size", [](ProducerOptions& o) { o.batch_size = -1; });
  add("linger.ms", [](ProducerOptions& o) { o.linger_ms = -1; });
  add("buffer.memory", [](ProducerOptions& o) { o.buffer_memory = 0; });
  add("buffer.memory", [](ProducerOptions& o) { o.buffer_memory = -4096; });
  add("max.block.ms", [](ProducerOptions& o) { o.max_block_ms = -1; });
  add("max.request.size", [](ProducerOptions& o) { o.max_request_size = 0; });
  add("acks", [](ProducerOptions& o) { o.acks = static_cast<Acks>(2); });
  add("acks", [](ProducerOptions& o) { o.acks = static_cast<Acks>(-2); });
  for (const Bad& b : bad) {
    INFO(b.name);
    auto created = Producer::Create(*f.broker, b.options);
    REQUIRE_FALSE(created.ok());
    CHECK(created.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(Msg(created.status()), Contains(b.name));
  }
  // The edges are fine.
  ProducerOptions edge;
  edge.batch_size = 1;
  edge.linger_ms = 0;
  edge.buffer_memory = 1 << 20;
  edge.max_block_ms = 0;
  edge.max_request_size = 1;
  CHECK_OK(Producer::Create(*f.broker, edge));
}

TEST_CASE("batch.size 1 sends one record per batch", "[producer]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 1));
  ProducerOptions options;
  options.batch_size = 1;
  options.linger_ms = 60000;
  auto producer = f.MakeProducer(options);
  CallbackLog log;
  for (int i = 0; i < 20; ++i)
    REQUIRE_OK(producer->Send({.topic = "t", .value = "v"}, log.Make(i)));
  // Full batches go without Flush.
  CHECK(log.WaitFor(20, std::chrono::seconds(30)));
  std::vector<ReadRecord> records = f.Read("t", 0);
  REQUIRE(records.size() == 20);
  for (const ReadRecord& r : records) CHECK(r.batch_base_offset == r.offset);
}

TEST_CASE("A closed broker fails Create and every send of its producers", "[producer][errors]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 2));
  ProducerOptions options;
  options.linger_ms = 60000;
  auto producer = f.MakeProducer(options);
  REQUIRE_OK(producer->SendSync({.topic = "t", .partition = 0, .value = "before"}));
  CallbackLog log;
  for (int i = 0; i < 10; ++i) {
    REQUIRE_OK(producer->Send({.topic = "t", .partition = i % 2, .value = "queued"}, log.Make(i)));
  }
  REQUIRE_OK(f.broker->Close());

  auto created = Producer::Create(*f.broker, {});
  REQUIRE_FALSE(created.ok());
  CHECK(created.status().code() == absl::StatusCode::kFailedPrecondition);

  absl::Status st = producer->Send({.topic = "t", .value = "after"}, log.Make(100));
  CHECK(st.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(log.count(100) == 1);
  CHECK(producer->SendSync({.topic = "t", .partition = 1, .value = "after"}).status().code() ==
        absl::StatusCode::kFailedPrecondition);

  // Records queued before the broker closed fail too, each callback once.
  CHECK_OK(producer->Flush());
  CHECK(log.WaitFor(11, std::chrono::seconds(30)));
  for (int i = 0; i < 10; ++i) {
    INFO("record " << i);
    CHECK(log.count(i) == 1);
    CHECK(log.result(i).status().code() == absl::StatusCode::kFailedPrecondition);
  }
  CHECK_OK(producer->Close());
}

TEST_CASE("A producer outlives its Broker handle", "[producer][errors]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 1));
  auto producer = f.MakeProducer();
  REQUIRE_OK(producer->SendSync({.topic = "t", .value = "v"}));
  f.broker.reset();  // closes the broker
  CHECK(producer->Send({.topic = "t", .value = "v"}).code() ==
        absl::StatusCode::kFailedPrecondition);
  CHECK_OK(producer->Close());
}

// ---------------------------------------------------------------------------------------
// Back-pressure.

TEST_CASE("A full buffer.memory fails Send with ResourceExhausted after max.block.ms",
          "[producer][backpressure]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 2));
  ProducerOptions options;
  options.buffer_memory = 4096;
  options.max_block_ms = 100;
  options.linger_ms = 0;
  options.client_id = "pressed";
  auto producer = f.MakeProducer(options);

  // The first record's callback blocks the sender thread until released, so nothing
  // drains and the buffer fills.
  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  Releaser releaser{gate};
  std::promise<void> entered;
  REQUIRE_OK(producer->Send({.topic = "t", .partition = 0, .value = "first"},
                            [&, opened](const absl::StatusOr<RecordMetadata>&) {
                              entered.set_value();
                              opened.wait();
                            }));
  REQUIRE(entered.get_future().wait_for(std::chrono::seconds(30)) == std::future_status::ready);

  CallbackLog log;
  const std::string value(200, 'v');
  absl::Status failure;
  int sent = 0;
  for (int i = 0; i < 1000 && failure.ok(); ++i) {
    absl::Status st =
        producer->Send({.topic = "t", .partition = i % 2, .value = value}, log.Make(i));
    if (st.ok()) {
      ++sent;
    } else {
      failure = st;
      CHECK(log.count(i) == 1);
      CHECK(log.result(i).status() == st);
    }
  }
  REQUIRE_FALSE(failure.ok());
  CHECK(failure.code() == absl::StatusCode::kResourceExhausted);
  CHECK(IsRetriable(failure));
  CHECK_THAT(Msg(failure), Contains("buffer.memory"));
  CHECK_THAT(Msg(failure), Contains("4096"));
  CHECK(sent < 4096 / 200 + 1);
  // SendSync is bounded by max.block.ms just as well.
  CHECK(producer->SendSync({.topic = "t", .value = value}).status().code() ==
        absl::StatusCode::kResourceExhausted);
  CHECK(log.fired() == 1);  // only the refused one: the rest are stuck behind the sender

  releaser.Release();
  REQUIRE_OK(producer->Flush());
  REQUIRE(log.fired() == sent + 1);
  for (int i = 0; i < sent; ++i) CHECK_OK(log.result(i));
  // Space again: sends succeed (flushed one by one, so the short max.block.ms never bites).
  for (int i = 0; i < 50; ++i) {
    REQUIRE_OK(producer->Send({.topic = "t", .partition = 1, .value = value}, log.Make(2000 + i)));
    REQUIRE_OK(producer->Flush());
  }
  CHECK(log.fired() == sent + 1 + 50);
  CHECK(static_cast<int>(f.Read("t", 0).size() + f.Read("t", 1).size()) == 1 + sent + 50);
}

TEST_CASE("A send blocked on buffer.memory goes through once space frees",
          "[producer][backpressure]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 1));
  ProducerOptions options;
  options.buffer_memory = 2048;
  options.max_block_ms = 60000;
  auto producer = f.MakeProducer(options);
  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  Releaser releaser{gate};
  REQUIRE_OK(producer->Send({.topic = "t", .value = "first"},
                            [opened](const absl::StatusOr<RecordMetadata>&) { opened.wait(); }));
  const std::string value(300, 'v');
  // Fill the buffer from another thread, whose last send blocks; release the sender
  // meanwhile. Every send must succeed.
  std::atomic<int> ok{0};
  std::thread sender([&] {
    for (int i = 0; i < 30; ++i) {
      if (producer->Send({.topic = "t", .value = value}).ok()) ok.fetch_add(1);
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  releaser.Release();
  sender.join();
  CHECK(ok.load() == 30);
  REQUIRE_OK(producer->Flush());
  CHECK(f.Read("t", 0).size() == 31);
}

TEST_CASE("Close wakes a send blocked on buffer.memory", "[producer][backpressure]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 1));
  ProducerOptions options;
  options.buffer_memory = 1024;
  options.max_block_ms = 600000;
  auto producer = f.MakeProducer(options);
  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  Releaser releaser{gate};
  REQUIRE_OK(producer->Send({.topic = "t", .value = "first"},
                            [opened](const absl::StatusOr<RecordMetadata>&) { opened.wait(); }));
  CallbackLog log;
  const std::string value(300, 'v');
  std::promise<absl::Status> last;
  std::thread sender([&] {
    absl::Status st;
    for (int i = 0; i < 10 && st.ok(); ++i)
      st = producer->Send({.topic = "t", .value = value}, log.Make(i));
    last.set_value(st);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // Close flushes, so the gate must open for it to finish; the blocked send fails at once.
  absl::Status closed;
  std::thread closer([&] { closed = producer->Close(); });
  auto result = last.get_future();
  const bool woke = result.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
  releaser.Release();
  closer.join();
  sender.join();
  REQUIRE(woke);
  CHECK_OK(closed);
  CHECK(result.get().code() == absl::StatusCode::kFailedPrecondition);
  // Every callback fired once: the queued ones with success, the refused one with the error.
  for (const auto& [id, results] : log.results()) CHECK(results.size() == 1);
}

// ---------------------------------------------------------------------------------------
// Topics changing underneath.

TEST_CASE("Deleting a topic fails its queued records with NotFound, none lost silently",
          "[producer][admin]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("doomed", 3));
  REQUIRE_OK(f.broker->CreateTopic("other", 1));
  ProducerOptions options;
  options.linger_ms = 60000;
  auto producer = f.MakeProducer(options);
  REQUIRE_OK(producer->SendSync({.topic = "doomed", .partition = 0, .value = "warm-up"}));
  CallbackLog log;
  for (int i = 0; i < 30; ++i) {
    const std::string key = "k" + std::to_string(i);
    REQUIRE_OK(producer->Send({.topic = "doomed", .key = key, .value = "v"}, log.Make(i)));
  }
  REQUIRE_OK(producer->Send({.topic = "other", .value = "survivor"}, log.Make(100)));
  REQUIRE_OK(f.broker->DeleteTopic("doomed"));
  REQUIRE_OK(producer->Flush());
  REQUIRE(log.fired() == 31);
  for (int i = 0; i < 30; ++i) {
    INFO("record " << i);
    CHECK(log.count(i) == 1);
    CHECK(log.result(i).status().code() == absl::StatusCode::kNotFound);
  }
  CHECK_OK(log.result(100));

  // Later sends to it are NotFound at once.
  absl::Status st = producer->Send({.topic = "doomed", .value = "v"}, log.Make(200));
  CHECK(st.code() == absl::StatusCode::kNotFound);
  CHECK(log.count(200) == 1);

  // A new topic of the same name starts afresh.
  REQUIRE_OK(f.broker->CreateTopic("doomed", 1));
  auto md = producer->SendSync({.topic = "doomed", .value = "reborn"});
  REQUIRE_OK(md);
  CHECK(md->partition == 0);
  CHECK(md->offset == 0);
  std::vector<ReadRecord> records = f.Read("doomed", 0);
  REQUIRE(records.size() == 1);
  CHECK(records[0].value == "reborn");
}

TEST_CASE("After CreatePartitions records go to the new partitions", "[producer][admin]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 1));
  ProducerOptions options;
  options.linger_ms = GENERATE(0, 60000);
  auto producer = f.MakeProducer(options);
  CallbackLog log;
  for (int i = 0; i < 20; ++i) {
    const std::string key = "k" + std::to_string(i);
    REQUIRE_OK(producer->Send({.topic = "t", .key = key, .value = "before"}, log.Make(i)));
  }
  CHECK(producer->Send({.topic = "t", .partition = 3, .value = "v"}).code() ==
        absl::StatusCode::kInvalidArgument);
  REQUIRE_OK(f.broker->CreatePartitions("t", 4));
  for (int i = 0; i < 20; ++i) {
    const std::string key = "k" + std::to_string(i);
    REQUIRE_OK(producer->Send({.topic = "t", .key = key, .value = "after"}, log.Make(100 + i)));
  }
  for (int i = 0; i < 40; ++i) REQUIRE_OK(producer->Send({.topic = "t", .value = "null-key"}));
  auto md = producer->SendSync({.topic = "t", .partition = 3, .value = "explicit"});
  REQUIRE_OK(md);
  CHECK(md->partition == 3);
  REQUIRE_OK(producer->Flush());
  REQUIRE(log.fired() == 40);
  std::set<int32_t> used;
  for (int i = 0; i < 20; ++i) {
    auto before = log.result(i);
    REQUIRE_OK(before);
    CHECK(before->partition == 0);
    auto after = log.result(100 + i);
    REQUIRE_OK(after);
    CHECK(after->partition == KeyPartition("k" + std::to_string(i), 4));
    used.insert(after->partition);
  }
  CHECK(used.size() > 1);
  int64_t total = 0;
  for (int32_t p = 0; p < 4; ++p) {
    std::vector<ReadRecord> records = f.Read("t", p);
    total += static_cast<int64_t>(records.size());
    for (size_t i = 0; i < records.size(); ++i) CHECK(records[i].offset == static_cast<int64_t>(i));
  }
  CHECK(total == 20 + 20 + 40 + 1);
}

TEST_CASE("Two producers on one broker share partitions without clashing offsets", "[producer]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 2));
  auto a = f.MakeProducer();
  auto b = f.MakeProducer();
  CallbackLog log;
  for (int i = 0; i < 100; ++i) {
    Producer& p = i % 2 == 0 ? *a : *b;
    REQUIRE_OK(p.Send({.topic = "t", .partition = i % 4 < 2 ? 0 : 1, .value = "v"}, log.Make(i)));
  }
  REQUIRE_OK(a->Flush());
  REQUIRE_OK(b->Flush());
  std::map<int32_t, std::set<int64_t>> offsets;
  for (int i = 0; i < 100; ++i) {
    auto md = log.result(i);
    REQUIRE_OK(md);
    CHECK(offsets[md->partition].insert(md->offset).second);
  }
  CHECK(offsets[0].size() == 50);
  CHECK(offsets[1].size() == 50);
  CHECK(*offsets[0].rbegin() == 49);
  CHECK(*offsets[1].rbegin() == 49);
}

// ---------------------------------------------------------------------------------------
// Regressions: each comment says what was wrong before the fix.

// Was: Enqueue checks each record against max.message.bytes, but batches records up to
// batch.size regardless of it; when a topic's max.message.bytes is below batch.size the
// built batch exceeds it and PartitionLog::Append refuses the whole batch, failing every
// record in it although each one fits (Kafka's producer splits such a batch).
TEST_CASE("Records that each fit max.message.bytes are delivered however they are batched",
          "[producer][regression]") {
  Fixture f;
  TopicConfig config;
  config.max_message_bytes = 1000;
  REQUIRE_OK(f.broker->CreateTopic("t", 1, config));
  ProducerOptions options;
  options.linger_ms = 60000;  // batch.size stays 16384
  auto producer = f.MakeProducer(options);
  CallbackLog log;
  for (int i = 0; i < 20; ++i) {
    REQUIRE_OK(producer->Send({.topic = "t", .value = std::string(100, 'v')}, log.Make(i)));
  }
  REQUIRE_OK(producer->Flush());
  REQUIRE(log.fired() == 20);
  for (int i = 0; i < 20; ++i) {
    INFO("record " << i);
    CHECK_OK(log.result(i));
  }
  CHECK(f.Read("t", 0).size() == 20);
}

// Was: when buffer.memory is full of batches that are only lingering (linger.ms not yet
// passed, batch not full), the sender is not told to send them: Send waits out
// max.block.ms and fails with ResourceExhausted although the sender is idle and could
// drain the buffer at once. Kafka's RecordAccumulator treats every batch as ready while
// the buffer pool is exhausted.
TEST_CASE("A buffer full of lingering batches is drained rather than refused",
          "[producer][backpressure][regression]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 1));
  ProducerOptions options;
  options.buffer_memory = 4096;
  options.batch_size = 16384;
  options.linger_ms = 60000;
  options.max_block_ms = 1000;
  auto producer = f.MakeProducer(options);
  CallbackLog log;
  absl::Status st;
  int i = 0;
  for (; i < 50 && st.ok(); ++i) {
    st = producer->Send({.topic = "t", .value = std::string(200, 'v')}, log.Make(i));
  }
  CHECK_OK(st);
  INFO("sends that succeeded: " << (st.ok() ? i : i - 1));
  REQUIRE_OK(producer->Flush());
}

// Was: a send that waits for buffer.memory releases the producer's lock, and
// header_scratch_ (the member holding the record's converted headers) is shared by every
// sending thread: another send refills it meanwhile, and the first send then writes the
// other record's headers (views into the other caller's memory) into its own record.
TEST_CASE("A send that waited for buffer.memory keeps its own headers",
          "[producer][backpressure][regression]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 1));
  ProducerOptions options;
  options.buffer_memory = 1024;
  options.max_block_ms = 60000;
  options.linger_ms = 0;
  auto producer = f.MakeProducer(options);
  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  Releaser releaser{gate};
  REQUIRE_OK(producer->Send({.topic = "t", .value = std::string(900, 'f')},
                            [opened](const absl::StatusOr<RecordMetadata>&) { opened.wait(); }));
  // Headers live for the whole test, so the bug shows as wrong headers, not a crash.
  const Header headers_a[] = {{"from", "a"}, {"a-only", "1"}};
  const Header headers_b[] = {{"from", "b"}};
  const std::string value(300, 'x');
  absl::Status sent_a, sent_b;
  std::thread a([&] {
    sent_a = producer->Send({.topic = "t", .key = "a", .value = value, .headers = headers_a});
  });
  std::thread b([&] {
    sent_b = producer->Send({.topic = "t", .key = "b", .value = value, .headers = headers_b});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // both wait for space
  releaser.Release();
  a.join();
  b.join();
  CHECK_OK(sent_a);
  CHECK_OK(sent_b);
  REQUIRE_OK(producer->Flush());
  std::vector<ReadRecord> records = f.Read("t", 0);
  REQUIRE(records.size() == 3);
  for (const ReadRecord& r : records) {
    if (r.key == "a") {
      CHECK(r.headers == std::vector<ReadHeader>{{"from", "a"}, {"a-only", "1"}});
    } else if (r.key == "b") {
      CHECK(r.headers == std::vector<ReadHeader>{{"from", "b"}});
    }
  }
}

// Was: Enqueue computes `Clock::now() + milliseconds(max_block_ms)`, which overflows
// steady_clock's nanoseconds for max.block.ms above about 9.2e12 (e.g. INT64_MAX, "block
// forever"): the deadline lands in the past and a full buffer fails at once.
TEST_CASE("max.block.ms = INT64_MAX blocks until there is space",
          "[producer][backpressure][regression]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 1));
  ProducerOptions options;
  options.buffer_memory = 1024;
  options.max_block_ms = std::numeric_limits<int64_t>::max();
  auto producer = f.MakeProducer(options);
  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  Releaser releaser{gate};
  REQUIRE_OK(producer->Send({.topic = "t", .value = std::string(900, 'f')},
                            [opened](const absl::StatusOr<RecordMetadata>&) { opened.wait(); }));
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    releaser.Release();
  });
  absl::Status st = producer->Send({.topic = "t", .value = std::string(500, 'x')});
  release.join();
  CHECK_OK(st);
  REQUIRE_OK(producer->Flush());
}

// Was: the sender computes `created + milliseconds(linger_ms)`, which overflows for
// linger.ms above about 9.2e12 (e.g. INT64_MAX): the deadline lands in the past and every
// batch is sent at once instead of lingering until full or flushed.
TEST_CASE("linger.ms = INT64_MAX holds a batch until Flush", "[producer][regression]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 1));
  ProducerOptions options;
  options.linger_ms = std::numeric_limits<int64_t>::max();
  auto producer = f.MakeProducer(options);
  CallbackLog log;
  REQUIRE_OK(producer->Send({.topic = "t", .value = "v"}, log.Make(1)));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(log.fired() == 0);
  REQUIRE_OK(producer->Flush());
  CHECK(log.fired() == 1);
}

// DIVERGENCE from Kafka: Kafka's ProducerRecord refuses a negative timestamp
// (IllegalArgumentException "Timestamp should always be non-negative or null"), and -1 is
// RecordBatch.NO_TIMESTAMP on disk; runnel writes whatever it is given.
TEST_CASE("A negative timestamp is InvalidArgument, as Kafka refuses it",
          "[producer][errors][regression]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 1));
  auto producer = f.MakeProducer();
  for (int64_t ts : {int64_t{-1}, int64_t{-5}, std::numeric_limits<int64_t>::min()}) {
    INFO("timestamp " << ts);
    CallbackLog log;
    absl::Status st = producer->Send({.topic = "t", .value = "v", .timestamp = ts}, log.Make(1));
    CHECK(st.code() == absl::StatusCode::kInvalidArgument);
    REQUIRE_OK(producer->Flush());
    CHECK(log.count(1) == 1);
  }
  CHECK(f.Read("t", 0).empty());
}

}  // namespace
}  // namespace runnel
