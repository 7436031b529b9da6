// runnel::GroupAdmin (include/runnel/group_admin.h) against a real Broker on a temp dir:
// ListGroups, DescribeGroup (members, assignment, committed offsets, end offsets, lag,
// owners), ResetOffsets (earliest, latest, timestamp, explicit offset clamped into the
// log; refused while the group has members; atomic) and DeleteGroup. Members are
// Consumers subscribed from this thread, polled until the group settles; every wait is a
// bounded number of short polls, and every assertion is about content, never time.
#include "runnel/group_admin.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "broker/broker_core.h"
#include "groups_testing.h"
#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/producer.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel {
namespace {

using namespace std::chrono_literals;
using groups_testing::CommitOutside;
using groups_testing::CommittedOf;
using groups_testing::KeysOf;
using groups_testing::MakeAdmin;
using groups_testing::MakeGroupConsumer;
using groups_testing::Offsets;
using groups_testing::OpenBroker;
using groups_testing::SameOffsets;
using groups_testing::SmallConfig;
using groups_testing::TP;
using testing::TempDir;

constexpr absl::StatusCode kNotFound = absl::StatusCode::kNotFound;
constexpr absl::StatusCode kFailedPrecondition = absl::StatusCode::kFailedPrecondition;
constexpr absl::StatusCode kInvalidArgument = absl::StatusCode::kInvalidArgument;

TopicConfig KeepForever() {
  TopicConfig c = SmallConfig();
  c.retention_ms = -1;  // records carry timestamps from 1970
  return c;
}

struct Fixture {
  Fixture() {
    broker = OpenBroker(tmp.Sub("data"));
    admin = MakeAdmin(*broker);
    ProducerOptions po;
    po.linger_ms = 0;
    auto p = Producer::Create(*broker, po);
    REQUIRE_OK(p);
    producer = std::move(*p);
  }
  ~Fixture() {
    if (producer) producer->Close().IgnoreError();
  }

  // `n` records to one partition with timestamps ts0, ts0 + 1, ...
  void Produce(const std::string& topic, int32_t partition, int n, int64_t ts0 = 1000) {
    for (int i = 0; i < n; ++i) {
      const std::string value = "v" + std::to_string(i);
      auto md = producer->SendSync(
          {.topic = topic, .partition = partition, .value = value, .timestamp = ts0 + i});
      REQUIRE_OK(md);
    }
  }

  storage::PartitionLog& Log(const std::string& topic, int32_t partition) {
    auto t = broker->core()->FindTopic(topic);
    REQUIRE_OK(t);
    return (*t)->partitions.at(static_cast<size_t>(partition))->log();
  }

  std::unique_ptr<Consumer> Member(const std::string& group, const std::string& client_id,
                                   const std::vector<std::string>& topics,
                                   ConsumerOptions options = {}) {
    options.partition_assignment_strategy = options.partition_assignment_strategy.empty()
                                                ? std::vector<PartitionAssignor>{PartitionAssignor::kRange}
                                                : options.partition_assignment_strategy;
    auto c = MakeGroupConsumer(*broker, group, client_id, options);
    REQUIRE_OK(c->Subscribe(topics));
    return c;
  }

  GroupDescription Describe(const std::string& group) {
    auto d = admin->DescribeGroup(group);
    REQUIRE_OK(d);
    return *d;
  }

  // Polls every consumer until the group is Stable and each member owns exactly its
  // assignment (and its Consumer says so); fails the test after 200 rounds.
  GroupDescription Settle(const std::string& group, const std::vector<Consumer*>& consumers) {
    for (int round = 0; round < 200; ++round) {
      for (Consumer* c : consumers) REQUIRE_OK(c->Poll(0ms));
      GroupDescription d = Describe(group);
      if (d.state == GroupState::kStable && d.members.size() == consumers.size() && Settled(d, consumers)) {
        return d;
      }
    }
    FAIL("group " << group << " did not settle");
    return {};
  }

  static bool Settled(const GroupDescription& d, const std::vector<Consumer*>& consumers) {
    std::map<TopicPartition, std::string> owners;
    for (const auto& pd : d.offsets) {
      if (!pd.owner.empty()) owners[pd.partition] = pd.owner;
    }
    size_t assigned = 0;
    for (const auto& m : d.members) {
      for (const auto& tp : m.assignment) {
        if (owners[tp] != m.member_id) return false;
        ++assigned;
      }
    }
    if (assigned != owners.size()) return false;
    for (Consumer* c : consumers) {
      const std::string id = c->GroupMetadata().member_id;
      auto m = std::find_if(d.members.begin(), d.members.end(),
                            [&](const MemberDescription& md) { return md.member_id == id; });
      if (m == d.members.end()) return false;
      std::vector<TopicPartition> mine = c->Assignment();
      std::sort(mine.begin(), mine.end());
      std::vector<TopicPartition> theirs = m->assignment;
      std::sort(theirs.begin(), theirs.end());
      if (mine != theirs) return false;
    }
    return true;
  }

  TempDir tmp;
  std::unique_ptr<Broker> broker;
  std::unique_ptr<GroupAdmin> admin;
  std::unique_ptr<Producer> producer;
};

std::vector<std::pair<std::string, GroupState>> Listing(GroupAdmin& admin) {
  auto groups = admin.ListGroups();
  REQUIRE_OK(groups);
  std::vector<std::pair<std::string, GroupState>> out;
  for (const auto& g : *groups) out.emplace_back(g.group_id, g.state);
  return out;
}

const PartitionOffsetDescription* Find(const GroupDescription& d, const TopicPartition& tp) {
  for (const auto& pd : d.offsets) {
    if (pd.partition == tp) return &pd;
  }
  return nullptr;
}

const MemberDescription* FindMember(const GroupDescription& d, const std::string& client_id) {
  for (const auto& m : d.members) {
    if (m.client_id == client_id) return &m;
  }
  return nullptr;
}

std::map<TopicPartition, int64_t> CommittedOffsets(Broker& broker, const std::string& group,
                                                   const std::vector<TopicPartition>& tps) {
  std::map<TopicPartition, int64_t> out;
  for (const auto& [tp, om] : CommittedOf(broker, group, tps)) out[tp] = om ? om->offset : -1;
  return out;
}

// Polls (joining the group on the way) until a record of each of `partitions` partitions
// came, or 200 polls were made; the first offset seen per partition.
std::map<int32_t, int64_t> FirstOffsets(Consumer& c, size_t partitions) {
  std::map<int32_t, int64_t> first;
  for (int i = 0; i < 200 && first.size() < partitions; ++i) {
    auto polled = c.Poll(0ms);
    REQUIRE_OK(polled);
    for (const ConsumerRecord& r : *polled) first.emplace(r.partition, r.offset);
  }
  return first;
}

// ---------------------------------------------------------------------------------------
// ListGroups

TEST_CASE("group admin: group state names are Kafka's", "[group_admin]") {
  CHECK(GroupStateName(GroupState::kEmpty) == "Empty");
  CHECK(GroupStateName(GroupState::kPreparingRebalance) == "PreparingRebalance");
  CHECK(GroupStateName(GroupState::kStable) == "Stable");
}

TEST_CASE("group admin: ListGroups lists groups with members or committed offsets, sorted, with states",
          "[group_admin][list]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("orders", 2, SmallConfig()));
  CHECK(Listing(*f.admin).empty());

  REQUIRE_OK(CommitOutside(*f.broker, "m-offsets", {{TP("orders", 0), {1, ""}}}));
  REQUIRE_OK(CommitOutside(*f.broker, "z-both", {{TP("orders", 1), {2, ""}}}));
  auto live = f.Member("a-live", "live", {"orders"});
  auto both = f.Member("z-both", "both", {"orders"});
  f.Settle("a-live", {live.get()});
  f.Settle("z-both", {both.get()});
  // A consumer that only reads committed offsets is no member and commits nothing.
  auto reader = MakeGroupConsumer(*f.broker, "b-nothing");
  REQUIRE_OK(reader->Committed({TP("orders", 0)}));

  using L = std::vector<std::pair<std::string, GroupState>>;
  CHECK(Listing(*f.admin) == L{{"a-live", GroupState::kStable},
                              {"m-offsets", GroupState::kEmpty},
                              {"z-both", GroupState::kStable}});

  // A member joining starts a rebalance that waits for the others to rejoin.
  auto second = f.Member("a-live", "second", {"orders"});
  CHECK(Listing(*f.admin) == L{{"a-live", GroupState::kPreparingRebalance},
                              {"m-offsets", GroupState::kEmpty},
                              {"z-both", GroupState::kStable}});
  f.Settle("a-live", {live.get(), second.get()});

  // Members gone: a group without committed offsets is no more; one with them is Empty.
  REQUIRE_OK(live->Close());
  REQUIRE_OK(second->Close());
  REQUIRE_OK(both->Close());
  CHECK(Listing(*f.admin) == L{{"m-offsets", GroupState::kEmpty}, {"z-both", GroupState::kEmpty}});
}

TEST_CASE("group admin: groups and their committed offsets are listed after a reopen",
          "[group_admin][list]") {
  TempDir tmp;
  {
    auto broker = OpenBroker(tmp.Sub("data"));
    REQUIRE_OK(broker->CreateTopic("t", 1, SmallConfig()));
    REQUIRE_OK(CommitOutside(*broker, "beta", {{TP("t", 0), {3, ""}}}));
    REQUIRE_OK(CommitOutside(*broker, "alpha", {{TP("t", 0), {4, ""}}}));
    REQUIRE_OK(broker->Close());
  }
  auto broker = OpenBroker(tmp.Sub("data"));
  auto admin = MakeAdmin(*broker);
  using L = std::vector<std::pair<std::string, GroupState>>;
  CHECK(Listing(*admin) == L{{"alpha", GroupState::kEmpty}, {"beta", GroupState::kEmpty}});
}

// ---------------------------------------------------------------------------------------
// DescribeGroup

TEST_CASE("group admin: DescribeGroup shows members, assignment, committed offsets, ends, lag and owners",
          "[group_admin][describe]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("orders", 4, SmallConfig()));
  f.Produce("orders", 0, 10);
  f.Produce("orders", 1, 5);
  f.Produce("orders", 3, 3);
  REQUIRE_OK(CommitOutside(*f.broker, "g", {{TP("orders", 0), {4, "four"}}, {TP("orders", 1), {5, ""}}}));

  auto alpha = f.Member("g", "alpha", {"orders"});
  auto beta = f.Member("g", "beta", {"orders"});
  const GroupDescription d = f.Settle("g", {alpha.get(), beta.get()});

  CHECK(d.group_id == "g");
  CHECK(d.state == GroupState::kStable);
  CHECK(d.assignor == "range");
  CHECK(d.generation_id >= 1);
  REQUIRE(d.members.size() == 2);
  const MemberDescription* a = FindMember(d, "alpha");
  const MemberDescription* b = FindMember(d, "beta");
  REQUIRE(a != nullptr);
  REQUIRE(b != nullptr);
  CHECK(a->member_id == alpha->GroupMetadata().member_id);
  CHECK(b->member_id == beta->GroupMetadata().member_id);
  CHECK(a->member_id.rfind("alpha-", 0) == 0);
  CHECK(a->group_instance_id.empty());
  CHECK(a->subscription == std::vector<std::string>{"orders"});
  CHECK(a->connected);
  CHECK(b->connected);
  // range over the members in id order: alpha's id sorts first.
  CHECK(a->assignment == std::vector<TopicPartition>{TP("orders", 0), TP("orders", 1)});
  CHECK(b->assignment == std::vector<TopicPartition>{TP("orders", 2), TP("orders", 3)});
  CHECK(alpha->GroupMetadata().generation_id == d.generation_id);

  REQUIRE(d.offsets.size() == 4);
  for (size_t i = 0; i < 4; ++i) CHECK(d.offsets[i].partition == TP("orders", static_cast<int32_t>(i)));
  const auto& p0 = d.offsets[0];
  REQUIRE(p0.committed.has_value());
  CHECK(p0.committed->offset == 4);
  CHECK(p0.committed->metadata == "four");
  CHECK(p0.log_end_offset == 10);
  CHECK(p0.lag == 6);
  CHECK(p0.owner == a->member_id);
  const auto& p1 = d.offsets[1];
  REQUIRE(p1.committed.has_value());
  CHECK(p1.committed->offset == 5);
  CHECK(p1.log_end_offset == 5);
  CHECK(p1.lag == 0);
  CHECK(p1.owner == a->member_id);
  const auto& p2 = d.offsets[2];  // empty partition, nothing committed
  CHECK_FALSE(p2.committed.has_value());
  CHECK(p2.log_end_offset == 0);
  CHECK(p2.lag == 0);
  CHECK(p2.owner == b->member_id);
  const auto& p3 = d.offsets[3];  // nothing committed: the whole log is lag
  CHECK_FALSE(p3.committed.has_value());
  CHECK(p3.log_end_offset == 3);
  CHECK(p3.lag == 3);
  CHECK(p3.owner == b->member_id);

  // Records produced later raise the end and the lag.
  f.Produce("orders", 0, 2, 5000);
  const GroupDescription later = f.Describe("g");
  const auto* q0 = Find(later, TP("orders", 0));
  REQUIRE(q0 != nullptr);
  CHECK(q0->log_end_offset == 12);
  CHECK(q0->lag == 8);
  REQUIRE_OK(alpha->Close());
  REQUIRE_OK(beta->Close());
}

TEST_CASE("group admin: DescribeGroup of a group with only committed offsets", "[group_admin][describe]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 3, SmallConfig()));
  f.Produce("t", 0, 6);
  f.Produce("t", 2, 2);
  // Offset 100 is past the end of t-2: no negative lag.
  REQUIRE_OK(CommitOutside(*f.broker, "idle", {{TP("t", 0), {2, "m"}}, {TP("t", 2), {100, ""}}}));
  const GroupDescription d = f.Describe("idle");
  CHECK(d.group_id == "idle");
  CHECK(d.state == GroupState::kEmpty);
  CHECK(d.assignor.empty());
  CHECK(d.members.empty());
  // Only the committed partitions: t-1 is in no one's subscription and has no commit.
  REQUIRE(d.offsets.size() == 2);
  CHECK(d.offsets[0].partition == TP("t", 0));
  REQUIRE(d.offsets[0].committed.has_value());
  CHECK(d.offsets[0].committed->offset == 2);
  CHECK(d.offsets[0].committed->metadata == "m");
  CHECK(d.offsets[0].log_end_offset == 6);
  CHECK(d.offsets[0].lag == 4);
  CHECK(d.offsets[0].owner.empty());
  CHECK(d.offsets[1].partition == TP("t", 2));
  CHECK(d.offsets[1].log_end_offset == 2);
  CHECK(d.offsets[1].lag == 0);
}

TEST_CASE("group admin: DescribeGroup of an unknown group is NotFound", "[group_admin][describe]") {
  Fixture f;
  CHECK_STATUS_IS(f.admin->DescribeGroup("ghost"), kNotFound, "ghost");
  REQUIRE_OK(f.broker->CreateTopic("t", 1, SmallConfig()));
  // Reading a group's committed offsets does not make it exist.
  auto reader = MakeGroupConsumer(*f.broker, "reader");
  REQUIRE_OK(reader->Committed({TP("t", 0)}));
  CHECK(f.admin->DescribeGroup("reader").status().code() == kNotFound);
}

TEST_CASE("group admin: DescribeGroup shows a closed static member as disconnected",
          "[group_admin][describe]") {
  Fixture f;
  REQUIRE_OK(f.broker->CreateTopic("t", 2, SmallConfig()));
  ConsumerOptions o;
  o.group_instance_id = "instance-1";
  auto c = f.Member("static", "s", {"t"}, o);
  f.Settle("static", {c.get()});
  REQUIRE_OK(c->Close());
  const GroupDescription d = f.Describe("static");
  REQUIRE(d.members.size() == 1);
  CHECK(d.members[0].group_instance_id == "instance-1");
  CHECK_FALSE(d.members[0].connected);
  CHECK(d.members[0].assignment == std::vector<TopicPartition>{TP("t", 0), TP("t", 1)});
  // It still counts as a member: its offsets cannot be changed and it cannot be deleted.
  CHECK(f.admin->ResetOffsets("static", {TP("t", 0)}, OffsetSpec::Earliest()).status().code() ==
        kFailedPrecondition);
  CHECK(f.admin->DeleteGroup("static").code() == kFailedPrecondition);
}

// ---------------------------------------------------------------------------------------
// ResetOffsets

// Topic "events": partition 0 with 10 records (timestamps 1000..1009), partition 1 with 4
// (2000..2003); group "g" committed 5 and 2.
struct ResetFixture : Fixture {
  ResetFixture() {
    REQUIRE_OK(broker->CreateTopic("events", 2, KeepForever()));
    Produce("events", 0, 10, 1000);
    Produce("events", 1, 4, 2000);
    REQUIRE_OK(CommitOutside(*broker, "g", {{TP("events", 0), {5, "m"}}, {TP("events", 1), {2, ""}}}));
  }
  std::map<TopicPartition, int64_t> Committed(const std::string& group = "g") {
    return CommittedOffsets(*broker, group, {TP("events", 0), TP("events", 1)});
  }
};

using OffsetMap = std::map<TopicPartition, int64_t>;

TEST_CASE("group admin: ResetOffsets to earliest and latest, all committed partitions by default",
          "[group_admin][reset]") {
  ResetFixture f;
  auto earliest = f.admin->ResetOffsets("g", {}, OffsetSpec::Earliest());
  REQUIRE_OK(earliest);
  CHECK(*earliest == OffsetMap{{TP("events", 0), 0}, {TP("events", 1), 0}});
  CHECK(f.Committed() == *earliest);

  auto latest = f.admin->ResetOffsets("g", {}, OffsetSpec::Latest());
  REQUIRE_OK(latest);
  CHECK(*latest == OffsetMap{{TP("events", 0), 10}, {TP("events", 1), 4}});
  CHECK(f.Committed() == *latest);

  // Named partitions only: the other keeps its offset.
  auto one = f.admin->ResetOffsets("g", {TP("events", 1)}, OffsetSpec::Earliest());
  REQUIRE_OK(one);
  CHECK(*one == OffsetMap{{TP("events", 1), 0}});
  CHECK(f.Committed() == OffsetMap{{TP("events", 0), 10}, {TP("events", 1), 0}});
}

TEST_CASE("group admin: ResetOffsets to a timestamp takes the first record at or after it",
          "[group_admin][reset]") {
  ResetFixture f;
  auto at = f.admin->ResetOffsets("g", {}, OffsetSpec::ForTimestamp(1003));
  REQUIRE_OK(at);
  // events-1's records are all newer: its first record.
  CHECK(*at == OffsetMap{{TP("events", 0), 3}, {TP("events", 1), 0}});
  CHECK(f.Committed() == *at);

  auto between = f.admin->ResetOffsets("g", {}, OffsetSpec::ForTimestamp(2002));
  REQUIRE_OK(between);
  // No record of events-0 is that recent: its end.
  CHECK(*between == OffsetMap{{TP("events", 0), 10}, {TP("events", 1), 2}});

  auto zero = f.admin->ResetOffsets("g", {}, OffsetSpec::ForTimestamp(0));
  REQUIRE_OK(zero);
  CHECK(*zero == OffsetMap{{TP("events", 0), 0}, {TP("events", 1), 0}});

  auto future = f.admin->ResetOffsets("g", {}, OffsetSpec::ForTimestamp(1'000'000'000'000));
  REQUIRE_OK(future);
  CHECK(*future == OffsetMap{{TP("events", 0), 10}, {TP("events", 1), 4}});
  CHECK(f.Committed() == *future);
}

TEST_CASE("group admin: ResetOffsets to an explicit offset is clamped into the log",
          "[group_admin][reset]") {
  ResetFixture f;
  auto seven = f.admin->ResetOffsets("g", {TP("events", 0)}, OffsetSpec::Offset(7));
  REQUIRE_OK(seven);
  CHECK(*seven == OffsetMap{{TP("events", 0), 7}});
  auto past = f.admin->ResetOffsets("g", {}, OffsetSpec::Offset(100));
  REQUIRE_OK(past);
  CHECK(*past == OffsetMap{{TP("events", 0), 10}, {TP("events", 1), 4}});
  CHECK(f.Committed() == *past);

  // Move events-0's log start to 10 (and its end to 15): [0,10) in a segment of its own,
  // then deleted.
  storage::PartitionLog& log = f.Log("events", 0);
  REQUIRE_OK(log.Roll());            // segment [0,10) sealed
  f.Produce("events", 0, 5, 3000);  // segment [10,15)
  REQUIRE_OK(log.Roll());            // an empty active segment at 15
  REQUIRE_OK(log.DeleteSegmentsBefore(10));
  REQUIRE(log.log_start_offset() == 10);
  auto low = f.admin->ResetOffsets("g", {TP("events", 0)}, OffsetSpec::Offset(2));
  REQUIRE_OK(low);
  CHECK(*low == OffsetMap{{TP("events", 0), 10}});
  auto earliest = f.admin->ResetOffsets("g", {TP("events", 0)}, OffsetSpec::Earliest());
  REQUIRE_OK(earliest);
  CHECK(*earliest == OffsetMap{{TP("events", 0), 10}});
  auto end = f.admin->ResetOffsets("g", {TP("events", 0)}, OffsetSpec::Offset(99));
  REQUIRE_OK(end);
  CHECK(*end == OffsetMap{{TP("events", 0), 15}});
  auto inside = f.admin->ResetOffsets("g", {TP("events", 0)}, OffsetSpec::Offset(12));
  REQUIRE_OK(inside);
  CHECK(*inside == OffsetMap{{TP("events", 0), 12}});
  CHECK(f.Committed() == OffsetMap{{TP("events", 0), 12}, {TP("events", 1), 4}});
}

TEST_CASE("group admin: ResetOffsets refuses negative offsets and timestamps", "[group_admin][reset]") {
  ResetFixture f;
  CHECK(f.admin->ResetOffsets("g", {}, OffsetSpec::Offset(-1)).status().code() == kInvalidArgument);
  CHECK(f.admin->ResetOffsets("g", {}, OffsetSpec::ForTimestamp(-5)).status().code() ==
        kInvalidArgument);
  CHECK(f.Committed() == OffsetMap{{TP("events", 0), 5}, {TP("events", 1), 2}});
}

TEST_CASE("group admin: ResetOffsets is atomic: a bad partition in the list changes nothing",
          "[group_admin][reset]") {
  ResetFixture f;
  const OffsetMap before = f.Committed();
  CHECK_STATUS_IS(f.admin->ResetOffsets("g", {TP("events", 0), TP("events", 7)}, OffsetSpec::Latest()),
                  kNotFound, "7", "events");
  CHECK(f.Committed() == before);
  CHECK_STATUS_IS(f.admin->ResetOffsets("g", {TP("events", 1), TP("missing", 0)}, OffsetSpec::Earliest()),
                  kNotFound, "missing");
  CHECK(f.Committed() == before);
  CHECK(f.admin->ResetOffsets("g", {TP("events", 0), TP("events", -1)}, OffsetSpec::Earliest())
            .status()
            .code() == kNotFound);
  CHECK(f.Committed() == before);
  // The metadata of the untouched commit is still there.
  auto got = CommittedOf(*f.broker, "g", {TP("events", 0)});
  REQUIRE(got.at(TP("events", 0)).has_value());
  CHECK(got.at(TP("events", 0))->metadata == "m");
}

TEST_CASE("group admin: ResetOffsets is refused with FailedPrecondition while the group has members",
          "[group_admin][reset]") {
  ResetFixture f;
  auto member = f.Member("g", "busy", {"events"});
  f.Settle("g", {member.get()});
  const OffsetMap before = f.Committed();
  CHECK_STATUS_IS(f.admin->ResetOffsets("g", {}, OffsetSpec::Latest()), kFailedPrecondition, "g");
  CHECK_STATUS_IS(f.admin->ResetOffsets("g", {TP("events", 0)}, OffsetSpec::Offset(1)),
                  kFailedPrecondition);
  CHECK(f.Committed() == before);
  // Once it leaves, the reset goes through.
  REQUIRE_OK(member->Close());
  auto reset = f.admin->ResetOffsets("g", {}, OffsetSpec::Latest());
  REQUIRE_OK(reset);
  CHECK(f.Committed() == *reset);
}

TEST_CASE("group admin: ResetOffsets with no partitions and nothing committed is NotFound, "
          "and named partitions start a group",
          "[group_admin][reset]") {
  ResetFixture f;
  CHECK(f.admin->ResetOffsets("fresh", {}, OffsetSpec::Earliest()).status().code() == kNotFound);
  CHECK(f.admin->DescribeGroup("fresh").status().code() == kNotFound);
  auto named = f.admin->ResetOffsets("fresh", {TP("events", 1)}, OffsetSpec::Latest());
  REQUIRE_OK(named);
  CHECK(*named == OffsetMap{{TP("events", 1), 4}});
  CHECK(f.Committed("fresh") == OffsetMap{{TP("events", 0), -1}, {TP("events", 1), 4}});
  auto listed = f.admin->ListGroups();
  REQUIRE_OK(listed);
  CHECK(std::any_of(listed->begin(), listed->end(), [](auto& g) { return g.group_id == "fresh"; }));
}

TEST_CASE("group admin: a member joining after a reset starts from the reset offsets, also after reopen",
          "[group_admin][reset]") {
  ResetFixture f;
  REQUIRE_OK(f.admin->ResetOffsets("g", {TP("events", 0)}, OffsetSpec::Offset(8)));
  REQUIRE_OK(f.admin->ResetOffsets("g", {TP("events", 1)}, OffsetSpec::ForTimestamp(2001)));
  REQUIRE_OK(f.producer->Close());
  f.producer.reset();
  f.admin.reset();
  REQUIRE_OK(f.broker->Close());
  f.broker = OpenBroker(f.tmp.Sub("data"));
  f.admin = MakeAdmin(*f.broker);

  auto member = f.Member("g", "after", {"events"});
  CHECK(FirstOffsets(*member, 2) == std::map<int32_t, int64_t>{{0, 8}, {1, 1}});
  REQUIRE_OK(member->Close());
}

// ---------------------------------------------------------------------------------------
// DeleteGroup

TEST_CASE("group admin: DeleteGroup forgets the group and its offsets", "[group_admin][delete]") {
  ResetFixture f;
  REQUIRE_OK(CommitOutside(*f.broker, "other", {{TP("events", 0), {1, ""}}}));
  REQUIRE_OK(f.admin->DeleteGroup("g"));
  CHECK(f.Committed() == OffsetMap{{TP("events", 0), -1}, {TP("events", 1), -1}});
  CHECK(f.admin->DescribeGroup("g").status().code() == kNotFound);
  using L = std::vector<std::pair<std::string, GroupState>>;
  CHECK(Listing(*f.admin) == L{{"other", GroupState::kEmpty}});
  // Deleted once: gone.
  CHECK_STATUS_IS(f.admin->DeleteGroup("g"), kNotFound, "g");
  // A member joining afterwards starts by auto.offset.reset (earliest here), not the old
  // offsets.
  auto member = f.Member("g", "new", {"events"});
  CHECK(FirstOffsets(*member, 2) == std::map<int32_t, int64_t>{{0, 0}, {1, 0}});
  REQUIRE_OK(member->Close());
}

TEST_CASE("group admin: DeleteGroup of an unknown group is NotFound", "[group_admin][delete]") {
  Fixture f;
  CHECK_STATUS_IS(f.admin->DeleteGroup("ghost"), kNotFound, "ghost");
}

TEST_CASE("group admin: DeleteGroup is refused with FailedPrecondition while the group has members",
          "[group_admin][delete]") {
  ResetFixture f;
  auto member = f.Member("g", "busy", {"events"});
  f.Settle("g", {member.get()});
  CHECK_STATUS_IS(f.admin->DeleteGroup("g"), kFailedPrecondition, "g");
  CHECK(f.Committed() == OffsetMap{{TP("events", 0), 5}, {TP("events", 1), 2}});
  // A group with members but no offsets is refused too.
  auto lonely = f.Member("no-offsets", "lonely", {"events"});
  f.Settle("no-offsets", {lonely.get()});
  CHECK(f.admin->DeleteGroup("no-offsets").code() == kFailedPrecondition);
  REQUIRE_OK(member->Close());
  REQUIRE_OK(f.admin->DeleteGroup("g"));
  REQUIRE_OK(lonely->Close());
  // Without members and without offsets, there is nothing to delete.
  CHECK(f.admin->DeleteGroup("no-offsets").code() == kNotFound);
}

// ---------------------------------------------------------------------------------------
// Lifetime

TEST_CASE("group admin: every call fails with FailedPrecondition once the broker is closed",
          "[group_admin]") {
  ResetFixture f;
  REQUIRE_OK(f.producer->Close());
  REQUIRE_OK(f.broker->Close());
  CHECK(f.admin->ListGroups().status().code() == kFailedPrecondition);
  CHECK(f.admin->DescribeGroup("g").status().code() == kFailedPrecondition);
  CHECK(f.admin->ResetOffsets("g", {}, OffsetSpec::Earliest()).status().code() == kFailedPrecondition);
  CHECK(f.admin->DeleteGroup("g").code() == kFailedPrecondition);
  CHECK(GroupAdmin::Create(*f.broker).status().code() == kFailedPrecondition);
}

TEST_CASE("group admin: a GroupAdmin outliving its Broker handle fails cleanly", "[group_admin]") {
  // A GroupAdmin keeps its broker's core alive: destroying the handle closes the broker,
  // and the admin then reports FailedPrecondition instead of touching freed memory.
  TempDir tmp;
  auto broker = OpenBroker(tmp.Sub("data"));
  REQUIRE_OK(broker->CreateTopic("t", 1, SmallConfig()));
  REQUIRE_OK(CommitOutside(*broker, "g", {{TP("t", 0), {1, ""}}}));
  auto admin = MakeAdmin(*broker);
  broker.reset();
  CHECK(admin->ListGroups().status().code() == kFailedPrecondition);
  CHECK(admin->DescribeGroup("g").status().code() == kFailedPrecondition);
}

}  // namespace
}  // namespace runnel
