// What a data directory keeps across Close + Open and across a crash (the BrokerCore
// dropped without Close): topics, partition counts, every config setting and the data;
// and a damaged topic table failing Open with DataLoss instead of losing topics.
#include <catch2/catch.hpp>
#include <cstdio>
#include <span>
#include <filesystem>
#include <string>
#include <vector>

#include "broker/broker_core.h"
#include "broker_testing.h"
#include "format/crc32c.h"
#include "io/env.h"
#include "runnel/broker.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel {
namespace {

namespace fs = std::filesystem;
using broker_testing::AppendTo;
using broker_testing::BrokerState;
using broker_testing::ListNames;
using broker_testing::SmallConfig;
using broker_testing::StateOf;
using broker_testing::TopicState;
using broker_testing::UnusualConfig;
using internal::BrokerCore;
using testing::TempDir;

std::shared_ptr<BrokerCore> OpenCore(const std::string& dir, const BrokerOptions& options = {}) {
  auto core = BrokerCore::Open(io::PosixEnv(), dir, options);
  REQUIRE_OK(core);
  return std::move(*core);
}

// Topics whose configs between them set every setting to something other than its default.
BrokerState MakeVariedTopics(BrokerCore& core) {
  BrokerState expected;
  TopicConfig always = SmallConfig();
  always.sync_policy = SyncPolicy::kAlways;
  always.retention_ms = -1;
  always.retention_bytes = 123456;
  TopicConfig interval = UnusualConfig();
  TopicConfig edge = SmallConfig();
  edge.flush_messages = INT64_MAX - 1;
  edge.flush_ms = 0;
  edge.index_interval_bytes = 0;
  edge.segment_bytes = 14;
  edge.max_message_bytes = 61;
  edge.segment_index_bytes = 48;
  const std::vector<std::pair<std::string, TopicState>> topics = {
      {"always", {2, always}},
      {"interval", {3, interval}},
      {"edge.case_name-0", {1, edge}},
      {std::string(249, 'L'), {1, SmallConfig()}},
  };
  for (const auto& [name, t] : topics) {
    REQUIRE_OK(core.CreateTopic(name, t.partitions, t.config));
    expected[name] = t;
  }
  return expected;
}

TEST_CASE("Topics, partition counts and every config setting survive Close and reopen",
          "[broker][reopen]") {
  TempDir tmp;
  BrokerState expected;
  {
    auto core = OpenCore(tmp.path());
    expected = MakeVariedTopics(*core);
    REQUIRE_OK(core->CreatePartitions("always", 5));
    expected["always"].partitions = 5;
    REQUIRE_OK(core->CreateTopic("deleted-later", 2, SmallConfig()));
    REQUIRE_OK(core->DeleteTopic("deleted-later"));
    CHECK(StateOf(*core) == expected);
    REQUIRE_OK(core->Close());
  }
  auto core = OpenCore(tmp.path());
  INFO(broker_testing::ToString(StateOf(*core)));
  CHECK(StateOf(*core) == expected);
  CHECK(ListNames(tmp.path()) == broker_testing::ExpectedNames(expected));
  REQUIRE_OK(core->Close());

  SECTION("and a second reopen through the public API") {
    auto b = Broker::Open(tmp.path());
    REQUIRE_OK(b);
    std::vector<std::string> names;
    for (const auto& [name, t] : expected) names.push_back(name);
    CHECK((*b)->ListTopics() == names);
    for (const auto& [name, t] : expected) {
      auto d = (*b)->DescribeTopic(name);
      REQUIRE_OK(d);
      CHECK(d->config == t.config);
      CHECK(d->partitions.size() == static_cast<size_t>(t.partitions));
    }
  }
}

TEST_CASE("Topics survive a crash: the BrokerCore dropped without Close", "[broker][reopen][crash]") {
  TempDir tmp;
  BrokerState expected;
  {
    auto core = OpenCore(tmp.path());
    expected = MakeVariedTopics(*core);
    REQUIRE_OK(core->CreateTopic("grown", 1, SmallConfig()));
    REQUIRE_OK(core->CreatePartitions("grown", 4));
    expected["grown"] = TopicState{4, SmallConfig()};
    // No Close: the destructor releases files and the lock as a crash would.
  }
  auto core = OpenCore(tmp.path());
  INFO(broker_testing::ToString(StateOf(*core)));
  CHECK(StateOf(*core) == expected);
  CHECK(ListNames(tmp.path()) == broker_testing::ExpectedNames(expected));
}

// Appends `batches[p]` batches of 3 records to partition p; returns the end offsets.
std::vector<int64_t> AppendSome(BrokerCore& core, const std::string& name,
                                const std::vector<int>& batches) {
  auto topic = core.FindTopic(name);
  REQUIRE_OK(topic);
  std::vector<int64_t> ends;
  for (size_t p = 0; p < batches.size(); ++p) {
    for (int b = 0; b < batches[p]; ++b) {
      REQUIRE_OK(AppendTo(**topic, static_cast<int32_t>(p), 3, b * 3));
    }
    ends.push_back(3 * batches[p]);
  }
  return ends;
}

void CheckEnds(BrokerCore& core, const std::string& name, const std::vector<int64_t>& ends) {
  auto d = core.DescribeTopic(name);
  REQUIRE_OK(d);
  REQUIRE(d->partitions.size() == ends.size());
  for (size_t p = 0; p < ends.size(); ++p) {
    INFO(name << "-" << p);
    CHECK(d->partitions[p].log_start_offset == 0);
    CHECK(d->partitions[p].log_end_offset == ends[p]);
    CHECK(d->partitions[p].visible_offset == ends[p]);
    CHECK((d->partitions[p].size_bytes > 0) == (ends[p] > 0));
  }
}

TEST_CASE("Appended data survives Close and reopen, and appends continue after it",
          "[broker][reopen][data]") {
  TempDir tmp;
  std::vector<int64_t> ends;
  {
    auto core = OpenCore(tmp.path());
    REQUIRE_OK(core->CreateTopic("data", 3, SmallConfig()));
    ends = AppendSome(*core, "data", {4, 0, 2});
    CheckEnds(*core, "data", ends);
    REQUIRE_OK(core->Close());
  }
  auto core = OpenCore(tmp.path());
  CheckEnds(*core, "data", ends);
  auto topic = core->FindTopic("data");
  REQUIRE_OK(topic);
  for (const auto& p : (*topic)->partitions) CHECK(p->log().recovery_report().clean_shutdown);
  auto next = AppendTo(**topic, 0, 1);
  REQUIRE_OK(next);
  CHECK(next->base_offset == ends[0]);
}

TEST_CASE("Appended data survives a crash (no Close), under every sync policy",
          "[broker][reopen][data][crash]") {
  TempDir tmp;
  TopicConfig none = SmallConfig();
  TopicConfig interval = SmallConfig();
  interval.sync_policy = SyncPolicy::kInterval;
  interval.flush_messages = 2;
  TopicConfig always = SmallConfig();
  always.sync_policy = SyncPolicy::kAlways;
  std::vector<int64_t> none_ends, interval_ends, always_ends;
  {
    auto core = OpenCore(tmp.path());
    REQUIRE_OK(core->CreateTopic("none", 2, none));
    REQUIRE_OK(core->CreateTopic("interval", 2, interval));
    REQUIRE_OK(core->CreateTopic("always", 2, always));
    none_ends = AppendSome(*core, "none", {3, 1});
    interval_ends = AppendSome(*core, "interval", {2, 5});
    always_ends = AppendSome(*core, "always", {2, 3});
    // Under always, what is appended is visible once flushed.
    auto t = core->FindTopic("always");
    REQUIRE_OK(t);
    for (const auto& p : (*t)->partitions) REQUIRE_OK(p->log().Flush());
    CheckEnds(*core, "always", always_ends);
    // Dropped without Close.
  }
  auto core = OpenCore(tmp.path());
  // A process crash keeps the page cache: everything appended is still there.
  CheckEnds(*core, "none", none_ends);
  CheckEnds(*core, "interval", interval_ends);
  CheckEnds(*core, "always", always_ends);
  auto topic = core->FindTopic("none");
  REQUIRE_OK(topic);
  CHECK_FALSE((*topic)->partitions[0]->log().recovery_report().clean_shutdown);
  auto next = AppendTo(**topic, 1, 1);
  REQUIRE_OK(next);
  CHECK(next->base_offset == none_ends[1]);
}

TEST_CASE("Crash after DeleteTopic and CreatePartitions: reopen shows the new state",
          "[broker][reopen][crash]") {
  TempDir tmp;
  {
    auto core = OpenCore(tmp.path());
    REQUIRE_OK(core->CreateTopic("a", 1, SmallConfig()));
    REQUIRE_OK(core->CreateTopic("b", 2, SmallConfig()));
    AppendSome(*core, "a", {2});
    REQUIRE_OK(core->DeleteTopic("b"));
    REQUIRE_OK(core->CreatePartitions("a", 3));
    REQUIRE_OK(core->CreateTopic("b", 1, UnusualConfig()));  // the name reused
  }
  auto core = OpenCore(tmp.path());
  BrokerState expected = {{"a", {3, SmallConfig()}}, {"b", {1, UnusualConfig()}}};
  CHECK(StateOf(*core) == expected);
  CheckEnds(*core, "a", {6, 0, 0});
  CheckEnds(*core, "b", {0});
  CHECK(ListNames(tmp.path()) == broker_testing::ExpectedNames(expected));
}

TEST_CASE("Open removes partition directories that the topic table does not list",
          "[broker][reopen][orphans]") {
  TempDir tmp;
  {
    auto core = OpenCore(tmp.path());
    REQUIRE_OK(core->CreateTopic("t", 2, SmallConfig()));
    AppendSome(*core, "t", {1, 1});
    REQUIRE_OK(core->Close());
  }
  // What interrupted admin operations leave: a partition beyond the count, a topic the
  // table never got, a half-deleted directory, the table's temp file.
  for (const char* d : {"t-2", "never-0", "t-0.3-delete"}) {
    fs::create_directories(tmp.path() + "/" + d);
    broker_testing::WriteWholeFile(tmp.path() + "/" + d + "/00000000000000000000.log", "");
  }
  broker_testing::WriteWholeFile(tmp.path() + "/runnel-topics.meta.tmp", "half a table");
  // Not the broker's: kept.
  fs::create_directories(tmp.path() + "/notes");
  broker_testing::WriteWholeFile(tmp.path() + "/README", "mine");

  auto core = OpenCore(tmp.path());
  CHECK(StateOf(*core) == BrokerState{{"t", {2, SmallConfig()}}});
  CheckEnds(*core, "t", {3, 3});
  CHECK(ListNames(tmp.path()) == std::vector<std::string>{".lock", "README", "notes",
                                                          "runnel-topics.meta", "t-0", "t-1"});
}

TEST_CASE("A damaged runnel-topics.meta makes Open fail with DataLoss naming the file",
          "[broker][reopen][corruption]") {
  TempDir tmp;
  const std::string meta = tmp.path() + "/runnel-topics.meta";
  BrokerState expected;
  {
    auto core = OpenCore(tmp.path());
    expected = MakeVariedTopics(*core);
    AppendSome(*core, "interval", {1, 2, 3});
    REQUIRE_OK(core->Close());
  }
  const std::string good = broker_testing::ReadWholeFile(meta);
  REQUIRE(good.size() > 100);
  const std::vector<std::string> names_before = ListNames(tmp.path());

  auto expect_data_loss = [&](const std::string& what) {
    auto core = BrokerCore::Open(io::PosixEnv(), tmp.path(), BrokerOptions{});
    INFO(what);
    CHECK_STATUS(core, absl::StatusCode::kDataLoss, meta);
  };

  SECTION("every single flipped byte is detected") {
    for (size_t i = 0; i < good.size(); ++i) {
      for (const uint8_t mask : {0x01, 0x5A, 0x80}) {
        std::string bad = good;
        bad[i] = static_cast<char>(bad[i] ^ mask);
        broker_testing::WriteWholeFile(meta, bad);
        expect_data_loss("byte " + std::to_string(i) + " ^ " + std::to_string(mask));
      }
    }
  }
  SECTION("every truncation is detected") {
    for (size_t len = 0; len < good.size(); ++len) {
      broker_testing::WriteWholeFile(meta, good.substr(0, len));
      expect_data_loss("truncated to " + std::to_string(len));
    }
  }
  SECTION("garbage appended is detected") {
    broker_testing::WriteWholeFile(meta, good + "topic x 1\n");
    expect_data_loss("a line after the checksum");
  }
  SECTION("a correctly sealed table with a bad line is DataLoss too") {
    for (const std::string line :
         {"topic bad/name 1", "topic t 0", "topic t -1", "topic t x", "topic t 1 retention.ms=abc",
          "topic t 1 no.such.key=1", "topic t 1 cleanup.policy=compact", "topic t 1 noequals",
          "subject t 1", "topic", "topic t 100001"}) {
      const std::string body = "runnel topics v1\n" + line + "\n";
      char crc[32];
      std::snprintf(crc, sizeof crc, "crc32c=%08x\n",
                    format::Crc32c(std::span<const uint8_t>(
                        reinterpret_cast<const uint8_t*>(body.data()), body.size())));
      broker_testing::WriteWholeFile(meta, body + crc);
      expect_data_loss(line);
    }
    // The same sealing over a good line is accepted: the test's sealing is right.
    const std::string body = "runnel topics v1\ntopic interval 3\n";
    char crc[32];
    std::snprintf(crc, sizeof crc, "crc32c=%08x\n",
                  format::Crc32c(std::span<const uint8_t>(
                      reinterpret_cast<const uint8_t*>(body.data()), body.size())));
    broker_testing::WriteWholeFile(meta, body + crc);
    auto core = BrokerCore::Open(io::PosixEnv(), tmp.path(), BrokerOptions{});
    REQUIRE_OK(core);
    CHECK((*core)->ListTopics() == std::vector<std::string>{"interval"});
    // (That open removed the other topics' directories: they were no longer listed.)
    return;
  }
  // The failed opens did not remove any topic's data, and the good table opens again.
  CHECK(ListNames(tmp.path()) == names_before);
  broker_testing::WriteWholeFile(meta, good);
  auto core = OpenCore(tmp.path());
  CHECK(StateOf(*core) == expected);
  CheckEnds(*core, "interval", {3, 6, 9});
}

}  // namespace
}  // namespace runnel
