// runnel::Consumer against a real Broker on a temp dir, one thread: what Poll returns
// (every field, byte for byte), auto.offset.reset, positioning, the fetch limits,
// several partitions and fairness, Pause/Resume, Assign, errors, retention resets, and
// how long the views Poll returns stay valid. Written from include/runnel/consumer.h's
// contract; records are produced with runnel::Producer.
//
// Every wait is bounded and every assertion is about content, never about time.
#include "runnel/consumer.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "client/producer_testing.h"
#include "runnel/broker.h"
#include "runnel/producer.h"
#include "support/log_testing.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel {
namespace {

using namespace std::chrono_literals;
using testing::CallbackLog;
using testing::PartitionOf;
using testing::ReadHeader;
using testing::ReadRecord;
using testing::ReadTopicPartition;
using testing::TempDir;

// Small index files: every segment preallocates segment.index.bytes twice.
TopicConfig SmallConfig() {
  TopicConfig c;
  c.segment_index_bytes = 4096;
  return c;
}

// A config whose segments hold about one small batch each, and whose retention.bytes
// deletes every segment but the active one.
TopicConfig TinySegments() {
  TopicConfig c = SmallConfig();
  c.segment_bytes = 200;
  c.retention_bytes = 0;
  c.retention_ms = -1;
  return c;
}

TopicPartition TP(std::string topic, int32_t partition) { return {std::move(topic), partition}; }

// A record as Poll returned it, copied out of the views.
struct Got {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = -1;
  int64_t timestamp = -1;
  TimestampType timestamp_type = TimestampType::kCreateTime;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<ReadHeader> headers;
};

std::optional<std::string> Copy(std::optional<std::string_view> v) {
  return v ? std::optional<std::string>(std::string(*v)) : std::nullopt;
}

Got CopyOf(const ConsumerRecord& r) {
  Got g;
  g.topic = std::string(r.topic);
  g.partition = r.partition;
  g.offset = r.offset;
  g.timestamp = r.timestamp;
  g.timestamp_type = r.timestamp_type;
  g.key = Copy(r.key);
  g.value = Copy(r.value);
  for (const Header& h : r.headers) g.headers.push_back({std::string(h.key), Copy(h.value)});
  return g;
}

// One Poll, which must succeed; its records copied.
std::vector<Got> PollOnce(Consumer& c, std::chrono::milliseconds timeout = 0ms) {
  auto polled = c.Poll(timeout);
  REQUIRE_OK(polled);
  std::vector<Got> out;
  for (const ConsumerRecord& r : *polled) out.push_back(CopyOf(r));
  return out;
}

// Short polls until `n` records came or `max_polls` polls were made.
std::vector<Got> PollN(Consumer& c, size_t n, int max_polls = 1000) {
  std::vector<Got> out;
  for (int i = 0; i < max_polls && out.size() < n; ++i) {
    std::vector<Got> got = PollOnce(c);
    out.insert(out.end(), got.begin(), got.end());
  }
  return out;
}

std::vector<int64_t> Offsets(const std::vector<Got>& records) {
  std::vector<int64_t> out;
  for (const Got& g : records) out.push_back(g.offset);
  return out;
}

std::vector<int64_t> Range(int64_t from, int64_t to) {  // [from, to)
  std::vector<int64_t> out;
  for (int64_t o = from; o < to; ++o) out.push_back(o);
  return out;
}

std::vector<TopicPartition> Sorted(std::vector<TopicPartition> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// One reset the offset_reset_listener heard.
struct ResetCall {
  TopicPartition tp;
  int64_t from;
  int64_t to;
  std::string reason;
};

struct Fixture {
  explicit Fixture(const BrokerOptions& options = {}) {
    auto opened = Broker::Open(tmp.Sub("data"), options);
    REQUIRE_OK(opened);
    broker = std::move(*opened);
    ProducerOptions fast;
    fast.linger_ms = 0;
    auto p = Producer::Create(*broker, fast);
    REQUIRE_OK(p);
    producer = std::move(*p);
    ProducerOptions batching;
    batching.linger_ms = 60000;  // only Flush sends: everything queued goes as one batch
    auto b = Producer::Create(*broker, batching);
    REQUIRE_OK(b);
    batcher = std::move(*b);
  }

  void CreateTopic(const std::string& name, int32_t partitions,
                   const TopicConfig& config = SmallConfig()) {
    REQUIRE_OK(broker->CreateTopic(name, partitions, config));
  }

  std::unique_ptr<Consumer> MakeConsumer(ConsumerOptions options = {}) {
    auto created = Consumer::Create(*broker, options);
    REQUIRE_OK(created);
    return std::move(*created);
  }

  std::unique_ptr<Consumer> MakeConsumer(OffsetReset reset) {
    ConsumerOptions o;
    o.auto_offset_reset = reset;
    return MakeConsumer(o);
  }

  RecordMetadata Send(const ProducerRecord& record) {
    auto md = producer->SendSync(record);
    REQUIRE_OK(md);
    return *md;
  }

  // `n` records with values "<prefix><i>" to one partition, one batch each.
  void SendEach(const std::string& topic, int32_t partition, int n, const std::string& prefix = "v",
                int first = 0) {
    for (int i = first; i < first + n; ++i) {
      const std::string value = prefix + std::to_string(i);
      Send({.topic = topic, .partition = partition, .value = value});
    }
  }

  // `n` records with values "<prefix><i>" to one partition, sent together as one batch.
  void SendBatch(const std::string& topic, int32_t partition, int n,
                 const std::string& prefix = "v", int first = 0, size_t pad = 0) {
    CallbackLog log;
    for (int i = first; i < first + n; ++i) {
      const std::string value = prefix + std::to_string(i) + std::string(pad, '.');
      REQUIRE_OK(
          batcher->Send({.topic = topic, .partition = partition, .value = value}, log.Make(i)));
    }
    REQUIRE_OK(batcher->Flush());
    for (int i = first; i < first + n; ++i) REQUIRE_OK(log.result(i));
  }

  storage::PartitionLog& Log(const std::string& topic, int32_t partition) {
    auto p = PartitionOf(*broker, topic, partition);
    REQUIRE(p != nullptr);
    return p->log();
  }

  // Rolls the partition and applies retention: under TinySegments, every record written
  // so far is deleted.
  void DeleteAllByRetention(const std::string& topic, int32_t partition) {
    storage::PartitionLog& log = Log(topic, partition);
    REQUIRE_OK(log.Roll());
    auto deleted = log.EnforceRetention();
    REQUIRE_OK(deleted);
    REQUIRE(deleted->segments_deleted > 0);
    REQUIRE(log.log_start_offset() == log.log_end_offset());
  }

  TempDir tmp;
  std::unique_ptr<Broker> broker;
  std::unique_ptr<Producer> producer;
  std::unique_ptr<Producer> batcher;
};

std::string V(int i) { return "v" + std::to_string(i); }

// ---------------------------------------------------------------------------------------
// What Poll returns.

struct Sent {
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<ReadHeader> headers;
  std::optional<int64_t> timestamp;
};

TEST_CASE(
    "consumer: Poll returns the produced records in order with topic, partition, offset, "
    "CreateTime timestamp, key, value and headers byte for byte",
    "[consumer]") {
  Fixture f;
  f.CreateTopic("orders", 2);
  const bool one_batch = GENERATE(false, true);
  Producer& producer = one_batch ? *f.batcher : *f.producer;

  std::string binary;
  for (int b = 0; b < 256; ++b) binary.push_back(static_cast<char>(b));
  std::string big(200 * 1024, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 31 + 7) % 256);

  const std::vector<Sent> sent = {
      {"key", "value", {}, std::nullopt},
      {std::nullopt, "null key", {}, 5},
      {"null value", std::nullopt, {}, 3},  // timestamps going backwards
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
  for (size_t i = 0; i < sent.size(); ++i) {
    std::vector<Header> headers;
    for (const ReadHeader& h : sent[i].headers) {
      headers.push_back(
          Header{h.key, h.value ? std::optional<std::string_view>(*h.value) : std::nullopt});
    }
    ProducerRecord record{
        .topic = "orders", .partition = 1, .headers = headers, .timestamp = sent[i].timestamp};
    if (sent[i].key) record.key = *sent[i].key;
    if (sent[i].value) record.value = *sent[i].value;
    REQUIRE_OK(producer.Send(record, log.Make(static_cast<int64_t>(i))));
  }
  REQUIRE_OK(producer.Flush());
  REQUIRE(log.fired() == static_cast<int64_t>(sent.size()));

  auto consumer = f.MakeConsumer(OffsetReset::kEarliest);
  REQUIRE_OK(consumer->Assign({TP("orders", 1)}));
  std::vector<Got> got = PollN(*consumer, sent.size(), 20);
  REQUIRE(got.size() == sent.size());
  for (size_t i = 0; i < sent.size(); ++i) {
    INFO("record " << i);
    auto md = log.result(static_cast<int64_t>(i));
    REQUIRE_OK(md);
    const Got& g = got[i];
    CHECK(g.topic == "orders");
    CHECK(g.partition == 1);
    CHECK(g.offset == static_cast<int64_t>(i));
    CHECK(g.offset == md->offset);
    CHECK(g.timestamp_type == TimestampType::kCreateTime);
    CHECK(g.timestamp == md->timestamp);
    if (sent[i].timestamp) CHECK(g.timestamp == *sent[i].timestamp);
    CHECK(g.key == sent[i].key);
    CHECK(g.value == sent[i].value);
    CHECK(g.headers == sent[i].headers);
  }
  CHECK(PollOnce(*consumer).empty());
  auto position = consumer->Position(TP("orders", 1));
  REQUIRE_OK(position);
  CHECK(*position == static_cast<int64_t>(sent.size()));
}

TEST_CASE(
    "consumer: Under message.timestamp.type=LogAppendTime Poll returns the time the log stamped, "
    "typed LogAppendTime",
    "[consumer]") {
  Fixture f;
  auto config = TopicConfig::FromMap(
      {{"message.timestamp.type", "LogAppendTime"}, {"segment.index.bytes", "4096"}});
  REQUIRE_OK(config);
  f.CreateTopic("t", 1, *config);
  std::vector<RecordMetadata> mds;
  for (int i = 0; i < 3; ++i) {
    const std::string value = V(i);
    mds.push_back(f.Send({.topic = "t", .value = value, .timestamp = 5}));
  }
  // And one batch of several records, which share the batch's append time.
  CallbackLog log;
  for (int i = 3; i < 6; ++i) {
    const std::string value = V(i);
    REQUIRE_OK(f.batcher->Send({.topic = "t", .value = value, .timestamp = 5}, log.Make(i)));
  }
  REQUIRE_OK(f.batcher->Flush());
  for (int i = 3; i < 6; ++i) {
    auto md = log.result(i);
    REQUIRE_OK(md);
    mds.push_back(*md);
  }

  auto consumer = f.MakeConsumer(OffsetReset::kEarliest);
  REQUIRE_OK(consumer->Assign({TP("t", 0)}));
  std::vector<Got> got = PollN(*consumer, 6, 10);
  REQUIRE(got.size() == 6);
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("record " << i);
    CHECK(got[i].offset == mds[i].offset);
    CHECK(got[i].value == V(static_cast<int>(i)));
    CHECK(got[i].timestamp_type == TimestampType::kLogAppendTime);
    CHECK(got[i].timestamp == mds[i].timestamp);
    CHECK(got[i].timestamp != 5);
  }
}

// ---------------------------------------------------------------------------------------
// auto.offset.reset

TEST_CASE("consumer: auto.offset.reset=earliest starts at the log start and returns every record",
          "[consumer]") {
  Fixture f;
  f.CreateTopic("t", 1);
  f.SendEach("t", 0, 5);
  auto consumer = f.MakeConsumer(OffsetReset::kEarliest);
  REQUIRE_OK(consumer->Assign({TP("t", 0)}));
  auto position = consumer->Position(TP("t", 0));
  REQUIRE_OK(position);
  CHECK(*position == 0);
  std::vector<Got> got = PollN(*consumer, 5, 10);
  CHECK(Offsets(got) == Range(0, 5));
  REQUIRE(got.size() == 5);
  CHECK(got[4].value == V(4));
}

TEST_CASE(
    "consumer: auto.offset.reset=latest returns only records produced after the position is "
    "resolved",
    "[consumer]") {
  Fixture f;
  f.CreateTopic("t", 1);
  f.SendEach("t", 0, 3, "old");
  auto consumer = f.MakeConsumer();  // latest is the default
  REQUIRE_OK(consumer->Assign({TP("t", 0)}));

  SECTION("resolved by a Poll") { CHECK(PollOnce(*consumer).empty()); }
  SECTION("resolved by Position") {
    auto position = consumer->Position(TP("t", 0));
    REQUIRE_OK(position);
    CHECK(*position == 3);
  }
  f.SendEach("t", 0, 2, "new", 3);
  std::vector<Got> got = PollN(*consumer, 2, 10);
  CHECK(Offsets(got) == Range(3, 5));
  REQUIRE(got.size() == 2);
  CHECK(got[0].value == "new3");
  CHECK(got[1].value == "new4");
  CHECK(PollOnce(*consumer).empty());
}

TEST_CASE(
    "consumer: auto.offset.reset=none: Poll and Position fail with FailedPrecondition naming the "
    "partition until a Seek, then Poll works",
    "[consumer]") {
  Fixture f;
  f.CreateTopic("t", 2);
  f.SendEach("t", 1, 3);
  auto consumer = f.MakeConsumer(OffsetReset::kNone);
  REQUIRE_OK(consumer->Assign({TP("t", 1)}));
  CHECK_STATUS_IS(consumer->Poll(0ms), absl::StatusCode::kFailedPrecondition, "t-1");
  CHECK_STATUS_IS(consumer->Poll(0ms), absl::StatusCode::kFailedPrecondition, "t-1");
  CHECK_STATUS_IS(consumer->Position(TP("t", 1)), absl::StatusCode::kFailedPrecondition, "t-1");

  REQUIRE_OK(consumer->Seek(TP("t", 1), 1));
  std::vector<Got> got = PollN(*consumer, 2, 10);
  CHECK(Offsets(got) == Range(1, 3));

  // SeekToBeginning sets a position too.
  auto other = f.MakeConsumer(OffsetReset::kNone);
  REQUIRE_OK(other->Assign({TP("t", 1)}));
  REQUIRE_OK(other->SeekToBeginning({TP("t", 1)}));
  CHECK(Offsets(PollN(*other, 3, 10)) == Range(0, 3));
}

// ---------------------------------------------------------------------------------------
// Positioning and offsets.

TEST_CASE(
    "consumer: Seek sets the position, Poll goes on from there, also from the middle of a batch",
    "[consumer]") {
  Fixture f;
  f.CreateTopic("t", 1);
  f.SendBatch("t", 0, 10);         // offsets 0..9, one batch
  f.SendEach("t", 0, 5, "v", 10);  // offsets 10..14
  auto consumer = f.MakeConsumer(OffsetReset::kEarliest);
  REQUIRE_OK(consumer->Assign({TP("t", 0)}));

  REQUIRE_OK(consumer->Seek(TP("t", 0), 4));
  auto position = consumer->Position(TP("t", 0));
  REQUIRE_OK(position);
  CHECK(*position == 4);
  std::vector<Got> got = PollN(*consumer, 11, 10);
  CHECK(Offsets(got) == Range(4, 15));
  REQUIRE(got.size() == 11);
  CHECK(got.front().value == V(4));
  CHECK(got.back().value == V(14));

  // Backwards: re-reads.
  REQUIRE_OK(consumer->Seek(TP("t", 0), 12));
  CHECK(Offsets(PollN(*consumer, 3, 10)) == Range(12, 15));
  REQUIRE_OK(consumer->Seek(TP("t", 0), 0));
  CHECK(Offsets(PollN(*consumer, 15, 10)) == Range(0, 15));

  CHECK_STATUS_IS(consumer->Seek(TP("t", 0), -1), absl::StatusCode::kInvalidArgument, "-1");
}

TEST_CASE(
    "consumer: SeekToBeginning and SeekToEnd move to the log start and the visible end, an empty "
    "list means every assigned partition",
    "[consumer]") {
  Fixture f;
  f.CreateTopic("t", 2);
  f.SendEach("t", 0, 5);
  f.SendEach("t", 1, 3);
  auto consumer = f.MakeConsumer(OffsetReset::kEarliest);
  REQUIRE_OK(consumer->Assign({TP("t", 0), TP("t", 1)}));

  REQUIRE_OK(consumer->SeekToEnd({}));
  CHECK(*consumer->Position(TP("t", 0)) == 5);
  CHECK(*consumer->Position(TP("t", 1)) == 3);
  CHECK(PollOnce(*consumer).empty());

  REQUIRE_OK(consumer->SeekToBeginning({TP("t", 1)}));
  CHECK(*consumer->Position(TP("t", 0)) == 5);
  CHECK(*consumer->Position(TP("t", 1)) == 0);
  std::vector<Got> got = PollN(*consumer, 3, 10);
  CHECK(Offsets(got) == Range(0, 3));
  for (const Got& g : got) CHECK(g.partition == 1);

  REQUIRE_OK(consumer->SeekToBeginning({}));
  CHECK(*consumer->Position(TP("t", 0)) == 0);
  CHECK(*consumer->Position(TP("t", 1)) == 0);
  CHECK(PollN(*consumer, 8, 10).size() == 8);

  REQUIRE_OK(consumer->SeekToEnd({TP("t", 0)}));
  f.SendEach("t", 0, 1, "v", 5);
  got = PollN(*consumer, 1, 10);
  REQUIRE(got.size() == 1);
  CHECK(got[0].offset == 5);
  CHECK(got[0].value == V(5));
}

TEST_CASE(
    "consumer: BeginningOffsets and EndOffsets give the log start and visible end of any "
    "partition, assigned or not, NotFound for an unknown one",
    "[consumer]") {
  Fixture f;
  f.CreateTopic("t", 3);
  f.SendEach("t", 0, 5);
  f.SendEach("t", 1, 3);
  auto consumer = f.MakeConsumer();
  auto begin = consumer->BeginningOffsets({TP("t", 0), TP("t", 1), TP("t", 2)});
  REQUIRE_OK(begin);
  CHECK(*begin ==
        std::map<TopicPartition, int64_t>{{TP("t", 0), 0}, {TP("t", 1), 0}, {TP("t", 2), 0}});
  auto end = consumer->EndOffsets({TP("t", 0), TP("t", 1), TP("t", 2)});
  REQUIRE_OK(end);
  CHECK(*end ==
        std::map<TopicPartition, int64_t>{{TP("t", 0), 5}, {TP("t", 1), 3}, {TP("t", 2), 0}});

  CHECK_STATUS_IS(consumer->BeginningOffsets({TP("nope", 0)}), absl::StatusCode::kNotFound, "nope");
  CHECK_STATUS_IS(consumer->EndOffsets({TP("t", 3)}), absl::StatusCode::kNotFound, "t", "3");
  CHECK_STATUS_IS(consumer->EndOffsets({TP("t", -1)}), absl::StatusCode::kNotFound, "-1");
}

TEST_CASE(
    "consumer: OffsetsForTimes gives the first offset whose timestamp is >= the time, with that "
    "timestamp, nullopt past the newest record",
    "[consumer]") {
  Fixture f;
  f.CreateTopic("t", 2);
  // Offsets 0..2 in batches of their own, 3..5 in one batch.
  for (int i = 0; i < 3; ++i) {
    f.Send({.topic = "t", .partition = 0, .value = V(i), .timestamp = 1000 * (i + 1)});
  }
  CallbackLog log;
  for (int i = 3; i < 6; ++i) {
    const std::string value = V(i);
    REQUIRE_OK(f.batcher->Send(
        {.topic = "t", .partition = 0, .value = value, .timestamp = 1000 * (i + 1)}, log.Make(i)));
  }
  REQUIRE_OK(f.batcher->Flush());
  for (int i = 3; i < 6; ++i) REQUIRE_OK(log.result(i));

  auto consumer = f.MakeConsumer();  // nothing assigned: not needed
  auto at = [&](int64_t ts) -> std::optional<OffsetAndTimestamp> {
    auto found = consumer->OffsetsForTimes({{TP("t", 0), ts}});
    REQUIRE_OK(found);
    REQUIRE(found->size() == 1);
    REQUIRE(found->count(TP("t", 0)) == 1);
    return found->at(TP("t", 0));
  };
  struct Expect {
    int64_t query;
    int64_t offset;
    int64_t timestamp;
  };
  for (const Expect& e : std::vector<Expect>{{0, 0, 1000},
                                             {1000, 0, 1000},
                                             {1001, 1, 2000},
                                             {1500, 1, 2000},
                                             {3000, 2, 3000},
                                             {3500, 3, 4000},
                                             {4500, 4, 5000},  // inside a batch
                                             {5000, 4, 5000},
                                             {6000, 5, 6000}}) {
    INFO("timestamp " << e.query);
    std::optional<OffsetAndTimestamp> found = at(e.query);
    REQUIRE(found.has_value());
    CHECK(found->offset == e.offset);
    CHECK(found->timestamp == e.timestamp);
  }
  CHECK_FALSE(at(6001).has_value());
  CHECK_FALSE(at(1'000'000'000'000).has_value());

  // Several partitions at once; an empty partition has no record that recent.
  auto both = consumer->OffsetsForTimes({{TP("t", 0), 2500}, {TP("t", 1), 0}});
  REQUIRE_OK(both);
  REQUIRE(both->size() == 2);
  REQUIRE(both->at(TP("t", 0)).has_value());
  CHECK(both->at(TP("t", 0))->offset == 2);
  CHECK_FALSE(both->at(TP("t", 1)).has_value());

  // Seeking to the offset found reads from there.
  REQUIRE_OK(consumer->Assign({TP("t", 0)}));
  REQUIRE_OK(consumer->Seek(TP("t", 0), at(4500)->offset));
  CHECK(Offsets(PollN(*consumer, 2, 10)) == Range(4, 6));

  CHECK_STATUS_IS(consumer->OffsetsForTimes({{TP("nope", 0), 0}}), absl::StatusCode::kNotFound,
                  "nope");
  CHECK_STATUS_IS(consumer->OffsetsForTimes({{TP("t", 7), 0}}), absl::StatusCode::kNotFound, "7");
  CHECK_STATUS_IS(consumer->OffsetsForTimes({{TP("t", 0), -5}}), absl::StatusCode::kInvalidArgument,
                  "-5");
}

// ---------------------------------------------------------------------------------------
// Fetch limits.

TEST_CASE(
    "consumer: max.poll.records bounds every Poll, and across polls no record is skipped or "
    "repeated, also when a batch is split",
    "[consumer]") {
  Fixture f;
  f.CreateTopic("t", 1);
  f.SendBatch("t", 0, 10, "v", 0);   // 0..9
  f.SendEach("t", 0, 5, "v", 10);    // 10..14
  f.SendBatch("t", 0, 10, "v", 15);  // 15..24
  {
    // The layout this test relies on: two batches of ten records.
    auto records = ReadTopicPartition(*f.broker, "t", 0);
    REQUIRE_OK(records);
    REQUIRE(records->size() == 25);
    CHECK((*records)[9].batch_base_offset == 0);
    CHECK((*records)[24].batch_base_offset == 15);
  }
  const int32_t max = GENERATE(1, 3, 7, 10, 500);
  INFO("max.poll.records " << max);
  ConsumerOptions options;
  options.auto_offset_reset = OffsetReset::kEarliest;
  options.max_poll_records = max;
  auto consumer = f.MakeConsumer(options);
  REQUIRE_OK(consumer->Assign({TP("t", 0)}));
  std::vector<Got> all;
  for (int i = 0; i < 100 && all.size() < 25; ++i) {
    std::vector<Got> got = PollOnce(*consumer);
    CHECK(got.size() <= static_cast<size_t>(max));
    all.insert(all.end(), got.begin(), got.end());
    auto position = consumer->Position(TP("t", 0));
    REQUIRE_OK(position);
    CHECK(*position == static_cast<int64_t>(all.size()));
  }
  CHECK(Offsets(all) == Range(0, 25));
  for (const Got& g : all) CHECK(g.value == V(static_cast<int>(g.offset)));
  CHECK(PollOnce(*consumer).empty());
}

TEST_CASE(
    "consumer: A batch larger than max.partition.fetch.bytes or fetch.max.bytes is returned "
    "whole, and the consumer never stalls",
    "[consumer]") {
  Fixture f;
  f.CreateTopic("t", 2);
  f.SendBatch("t", 0, 20, "a", 0, 100);  // one batch of about 2.5 KB per partition
  f.SendBatch("t", 1, 20, "b", 0, 100);
  f.SendBatch("t", 0, 20, "a", 20, 100);

  const std::string limit = GENERATE("max.partition.fetch.bytes", "fetch.max.bytes", "both");
  const int32_t bytes = GENERATE(0, 1, 100);
  INFO(limit << " = " << bytes);
  ConsumerOptions options;
  options.auto_offset_reset = OffsetReset::kEarliest;
  if (limit != "fetch.max.bytes") options.max_partition_fetch_bytes = bytes;
  if (limit != "max.partition.fetch.bytes") options.fetch_max_bytes = bytes;
  auto consumer = f.MakeConsumer(options);
  REQUIRE_OK(consumer->Assign({TP("t", 0), TP("t", 1)}));

  std::map<int32_t, std::vector<Got>> by_partition;
  int polls = 0;
  size_t total = 0;
  for (; polls < 10 && total < 60; ++polls) {
    std::vector<Got> got = PollOnce(*consumer);
    // Whole batches: every partition's share of a Poll is a multiple of 20 records.
    std::map<int32_t, size_t> share;
    for (const Got& g : got) ++share[g.partition];
    for (const auto& [p, n] : share) CHECK(n % 20 == 0);
    for (const Got& g : got) by_partition[g.partition].push_back(g);
    total += got.size();
  }
  CHECK(total == 60);
  CHECK(Offsets(by_partition[0]) == Range(0, 40));
  CHECK(Offsets(by_partition[1]) == Range(0, 20));
  REQUIRE(by_partition[1].size() == 20);
  CHECK(by_partition[1][19].value == "b19" + std::string(100, '.'));
  CHECK(PollOnce(*consumer).empty());
}

TEST_CASE(
    "consumer: fetch.min.bytes not reached: Poll still returns the records there once "
    "fetch.max.wait.ms has passed",
    "[consumer]") {
  Fixture f;
  f.CreateTopic("t", 1);
  f.SendEach("t", 0, 3);
  ConsumerOptions options;
  options.auto_offset_reset = OffsetReset::kEarliest;
  options.fetch_min_bytes = 1 << 20;
  options.fetch_max_wait_ms = 20;
  auto consumer = f.MakeConsumer(options);
  REQUIRE_OK(consumer->Assign({TP("t", 0)}));
  std::vector<Got> got = PollOnce(*consumer, 10s);
  CHECK(Offsets(got) == Range(0, 3));
}

TEST_CASE(
    "consumer: Under sync.policy=always Poll returns only fsynced records, and EndOffsets and "
    "SeekToEnd use the visible end",
    "[consumer]") {
  Fixture f;
  TopicConfig config = SmallConfig();
  config.sync_policy = SyncPolicy::kAlways;
  f.CreateTopic("t", 1, config);
  auto consumer = f.MakeConsumer(OffsetReset::kEarliest);
  REQUIRE_OK(consumer->Assign({TP("t", 0)}));
  // Appended straight to the log, not yet fsynced: written but not visible.
  storage::PartitionLog& log = f.Log("t", 0);
  std::vector<testing::TestRecord> records = testing::MakeRecords(3);
  REQUIRE_OK(testing::AppendRecords(log, records));
  REQUIRE(log.log_end_offset() == 3);
  REQUIRE(log.visible_offset() == 0);

  CHECK(PollOnce(*consumer).empty());
  auto end = consumer->EndOffsets({TP("t", 0)});
  REQUIRE_OK(end);
  CHECK(end->at(TP("t", 0)) == 0);
  REQUIRE_OK(consumer->SeekToEnd({TP("t", 0)}));
  CHECK(*consumer->Position(TP("t", 0)) == 0);

  REQUIRE_OK(log.Flush());
  std::vector<Got> got = PollN(*consumer, 3, 10);
  REQUIRE(Offsets(got) == Range(0, 3));
  for (size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].key == records[i].key);
    CHECK(got[i].value == records[i].value);
    CHECK(got[i].timestamp == records[i].timestamp);
  }
  end = consumer->EndOffsets({TP("t", 0)});
  REQUIRE_OK(end);
  CHECK(end->at(TP("t", 0)) == 3);
}

// ---------------------------------------------------------------------------------------
// Several partitions.

TEST_CASE(
    "consumer: With several partitions every record comes exactly once, in offset order per "
    "partition",
    "[consumer]") {
  Fixture f;
  f.CreateTopic("t", 3);
  const int n = 300;
  CallbackLog log;
  for (int i = 0; i < n; ++i) {
    const std::string key = "k" + std::to_string(i % 17);
    const std::string value = V(i);
    REQUIRE_OK(f.producer->Send({.topic = "t", .key = key, .value = value}, log.Make(i)));
  }
  REQUIRE_OK(f.producer->Flush());
  std::map<int32_t, int64_t> per_partition;
  for (int i = 0; i < n; ++i) {
    auto md = log.result(i);
    REQUIRE_OK(md);
    ++per_partition[md->partition];
  }
  REQUIRE(per_partition.size() == 3);  // the keys spread over every partition

  ConsumerOptions options;
  options.auto_offset_reset = OffsetReset::kEarliest;
  options.max_poll_records = 37;
  auto consumer = f.MakeConsumer(options);
  REQUIRE_OK(consumer->Assign({TP("t", 0), TP("t", 1), TP("t", 2)}));
  std::vector<Got> got = PollN(*consumer, n, 100);
  REQUIRE(got.size() == static_cast<size_t>(n));
  std::map<int32_t, std::vector<Got>> by_partition;
  std::multiset<std::string> values;
  std::map<std::string, int> last_of_key;
  for (const Got& g : got) {
    by_partition[g.partition].push_back(g);
    REQUIRE(g.value.has_value());
    values.insert(*g.value);
    const int i = std::stoi(g.value->substr(1));
    CHECK(g.key == "k" + std::to_string(i % 17));
    auto last = last_of_key.find(*g.key);
    if (last != last_of_key.end()) CHECK(last->second < i);  // per-key order
    last_of_key[*g.key] = i;
  }
  for (const auto& [p, records] : by_partition) {
    INFO("partition " << p);
    CHECK(Offsets(records) == Range(0, per_partition[p]));
  }
  std::multiset<std::string> expected;
  for (int i = 0; i < n; ++i) expected.insert(V(i));
  CHECK(values == expected);
  CHECK(PollOnce(*consumer).empty());
}

TEST_CASE(
    "consumer: Fairness: beside a flooded partition, another partition's records come within two "
    "polls",
    "[consumer]") {
  Fixture f;
  f.CreateTopic("t", 2);
  for (int b = 0; b < 6; ++b) f.SendBatch("t", 0, 500, "f", b * 500);  // 3000 records
  f.SendEach("t", 1, 3, "few");
  ConsumerOptions options;
  options.auto_offset_reset = OffsetReset::kEarliest;
  options.max_poll_records = 100;
  auto consumer = f.MakeConsumer(options);
  const bool flooded_first = GENERATE(true, false);
  if (flooded_first) {
    REQUIRE_OK(consumer->Assign({TP("t", 0), TP("t", 1)}));
  } else {
    REQUIRE_OK(consumer->Assign({TP("t", 1), TP("t", 0)}));
  }

  int64_t flooded_next = 0;  // checks the flooded partition's order on the way
  auto poll_few = [&](int polls) {
    std::vector<Got> few;
    for (int i = 0; i < polls; ++i) {
      for (const Got& g : PollOnce(*consumer)) {
        if (g.partition == 1) {
          few.push_back(g);
        } else {
          CHECK(g.offset == flooded_next);
          ++flooded_next;
        }
      }
    }
    return few;
  };
  CHECK(Offsets(poll_few(2)) == Range(0, 3));
  // Again while the flood goes on.
  f.SendEach("t", 1, 3, "few", 3);
  CHECK(Offsets(poll_few(2)) == Range(3, 6));
  f.SendEach("t", 1, 1, "few", 6);
  CHECK(Offsets(poll_few(2)) == Range(6, 7));
  CHECK(flooded_next < 3000);  // the flood really was still going
  CHECK(flooded_next >= 300);  // and it was served too
}

// ---------------------------------------------------------------------------------------
// Pause, Resume, Assign.

TEST_CASE("consumer: A paused partition keeps its position and returns nothing until resumed",
          "[consumer]") {
  Fixture f;
  f.CreateTopic("t", 2);
  f.SendEach("t", 0, 3, "zero");
  f.SendEach("t", 1, 3, "one");
  auto consumer = f.MakeConsumer(OffsetReset::kEarliest);
  REQUIRE_OK(consumer->Assign({TP("t", 0), TP("t", 1)}));
  CHECK(consumer->Paused().empty());
  REQUIRE_OK(consumer->Pause({TP("t", 0)}));
  CHECK(consumer->Paused() == std::vector<TopicPartition>{TP("t", 0)});

  std::vector<Got> got = PollN(*consumer, 3, 10);
  REQUIRE(got.size() == 3);
  for (const Got& g : got) CHECK(g.partition == 1);
  f.SendEach("t", 0, 2, "zero", 3);
  CHECK(PollOnce(*consumer).empty());
  CHECK(PollOnce(*consumer, 20ms).empty());
  CHECK(*consumer->Position(TP("t", 0)) == 0);

  REQUIRE_OK(consumer->Resume({TP("t", 0)}));
  CHECK(consumer->Paused().empty());
  got = PollN(*consumer, 5, 10);
  CHECK(Offsets(got) == Range(0, 5));
  for (const Got& g : got) CHECK(g.partition == 0);

  // Every partition paused: Poll returns nothing.
  REQUIRE_OK(consumer->Pause({TP("t", 0), TP("t", 1)}));
  f.SendEach("t", 1, 1, "one", 3);
  CHECK(PollOnce(*consumer, 20ms).empty());
  REQUIRE_OK(consumer->Resume({TP("t", 1)}));
  got = PollN(*consumer, 1, 10);
  REQUIRE(got.size() == 1);
  CHECK(got[0].partition == 1);
  CHECK(got[0].offset == 3);
}

TEST_CASE(
    "consumer: Assign replaces the assignment, kept partitions keep their position and pause "
    "state, Assignment lists it",
    "[consumer]") {
  Fixture f;
  f.CreateTopic("t", 3);
  for (int p = 0; p < 3; ++p) f.SendEach("t", p, 5);
  ConsumerOptions options;
  options.auto_offset_reset = OffsetReset::kEarliest;
  options.max_poll_records = 2;
  auto consumer = f.MakeConsumer(options);
  CHECK(consumer->Assignment().empty());
  CHECK(PollOnce(*consumer).empty());  // nothing assigned: nothing to return

  REQUIRE_OK(consumer->Assign({TP("t", 0)}));
  CHECK(consumer->Assignment() == std::vector<TopicPartition>{TP("t", 0)});
  CHECK(Offsets(PollOnce(*consumer)) == Range(0, 2));

  REQUIRE_OK(consumer->Assign({TP("t", 0), TP("t", 1)}));
  CHECK(Sorted(consumer->Assignment()) == std::vector<TopicPartition>{TP("t", 0), TP("t", 1)});
  CHECK(*consumer->Position(TP("t", 0)) == 2);
  REQUIRE_OK(consumer->Pause({TP("t", 1)}));
  REQUIRE_OK(consumer->Seek(TP("t", 1), 3));

  REQUIRE_OK(consumer->Assign({TP("t", 1), TP("t", 2)}));
  CHECK(Sorted(consumer->Assignment()) == std::vector<TopicPartition>{TP("t", 1), TP("t", 2)});
  CHECK(consumer->Paused() == std::vector<TopicPartition>{TP("t", 1)});
  CHECK(*consumer->Position(TP("t", 1)) == 3);
  CHECK_STATUS_IS(consumer->Position(TP("t", 0)), absl::StatusCode::kFailedPrecondition, "t-0");
  std::vector<Got> got = PollN(*consumer, 5, 10);
  CHECK(Offsets(got) == Range(0, 5));
  for (const Got& g : got) CHECK(g.partition == 2);

  // A partition assigned again starts afresh, by auto.offset.reset.
  REQUIRE_OK(consumer->Assign({TP("t", 0)}));
  CHECK(*consumer->Position(TP("t", 0)) == 0);
  CHECK(consumer->Paused().empty());

  REQUIRE_OK(consumer->Assign({}));
  CHECK(consumer->Assignment().empty());
  CHECK(PollOnce(*consumer).empty());
}

TEST_CASE("consumer: Assign of an unknown topic or partition fails with NotFound naming it",
          "[consumer]") {
  Fixture f;
  f.CreateTopic("t", 2);
  auto consumer = f.MakeConsumer();
  CHECK_STATUS_IS(consumer->Assign({TP("nope", 0)}), absl::StatusCode::kNotFound, "nope");
  CHECK_STATUS_IS(consumer->Assign({TP("t", 0), TP("t", 2)}), absl::StatusCode::kNotFound, "t",
                  "2");
  CHECK_STATUS_IS(consumer->Assign({TP("t", -1)}), absl::StatusCode::kNotFound, "-1");
  CHECK(consumer->Assignment().empty());
}

TEST_CASE(
    "consumer: A failed Assign leaves the previous assignment and positions in place, and the "
    "consumer usable",
    "[consumer]") {
  Fixture f;
  f.CreateTopic("t", 2);
  f.SendEach("t", 0, 4);
  ConsumerOptions options;
  options.auto_offset_reset = OffsetReset::kEarliest;
  options.max_poll_records = 2;
  auto consumer = f.MakeConsumer(options);
  REQUIRE_OK(consumer->Assign({TP("t", 0), TP("t", 1)}));
  CHECK(Offsets(PollOnce(*consumer)) == Range(0, 2));

  // t-0 is kept, then "nope" fails.
  CHECK_STATUS_IS(consumer->Assign({TP("t", 0), TP("nope", 0)}), absl::StatusCode::kNotFound,
                  "nope");
  CHECK(Sorted(consumer->Assignment()) == std::vector<TopicPartition>{TP("t", 0), TP("t", 1)});
  auto position = consumer->Position(TP("t", 0));
  REQUIRE_OK(position);
  CHECK(*position == 2);
  CHECK(Offsets(PollN(*consumer, 2, 10)) == Range(2, 4));
}

// ---------------------------------------------------------------------------------------
// Errors.

TEST_CASE(
    "consumer: Operations on a partition not assigned fail with FailedPrecondition naming it, the "
    "offset queries need no assignment",
    "[consumer]") {
  Fixture f;
  f.CreateTopic("t", 2);
  ConsumerOptions options;
  options.client_id = "c1";
  auto consumer = f.MakeConsumer(options);
  REQUIRE_OK(consumer->Assign({TP("t", 0)}));
  const TopicPartition other = TP("t", 1);
  CHECK_STATUS_IS(consumer->Seek(other, 0), absl::StatusCode::kFailedPrecondition, "t-1");
  CHECK_STATUS_IS(consumer->SeekToBeginning({other}), absl::StatusCode::kFailedPrecondition, "t-1");
  CHECK_STATUS_IS(consumer->SeekToEnd({TP("t", 0), other}), absl::StatusCode::kFailedPrecondition,
                  "t-1");
  CHECK_STATUS_IS(consumer->Position(other), absl::StatusCode::kFailedPrecondition, "t-1");
  CHECK_STATUS_IS(consumer->Pause({other}), absl::StatusCode::kFailedPrecondition, "t-1");
  CHECK_STATUS_IS(consumer->Resume({other}), absl::StatusCode::kFailedPrecondition, "t-1");
  // Nor does an unknown topic count as assigned.
  CHECK_STATUS_IS(consumer->Seek(TP("nope", 0), 0), absl::StatusCode::kFailedPrecondition, "nope");
  CHECK(consumer->Paused().empty());

  CHECK_OK(consumer->BeginningOffsets({other}));
  CHECK_OK(consumer->EndOffsets({other}));
  CHECK_OK(consumer->OffsetsForTimes({{other, 0}}));
}

TEST_CASE("consumer: After Close every call fails with FailedPrecondition", "[consumer]") {
  Fixture f;
  f.CreateTopic("t", 1);
  f.SendEach("t", 0, 2);
  auto consumer = f.MakeConsumer(OffsetReset::kEarliest);
  const TopicPartition tp = TP("t", 0);
  REQUIRE_OK(consumer->Assign({tp}));
  REQUIRE(PollOnce(*consumer).size() == 2);
  REQUIRE_OK(consumer->Close());
  const auto code = absl::StatusCode::kFailedPrecondition;
  CHECK_STATUS_IS(consumer->Poll(0ms), code);
  CHECK_STATUS_IS(consumer->Poll(10ms), code);
  CHECK_STATUS_IS(consumer->Assign({tp}), code);
  CHECK_STATUS_IS(consumer->Seek(tp, 0), code);
  CHECK_STATUS_IS(consumer->SeekToBeginning({}), code);
  CHECK_STATUS_IS(consumer->SeekToEnd({}), code);
  CHECK_STATUS_IS(consumer->SeekToBeginning({tp}), code);
  CHECK_STATUS_IS(consumer->Position(tp), code);
  CHECK_STATUS_IS(consumer->Pause({tp}), code);
  CHECK_STATUS_IS(consumer->Resume({tp}), code);
  CHECK_STATUS_IS(consumer->BeginningOffsets({tp}), code);
  CHECK_STATUS_IS(consumer->EndOffsets({tp}), code);
  CHECK_STATUS_IS(consumer->OffsetsForTimes({{tp, 0}}), code);
  CHECK_STATUS_IS(consumer->Close(), code);
  consumer->Wakeup();  // harmless
}

TEST_CASE("consumer: Bad options fail Create with InvalidArgument naming the option",
          "[consumer]") {
  Fixture f;
  struct Bad {
    std::string name;
    std::function<void(ConsumerOptions&)> set;
  };
  const std::vector<Bad> bad = {
      {"max.poll.records", [](ConsumerOptions& o) { o.max_poll_records = 0; }},
      {"max.poll.records", [](ConsumerOptions& o) { o.max_poll_records = -3; }},
      {"fetch.min.bytes", [](ConsumerOptions& o) { o.fetch_min_bytes = -1; }},
      {"fetch.max.wait.ms", [](ConsumerOptions& o) { o.fetch_max_wait_ms = -1; }},
      {"fetch.max.bytes", [](ConsumerOptions& o) { o.fetch_max_bytes = -1; }},
      {"max.partition.fetch.bytes", [](ConsumerOptions& o) { o.max_partition_fetch_bytes = -1; }},
      {"auto.offset.reset",
       [](ConsumerOptions& o) { o.auto_offset_reset = static_cast<OffsetReset>(7); }},
  };
  for (const Bad& b : bad) {
    INFO(b.name);
    ConsumerOptions options;
    b.set(options);
    CHECK_STATUS_IS(Consumer::Create(*f.broker, options), absl::StatusCode::kInvalidArgument,
                    b.name);
  }
  ConsumerOptions edge;
  edge.max_poll_records = 1;
  edge.fetch_min_bytes = 0;
  edge.fetch_max_wait_ms = 0;
  CHECK_OK(Consumer::Create(*f.broker, edge));
}

TEST_CASE("consumer: Poll with a negative timeout fails with InvalidArgument", "[consumer]") {
  Fixture f;
  auto consumer = f.MakeConsumer();
  CHECK_STATUS_IS(consumer->Poll(-1ms), absl::StatusCode::kInvalidArgument, "-1");
}

TEST_CASE(
    "consumer: A closed broker: Create fails and an existing consumer's calls fail with "
    "FailedPrecondition",
    "[consumer]") {
  Fixture f;
  f.CreateTopic("t", 1);
  f.SendEach("t", 0, 2);
  auto consumer = f.MakeConsumer(OffsetReset::kEarliest);
  REQUIRE_OK(consumer->Assign({TP("t", 0)}));
  REQUIRE_OK(f.producer->Close());
  REQUIRE_OK(f.batcher->Close());
  REQUIRE_OK(f.broker->Close());
  CHECK_STATUS_IS(Consumer::Create(*f.broker), absl::StatusCode::kFailedPrecondition);
  CHECK_STATUS_IS(consumer->Poll(0ms), absl::StatusCode::kFailedPrecondition);
  CHECK_STATUS_IS(consumer->Assign({TP("t", 0)}), absl::StatusCode::kFailedPrecondition);
  CHECK_STATUS_IS(consumer->EndOffsets({TP("t", 0)}), absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("consumer: Poll of a deleted topic fails with NotFound naming the topic", "[consumer]") {
  Fixture f;
  f.CreateTopic("doomed", 1);
  f.SendEach("doomed", 0, 2);
  auto consumer = f.MakeConsumer(OffsetReset::kEarliest);
  REQUIRE_OK(consumer->Assign({TP("doomed", 0)}));
  REQUIRE_OK(f.broker->DeleteTopic("doomed"));
  CHECK_STATUS_IS(consumer->Poll(0ms), absl::StatusCode::kNotFound, "doomed");
  CHECK_STATUS_IS(consumer->Poll(10ms), absl::StatusCode::kNotFound, "doomed");
}

TEST_CASE(
    "consumer: A batch that fails its CRC makes Poll fail with DataLoss naming the partition, its "
    "records are never returned",
    "[consumer]") {
  Fixture f;
  f.CreateTopic("t", 1);
  f.SendEach("t", 0, 2);
  f.Send({.topic = "t", .partition = 0, .value = "CORRUPT-ME-PLEASE"});
  {
    // The segment is memory-mapped shared: a write to the file changes what readers see.
    const std::string path = f.Log("t", 0).dir() + "/00000000000000000000.log";
    std::ifstream in(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t at = bytes.find("CORRUPT-ME-PLEASE");
    REQUIRE(at != std::string::npos);
    std::fstream out(path, std::ios::in | std::ios::out | std::ios::binary);
    REQUIRE(out.good());
    out.seekp(static_cast<std::streamoff>(at));
    out.put('X');
    out.flush();
    REQUIRE(out.good());
  }
  auto consumer = f.MakeConsumer(OffsetReset::kEarliest);
  REQUIRE_OK(consumer->Assign({TP("t", 0)}));
  absl::Status error;
  std::vector<Got> got;
  for (int i = 0; i < 5 && error.ok(); ++i) {
    auto polled = consumer->Poll(0ms);
    if (!polled.ok()) {
      error = polled.status();
      break;
    }
    for (const ConsumerRecord& r : *polled) got.push_back(CopyOf(r));
  }
  CHECK_STATUS_IS(error, absl::StatusCode::kDataLoss, "t-0");
  for (const Got& g : got) {
    CHECK(g.offset < 2);
    CHECK(g.value != "XORRUPT-ME-PLEASE");
  }
}

// ---------------------------------------------------------------------------------------
// Resets: retention and Seek past the end.

TEST_CASE(
    "consumer: The first position comes from auto.offset.reset and the listener hears it with "
    "reason \"no position\"",
    "[consumer]") {
  Fixture f;
  f.CreateTopic("t", 1);
  f.SendEach("t", 0, 3);
  std::vector<ResetCall> calls;
  ConsumerOptions options;
  options.offset_reset_listener = [&](const TopicPartition& tp, int64_t from, int64_t to,
                                      std::string_view reason) {
    calls.push_back({tp, from, to, std::string(reason)});
  };
  auto consumer = f.MakeConsumer(options);  // latest
  REQUIRE_OK(consumer->Assign({TP("t", 0)}));
  CHECK(PollOnce(*consumer).empty());
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].tp == TP("t", 0));
  CHECK(calls[0].to == 3);
  CHECK(calls[0].reason.find("no position") != std::string::npos);
  CHECK(PollOnce(*consumer).empty());
  CHECK(calls.size() == 1);  // once only
}

TEST_CASE(
    "consumer: A position deleted by retention is reset by auto.offset.reset, and the listener is "
    "told from, to and why",
    "[consumer][retention]") {
  Fixture f;
  f.CreateTopic("t", 1, TinySegments());
  f.SendEach("t", 0, 10);
  const bool earliest = GENERATE(true, false);
  INFO("auto.offset.reset " << (earliest ? "earliest" : "latest"));
  std::vector<ResetCall> calls;
  ConsumerOptions options;
  options.auto_offset_reset = earliest ? OffsetReset::kEarliest : OffsetReset::kLatest;
  options.max_poll_records = 2;
  options.offset_reset_listener = [&](const TopicPartition& tp, int64_t from, int64_t to,
                                      std::string_view reason) {
    calls.push_back({tp, from, to, std::string(reason)});
  };
  auto consumer = f.MakeConsumer(options);
  REQUIRE_OK(consumer->Assign({TP("t", 0)}));
  REQUIRE_OK(consumer->Seek(TP("t", 0), 0));
  CHECK(Offsets(PollOnce(*consumer)) == Range(0, 2));
  REQUIRE(*consumer->Position(TP("t", 0)) == 2);

  f.DeleteAllByRetention("t", 0);  // offsets 0..9 are gone; the log starts at 10
  f.SendEach("t", 0, 3, "v", 10);  // 10..12
  auto begin = consumer->BeginningOffsets({TP("t", 0)});
  REQUIRE_OK(begin);
  REQUIRE(begin->at(TP("t", 0)) == 10);
  calls.clear();

  std::vector<Got> got = earliest ? PollN(*consumer, 3, 5) : PollOnce(*consumer);
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].tp == TP("t", 0));
  CHECK(calls[0].from == 2);
  CHECK(calls[0].to == (earliest ? 10 : 13));
  CHECK(calls[0].reason.find("retention") != std::string::npos);
  if (earliest) {
    CHECK(Offsets(got) == Range(10, 13));
  } else {
    CHECK(got.empty());
    f.SendEach("t", 0, 1, "v", 13);
    CHECK(Offsets(PollN(*consumer, 1, 5)) == Range(13, 14));
  }
  CHECK(calls.size() == 1);
}

TEST_CASE("consumer: Seek past the end is reset by auto.offset.reset and the listener is told",
          "[consumer]") {
  Fixture f;
  f.CreateTopic("t", 1);
  f.SendEach("t", 0, 5);
  const bool earliest = GENERATE(true, false);
  INFO("auto.offset.reset " << (earliest ? "earliest" : "latest"));
  std::vector<ResetCall> calls;
  ConsumerOptions options;
  options.auto_offset_reset = earliest ? OffsetReset::kEarliest : OffsetReset::kLatest;
  options.offset_reset_listener = [&](const TopicPartition& tp, int64_t from, int64_t to,
                                      std::string_view reason) {
    calls.push_back({tp, from, to, std::string(reason)});
  };
  auto consumer = f.MakeConsumer(options);
  REQUIRE_OK(consumer->Assign({TP("t", 0)}));
  REQUIRE_OK(consumer->Seek(TP("t", 0), 100));
  std::vector<Got> got = earliest ? PollN(*consumer, 5, 5) : PollOnce(*consumer);
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].tp == TP("t", 0));
  CHECK(calls[0].from == 100);
  CHECK(calls[0].to == (earliest ? 0 : 5));
  CHECK(calls[0].reason.find("end") != std::string::npos);
  CHECK(Offsets(got) == (earliest ? Range(0, 5) : Range(0, 0)));
  f.SendEach("t", 0, 1, "v", 5);
  got = PollN(*consumer, 1, 5);
  REQUIRE_FALSE(got.empty());
  CHECK(got.back().offset == 5);
}

TEST_CASE(
    "consumer: auto.offset.reset=none: a position deleted by retention makes Poll fail with "
    "FailedPrecondition naming the partition, a Seek recovers",
    "[consumer][retention]") {
  Fixture f;
  f.CreateTopic("t", 1, TinySegments());
  f.SendEach("t", 0, 10);
  ConsumerOptions options;
  options.auto_offset_reset = OffsetReset::kNone;
  options.max_poll_records = 2;
  int resets = 0;
  options.offset_reset_listener = [&](const TopicPartition&, int64_t, int64_t, std::string_view) {
    ++resets;
  };
  auto consumer = f.MakeConsumer(options);
  REQUIRE_OK(consumer->Assign({TP("t", 0)}));
  REQUIRE_OK(consumer->Seek(TP("t", 0), 0));
  CHECK(Offsets(PollOnce(*consumer)) == Range(0, 2));
  f.DeleteAllByRetention("t", 0);
  f.SendEach("t", 0, 3, "v", 10);

  CHECK_STATUS_IS(consumer->Poll(0ms), absl::StatusCode::kFailedPrecondition, "t-0");
  CHECK(resets == 0);
  REQUIRE_OK(consumer->SeekToBeginning({TP("t", 0)}));
  CHECK(Offsets(PollN(*consumer, 3, 5)) == Range(10, 13));
}

// ---------------------------------------------------------------------------------------
// How long views live.

TEST_CASE(
    "consumer: Views stay valid until the next Poll while the producer keeps writing and "
    "retention deletes their segments",
    "[consumer][retention]") {
  Fixture f;
  f.CreateTopic("t", 1, TinySegments());
  f.CreateTopic("u", 1);
  for (int i = 0; i < 10; ++i) {
    const std::string value = "value-" + std::to_string(i) + std::string(40, 'x');
    const std::string hv = "hv" + std::to_string(i);
    const std::vector<Header> headers = {{"h", hv}};
    f.Send({.topic = "t", .partition = 0, .key = V(i), .value = value, .headers = headers});
  }
  auto consumer = f.MakeConsumer(OffsetReset::kEarliest);
  REQUIRE_OK(consumer->Assign({TP("t", 0)}));
  auto polled = consumer->Poll(0ms);
  REQUIRE_OK(polled);
  const std::span<const ConsumerRecord> records = *polled;
  REQUIRE_FALSE(records.empty());  // the first from a segment retention deletes below

  // The producer writes on, segments roll, and retention deletes every one the views
  // point into; the consumer's assignment changes too.
  f.SendEach("t", 0, 50, "later", 10);
  f.DeleteAllByRetention("t", 0);
  f.SendEach("t", 0, 5, "later", 60);
  REQUIRE_OK(consumer->Assign({TP("u", 0)}));

  for (size_t i = 0; i < records.size(); ++i) {
    INFO("record " << i);
    const ConsumerRecord& r = records[i];
    CHECK(r.topic == "t");
    CHECK(r.offset == static_cast<int64_t>(i));
    CHECK(r.key == V(static_cast<int>(i)));
    CHECK(r.value == "value-" + std::to_string(i) + std::string(40, 'x'));
    REQUIRE(r.headers.size() == 1);
    CHECK(r.headers[0].key == "h");
    CHECK(r.headers[0].value == "hv" + std::to_string(i));
  }
}

TEST_CASE("consumer: Views stay valid until the next Poll after their topic is deleted",
          "[consumer]") {
  Fixture f;
  f.CreateTopic("doomed", 1);
  f.SendEach("doomed", 0, 5, "value-");
  auto consumer = f.MakeConsumer(OffsetReset::kEarliest);
  REQUIRE_OK(consumer->Assign({TP("doomed", 0)}));
  auto polled = consumer->Poll(0ms);
  REQUIRE_OK(polled);
  const std::span<const ConsumerRecord> records = *polled;
  REQUIRE_FALSE(records.empty());
  REQUIRE_OK(f.broker->DeleteTopic("doomed"));
  f.CreateTopic("doomed", 1);  // a new topic of the same name, on the same directory
  f.SendEach("doomed", 0, 5, "other-");
  for (size_t i = 0; i < records.size(); ++i) {
    INFO("record " << i);
    CHECK(records[i].topic == "doomed");
    CHECK(records[i].offset == static_cast<int64_t>(i));
    CHECK(records[i].value == "value-" + std::to_string(i));
  }
}

// ---------------------------------------------------------------------------------------
// Wakeup, on one thread.

TEST_CASE(
    "consumer: Wakeup before a Poll makes that Poll return empty without moving positions, the "
    "next Poll returns the records",
    "[consumer]") {
  Fixture f;
  f.CreateTopic("t", 1);
  f.SendEach("t", 0, 3);
  auto consumer = f.MakeConsumer(OffsetReset::kEarliest);
  REQUIRE_OK(consumer->Assign({TP("t", 0)}));
  consumer->Wakeup();
  CHECK(PollOnce(*consumer, 10s).empty());  // records are there, yet it returns none
  CHECK(*consumer->Position(TP("t", 0)) == 0);
  CHECK(Offsets(PollOnce(*consumer, 10s)) == Range(0, 3));
  // The wake-up was used up: the next long poll returns new data.
  f.SendEach("t", 0, 1, "v", 3);
  CHECK(Offsets(PollOnce(*consumer, 10s)) == Range(3, 4));
}

}  // namespace
}  // namespace runnel
