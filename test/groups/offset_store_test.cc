// Committed offsets in the internal topic __consumer_offsets (lib/groups/offset_store.h):
// through the public API (Broker, a Consumer with a group.id that Assigns and commits,
// GroupAdmin) and through OffsetStore over a BrokerCore. Commits survive Close, the
// Broker handle destroyed without Close, and crashes (a copy of the open data directory;
// a BrokerCore dropped without Close; a power cut at every operation under sync.policy
// always); the topic stays small however often the same partitions are committed;
// deleted groups stay deleted; over-long metadata is refused; the topic is internal.
#include "groups/offset_store.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/broker_core.h"
#include "groups/group_coordinator.h"
#include "groups/offset_record.h"
#include "groups_testing.h"
#include "io/env.h"
#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/group_admin.h"
#include "runnel/producer.h"
#include "support/fault_env.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel {
namespace {

namespace fs = std::filesystem;
using groups_testing::CommitOutside;
using groups_testing::CommittedOf;
using groups_testing::CopyDir;
using groups_testing::CountFiles;
using groups_testing::KeysOf;
using groups_testing::MakeAdmin;
using groups_testing::MakeGroupConsumer;
using groups_testing::Offsets;
using groups_testing::OpenBroker;
using groups_testing::SameOffsets;
using groups_testing::SmallConfig;
using groups_testing::SmallOptions;
using groups_testing::TP;
using internal::BrokerCore;
using internal::kConsumerOffsetsTopic;
using testing::TempDir;

constexpr absl::StatusCode kInvalidArgument = absl::StatusCode::kInvalidArgument;
constexpr absl::StatusCode kNotFound = absl::StatusCode::kNotFound;

// Offsets of three partitions of "orders" and one of "audit", with metadata.
Offsets SomeOffsets(int64_t base, const std::string& tag) {
  return {
      {TP("orders", 0), {base, tag + "-o0"}},
      {TP("orders", 1), {base + 10, ""}},
      {TP("orders", 2), {base + 20, tag + "-o2"}},
      {TP("audit", 0), {base + 30, std::string(100, 'x')}},
  };
}

void CreateTopics(Broker& broker) {
  REQUIRE_OK(broker.CreateTopic("orders", 3, SmallConfig()));
  REQUIRE_OK(broker.CreateTopic("audit", 1, SmallConfig()));
}

void CheckCommitted(Broker& broker, const std::string& group, const Offsets& expected) {
  auto got = CommittedOf(broker, group, KeysOf(expected));
  INFO("group " << group << " has " << groups_testing::ToString(got));
  CHECK(SameOffsets(got, expected));
}

void CheckNothingCommitted(Broker& broker, const std::string& group,
                           const std::vector<TopicPartition>& tps) {
  auto got = CommittedOf(broker, group, tps);
  INFO("group " << group << " has " << groups_testing::ToString(got));
  for (const auto& [tp, om] : got) CHECK_FALSE(om.has_value());
}

uint64_t OffsetsTopicSize(Broker& broker) {
  auto d = broker.DescribeTopic(kConsumerOffsetsTopic);
  REQUIRE_OK(d);
  REQUIRE(d->partitions.size() == 1);
  return d->partitions[0].size_bytes;
}

std::shared_ptr<groups::GroupCoordinator> CoordinatorOf(Broker& broker) {
  auto c = groups::GroupCoordinator::ForBroker(*broker.core());
  REQUIRE_OK(c);
  return *c;
}

std::unique_ptr<groups::OffsetStore> OpenStore(BrokerCore& core) {
  auto store = groups::OffsetStore::Open(&core);
  REQUIRE_OK(store);
  return std::move(*store);
}

// ---------------------------------------------------------------------------------------
// Survival

TEST_CASE("offset store: commits survive Broker Close and reopen", "[offset_store][reopen]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("data");
  {
    auto broker = OpenBroker(dir);
    CreateTopics(*broker);
    REQUIRE_OK(CommitOutside(*broker, "billing", SomeOffsets(100, "first")));
    REQUIRE_OK(CommitOutside(*broker, "billing", SomeOffsets(200, "second")));  // latest wins
    REQUIRE_OK(CommitOutside(*broker, "shipping", SomeOffsets(7, "ship")));
    // Only some partitions: the others keep their earlier commits.
    REQUIRE_OK(CommitOutside(*broker, "shipping", {{TP("orders", 1), {8, "moved"}}}));
    REQUIRE_OK(broker->Close());
  }
  auto broker = OpenBroker(dir);
  CheckCommitted(*broker, "billing", SomeOffsets(200, "second"));
  Offsets shipping = SomeOffsets(7, "ship");
  shipping[TP("orders", 1)] = {8, "moved"};
  CheckCommitted(*broker, "shipping", shipping);
  CheckNothingCommitted(*broker, "nobody", KeysOf(shipping));
  // And commits go on after the reopen, surviving the next one too.
  REQUIRE_OK(CommitOutside(*broker, "billing", {{TP("audit", 0), {999, "after"}}}));
  REQUIRE_OK(broker->Close());
  broker = OpenBroker(dir);
  Offsets billing = SomeOffsets(200, "second");
  billing[TP("audit", 0)] = {999, "after"};
  CheckCommitted(*broker, "billing", billing);
}

TEST_CASE("offset store: commits survive destroying the Broker without Close",
          "[offset_store][reopen]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("data");
  {
    auto broker = OpenBroker(dir);
    CreateTopics(*broker);
    auto consumer = MakeGroupConsumer(*broker, "g");
    REQUIRE_OK(consumer->Assign({TP("orders", 0), TP("orders", 2)}));
    REQUIRE_OK(consumer->CommitSync({{TP("orders", 0), {5, "five"}}, {TP("orders", 2), {6, ""}}}));
    // The consumer outlives the Broker handle; neither is closed.
    broker.reset();
    consumer.reset();
  }
  auto broker = OpenBroker(dir);
  CheckCommitted(*broker, "g", {{TP("orders", 0), {5, "five"}}, {TP("orders", 2), {6, ""}}});
}

TEST_CASE("offset store: commits survive a crash (a copy of the open data directory)",
          "[offset_store][crash]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("data");
  const std::string copy = tmp.Sub("copy");
  auto broker = OpenBroker(dir);
  CreateTopics(*broker);
  REQUIRE_OK(CommitOutside(*broker, "g", SomeOffsets(1, "a")));
  REQUIRE_OK(CommitOutside(*broker, "g", SomeOffsets(2, "b")));
  REQUIRE_OK(CommitOutside(*broker, "h", {{TP("orders", 0), {42, "h"}}}));
  CopyDir(dir, copy);
  // Commits after the copy are not in it.
  REQUIRE_OK(CommitOutside(*broker, "g", SomeOffsets(3, "c")));
  auto crashed = OpenBroker(copy);
  CheckCommitted(*crashed, "g", SomeOffsets(2, "b"));
  CheckCommitted(*crashed, "h", {{TP("orders", 0), {42, "h"}}});
  // The original is unaffected.
  CheckCommitted(*broker, "g", SomeOffsets(3, "c"));
}

TEST_CASE("offset store: commits survive a BrokerCore dropped without Close",
          "[offset_store][crash]") {
  TempDir tmp;
  const groups::GroupOffsets offsets = {
      {TP("orders", 0), {11, "m0", 1000}},
      {TP("orders", 1), {12, "", 1001}},
  };
  {
    auto core = BrokerCore::Open(io::PosixEnv(), tmp.path(), SmallOptions());
    REQUIRE_OK(core);
    REQUIRE_OK((*core)->CreateTopic("orders", 2, SmallConfig()));
    auto coordinator = groups::GroupCoordinator::ForBroker(**core);
    REQUIRE_OK(coordinator);
    REQUIRE_OK((*coordinator)->Commit("g", "", 0, offsets));
    // No Close: the core and the coordinator simply go away.
  }
  auto core = BrokerCore::Open(io::PosixEnv(), tmp.path(), SmallOptions());
  REQUIRE_OK(core);
  auto store = OpenStore(**core);
  const groups::GroupOffsets* found = store->Find("g");
  REQUIRE(found != nullptr);
  REQUIRE(found->size() == 2);
  CHECK(found->at(TP("orders", 0)).offset == 11);
  CHECK(found->at(TP("orders", 0)).metadata == "m0");
  CHECK(found->at(TP("orders", 0)).commit_timestamp == 1000);
  CHECK(found->at(TP("orders", 1)).offset == 12);
  CHECK(found->at(TP("orders", 1)).commit_timestamp == 1001);
  REQUIRE_OK((*core)->Close());
}

// ---------------------------------------------------------------------------------------
// Bounded growth

TEST_CASE("offset store: 5000 commits of the same partitions keep __consumer_offsets small",
          "[offset_store][growth]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("data");
  const uint64_t kBound = 64 * 1024;
  Offsets last;
  {
    auto broker = OpenBroker(dir, SmallOptions(/*offsets_topic_segment_bytes=*/4096));
    CreateTopics(*broker);
    auto consumer = MakeGroupConsumer(*broker, "busy");
    REQUIRE_OK(consumer->Assign({TP("orders", 0), TP("orders", 1), TP("orders", 2)}));
    uint64_t largest = 0;
    for (int i = 0; i < 5000; ++i) {
      last = {
          {TP("orders", 0), {i, "m" + std::to_string(i)}},
          {TP("orders", 1), {2 * i, ""}},
          {TP("orders", 2), {3 * i, std::string(static_cast<size_t>(i % 50), 'z')}},
      };
      REQUIRE_OK(consumer->CommitSync(last));
      if (i % 10 == 0) largest = std::max(largest, OffsetsTopicSize(*broker));
    }
    largest = std::max(largest, OffsetsTopicSize(*broker));
    INFO("largest size of __consumer_offsets: " << largest << " bytes");
    CHECK(largest < kBound);
    CHECK(CoordinatorOf(*broker)->offset_compactions() > 0);
    // On disk too: a few segments, not hundreds.
    const std::string partition_dir = dir + "/" + std::string(kConsumerOffsetsTopic) + "-0";
    CHECK(CountFiles(partition_dir, ".log") <= 4);
    CHECK(groups_testing::DiskBytes(partition_dir) < 4 * kBound);
    CheckCommitted(*broker, "busy", last);
    REQUIRE_OK(consumer->Close());
    REQUIRE_OK(broker->Close());
  }
  auto broker = OpenBroker(dir, SmallOptions(4096));
  CHECK(OffsetsTopicSize(*broker) < kBound);
  CheckCommitted(*broker, "busy", last);
}

TEST_CASE("offset store: compaction keeps every group's latest offsets, across groups and reopen",
          "[offset_store][growth]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("data");
  std::map<std::string, Offsets> latest;
  {
    auto broker = OpenBroker(dir, SmallOptions(4096));
    CreateTopics(*broker);
    // Groups committed once, early: compaction must carry them along.
    for (int g = 0; g < 5; ++g) {
      const std::string group = "quiet-" + std::to_string(g);
      latest[group] = SomeOffsets(g, group);
      REQUIRE_OK(CommitOutside(*broker, group, latest[group]));
    }
    auto consumer = MakeGroupConsumer(*broker, "loud");
    REQUIRE_OK(consumer->Assign({TP("audit", 0)}));
    for (int i = 0; i < 1500; ++i) {
      latest["loud"] = {{TP("audit", 0), {i, "loud" + std::to_string(i)}}};
      REQUIRE_OK(consumer->CommitSync(latest["loud"]));
    }
    CHECK(CoordinatorOf(*broker)->offset_compactions() > 0);
    for (const auto& [group, offsets] : latest) CheckCommitted(*broker, group, offsets);
    REQUIRE_OK(consumer->Close());
  }
  auto broker = OpenBroker(dir, SmallOptions(4096));
  for (const auto& [group, offsets] : latest) CheckCommitted(*broker, group, offsets);
}

TEST_CASE("offset store: compaction under sync.policy always keeps the latest offsets",
          "[offset_store][growth]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("data");
  BrokerOptions options = SmallOptions(4096);
  options.default_topic_config.sync_policy = SyncPolicy::kAlways;
  Offsets last;
  {
    auto broker = OpenBroker(dir, options);
    CreateTopics(*broker);
    auto consumer = MakeGroupConsumer(*broker, "durable");
    REQUIRE_OK(consumer->Assign({TP("orders", 0), TP("orders", 1)}));
    for (int i = 0; i < 300; ++i) {
      last = {{TP("orders", 0), {i, "d" + std::to_string(i)}}, {TP("orders", 1), {i + 1, ""}}};
      REQUIRE_OK(consumer->CommitSync(last));
    }
    CHECK(CoordinatorOf(*broker)->offset_compactions() > 0);
    CHECK(OffsetsTopicSize(*broker) < 64 * 1024);
    // A crash now: the copy has whatever was synced.
    CopyDir(dir, tmp.Sub("copy"));
  }
  auto crashed = OpenBroker(tmp.Sub("copy"), options);
  CheckCommitted(*crashed, "durable", last);
  auto reopened = OpenBroker(dir, options);
  CheckCommitted(*reopened, "durable", last);
}

TEST_CASE("offset store: OffsetStore compacts once the log passes the segment size and twice the live size",
          "[offset_store][growth]") {
  TempDir tmp;
  auto broker = OpenBroker(tmp.Sub("data"), SmallOptions(4096));
  auto store = OpenStore(*broker->core());
  CHECK(store->Find("g") == nullptr);
  CHECK(store->Groups().empty());
  // An empty commit writes nothing, and does not even create the topic.
  REQUIRE_OK(store->Commit("g", {}));
  CHECK(broker->DescribeTopic(kConsumerOffsetsTopic).status().code() == kNotFound);
  for (int i = 0; i < 400; ++i) {
    REQUIRE_OK(store->Commit("g", {{TP("t", 0), {i, "", 1}}, {TP("t", 1), {i, "", 1}}}));
  }
  CHECK(store->compactions() > 0);
  CHECK(OffsetsTopicSize(*broker) < 3 * 4096);
  // What is left is little more than the live offsets.
  auto d = broker->DescribeTopic(kConsumerOffsetsTopic);
  REQUIRE_OK(d);
  CHECK(d->partitions[0].log_start_offset > 0);
  const groups::GroupOffsets* g = store->Find("g");
  REQUIRE(g != nullptr);
  CHECK(g->at(TP("t", 0)).offset == 399);
  CHECK(g->at(TP("t", 1)).offset == 399);
  // Replay of the compacted log gives the same.
  store.reset();
  auto again = OpenStore(*broker->core());
  const groups::GroupOffsets* replayed = again->Find("g");
  REQUIRE(replayed != nullptr);
  CHECK(replayed->size() == 2);
  CHECK(replayed->at(TP("t", 0)).offset == 399);
  CHECK(replayed->at(TP("t", 1)).offset == 399);
}

TEST_CASE("offset store: compaction runs only once the log doubles the live offsets",
          "[offset_store][growth]") {
  TempDir tmp;
  auto broker = OpenBroker(tmp.Sub("data"), SmallOptions(64 * 1024));
  auto store = OpenStore(*broker->core());
  // About 42 KiB live.
  const std::string meta(1000, 'm');
  for (int g = 0; g < 40; ++g) {
    REQUIRE_OK(store->Commit("group-" + std::to_string(g), {{TP("t", 0), {g, meta, 1}}}));
  }
  CHECK(store->compactions() == 0);
  // Each commit below adds about 1.1 KiB: the log doubles the live size about every 38
  // commits, so 200 commits compact a handful of times, not on every commit.
  uint64_t largest = 0;
  for (int i = 0; i < 200; ++i) {
    REQUIRE_OK(store->Commit("group-0", {{TP("t", 0), {i, meta, 1}}}));
    largest = std::max(largest, OffsetsTopicSize(*broker));
  }
  INFO(store->compactions() << " compactions; largest " << largest << " bytes");
  CHECK(store->compactions() >= 2);
  CHECK(store->compactions() <= 10);
  CHECK(largest < 128 * 1024);
  CHECK(store->Groups().size() == 40);
  CHECK(store->Find("group-0")->at(TP("t", 0)).offset == 199);
  store.reset();
  auto replayed = OpenStore(*broker->core());
  CHECK(replayed->Groups().size() == 40);
  CHECK(replayed->Find("group-0")->at(TP("t", 0)).offset == 199);
  CHECK(replayed->Find("group-39")->at(TP("t", 0)).offset == 39);
}

TEST_CASE("offset store: compaction works when the live offsets exceed offsets.topic.segment.bytes",
          "[offset_store][growth]") {
  // 100 groups' offsets (about 17 KiB) with offsets.topic.segment.bytes = 4096: every
  // commit is small, but the compacted copy is larger than one segment.
  TempDir tmp;
  const std::string dir = tmp.Sub("data");
  {
    auto broker = OpenBroker(dir, SmallOptions(4096));
    REQUIRE_OK(broker->CreateTopic("t", 1, SmallConfig()));
    auto coordinator = CoordinatorOf(*broker);
    for (int g = 0; g < 100; ++g) {
      const std::string group = "group-" + std::to_string(g);
      INFO("first commit of " << group);
      REQUIRE_OK(coordinator->Commit(group, "", 0, {{TP("t", 0), {g, std::string(100, 'm'), 1}}}));
    }
    for (int i = 0; i < 300; ++i) {
      INFO("commit " << i << " of group-0");
      REQUIRE_OK(coordinator->Commit("group-0", "", 0, {{TP("t", 0), {1000 + i, "", 1}}}));
    }
    CHECK(coordinator->offset_compactions() > 0);
    CHECK(OffsetsTopicSize(*broker) < 64 * 1024);
    const std::string partition_dir = dir + "/" + std::string(kConsumerOffsetsTopic) + "-0";
    CHECK(CountFiles(partition_dir, ".log") <= 8);
    REQUIRE_OK(broker->Close());
  }
  auto broker = OpenBroker(dir, SmallOptions(4096));
  CheckCommitted(*broker, "group-0", {{TP("t", 0), {1299, ""}}});
  CheckCommitted(*broker, "group-99", {{TP("t", 0), {99, std::string(100, 'm')}}});
}

// ---------------------------------------------------------------------------------------
// Deletion

TEST_CASE("offset store: DeleteGroup writes tombstones that survive reopen", "[offset_store][delete]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("data");
  {
    auto broker = OpenBroker(dir);
    CreateTopics(*broker);
    REQUIRE_OK(CommitOutside(*broker, "doomed", SomeOffsets(1, "d")));
    REQUIRE_OK(CommitOutside(*broker, "kept", SomeOffsets(2, "k")));
    auto admin = MakeAdmin(*broker);
    REQUIRE_OK(admin->DeleteGroup("doomed"));
    CheckNothingCommitted(*broker, "doomed", KeysOf(SomeOffsets(1, "d")));
    REQUIRE_OK(broker->Close());
  }
  {
    auto broker = OpenBroker(dir);
    CheckNothingCommitted(*broker, "doomed", KeysOf(SomeOffsets(1, "d")));
    CheckCommitted(*broker, "kept", SomeOffsets(2, "k"));
    auto admin = MakeAdmin(*broker);
    CHECK(admin->DescribeGroup("doomed").status().code() == kNotFound);
    auto groups = admin->ListGroups();
    REQUIRE_OK(groups);
    REQUIRE(groups->size() == 1);
    CHECK((*groups)[0].group_id == "kept");
    // The name can be used again, from scratch.
    REQUIRE_OK(CommitOutside(*broker, "doomed", {{TP("audit", 0), {77, "again"}}}));
    REQUIRE_OK(broker->Close());
  }
  auto broker = OpenBroker(dir);
  auto got = CommittedOf(*broker, "doomed", KeysOf(SomeOffsets(1, "d")));
  INFO(groups_testing::ToString(got));
  for (const auto& [tp, om] : got) {
    if (tp == TP("audit", 0)) {
      REQUIRE(om.has_value());
      CHECK(om->offset == 77);
    } else {
      CHECK_FALSE(om.has_value());
    }
  }
}

TEST_CASE("offset store: a deleted group stays deleted through compaction and a crash",
          "[offset_store][delete]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("data");
  auto broker = OpenBroker(dir, SmallOptions(4096));
  CreateTopics(*broker);
  REQUIRE_OK(CommitOutside(*broker, "doomed", SomeOffsets(1, "d")));
  auto admin = MakeAdmin(*broker);
  REQUIRE_OK(admin->DeleteGroup("doomed"));
  const int before = CoordinatorOf(*broker)->offset_compactions();
  auto consumer = MakeGroupConsumer(*broker, "loud");
  REQUIRE_OK(consumer->Assign({TP("audit", 0)}));
  for (int i = 0; i < 600; ++i) REQUIRE_OK(consumer->CommitSync({{TP("audit", 0), {i, ""}}}));
  CHECK(CoordinatorOf(*broker)->offset_compactions() > before);
  CopyDir(dir, tmp.Sub("copy"));
  REQUIRE_OK(consumer->Close());
  REQUIRE_OK(broker->Close());
  for (const std::string& d : {dir, tmp.Sub("copy")}) {
    INFO("directory " << d);
    auto reopened = OpenBroker(d, SmallOptions(4096));
    CheckNothingCommitted(*reopened, "doomed", KeysOf(SomeOffsets(1, "d")));
    CheckCommitted(*reopened, "loud", {{TP("audit", 0), {599, ""}}});
  }
}

TEST_CASE("offset store: Delete of some partitions forgets only those, and survives reopen",
          "[offset_store][delete]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("data");
  {
    auto broker = OpenBroker(dir);
    auto store = OpenStore(*broker->core());
    REQUIRE_OK(store->Commit("g", {{TP("t", 0), {1, "a", 5}}, {TP("t", 1), {2, "b", 5}},
                                   {TP("u", 0), {3, "c", 5}}}));
    // Unknown groups and partitions are nothing to delete.
    REQUIRE_OK(store->Delete("nobody", {}));
    REQUIRE_OK(store->Delete("g", {TP("t", 9)}));
    REQUIRE_OK(store->Delete("g", {TP("t", 1), TP("u", 0)}));
    const groups::GroupOffsets* g = store->Find("g");
    REQUIRE(g != nullptr);
    CHECK(g->size() == 1);
    CHECK(g->count(TP("t", 0)) == 1);
    REQUIRE_OK(broker->Close());
  }
  {
    auto broker = OpenBroker(dir);
    auto store = OpenStore(*broker->core());
    const groups::GroupOffsets* g = store->Find("g");
    REQUIRE(g != nullptr);
    REQUIRE(g->size() == 1);
    CHECK(g->at(TP("t", 0)).offset == 1);
    CHECK(g->at(TP("t", 0)).metadata == "a");
    // The last partition gone, the group is gone.
    REQUIRE_OK(store->Delete("g", {TP("t", 0)}));
    CHECK(store->Find("g") == nullptr);
    CHECK(store->Groups().empty());
    REQUIRE_OK(broker->Close());
  }
  auto broker = OpenBroker(dir);
  auto store = OpenStore(*broker->core());
  CHECK(store->Find("g") == nullptr);
  CHECK(store->Groups().empty());
}

// ---------------------------------------------------------------------------------------
// Limits and the internal topic

TEST_CASE("offset store: metadata over 4096 bytes is refused with InvalidArgument and nothing is stored",
          "[offset_store][limits]") {
  TempDir tmp;
  auto broker = OpenBroker(tmp.Sub("data"));
  CreateTopics(*broker);
  auto consumer = MakeGroupConsumer(*broker, "g");
  REQUIRE_OK(consumer->Assign({TP("orders", 0), TP("orders", 1)}));
  // One good partition and one bad one: neither is stored.
  CHECK_STATUS_IS(consumer->CommitSync({{TP("orders", 0), {1, "fine"}},
                                        {TP("orders", 1), {2, std::string(4097, 'm')}}}),
                  kInvalidArgument, "4097", "4096");
  CheckNothingCommitted(*broker, "g", {TP("orders", 0), TP("orders", 1)});
  // Exactly 4096 is allowed, and survives reopen.
  const std::string max(4096, 'M');
  REQUIRE_OK(consumer->CommitSync({{TP("orders", 1), {3, max}}}));
  REQUIRE_OK(consumer->Close());
  REQUIRE_OK(broker->Close());
  broker = OpenBroker(tmp.Sub("data"));
  CheckCommitted(*broker, "g", {{TP("orders", 1), {3, max}}});

  // The store itself refuses, whoever calls it.
  auto store_broker = OpenBroker(tmp.Sub("other"));
  auto store = OpenStore(*store_broker->core());
  CHECK(store->Commit("g", {{TP("t", 0), {1, std::string(groups::kMaxOffsetMetadataBytes + 1, 'x'), 0}}})
            .code() == kInvalidArgument);
  CHECK(store->Find("g") == nullptr);
}

TEST_CASE("offset store: negative offsets are refused with InvalidArgument", "[offset_store][limits]") {
  TempDir tmp;
  auto broker = OpenBroker(tmp.Sub("data"));
  CreateTopics(*broker);
  auto consumer = MakeGroupConsumer(*broker, "g");
  REQUIRE_OK(consumer->Assign({TP("orders", 0)}));
  CHECK(consumer->CommitSync({{TP("orders", 0), {-1, ""}}}).code() == kInvalidArgument);
  CheckNothingCommitted(*broker, "g", {TP("orders", 0)});
}

TEST_CASE("offset store: __consumer_offsets is internal: not listed, not creatable or deletable",
          "[offset_store][internal]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("data");
  auto broker = OpenBroker(dir);
  // Before any commit it does not exist, and the application cannot make it.
  CHECK_STATUS_IS(broker->CreateTopic(kConsumerOffsetsTopic, 1, SmallConfig()), kInvalidArgument,
                  std::string(kConsumerOffsetsTopic));
  CHECK(broker->DescribeTopic(kConsumerOffsetsTopic).status().code() == kNotFound);
  CreateTopics(*broker);
  REQUIRE_OK(CommitOutside(*broker, "g", SomeOffsets(1, "x")));
  // Now it exists: described, but not listed; still neither creatable nor deletable.
  REQUIRE_OK(broker->DescribeTopic(kConsumerOffsetsTopic));
  CHECK(broker->ListTopics() == std::vector<std::string>{"audit", "orders"});
  CHECK_STATUS_IS(broker->CreateTopic(kConsumerOffsetsTopic, 1, SmallConfig()), kInvalidArgument,
                  std::string(kConsumerOffsetsTopic));
  CHECK_STATUS_IS(broker->DeleteTopic(kConsumerOffsetsTopic), kInvalidArgument,
                  std::string(kConsumerOffsetsTopic));
  REQUIRE_OK(broker->DescribeTopic(kConsumerOffsetsTopic));
  // A pattern subscription that matches everything leaves it out too.
  auto consumer = MakeGroupConsumer(*broker, "pattern");
  REQUIRE_OK(consumer->SubscribePattern(".*"));
  CHECK(consumer->Subscription() == std::vector<std::string>{"audit", "orders"});
  REQUIRE_OK(consumer->Close());
  // And after a reopen.
  REQUIRE_OK(broker->Close());
  broker = OpenBroker(dir);
  CHECK(broker->ListTopics() == std::vector<std::string>{"audit", "orders"});
  CHECK(broker->DeleteTopic(kConsumerOffsetsTopic).code() == kInvalidArgument);
  CheckCommitted(*broker, "g", SomeOffsets(1, "x"));
}

TEST_CASE("offset store: a Producer cannot write into __consumer_offsets",
          "[offset_store][internal]") {
  // Kafka refuses produce requests to internal topics (InvalidTopicException). A record
  // that is not an offset commit would make the topic unreplayable and every group's
  // offsets unreadable after a restart.
  TempDir tmp;
  const std::string dir = tmp.Sub("data");
  {
    auto broker = OpenBroker(dir);
    CreateTopics(*broker);
    REQUIRE_OK(CommitOutside(*broker, "g", SomeOffsets(1, "x")));
    ProducerOptions po;
    po.linger_ms = 0;
    auto producer = Producer::Create(*broker, po);
    REQUIRE_OK(producer);
    auto sent = (*producer)->SendSync(
        {.topic = kConsumerOffsetsTopic, .key = std::string_view("not an offset key"),
         .value = std::string_view("garbage")});
    INFO("SendSync: " << sent.status().ToString());
    CHECK(sent.status().code() == kInvalidArgument);
    REQUIRE_OK((*producer)->Close());
    REQUIRE_OK(broker->Close());
  }
  // Whatever happened, the group's offsets must still be there after a restart.
  auto broker = OpenBroker(dir);
  ConsumerOptions options;
  options.group_id = "g";
  auto consumer = Consumer::Create(*broker, options);
  INFO("Consumer::Create: " << consumer.status().ToString());
  REQUIRE_OK(consumer);
  auto committed = (*consumer)->Committed(KeysOf(SomeOffsets(1, "x")));
  REQUIRE_OK(committed);
  CHECK(SameOffsets(*committed, SomeOffsets(1, "x")));
}

TEST_CASE("offset store: auto.create.topics.enable does not let a Producer make __consumer_offsets",
          "[offset_store][internal]") {
  TempDir tmp;
  BrokerOptions options = SmallOptions();
  options.auto_create_topics_enable = true;
  auto broker = OpenBroker(tmp.Sub("data"), options);
  ProducerOptions po;
  po.linger_ms = 0;
  auto producer = Producer::Create(*broker, po);
  REQUIRE_OK(producer);
  auto sent = (*producer)->SendSync({.topic = kConsumerOffsetsTopic, .value = std::string_view("x")});
  CHECK(sent.status().code() == kInvalidArgument);
  CHECK(broker->DescribeTopic(kConsumerOffsetsTopic).status().code() == kNotFound);
  // Ordinary topics are still auto-created, and commits then make the internal one.
  REQUIRE_OK((*producer)->SendSync({.topic = "auto", .value = std::string_view("x")}));
  REQUIRE_OK(CommitOutside(*broker, "g", {{TP("auto", 0), {1, ""}}}));
  REQUIRE_OK(broker->DescribeTopic(kConsumerOffsetsTopic));
  CHECK(broker->ListTopics() == std::vector<std::string>{"auto"});
  REQUIRE_OK((*producer)->Close());
}

TEST_CASE("offset store: a group id too long for Kafka's int16 string is refused, the longest kept",
          "[offset_store][limits]") {
  // Kafka's record schema writes the group as an int16 length and the bytes: 32767 bytes
  // at most. A longer group id must be refused before anything is written, whichever way
  // it comes in, not written as a record that cannot be read back.
  TempDir tmp;
  const std::string dir = tmp.Sub("data");
  const std::string longest(32767, 'g');
  const std::string too_long(32768, 'g');
  const std::string far_too_long(65536 + 2, 'g');  // its length would wrap to 2
  {
    auto broker = OpenBroker(dir);
    CreateTopics(*broker);
    REQUIRE_OK(CommitOutside(*broker, "normal", {{TP("orders", 0), {5, ""}}}));
    REQUIRE_OK(CommitOutside(*broker, longest, {{TP("orders", 0), {6, "longest"}}}));
    for (const std::string* group : {&too_long, &far_too_long}) {
      INFO("group id of " << group->size() << " bytes");
      ConsumerOptions options;
      options.group_id = *group;
      CHECK(Consumer::Create(*broker, options).status().code() == kInvalidArgument);
      auto admin = MakeAdmin(*broker);
      CHECK(admin->ResetOffsets(*group, {TP("orders", 0)}, OffsetSpec::Earliest()).status().code() ==
            kInvalidArgument);
      CHECK(CoordinatorOf(*broker)->Commit(*group, "", 0, {{TP("orders", 1), {1, "", 0}}}).code() ==
            kInvalidArgument);
      auto listed = admin->ListGroups();
      REQUIRE_OK(listed);
      CHECK(listed->size() == 2);
    }
    REQUIRE_OK(broker->Close());
  }
  auto broker = OpenBroker(dir);
  auto admin = GroupAdmin::Create(*broker);
  INFO("GroupAdmin::Create after reopen: " << admin.status().ToString());
  REQUIRE_OK(admin);
  CheckCommitted(*broker, "normal", {{TP("orders", 0), {5, ""}}});
  CheckCommitted(*broker, longest, {{TP("orders", 0), {6, "longest"}}});
  auto listed = (*admin)->ListGroups();
  REQUIRE_OK(listed);
  CHECK(listed->size() == 2);
}

// ---------------------------------------------------------------------------------------
// Power cuts

// Below FaultEnv in the power-cut tests: FaultEnv decides what a power cut keeps from the
// syncs it sees, so the real fsyncs only cost time. Every sync succeeds without one.
class NoSyncEnv : public io::EnvWrapper {
 public:
  NoSyncEnv() : io::EnvWrapper(io::PosixEnv()) {}

  absl::StatusOr<std::unique_ptr<io::File>> OpenFile(const std::string& path,
                                                     io::OpenMode mode) override {
    auto file = target()->OpenFile(path, mode);
    if (!file.ok()) return file.status();
    return std::unique_ptr<io::File>(new NoSyncFile(std::move(*file)));
  }
  absl::Status SyncDir(const std::string&) override { return absl::OkStatus(); }

 private:
  class NoSyncRegion : public io::MappedRegion {
   public:
    explicit NoSyncRegion(std::shared_ptr<io::MappedRegion> inner)
        : io::MappedRegion(inner->data(), inner->size()), inner_(std::move(inner)) {}
    absl::Status Sync(size_t, size_t) override { return absl::OkStatus(); }

   private:
    std::shared_ptr<io::MappedRegion> inner_;
  };
  class NoSyncFile : public io::File {
   public:
    explicit NoSyncFile(std::unique_ptr<io::File> inner)
        : io::File(inner->path()), inner_(std::move(inner)) {}
    absl::Status Write(uint64_t offset, std::span<const uint8_t> data) override {
      return inner_->Write(offset, data);
    }
    absl::Status WriteV(uint64_t offset, std::span<const std::span<const uint8_t>> parts) override {
      return inner_->WriteV(offset, parts);
    }
    absl::StatusOr<size_t> Read(uint64_t offset, std::span<uint8_t> out) const override {
      return inner_->Read(offset, out);
    }
    absl::Status Sync() override { return absl::OkStatus(); }
    absl::Status Truncate(uint64_t size) override { return inner_->Truncate(size); }
    absl::Status Allocate(uint64_t size) override { return inner_->Allocate(size); }
    absl::StatusOr<uint64_t> Size() const override { return inner_->Size(); }
    absl::StatusOr<std::shared_ptr<io::MappedRegion>> Map(size_t length, bool writable) override {
      auto region = inner_->Map(length, writable);
      if (!region.ok()) return region.status();
      return std::shared_ptr<io::MappedRegion>(std::make_shared<NoSyncRegion>(std::move(*region)));
    }

   private:
    std::unique_ptr<io::File> inner_;
  };
};

// Commits of three partitions with offsets i (one batch each) until `count` are done or
// one fails. Returns how many succeeded.
int CommitWorkload(groups::OffsetStore& store, int first, int count) {
  for (int i = first; i < first + count; ++i) {
    const std::string meta = "commit-" + std::to_string(i);
    groups::GroupOffsets offsets;
    for (int32_t p = 0; p < 3; ++p) offsets[TP("t", p)] = {i, meta, i};
    if (!store.Commit("g", offsets).ok()) return i - first;
  }
  return count;
}

TEST_CASE("offset store: a power cut just after a compaction keeps the offsets",
          "[offset_store][crash][power]") {
  // Every commit was acknowledged (sync.policy always) and nothing failed: the compacted
  // copy must be durable, directory entry included, before the old segments go.
  BrokerOptions options = SmallOptions(/*offsets_topic_segment_bytes=*/1024);
  options.default_topic_config.sync_policy = SyncPolicy::kAlways;
  TempDir tmp;
  NoSyncEnv disk;
  testing::FaultEnv env(&disk);
  int commits = 0;
  {
    auto core = BrokerCore::Open(&env, tmp.path(), options);
    REQUIRE_OK(core);
    auto store = OpenStore(**core);
    while (store->compactions() == 0 && commits < 1000) {
      REQUIRE(CommitWorkload(*store, commits, 1) == 1);
      ++commits;
    }
    REQUIRE(store->compactions() == 1);
  }
  REQUIRE_OK(env.PowerCut(1));
  auto core = BrokerCore::Open(&disk, tmp.path(), options);
  REQUIRE_OK(core);
  auto store = OpenStore(**core);
  const groups::GroupOffsets* g = store->Find("g");
  INFO(commits << " commits acknowledged, the last with offset " << commits - 1);
  REQUIRE(g != nullptr);
  REQUIRE(g->size() == 3);
  for (const auto& [tp, value] : *g) CHECK(value.offset == commits - 1);
}

TEST_CASE("offset store: a power cut at any point of commits and compactions loses no acknowledged commit",
          "[offset_store][crash][power]") {
  // sync.policy always: a commit is fsynced before Commit returns, so it must survive a
  // power cut; and a compaction cut part way must leave the same offsets.
  BrokerOptions options = SmallOptions(/*offsets_topic_segment_bytes=*/1024);
  options.default_topic_config.sync_policy = SyncPolicy::kAlways;
  options.default_topic_config.index_interval_bytes = 256;
  const int kCommits = 40;

  auto prepare = [&](testing::FaultEnv& env, const std::string& dir) {
    auto core = BrokerCore::Open(&env, dir, options);
    REQUIRE_OK(core);
    auto store = OpenStore(**core);
    REQUIRE(CommitWorkload(*store, 0, 1) == 1);  // creates the topic
    return std::make_pair(std::move(*core), std::move(store));
  };

  NoSyncEnv disk;
  int64_t total_ops = 0;
  {
    TempDir tmp;
    testing::FaultEnv env(&disk);
    auto [core, store] = prepare(env, tmp.path());
    const int64_t before = env.count(testing::FaultOp::kAny);
    REQUIRE(CommitWorkload(*store, 1, kCommits) == kCommits);
    REQUIRE(store->compactions() >= 2);
    total_ops = env.count(testing::FaultOp::kAny) - before;
  }
  REQUIRE(total_ops > 50);
  // Each cut that loses or tears offsets, described; checked once at the end so that the
  // report lists them all.
  std::vector<std::string> failures;
  for (int64_t n = 0; n <= total_ops; ++n) {
    TempDir tmp;
    testing::FaultEnv env(&disk);
    int acknowledged = 0;
    {
      auto [core, store] = prepare(env, tmp.path());
      env.KillAfter(n);
      acknowledged = CommitWorkload(*store, 1, kCommits);
    }
    REQUIRE_OK(env.PowerCut(static_cast<uint64_t>(n) * 31 + 7));
    auto core = BrokerCore::Open(&disk, tmp.path(), options);
    REQUIRE_OK(core);
    auto store = groups::OffsetStore::Open(core->get());
    const std::string at = "cut after " + std::to_string(n) + " of " + std::to_string(total_ops) +
                           " operations (" + std::to_string(acknowledged) + " commits acknowledged): ";
    if (!store.ok()) {
      failures.push_back(at + "reopen failed: " + store.status().ToString());
      continue;
    }
    const groups::GroupOffsets* g = (*store)->Find("g");
    if (g == nullptr || g->size() != 3) {
      failures.push_back(at + "the group's offsets are gone (" +
                         std::to_string(g == nullptr ? 0 : g->size()) + " partitions left)");
      continue;
    }
    // The last acknowledged commit, or the one in flight at the cut (first commit: 0).
    const int64_t got = g->begin()->second.offset;
    if (got < acknowledged || got > acknowledged + 1) {
      failures.push_back(at + "offset " + std::to_string(got) + " came back");
    }
    for (const auto& [tp, value] : *g) {
      if (value.offset != got || value.metadata != "commit-" + std::to_string(got)) {
        failures.push_back(at + "a commit was torn");  // one batch: all or none
        break;
      }
    }
    // The store goes on working.
    REQUIRE_OK((*store)->Commit("g", {{TP("t", 0), {1000, "", 0}}}));
    REQUIRE_OK((*core)->Close());
  }
  std::string first;
  for (size_t i = 0; i < failures.size() && i < 8; ++i) first += "\n  " + failures[i];
  INFO(failures.size() << " of " << total_ops + 1 << " cuts lost offsets; the first ones:" << first);
  CHECK(failures.empty());
}

}  // namespace
}  // namespace runnel
