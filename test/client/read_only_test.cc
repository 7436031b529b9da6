// BrokerOptions::read_only: a reader beside the directory's owner (here in the same
// process, which the lock allows since a reader takes none) sees what the owner wrote,
// follows what it writes next, never writes, and refuses every change.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "broker/broker_core.h"
#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/group_admin.h"
#include "runnel/producer.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel {
namespace {

using namespace std::chrono_literals;

TopicConfig SmallSegments() {
  TopicConfig c;
  c.segment_bytes = 4096;  // a roll every few dozen records
  c.segment_index_bytes = 4096;
  return c;
}

void Produce(Broker& broker, const std::string& topic, int from, int to, int32_t partition = 0) {
  auto producer = Producer::Create(broker);
  REQUIRE_OK(producer.status());
  for (int i = from; i < to; ++i) {
    const std::string value = fmt::format("record-{}", i);
    REQUIRE_OK((*producer)->SendSync({.topic = topic, .partition = partition, .value = value}).status());
  }
}

std::unique_ptr<Broker> OpenReader(const std::string& dir) {
  BrokerOptions options;
  options.read_only = true;
  auto reader = Broker::Open(dir, options);
  REQUIRE_OK(reader.status());
  return std::move(*reader);
}

// Reads with an Assign-ed consumer until `count` records came, each Poll waiting as long
// as it must (the owner's writes wake it); returns their values.
std::vector<std::string> ConsumeValues(Consumer& consumer, size_t count) {
  std::vector<std::string> values;
  while (values.size() < count) {
    auto polled = consumer.Poll(60s);
    REQUIRE_OK(polled.status());
    REQUIRE_FALSE(polled->empty());  // a minute without the records the owner wrote
    for (const ConsumerRecord& r : *polled) values.emplace_back(r.value.value_or("<null>"));
  }
  return values;
}

std::vector<std::string> Expected(int from, int to) {
  std::vector<std::string> v;
  for (int i = from; i < to; ++i) v.push_back(fmt::format("record-{}", i));
  return v;
}

std::map<std::string, uintmax_t> Files(const std::string& dir) {
  std::map<std::string, uintmax_t> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    files[e.path().string()] = e.is_regular_file() ? e.file_size() : 0;
  }
  return files;
}

TEST_CASE("read-only Open of a missing directory fails with NotFound and creates nothing") {
  testing::TempDir tmp;
  BrokerOptions options;
  options.read_only = true;
  auto reader = Broker::Open(tmp.Sub("missing"), options);
  CHECK_STATUS_IS(reader.status(), absl::StatusCode::kNotFound);
  CHECK_THAT(std::string(reader.status().message()), Catch::Contains(tmp.Sub("missing")));
  CHECK_FALSE(std::filesystem::exists(tmp.Sub("missing")));
}

TEST_CASE("a read-only broker opens beside the owner and reads every record it wrote") {
  testing::TempDir tmp;
  auto owner = Broker::Open(tmp.path());
  REQUIRE_OK(owner.status());
  REQUIRE_OK((*owner)->CreateTopic("events", 2, SmallSegments()));
  Produce(**owner, "events", 0, 200);  // several segments

  auto reader = OpenReader(tmp.path());
  CHECK(reader->ListTopics() == std::vector<std::string>{"events"});
  auto described = reader->DescribeTopic("events");
  REQUIRE_OK(described.status());
  REQUIRE(described->partitions.size() == 2);
  CHECK(described->partitions[0].log_end_offset == 200);
  CHECK(described->partitions[0].visible_offset == 200);
  CHECK(described->partitions[1].log_end_offset == 0);
  CHECK(described->config == SmallSegments());

  ConsumerOptions co;
  co.auto_offset_reset = OffsetReset::kEarliest;
  auto consumer = Consumer::Create(*reader, co);
  REQUIRE_OK(consumer.status());
  REQUIRE_OK((*consumer)->Assign({{"events", 0}}));
  CHECK(ConsumeValues(**consumer, 200) == Expected(0, 200));
}

TEST_CASE("a read-only consumer follows new records and segments as the owner writes them") {
  testing::TempDir tmp;
  auto owner = Broker::Open(tmp.path());
  REQUIRE_OK(owner.status());
  REQUIRE_OK((*owner)->CreateTopic("events", 1, SmallSegments()));
  Produce(**owner, "events", 0, 10);

  auto reader = OpenReader(tmp.path());
  ConsumerOptions co;
  co.auto_offset_reset = OffsetReset::kEarliest;
  auto consumer = Consumer::Create(*reader, co);
  REQUIRE_OK(consumer.status());
  REQUIRE_OK((*consumer)->Assign({{"events", 0}}));
  CHECK(ConsumeValues(**consumer, 10) == Expected(0, 10));

  // The owner writes while the reader's Poll waits: the reader wakes for each write, not
  // by polling (Poll's own timeout is a minute).
  std::thread writer([&] { Produce(**owner, "events", 10, 300); });
  std::vector<std::string> followed = ConsumeValues(**consumer, 290);
  writer.join();
  CHECK(followed == Expected(10, 300));
  auto owner_view = (*owner)->DescribeTopic("events");
  REQUIRE_OK(owner_view.status());
  auto reader_view = reader->DescribeTopic("events");
  REQUIRE_OK(reader_view.status());
  CHECK(reader_view->partitions[0].log_end_offset == owner_view->partitions[0].log_end_offset);
  CHECK(reader_view->partitions[0].size_bytes == owner_view->partitions[0].size_bytes);
}

TEST_CASE("a read-only broker sees retention, new topics, new partitions and deletions") {
  testing::TempDir tmp;
  auto owner = Broker::Open(tmp.path());
  REQUIRE_OK(owner.status());
  REQUIRE_OK((*owner)->CreateTopic("events", 1, SmallSegments()));
  Produce(**owner, "events", 0, 200);
  auto reader = OpenReader(tmp.path());
  auto reader_log = [&]() -> storage::PartitionLog& {
    auto topic = reader->core()->FindTopic("events");
    REQUIRE_OK(topic.status());
    return (*topic)->partitions.at(0)->log();
  };

  // Retention on the owner's side: the reader's log start follows.
  auto owner_topic = (*owner)->core()->FindTopic("events");
  REQUIRE_OK(owner_topic.status());
  storage::PartitionLog& owner_log = (*owner_topic)->partitions.at(0)->log();
  REQUIRE_OK(owner_log.DeleteSegmentsBefore(150).status());
  REQUIRE(owner_log.log_start_offset() > 0);
  REQUIRE_OK(reader_log().Refresh().status());
  CHECK(reader_log().log_start_offset() == owner_log.log_start_offset());
  CHECK(reader_log().log_end_offset() == 200);

  // Topic changes reach the reader through its background thread.
  REQUIRE_OK((*owner)->CreateTopic("audit", 3, SmallSegments()));
  REQUIRE_OK((*owner)->CreatePartitions("events", 2));
  REQUIRE_OK((*owner)->DeleteTopic("events"));
  Produce(**owner, "audit", 0, 5, 2);
  // Waiting for the reader's thread (inotify, or its one-second rescan) is the behaviour
  // under test; the minute is only a bound on a broken build.
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (reader->ListTopics() != std::vector<std::string>{"audit"} &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE(reader->ListTopics() == std::vector<std::string>{"audit"});
  CHECK_STATUS_IS(reader->DescribeTopic("events").status(), absl::StatusCode::kNotFound);
  ConsumerOptions co;
  co.auto_offset_reset = OffsetReset::kEarliest;
  auto consumer = Consumer::Create(*reader, co);
  REQUIRE_OK(consumer.status());
  REQUIRE_OK((*consumer)->Assign({{"audit", 2}}));
  CHECK(ConsumeValues(**consumer, 5) == Expected(0, 5));
}

TEST_CASE("a read-only broker follows an owner in another process, which holds the lock") {
  testing::TempDir tmp;
  {
    auto owner = Broker::Open(tmp.path());
    REQUIRE_OK(owner.status());
    REQUIRE_OK((*owner)->CreateTopic("events", 1, SmallSegments()));
  }
  int go[2];
  REQUIRE(pipe(go) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The owner: waits until the reader is open, then writes 500 records, and exits
    // without closing (as a crash would leave it: no clean-shutdown mark).
    char c;
    if (read(go[0], &c, 1) != 1) _exit(3);
    auto owner = Broker::Open(tmp.path());
    if (!owner.ok()) _exit(4);
    auto producer = Producer::Create(**owner);
    if (!producer.ok()) _exit(5);
    for (int i = 0; i < 500; ++i) {
      const std::string value = fmt::format("record-{}", i);
      if (!(*producer)->SendSync({.topic = "events", .partition = 0, .value = value}).ok()) _exit(6);
    }
    _exit(0);
  }
  auto reader = OpenReader(tmp.path());
  ConsumerOptions co;
  co.auto_offset_reset = OffsetReset::kEarliest;
  auto consumer = Consumer::Create(*reader, co);
  REQUIRE_OK(consumer.status());
  REQUIRE_OK((*consumer)->Assign({{"events", 0}}));
  REQUIRE(write(go[1], "g", 1) == 1);
  const std::vector<std::string> values = ConsumeValues(**consumer, 500);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  close(go[0]);
  close(go[1]);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(values == Expected(0, 500));
}

TEST_CASE("a read-only broker refuses every change and writes nothing") {
  testing::TempDir tmp;
  {
    auto owner = Broker::Open(tmp.path());
    REQUIRE_OK(owner.status());
    REQUIRE_OK((*owner)->CreateTopic("events", 1, SmallSegments()));
    Produce(**owner, "events", 0, 50);
    ConsumerOptions co;
    co.group_id = "billing";
    co.auto_offset_reset = OffsetReset::kEarliest;
    auto member = Consumer::Create(**owner, co);
    REQUIRE_OK(member.status());
    REQUIRE_OK((*member)->Subscribe({"events"}));
    ConsumeValues(**member, 50);
    REQUIRE_OK((*member)->CommitSync());
    REQUIRE_OK((*member)->Close());
    REQUIRE_OK((*owner)->Close());
  }
  const auto before = Files(tmp.path());
  {
    auto reader = OpenReader(tmp.path());
    CHECK_STATUS_IS(reader->CreateTopic("other", 1), absl::StatusCode::kFailedPrecondition);
    CHECK_STATUS_IS(reader->DeleteTopic("events"), absl::StatusCode::kFailedPrecondition);
    CHECK_STATUS_IS(reader->CreatePartitions("events", 2), absl::StatusCode::kFailedPrecondition);
    CHECK_STATUS_IS(reader->AlterTopicConfig("events", {{"retention.ms", "1000"}}),
                    absl::StatusCode::kFailedPrecondition);
    auto producer = Producer::Create(*reader);
    CHECK_STATUS_IS(producer.status(), absl::StatusCode::kFailedPrecondition);
    CHECK_THAT(std::string(producer.status().message()), Catch::Contains("read-only"));

    ConsumerOptions co;
    co.group_id = "billing";
    auto member = Consumer::Create(*reader, co);
    REQUIRE_OK(member.status());
    CHECK_STATUS_IS((*member)->Subscribe({"events"}), absl::StatusCode::kFailedPrecondition);

    // Committed offsets are readable, and changing them is refused.
    auto admin = GroupAdmin::Create(*reader);
    REQUIRE_OK(admin.status());
    auto group = (*admin)->DescribeGroup("billing");
    REQUIRE_OK(group.status());
    REQUIRE(group->offsets.size() == 1);
    REQUIRE(group->offsets[0].committed.has_value());
    CHECK(group->offsets[0].committed->offset == 50);
    CHECK(group->offsets[0].lag == 0);
    CHECK_FALSE((*admin)->DeleteGroup("billing").ok());
    CHECK_OK(reader->Close());
  }
  CHECK(Files(tmp.path()) == before);
}

TEST_CASE("AlterTopicConfig stores the change, which applies when the directory reopens") {
  testing::TempDir tmp;
  {
    auto owner = Broker::Open(tmp.path());
    REQUIRE_OK(owner.status());
    REQUIRE_OK((*owner)->CreateTopic("events", 1, SmallSegments()));
    REQUIRE_OK((*owner)->AlterTopicConfig("events", {{"retention.ms", "60000"}}));
    CHECK_STATUS_IS((*owner)->AlterTopicConfig("events", {{"retention.ms", "soon"}}),
                    absl::StatusCode::kInvalidArgument);
    CHECK_STATUS_IS((*owner)->AlterTopicConfig("events", {{"no.such.setting", "1"}}),
                    absl::StatusCode::kInvalidArgument);
    CHECK_STATUS_IS((*owner)->AlterTopicConfig("nope", {{"retention.ms", "1"}}),
                    absl::StatusCode::kNotFound);
    auto d = (*owner)->DescribeTopic("events");
    REQUIRE_OK(d.status());
    CHECK(d->config.retention_ms == 60000);
    CHECK(d->config.segment_bytes == 4096);  // untouched settings keep their values
  }
  auto reopened = Broker::Open(tmp.path());
  REQUIRE_OK(reopened.status());
  auto topic = (*reopened)->core()->FindTopic("events");
  REQUIRE_OK(topic.status());
  CHECK(topic->get()->config.retention_ms == 60000);
  CHECK((*topic)->partitions.at(0)->log().config().retention_ms == 60000);
}

}  // namespace
}  // namespace runnel
