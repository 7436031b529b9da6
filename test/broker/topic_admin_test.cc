// Topic administration through runnel::Broker: CreateTopic, ListTopics, DescribeTopic,
// DeleteTopic, CreatePartitions, Kafka's topic-name rules, and auto-creation through
// BrokerCore::FindOrCreateTopic.
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "broker/broker_core.h"
#include "broker_testing.h"
#include "io/env.h"
#include "runnel/broker.h"
#include "support/log_testing.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel {
namespace {

namespace fs = std::filesystem;
using broker_testing::AppendTo;
using broker_testing::ListNames;
using broker_testing::SmallConfig;
using broker_testing::UnusualConfig;
using testing::TempDir;

std::unique_ptr<Broker> OpenBroker(const std::string& dir, const BrokerOptions& options = {}) {
  auto b = Broker::Open(dir, options);
  REQUIRE_OK(b);
  return std::move(*b);
}

std::shared_ptr<internal::Topic> Find(const Broker& b, const std::string& name) {
  auto t = b.core()->FindTopic(name);
  REQUIRE_OK(t);
  return *t;
}

TEST_CASE("CreateTopic then DescribeTopic: partitions, zero offsets and the config",
          "[broker][admin]") {
  TempDir tmp;
  auto b = OpenBroker(tmp.path());
  REQUIRE_OK(b->CreateTopic("orders", 3, UnusualConfig()));

  auto d = b->DescribeTopic("orders");
  REQUIRE_OK(d);
  CHECK(d->name == "orders");
  CHECK(d->config == UnusualConfig());
  REQUIRE(d->partitions.size() == 3);
  for (int32_t p = 0; p < 3; ++p) {
    const PartitionDescription& pd = d->partitions[static_cast<size_t>(p)];
    CHECK(pd.partition == p);
    CHECK(pd.log_start_offset == 0);
    CHECK(pd.log_end_offset == 0);
    CHECK(pd.visible_offset == 0);
    CHECK(fs::is_directory(tmp.path() + "/orders-" + std::to_string(p)));
  }
  CHECK(fs::exists(tmp.path() + "/runnel-topics.meta"));
}

TEST_CASE("CreateTopic with the default config describes the defaults", "[broker][admin]") {
  TempDir tmp;
  auto b = OpenBroker(tmp.path());
  REQUIRE_OK(b->CreateTopic("plain", 1));
  auto d = b->DescribeTopic("plain");
  REQUIRE_OK(d);
  CHECK(d->config == TopicConfig{});
  REQUIRE(d->partitions.size() == 1);
}

TEST_CASE("DescribeTopic reports offsets and size as records are appended", "[broker][admin]") {
  TempDir tmp;
  auto b = OpenBroker(tmp.path());
  REQUIRE_OK(b->CreateTopic("t", 2, SmallConfig()));
  auto topic = Find(*b, "t");
  REQUIRE_OK(AppendTo(*topic, 0, 3));
  REQUIRE_OK(AppendTo(*topic, 0, 2));
  REQUIRE_OK(AppendTo(*topic, 1, 4));
  auto d = b->DescribeTopic("t");
  REQUIRE_OK(d);
  CHECK(d->partitions[0].log_end_offset == 5);
  CHECK(d->partitions[0].visible_offset == 5);
  CHECK(d->partitions[1].log_end_offset == 4);
  CHECK(d->partitions[0].log_start_offset == 0);
  CHECK(d->partitions[0].size_bytes > 0);
  CHECK(d->partitions[1].size_bytes > 0);
}

TEST_CASE("ListTopics returns every topic sorted by name", "[broker][admin]") {
  TempDir tmp;
  auto b = OpenBroker(tmp.path());
  CHECK(b->ListTopics().empty());
  for (const char* name : {"b", "a_x", "C", "a", "a.b", "z-9", "a-1"}) {
    REQUIRE_OK(b->CreateTopic(name, 1, SmallConfig()));
  }
  CHECK(b->ListTopics() ==
        std::vector<std::string>{"C", "a", "a-1", "a.b", "a_x", "b", "z-9"});
}

TEST_CASE("CreateTopic of an existing name is AlreadyExists and changes nothing",
          "[broker][admin]") {
  TempDir tmp;
  auto b = OpenBroker(tmp.path());
  REQUIRE_OK(b->CreateTopic("dup", 2, SmallConfig()));
  REQUIRE_OK(AppendTo(*Find(*b, "dup"), 1, 3));
  CHECK_STATUS(b->CreateTopic("dup", 5, UnusualConfig()), absl::StatusCode::kAlreadyExists, "dup");
  auto d = b->DescribeTopic("dup");
  REQUIRE_OK(d);
  CHECK(d->partitions.size() == 2);
  CHECK(d->config == SmallConfig());
  CHECK(d->partitions[1].log_end_offset == 3);
}

TEST_CASE("Kafka's topic-name rules: bad names are InvalidArgument naming the rule",
          "[broker][admin][names]") {
  TempDir tmp;
  auto b = OpenBroker(tmp.path());
  CHECK_STATUS(b->CreateTopic("", 1, SmallConfig()), absl::StatusCode::kInvalidArgument, "empty");
  CHECK_STATUS(b->CreateTopic(".", 1, SmallConfig()), absl::StatusCode::kInvalidArgument,
               "\".\"", "not allowed");
  CHECK_STATUS(b->CreateTopic("..", 1, SmallConfig()), absl::StatusCode::kInvalidArgument,
               "\"..\"", "not allowed");
  CHECK_STATUS(b->CreateTopic(std::string(250, 'x'), 1, SmallConfig()),
               absl::StatusCode::kInvalidArgument, "250", "249");
  CHECK_STATUS(b->CreateTopic(std::string(1000, 'y'), 1, SmallConfig()),
               absl::StatusCode::kInvalidArgument, "249");
  for (const std::string& name : std::vector<std::string>{"a b", "a/b", "\xc3\xbc" /* ü */, "a:b", "a\\b", "a*", "../x",
                                 std::string("a\0b", 3), "a\nb", "a,b"}) {
    INFO("name: " << name);
    CHECK_STATUS(b->CreateTopic(name, 1, SmallConfig()), absl::StatusCode::kInvalidArgument,
                 "illegal character");
  }
  CHECK(b->ListTopics().empty());
  // Nothing but the lock was created for the refused names.
  CHECK(ListNames(tmp.path()) == std::vector<std::string>{".lock"});
}

TEST_CASE("Kafka's topic-name rules: 249 characters and [a-zA-Z0-9._-] are accepted",
          "[broker][admin][names]") {
  TempDir tmp;
  auto b = OpenBroker(tmp.path());
  const std::string longest(249, 'n');
  REQUIRE_OK(b->CreateTopic(longest, 1, SmallConfig()));
  REQUIRE_OK(b->CreateTopic("a.b_c-D9", 1, SmallConfig()));
  REQUIRE_OK(b->CreateTopic("...", 1, SmallConfig()));
  REQUIRE_OK(b->CreateTopic("-", 1, SmallConfig()));
  REQUIRE_OK(b->CreateTopic("_", 1, SmallConfig()));
  CHECK_OK(b->DescribeTopic(longest));
  CHECK(fs::is_directory(tmp.path() + "/" + longest + "-0"));
  CHECK(fs::is_directory(tmp.path() + "/a.b_c-D9-0"));
  REQUIRE_OK(b->Close());

  auto again = OpenBroker(tmp.path());
  CHECK(again->ListTopics() == std::vector<std::string>{"-", "...", "_", "a.b_c-D9", longest});
}

TEST_CASE("Partition counts below 1 or above the limit are InvalidArgument", "[broker][admin]") {
  TempDir tmp;
  auto b = OpenBroker(tmp.path());
  CHECK_STATUS(b->CreateTopic("t", 0, SmallConfig()), absl::StatusCode::kInvalidArgument, "t", "0");
  CHECK_STATUS(b->CreateTopic("t", -1, SmallConfig()), absl::StatusCode::kInvalidArgument, "t",
               "-1");
  CHECK_STATUS(b->CreateTopic("t", 100001, SmallConfig()), absl::StatusCode::kInvalidArgument,
               "100001");
  CHECK(b->ListTopics().empty());
}

TEST_CASE("CreateTopic with a bad config is InvalidArgument naming the setting",
          "[broker][admin]") {
  TempDir tmp;
  auto b = OpenBroker(tmp.path());
  TopicConfig c = SmallConfig();
  c.segment_bytes = 5;
  CHECK_STATUS(b->CreateTopic("t", 1, c), absl::StatusCode::kInvalidArgument, "segment.bytes", "5");
  c = SmallConfig();
  c.max_message_bytes = 10;
  CHECK_STATUS(b->CreateTopic("t", 1, c), absl::StatusCode::kInvalidArgument, "max.message.bytes");
  c = SmallConfig();
  c.flush_messages = 0;
  CHECK_STATUS(b->CreateTopic("t", 1, c), absl::StatusCode::kInvalidArgument, "flush.messages");
  CHECK(b->ListTopics().empty());
  CHECK(ListNames(tmp.path()) == std::vector<std::string>{".lock"});
}

TEST_CASE("Unknown topics are NotFound naming the topic", "[broker][admin]") {
  TempDir tmp;
  auto b = OpenBroker(tmp.path());
  REQUIRE_OK(b->CreateTopic("known", 1, SmallConfig()));
  CHECK_STATUS(b->DescribeTopic("no-such-topic"), absl::StatusCode::kNotFound, "no-such-topic");
  CHECK_STATUS(b->DeleteTopic("no-such-topic"), absl::StatusCode::kNotFound, "no-such-topic");
  CHECK_STATUS(b->CreatePartitions("no-such-topic", 4), absl::StatusCode::kNotFound,
               "no-such-topic");
  CHECK_STATUS(b->core()->FindTopic("no-such-topic"), absl::StatusCode::kNotFound,
               "no-such-topic");
  CHECK(b->ListTopics() == std::vector<std::string>{"known"});
}

TEST_CASE("DeleteTopic removes the topic and its directories", "[broker][admin][delete]") {
  TempDir tmp;
  auto b = OpenBroker(tmp.path());
  REQUIRE_OK(b->CreateTopic("gone", 3, SmallConfig()));
  REQUIRE_OK(b->CreateTopic("stays", 1, SmallConfig()));
  auto gone = Find(*b, "gone");
  REQUIRE_OK(AppendTo(*gone, 0, 5));
  REQUIRE_OK(AppendTo(*Find(*b, "stays"), 0, 2));

  REQUIRE_OK(b->DeleteTopic("gone"));
  CHECK(b->ListTopics() == std::vector<std::string>{"stays"});
  CHECK_STATUS(b->DescribeTopic("gone"), absl::StatusCode::kNotFound, "gone");
  // Only the other topic's directory is left: no gone-N, no renamed leftovers.
  CHECK(ListNames(tmp.path()) ==
        std::vector<std::string>{".lock", "runnel-topics.meta", "stays-0"});
  auto stays = b->DescribeTopic("stays");
  REQUIRE_OK(stays);
  CHECK(stays->partitions[0].log_end_offset == 2);

  // Holders of the old topic see that it is gone; appends to it are NotFound.
  CHECK(gone->deleted.load());
  CHECK(gone->stale.load());
  for (const auto& p : gone->partitions) CHECK(p->deleted());
  CHECK_STATUS(AppendTo(*gone, 1, 1), absl::StatusCode::kNotFound, "gone");

  SECTION("the name can be reused, and the new topic is empty") {
    REQUIRE_OK(b->CreateTopic("gone", 2, UnusualConfig()));
    auto d = b->DescribeTopic("gone");
    REQUIRE_OK(d);
    CHECK(d->config == UnusualConfig());
    REQUIRE(d->partitions.size() == 2);
    for (const auto& pd : d->partitions) {
      CHECK(pd.log_start_offset == 0);
      CHECK(pd.log_end_offset == 0);
      CHECK(pd.size_bytes == 0);
    }
    auto fresh = Find(*b, "gone");
    CHECK(fresh != gone);
    auto info = AppendTo(*fresh, 0, 1);
    REQUIRE_OK(info);
    CHECK(info->base_offset == 0);
  }
  SECTION("the deletion survives a reopen") {
    gone.reset();
    REQUIRE_OK(b->Close());
    auto again = OpenBroker(tmp.path());
    CHECK(again->ListTopics() == std::vector<std::string>{"stays"});
    CHECK(ListNames(tmp.path()) ==
          std::vector<std::string>{".lock", "runnel-topics.meta", "stays-0"});
  }
}

TEST_CASE("DeleteTopic of the last topic leaves an empty table that reopens", "[broker][admin][delete]") {
  TempDir tmp;
  {
    auto b = OpenBroker(tmp.path());
    REQUIRE_OK(b->CreateTopic("only", 1, SmallConfig()));
    REQUIRE_OK(b->DeleteTopic("only"));
    CHECK(b->ListTopics().empty());
    CHECK_STATUS(b->DeleteTopic("only"), absl::StatusCode::kNotFound, "only");
  }
  auto b = OpenBroker(tmp.path());
  CHECK(b->ListTopics().empty());
}

TEST_CASE("CreatePartitions grows a topic, and the new partitions are described and empty",
          "[broker][admin][partitions]") {
  TempDir tmp;
  auto b = OpenBroker(tmp.path());
  REQUIRE_OK(b->CreateTopic("grow", 1, UnusualConfig()));
  auto before = Find(*b, "grow");
  REQUIRE_OK(AppendTo(*before, 0, 4));

  REQUIRE_OK(b->CreatePartitions("grow", 3));
  auto d = b->DescribeTopic("grow");
  REQUIRE_OK(d);
  REQUIRE(d->partitions.size() == 3);
  CHECK(d->config == UnusualConfig());
  CHECK(d->partitions[0].log_end_offset == 4);  // existing data kept
  for (int32_t p = 1; p < 3; ++p) {
    const auto& pd = d->partitions[static_cast<size_t>(p)];
    CHECK(pd.partition == p);
    CHECK(pd.log_start_offset == 0);
    CHECK(pd.log_end_offset == 0);
    CHECK(fs::is_directory(tmp.path() + "/grow-" + std::to_string(p)));
  }
  // The old Topic is stale (holders look it up again); the new one shares partition 0.
  CHECK(before->stale.load());
  CHECK_FALSE(before->deleted.load());
  auto after = Find(*b, "grow");
  REQUIRE(after->partitions.size() == 3);
  CHECK(after->partitions[0] == before->partitions[0]);
  CHECK_FALSE(after->stale.load());
  REQUIRE_OK(AppendTo(*after, 2, 1));

  REQUIRE_OK(b->CreatePartitions("grow", 4));
  auto d4 = b->DescribeTopic("grow");
  REQUIRE_OK(d4);
  CHECK(d4->partitions.size() == 4);
  CHECK(d4->partitions[2].log_end_offset == 1);
}

TEST_CASE("CreatePartitions refuses shrinking or the same count with InvalidArgument",
          "[broker][admin][partitions]") {
  TempDir tmp;
  auto b = OpenBroker(tmp.path());
  REQUIRE_OK(b->CreateTopic("t", 3, SmallConfig()));
  CHECK_STATUS(b->CreatePartitions("t", 2), absl::StatusCode::kInvalidArgument, "t", "3", "2");
  CHECK_STATUS(b->CreatePartitions("t", 3), absl::StatusCode::kInvalidArgument, "t", "3");
  CHECK_STATUS(b->CreatePartitions("t", 0), absl::StatusCode::kInvalidArgument);
  CHECK_STATUS(b->CreatePartitions("t", -1), absl::StatusCode::kInvalidArgument);
  CHECK_STATUS(b->CreatePartitions("t", 100001), absl::StatusCode::kInvalidArgument, "100001");
  auto d = b->DescribeTopic("t");
  REQUIRE_OK(d);
  CHECK(d->partitions.size() == 3);
  CHECK(ListNames(tmp.path()) ==
        std::vector<std::string>{".lock", "runnel-topics.meta", "t-0", "t-1", "t-2"});
}

TEST_CASE("Topic names that look like other topics' partition directories stay apart",
          "[broker][admin][names]") {
  // "a" partition 10 is a-10; "a-1" partition 0 is a-1-0: no directory is shared.
  TempDir tmp;
  auto b = OpenBroker(tmp.path());
  REQUIRE_OK(b->CreateTopic("a", 11, SmallConfig()));
  REQUIRE_OK(b->CreateTopic("a-1", 1, SmallConfig()));
  REQUIRE_OK(AppendTo(*Find(*b, "a"), 10, 2));
  REQUIRE_OK(AppendTo(*Find(*b, "a-1"), 0, 3));
  REQUIRE_OK(b->DeleteTopic("a-1"));
  auto d = b->DescribeTopic("a");
  REQUIRE_OK(d);
  CHECK(d->partitions[10].log_end_offset == 2);
  CHECK(d->partitions[1].log_end_offset == 0);
  REQUIRE_OK(b->Close());
  auto again = OpenBroker(tmp.path());
  auto d2 = again->DescribeTopic("a");
  REQUIRE_OK(d2);
  CHECK(d2->partitions.size() == 11);
  CHECK(d2->partitions[10].log_end_offset == 2);
}

TEST_CASE("FindOrCreateTopic auto-creates with num.partitions and default_topic_config when enabled",
          "[broker][admin][auto-create]") {
  TempDir tmp;
  BrokerOptions options;
  options.auto_create_topics_enable = true;
  options.num_partitions = 3;
  options.default_topic_config = UnusualConfig();
  auto core = internal::BrokerCore::Open(io::PosixEnv(), tmp.path(), options);
  REQUIRE_OK(core);

  auto topic = (*core)->FindOrCreateTopic("new");
  REQUIRE_OK(topic);
  CHECK((*topic)->name == "new");
  CHECK((*topic)->partitions.size() == 3);
  CHECK((*topic)->config == UnusualConfig());
  CHECK((*core)->ListTopics() == std::vector<std::string>{"new"});
  auto d = (*core)->DescribeTopic("new");
  REQUIRE_OK(d);
  CHECK(d->partitions.size() == 3);
  CHECK(d->config == UnusualConfig());

  // Found, not created again.
  auto again = (*core)->FindOrCreateTopic("new");
  REQUIRE_OK(again);
  CHECK(*again == *topic);
  // A bad name is still refused.
  CHECK_STATUS((*core)->FindOrCreateTopic("bad name"), absl::StatusCode::kInvalidArgument,
               "illegal character");
  // An explicitly created topic keeps its own settings.
  REQUIRE_OK((*core)->CreateTopic("explicit", 1, SmallConfig()));
  auto ex = (*core)->FindOrCreateTopic("explicit");
  REQUIRE_OK(ex);
  CHECK((*ex)->partitions.size() == 1);
  CHECK((*ex)->config == SmallConfig());

  // The auto-created topic is on disk like any other.
  topic->reset();
  again->reset();
  ex->reset();
  REQUIRE_OK((*core)->Close());
  core->reset();
  auto reopened = internal::BrokerCore::Open(io::PosixEnv(), tmp.path(), BrokerOptions{});
  REQUIRE_OK(reopened);
  auto rd = (*reopened)->DescribeTopic("new");
  REQUIRE_OK(rd);
  CHECK(rd->partitions.size() == 3);
  CHECK(rd->config == UnusualConfig());
}

TEST_CASE("FindOrCreateTopic without auto.create.topics.enable is NotFound", "[broker][admin][auto-create]") {
  TempDir tmp;
  BrokerOptions options;
  options.num_partitions = 3;
  auto core = internal::BrokerCore::Open(io::PosixEnv(), tmp.path(), options);
  REQUIRE_OK(core);
  CHECK_STATUS((*core)->FindOrCreateTopic("new"), absl::StatusCode::kNotFound, "new");
  CHECK((*core)->ListTopics().empty());
  CHECK(ListNames(tmp.path()) == std::vector<std::string>{".lock"});
  REQUIRE_OK((*core)->Close());
}

// Regression: a deleted topic's partition logs stayed open and writable, holding the old
// directory path; once a new topic of the same name made that directory again, retention
// (or a roll, or a recovery checkpoint) on the old log acted on the new topic's files.
TEST_CASE("A deleted topic's old partition cannot touch a new topic of the same name",
          "[topic][delete][regression]") {
  TempDir tmp;
  auto core = internal::BrokerCore::Open(io::PosixEnv(), tmp.path(), BrokerOptions{});
  REQUIRE_OK(core);
  REQUIRE_OK((*core)->CreateTopic("t", 1, SmallConfig()));
  auto old_topic = (*core)->FindTopic("t");
  REQUIRE_OK(old_topic);
  REQUIRE_OK(AppendTo(**old_topic, 0, 3));  // records from 1970: expired by retention.ms
  REQUIRE_OK((*core)->DeleteTopic("t"));
  REQUIRE_OK((*core)->CreateTopic("t", 1, SmallConfig()));
  auto new_topic = (*core)->FindTopic("t");
  REQUIRE_OK(new_topic);
  REQUIRE_OK(AppendTo(**new_topic, 0, 2));
  storage::PartitionLog& old_log = (*old_topic)->partitions[0]->log();
  CHECK(old_log.EnforceRetention().status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(old_log.Flush().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(old_log.Roll().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(AppendTo(**old_topic, 0, 1).status().code() == absl::StatusCode::kNotFound);
  const std::string dir = tmp.Sub("t-0");
  CHECK(fs::exists(dir + "/00000000000000000000.log"));
  auto got = testing::ReadAll((*new_topic)->partitions[0]->log());
  REQUIRE_OK(got);
  CHECK(got->size() == 2);
  REQUIRE_OK((*core)->Close());
}

}  // namespace
}  // namespace runnel
