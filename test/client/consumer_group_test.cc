// Consumer groups against a real Broker on a temp dir: publish-subscribe between groups,
// competing consumers within a group, rebalances (join, leave, destruction) and what the
// rebalance listener hears under eager and cooperative assignors, the assignors' results
// as GroupAdmin::DescribeGroup shows them, max.poll.interval.ms, static membership,
// commits (sync, async, fencing, at-most-once versus at-least-once), auto-commit,
// pattern subscriptions and new partitions, commits that outlive the broker, the errors,
// and that an idle long Poll sleeps. Written from include/runnel/consumer.h's and
// include/runnel/group_admin.h's contracts.
//
// Members are driven from one thread, polled in turns (a Consumer is single-threaded);
// after every Poll the harness checks that no partition is assigned to two members.
// Every wait is bounded; assertions are about behaviour, never about how long it took.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/group_admin.h"
#include "runnel/producer.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;
using TPSet = std::set<TopicPartition>;
using Calls = std::vector<std::vector<TopicPartition>>;

// ---------------------------------------------------------------------------------------
// Helpers: partitions, records, members, the fixture.

// Small index files: every segment preallocates segment.index.bytes twice.
TopicConfig SmallConfig() {
  TopicConfig c;
  c.segment_index_bytes = 4096;
  return c;
}

TopicPartition TP(std::string topic, int32_t partition) { return {std::move(topic), partition}; }

TPSet AllOf(const std::string& topic, int32_t partitions) {
  TPSet out;
  for (int32_t p = 0; p < partitions; ++p) out.insert(TP(topic, p));
  return out;
}

TPSet Union(const TPSet& a, const TPSet& b) {
  TPSet out = a;
  out.insert(b.begin(), b.end());
  return out;
}

TPSet Intersect(const TPSet& a, const TPSet& b) {
  TPSet out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::inserter(out, out.end()));
  return out;
}

TPSet Flatten(const Calls& calls) {
  TPSet out;
  for (const auto& call : calls) out.insert(call.begin(), call.end());
  return out;
}

template <typename Container>
std::string Show(const Container& partitions) {
  std::ostringstream out;
  out << "{";
  bool first = true;
  for (const TopicPartition& tp : partitions) {
    out << (first ? "" : ", ") << tp.topic << "-" << tp.partition;
    first = false;
  }
  out << "}";
  return out.str();
}

std::string ShowCalls(const Calls& calls) {
  std::string out = "[";
  for (const auto& call : calls) out += Show(call) + " ";
  return out + "]";
}

const char* AssignorLabel(PartitionAssignor a) {
  switch (a) {
    case PartitionAssignor::kRange:
      return "range";
    case PartitionAssignor::kRoundRobin:
      return "roundrobin";
    case PartitionAssignor::kCooperativeSticky:
      return "cooperative-sticky";
  }
  return "?";
}

std::optional<std::string> Copy(std::optional<std::string_view> v) {
  return v ? std::optional<std::string>(std::string(*v)) : std::nullopt;
}

// A record as Poll returned it, copied out of the views.
struct Got {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = -1;
  std::optional<std::string> key;
  std::optional<std::string> value;
};

// Where a record lives: (topic, partition, offset).
using Coord = std::tuple<std::string, int32_t, int64_t>;

Coord CoordOf(const Got& g) { return {g.topic, g.partition, g.offset}; }
Coord CoordOf(const RecordMetadata& md) { return {md.topic, md.partition, md.offset}; }

// How often each record came.
std::map<Coord, int> Counts(const std::vector<Got>& records) {
  std::map<Coord, int> out;
  for (const Got& g : records) ++out[CoordOf(g)];
  return out;
}

std::set<Coord> CoordSet(const std::vector<RecordMetadata>& sent) {
  std::set<Coord> out;
  for (const RecordMetadata& md : sent) out.insert(CoordOf(md));
  return out;
}

std::set<Coord> CoordSet(const std::vector<Got>& got) {
  std::set<Coord> out;
  for (const Got& g : got) out.insert(CoordOf(g));
  return out;
}

// One member of a group: a Consumer whose rebalance listener records every call.
struct Member {
  std::string name;
  std::unique_ptr<Consumer> consumer;
  Calls revoked;
  Calls assigned;
  Calls lost;
  std::vector<Got> received;  // every record its Polls returned, in order
  bool listen_for_lost = true;  // false: leave on_partitions_lost unset
  // Extra work for the listener, run after the call is recorded.
  std::function<void(Member&, const std::vector<TopicPartition>&)> on_revoked;
  std::function<void(Member&, const std::vector<TopicPartition>&)> on_assigned;

  Member() = default;
  Member(const Member&) = delete;
  Member& operator=(const Member&) = delete;
  // Closes the consumer while the listener's logs (and the consumer, for hooks that call
  // it) still exist.
  ~Member() {
    if (consumer) consumer->Close().IgnoreError();
  }

  RebalanceListener Listener() {
    RebalanceListener l;
    l.on_partitions_revoked = [this](const std::vector<TopicPartition>& p) {
      CHECK_FALSE(p.empty());  // never called with an empty list
      revoked.push_back(p);
      if (on_revoked) on_revoked(*this, p);
    };
    l.on_partitions_assigned = [this](const std::vector<TopicPartition>& p) {
      CHECK_FALSE(p.empty());
      assigned.push_back(p);
      if (on_assigned) on_assigned(*this, p);
    };
    if (listen_for_lost) {
      l.on_partitions_lost = [this](const std::vector<TopicPartition>& p) {
        CHECK_FALSE(p.empty());
        lost.push_back(p);
      };
    }
    return l;
  }

  absl::Status Subscribe(const std::vector<std::string>& topics) {
    return consumer->Subscribe(topics, Listener());
  }

  TPSet Owned() const {
    const std::vector<TopicPartition> a = consumer->Assignment();
    return TPSet(a.begin(), a.end());
  }
  std::string Id() const { return consumer->GroupMetadata().member_id; }

  // One Poll, which must succeed; its records are copied, kept and returned.
  std::vector<Got> Poll(std::chrono::milliseconds timeout = 0ms) {
    auto polled = consumer->Poll(timeout);
    INFO(name << " polls");
    REQUIRE_OK(polled);
    std::vector<Got> out;
    for (const ConsumerRecord& r : *polled) {
      out.push_back(Got{std::string(r.topic), r.partition, r.offset, Copy(r.key), Copy(r.value)});
    }
    received.insert(received.end(), out.begin(), out.end());
    return out;
  }

  void ClearLog() {
    revoked.clear();
    assigned.clear();
    lost.clear();
  }
};

// No partition is assigned to two of the members of one group.
void CheckDisjoint(const std::vector<Member*>& members) {
  std::map<std::pair<std::string, TopicPartition>, std::string> owner;
  for (Member* m : members) {
    if (!m->consumer) continue;
    const std::string group = m->consumer->GroupMetadata().group_id;
    for (const TopicPartition& tp : m->consumer->Assignment()) {
      auto [it, fresh] = owner.emplace(std::make_pair(group, tp), m->name);
      if (!fresh) {
        FAIL_CHECK("partition " << tp.topic << "-" << tp.partition << " is assigned to both "
                                << it->second << " and " << m->name);
      }
    }
  }
}

// Polls the members in turns (each Poll(poll_timeout)) until `done()`, for at most
// `limit` of wall time; checks after every Poll that no partition has two owners.
// Returns done().
bool PollUntil(const std::vector<Member*>& members, const std::function<bool()>& done,
               std::chrono::milliseconds poll_timeout = 0ms,
               std::chrono::milliseconds limit = 20s) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) return done();
    for (Member* m : members) {
      m->Poll(poll_timeout);
      CheckDisjoint(members);
    }
  }
  return true;
}

int64_t ThreadCpuMicros() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1'000'000LL + usage.ru_utime.tv_usec +
         usage.ru_stime.tv_usec;
}

struct GroupFixture {
  GroupFixture() { Open(); }

  void Open() {
    auto opened = Broker::Open(tmp.Sub("data"));
    REQUIRE_OK(opened);
    broker = std::move(*opened);
    ProducerOptions fast;
    fast.linger_ms = 0;
    auto p = Producer::Create(*broker, fast);
    REQUIRE_OK(p);
    producer = std::move(*p);
    auto a = GroupAdmin::Create(*broker);
    REQUIRE_OK(a);
    admin = std::move(*a);
  }

  // Closes the producer and the broker and opens the directory again.
  void Reopen() {
    admin.reset();
    REQUIRE_OK(producer->Close());
    producer.reset();
    REQUIRE_OK(broker->Close());
    broker.reset();
    Open();
  }

  void CreateTopic(const std::string& name, int32_t partitions) {
    REQUIRE_OK(broker->CreateTopic(name, partitions, SmallConfig()));
  }

  // A group member's options: earliest (so that nothing produced is skipped), the given
  // assignor alone if any.
  static ConsumerOptions Options(const std::string& group, const std::string& client_id,
                                 std::optional<PartitionAssignor> assignor = std::nullopt) {
    ConsumerOptions o;
    o.group_id = group;
    o.client_id = client_id;
    o.auto_offset_reset = OffsetReset::kEarliest;
    if (assignor) o.partition_assignment_strategy = {*assignor};
    return o;
  }

  std::unique_ptr<Member> NewMember(const ConsumerOptions& options) {
    auto m = std::make_unique<Member>();
    m->name = options.client_id.empty() ? "consumer" : options.client_id;
    auto created = Consumer::Create(*broker, options);
    REQUIRE_OK(created);
    m->consumer = std::move(*created);
    return m;
  }

  // A member subscribed to `topics`.
  std::unique_ptr<Member> Join(const ConsumerOptions& options,
                               const std::vector<std::string>& topics) {
    auto m = NewMember(options);
    REQUIRE_OK(m->Subscribe(topics));
    return m;
  }

  // Sends `per_key` records for each of `keys` keys ("k<j>", value "k<j>:<seq>"),
  // interleaved, and waits for them all.
  std::vector<RecordMetadata> SendKeyed(const std::string& topic, int keys, int per_key) {
    std::mutex mu;
    std::vector<RecordMetadata> out;
    int failures = 0;
    for (int seq = 0; seq < per_key; ++seq) {
      for (int k = 0; k < keys; ++k) {
        const std::string key = "k" + std::to_string(k);
        const std::string value = key + ":" + std::to_string(seq);
        REQUIRE_OK(producer->Send({.topic = topic, .key = key, .value = value},
                                  [&](const absl::StatusOr<RecordMetadata>& md) {
                                    std::lock_guard<std::mutex> lock(mu);
                                    if (md.ok()) {
                                      out.push_back(*md);
                                    } else {
                                      ++failures;
                                    }
                                  }));
      }
    }
    REQUIRE_OK(producer->Flush());
    std::lock_guard<std::mutex> lock(mu);
    REQUIRE(failures == 0);
    REQUIRE(out.size() == static_cast<size_t>(keys * per_key));
    return out;
  }

  // `n` records to one partition, values "<prefix><i>".
  std::vector<RecordMetadata> SendTo(const std::string& topic, int32_t partition, int n,
                                     const std::string& prefix = "v") {
    std::vector<RecordMetadata> out;
    for (int i = 0; i < n; ++i) {
      const std::string value = prefix + std::to_string(i);
      auto md = producer->SendSync({.topic = topic, .partition = partition, .value = value});
      REQUIRE_OK(md);
      out.push_back(*md);
    }
    return out;
  }

  // `n` records to every partition of a topic with `partitions` partitions.
  std::vector<RecordMetadata> SendToAll(const std::string& topic, int32_t partitions, int n,
                                        const std::string& prefix = "v") {
    std::vector<RecordMetadata> out;
    for (int32_t p = 0; p < partitions; ++p) {
      auto sent = SendTo(topic, p, n, prefix);
      out.insert(out.end(), sent.begin(), sent.end());
    }
    return out;
  }

  GroupDescription Describe(const std::string& group) {
    auto d = admin->DescribeGroup(group);
    REQUIRE_OK(d);
    return *d;
  }

  // The group is Stable with exactly these members, each one's Assignment() is what the
  // group gives it in the current generation (which it knows), and together they own
  // `all`.
  bool Settled(const std::string& group, const std::vector<Member*>& members, const TPSet& all) {
    auto d = admin->DescribeGroup(group);
    if (!d.ok() || d->state != GroupState::kStable || d->members.size() != members.size()) {
      return false;
    }
    TPSet together;
    for (Member* m : members) {
      const ConsumerGroupMetadata md = m->consumer->GroupMetadata();
      auto it = std::find_if(d->members.begin(), d->members.end(),
                             [&](const MemberDescription& x) { return x.member_id == md.member_id; });
      if (it == d->members.end() || md.generation_id != d->generation_id) return false;
      const TPSet owned = m->Owned();
      if (TPSet(it->assignment.begin(), it->assignment.end()) != owned) return false;
      together.insert(owned.begin(), owned.end());
    }
    return together == all;
  }

  // Polls until Settled (bounded).
  void Settle(const std::string& group, const std::vector<Member*>& members, const TPSet& all,
              std::chrono::milliseconds poll_timeout = 0ms) {
    const bool settled =
        PollUntil(members, [&] { return Settled(group, members, all); }, poll_timeout);
    if (!settled) {
      std::ostringstream why;
      why << "group " << group << " did not settle;";
      for (Member* m : members) {
        why << " " << m->name << " owns " << Show(m->Owned()) << " at generation "
            << m->consumer->GroupMetadata().generation_id << ";";
      }
      auto d = admin->DescribeGroup(group);
      if (d.ok()) {
        why << " the group is " << GroupStateName(d->state) << " at generation "
            << d->generation_id << " with " << d->members.size() << " members";
      } else {
        why << " " << d.status().ToString();
      }
      FAIL(why.str());
    }
  }

  TempDir tmp;
  std::unique_ptr<Broker> broker;
  std::unique_ptr<Producer> producer;
  std::unique_ptr<GroupAdmin> admin;
};

// ---------------------------------------------------------------------------------------
// 1. Publish-subscribe between groups.

TEST_CASE("group: Two groups subscribed to one topic each receive every record", "[group]") {
  GroupFixture f;
  f.CreateTopic("events", 3);
  auto billing = f.Join(GroupFixture::Options("billing", "billing-1"), {"events"});
  auto audit = f.Join(GroupFixture::Options("audit", "audit-1"), {"events"});
  f.Settle("billing", {billing.get()}, AllOf("events", 3));
  f.Settle("audit", {audit.get()}, AllOf("events", 3));

  const std::vector<RecordMetadata> sent = f.SendKeyed("events", 10, 6);
  REQUIRE(PollUntil({billing.get(), audit.get()}, [&] {
    return billing->received.size() >= sent.size() && audit->received.size() >= sent.size();
  }));
  billing->Poll();
  audit->Poll();
  for (Member* m : {billing.get(), audit.get()}) {
    INFO(m->name);
    CHECK(m->received.size() == sent.size());
    CHECK(CoordSet(m->received) == CoordSet(sent));
  }
  // Each group has its own committed offsets and its own member.
  CHECK(f.Describe("billing").members.size() == 1);
  CHECK(f.Describe("audit").members.size() == 1);
}

// ---------------------------------------------------------------------------------------
// 2. Competing consumers within one group.

TEST_CASE(
    "group: Three members split six partitions, each record comes exactly once and in key "
    "order",
    "[group]") {
  const PartitionAssignor assignor = GENERATE(PartitionAssignor::kRange,
                                              PartitionAssignor::kRoundRobin,
                                              PartitionAssignor::kCooperativeSticky);
  INFO("assignor " << AssignorLabel(assignor));
  GroupFixture f;
  f.CreateTopic("jobs", 6);
  std::vector<std::unique_ptr<Member>> owned;
  std::vector<Member*> members;
  for (int i = 0; i < 3; ++i) {
    owned.push_back(
        f.Join(GroupFixture::Options("workers", "w" + std::to_string(i), assignor), {"jobs"}));
    members.push_back(owned.back().get());
  }
  f.Settle("workers", members, AllOf("jobs", 6));
  for (Member* m : members) {
    INFO(m->name << " owns " << Show(m->Owned()));
    CHECK(m->Owned().size() == 2);
    m->ClearLog();
  }
  const int32_t generation = f.Describe("workers").generation_id;

  const std::vector<RecordMetadata> sent = f.SendKeyed("jobs", 30, 10);
  auto total = [&] {
    size_t n = 0;
    for (Member* m : members) n += m->received.size();
    return n;
  };
  REQUIRE(PollUntil(members, [&] { return total() >= sent.size(); }));
  for (Member* m : members) m->Poll();  // and nothing more comes

  // Exactly once, across the group.
  std::vector<Got> all;
  for (Member* m : members) all.insert(all.end(), m->received.begin(), m->received.end());
  CHECK(all.size() == sent.size());
  CHECK(CoordSet(all) == CoordSet(sent));
  for (const auto& [coord, count] : Counts(all)) {
    INFO("partition " << std::get<1>(coord) << " offset " << std::get<2>(coord));
    CHECK(count == 1);
  }

  // Each record from a partition its member owns; per key, in offset (and send) order, and
  // every key's records at one member.
  std::map<std::string, std::string> key_owner;
  for (Member* m : members) {
    const TPSet mine = m->Owned();
    std::map<std::string, std::pair<int64_t, int>> last;  // key -> (offset, seq)
    for (const Got& g : m->received) {
      INFO(m->name << " got partition " << g.partition << " offset " << g.offset);
      CHECK(mine.count(TP(g.topic, g.partition)) == 1);
      REQUIRE(g.key.has_value());
      REQUIRE(g.value.has_value());
      const int seq = std::stoi(g.value->substr(g.value->find(':') + 1));
      auto it = last.find(*g.key);
      if (it != last.end()) {
        CHECK(g.offset > it->second.first);
        CHECK(seq == it->second.second + 1);
      } else {
        CHECK(seq == 0);
      }
      last[*g.key] = {g.offset, seq};
      auto [owner, fresh] = key_owner.emplace(*g.key, m->name);
      CHECK(owner->second == m->name);
    }
  }
  CHECK(key_owner.size() == 30);

  // A stable group: no rebalance happened meanwhile.
  CHECK(f.Describe("workers").generation_id == generation);
  for (Member* m : members) {
    CHECK(m->revoked.empty());
    CHECK(m->assigned.empty());
  }
}

// ---------------------------------------------------------------------------------------
// 3. Rebalances and the listener.

TEST_CASE("group: Under an eager assignor a joining member makes every member revoke everything",
          "[group]") {
  const PartitionAssignor assignor =
      GENERATE(PartitionAssignor::kRange, PartitionAssignor::kRoundRobin);
  INFO("assignor " << AssignorLabel(assignor));
  GroupFixture f;
  f.CreateTopic("t", 6);
  const TPSet all = AllOf("t", 6);

  auto a = f.Join(GroupFixture::Options("g", "a", assignor), {"t"});
  f.Settle("g", {a.get()}, all);
  CHECK(a->Owned() == all);
  CHECK(a->revoked.empty());
  CHECK(Flatten(a->assigned) == all);
  a->ClearLog();

  auto b = f.Join(GroupFixture::Options("g", "b", assignor), {"t"});
  f.Settle("g", {a.get(), b.get()}, all);
  INFO("a revoked " << ShowCalls(a->revoked) << ", assigned " << ShowCalls(a->assigned));
  REQUIRE(a->revoked.size() == 1);
  CHECK(TPSet(a->revoked[0].begin(), a->revoked[0].end()) == all);  // everything it had
  CHECK(Flatten(a->assigned) == a->Owned());
  CHECK(b->revoked.empty());
  CHECK(Flatten(b->assigned) == b->Owned());
  CHECK(a->Owned().size() == 3);
  CHECK(b->Owned().size() == 3);

  const TPSet a_had = a->Owned();
  const TPSet b_had = b->Owned();
  a->ClearLog();
  b->ClearLog();
  auto c = f.Join(GroupFixture::Options("g", "c", assignor), {"t"});
  f.Settle("g", {a.get(), b.get(), c.get()}, all);
  for (auto [m, had] : {std::pair{a.get(), a_had}, std::pair{b.get(), b_had}}) {
    INFO(m->name << " revoked " << ShowCalls(m->revoked) << ", had " << Show(had));
    REQUIRE(m->revoked.size() == 1);
    CHECK(TPSet(m->revoked[0].begin(), m->revoked[0].end()) == had);
    CHECK(Flatten(m->assigned) == m->Owned());
    CHECK(m->Owned().size() == 2);
  }
  CHECK(c->revoked.empty());
  CHECK(Flatten(c->assigned) == c->Owned());
  CHECK(c->Owned().size() == 2);
}

TEST_CASE(
    "group: Under cooperative-sticky a joining member makes the others revoke only the "
    "partitions that move",
    "[group]") {
  GroupFixture f;
  f.CreateTopic("t", 6);
  const TPSet all = AllOf("t", 6);
  const auto sticky = PartitionAssignor::kCooperativeSticky;

  auto a = f.Join(GroupFixture::Options("g", "a", sticky), {"t"});
  f.Settle("g", {a.get()}, all);
  CHECK(f.Describe("g").assignor == "cooperative-sticky");
  a->ClearLog();

  // Second member: three partitions move from a to b, and only those are revoked.
  auto b = f.Join(GroupFixture::Options("g", "b", sticky), {"t"});
  f.Settle("g", {a.get(), b.get()}, all);
  {
    INFO("a revoked " << ShowCalls(a->revoked) << ", assigned " << ShowCalls(a->assigned)
                      << ", owns " << Show(a->Owned()));
    CHECK(a->Owned().size() == 3);
    CHECK(b->Owned().size() == 3);
    CHECK(Flatten(a->revoked) == b->Owned());               // only what moved
    CHECK(Intersect(Flatten(a->revoked), a->Owned()).empty());  // kept: never revoked
    CHECK(a->assigned.empty());                             // kept: not assigned again
    CHECK(a->lost.empty());
    CHECK(b->revoked.empty());
    CHECK(Flatten(b->assigned) == b->Owned());
  }

  // Third member: one partition moves from each of a and b.
  const TPSet a_had = a->Owned();
  const TPSet b_had = b->Owned();
  a->ClearLog();
  b->ClearLog();
  auto c = f.Join(GroupFixture::Options("g", "c", sticky), {"t"});
  f.Settle("g", {a.get(), b.get(), c.get()}, all);
  for (auto [m, had] : {std::pair{a.get(), a_had}, std::pair{b.get(), b_had}}) {
    INFO(m->name << " revoked " << ShowCalls(m->revoked) << ", had " << Show(had) << ", owns "
                 << Show(m->Owned()));
    CHECK(m->Owned().size() == 2);
    CHECK(Flatten(m->revoked).size() == 1);
    CHECK(Union(Flatten(m->revoked), m->Owned()) == had);
    CHECK(Intersect(Flatten(m->revoked), m->Owned()).empty());
    CHECK(m->assigned.empty());
  }
  CHECK(Flatten(c->assigned) == c->Owned());
  CHECK(Union(Flatten(a->revoked), Flatten(b->revoked)) == c->Owned());
  CHECK(c->Owned().size() == 2);
}

TEST_CASE(
    "group: A member that leaves by Close, Unsubscribe or destruction hands its partitions to "
    "the others",
    "[group]") {
  const PartitionAssignor assignor =
      GENERATE(PartitionAssignor::kRange, PartitionAssignor::kCooperativeSticky);
  const std::string how = GENERATE(as<std::string>{}, "Close", "Unsubscribe", "destruction");
  INFO("assignor " << AssignorLabel(assignor) << ", leaving by " << how);
  GroupFixture f;
  f.CreateTopic("t", 4);
  const TPSet all = AllOf("t", 4);
  // Auto-commit is on (the default): leaving commits what was consumed.
  auto a = f.Join(GroupFixture::Options("g", "a", assignor), {"t"});
  auto b = f.Join(GroupFixture::Options("g", "b", assignor), {"t"});
  f.Settle("g", {a.get(), b.get()}, all);
  const int32_t generation = f.Describe("g").generation_id;
  const TPSet a_had = a->Owned();
  const TPSet b_had = b->Owned();

  const std::vector<RecordMetadata> first = f.SendToAll("t", 4, 5, "first");
  REQUIRE(PollUntil({a.get(), b.get()},
                    [&] { return a->received.size() + b->received.size() >= first.size(); }));
  a->ClearLog();
  b->ClearLog();
  a->received.clear();

  if (how == "Close") {
    REQUIRE_OK(b->consumer->Close());
    CHECK(Flatten(b->revoked) == b_had);  // the listener hears it from Close
  } else if (how == "Unsubscribe") {
    REQUIRE_OK(b->consumer->Unsubscribe());
    CHECK(Flatten(b->revoked) == b_had);
    CHECK(b->consumer->Assignment().empty());
    CHECK(b->consumer->Subscription().empty());
  } else {
    b->consumer.reset();
  }

  f.Settle("g", {a.get()}, all);
  const GroupDescription d = f.Describe("g");
  REQUIRE(d.members.size() == 1);
  CHECK(d.members[0].member_id == a->Id());
  CHECK(d.generation_id > generation);
  INFO("a revoked " << ShowCalls(a->revoked) << ", assigned " << ShowCalls(a->assigned));
  if (assignor == PartitionAssignor::kRange) {
    REQUIRE(a->revoked.size() == 1);  // eager: everything, then all of it again
    CHECK(TPSet(a->revoked[0].begin(), a->revoked[0].end()) == a_had);
    CHECK(Flatten(a->assigned) == all);
  } else {
    CHECK(a->revoked.empty());  // cooperative: nothing of its own moves
    CHECK(Flatten(a->assigned) == b_had);
  }

  // What b consumed was committed when it left (Close and Unsubscribe auto-commit), so a
  // gets only what comes next.
  const std::vector<RecordMetadata> second = f.SendToAll("t", 4, 5, "second");
  const std::set<Coord> want = CoordSet(second);
  REQUIRE(PollUntil({a.get()}, [&] {
    const std::set<Coord> got = CoordSet(a->received);
    return std::includes(got.begin(), got.end(), want.begin(), want.end());
  }));
  a->Poll();
  if (how == "destruction") {
    for (const Coord& c : CoordSet(second)) CHECK(CoordSet(a->received).count(c) == 1);
  } else {
    CHECK(a->received.size() == second.size());
    CHECK(CoordSet(a->received) == CoordSet(second));
  }
}

TEST_CASE("group: The rebalance listener may commit and seek from its callbacks", "[group]") {
  GroupFixture f;
  f.CreateTopic("t", 2);
  const TPSet all = AllOf("t", 2);

  // a commits, from on_partitions_revoked, the positions it reached (what it processed).
  auto oa = GroupFixture::Options("g", "a", PartitionAssignor::kRange);
  oa.enable_auto_commit = false;
  oa.max_poll_records = 4;
  std::map<TopicPartition, int64_t> revoked_at;  // before a: a's Close at the end uses it
  auto a = f.NewMember(oa);
  a->on_revoked = [&revoked_at](Member& m, const std::vector<TopicPartition>& partitions) {
    std::map<TopicPartition, OffsetAndMetadata> offsets;
    for (const TopicPartition& tp : partitions) {
      auto position = m.consumer->Position(tp);
      CHECK_OK(position);
      if (!position.ok()) continue;
      offsets[tp] = {*position, "from the listener"};
      revoked_at[tp] = *position;
    }
    CHECK_OK(m.consumer->CommitSync(offsets));
  };
  REQUIRE_OK(a->Subscribe({"t"}));
  f.Settle("g", {a.get()}, all);
  f.SendToAll("t", 2, 10);
  REQUIRE(PollUntil({a.get()}, [&] { return a->received.size() >= 8; }));

  // b seeks each partition it is assigned to offset 3, unless a commit says where to start.
  auto seek_to_3 = [](Member& m, const std::vector<TopicPartition>& partitions) {
    auto committed = m.consumer->Committed(partitions);
    CHECK_OK(committed);
    for (const TopicPartition& tp : partitions) {
      if (committed.ok() && !(*committed)[tp].has_value()) CHECK_OK(m.consumer->Seek(tp, 3));
    }
  };
  auto ob = GroupFixture::Options("g", "b", PartitionAssignor::kRange);
  ob.enable_auto_commit = false;
  auto b = f.NewMember(ob);
  b->on_assigned = seek_to_3;
  REQUIRE_OK(b->Subscribe({"t"}));
  f.Settle("g", {a.get(), b.get()}, all);
  REQUIRE(b->Owned().size() == 1);
  const TopicPartition moved = *b->Owned().begin();
  REQUIRE(revoked_at.count(moved) == 1);
  const int64_t from = revoked_at[moved];
  REQUIRE(from < 10);
  auto committed = b->consumer->Committed({moved});
  REQUIRE_OK(committed);
  REQUIRE((*committed)[moved].has_value());
  CHECK((*committed)[moved]->offset == from);
  CHECK((*committed)[moved]->metadata == "from the listener");

  // b starts where a's listener committed.
  REQUIRE(PollUntil({a.get(), b.get()},
                    [&] { return b->received.size() >= static_cast<size_t>(10 - from); }));
  b->Poll();
  REQUIRE(b->received.size() == static_cast<size_t>(10 - from));
  CHECK(b->received.front().offset == from);
  CHECK(b->received.front().partition == moved.partition);

  // A member of another group, with nothing committed, starts where on_partitions_assigned
  // seeks.
  auto c = f.NewMember(GroupFixture::Options("h", "c"));
  c->on_assigned = seek_to_3;
  REQUIRE_OK(c->Subscribe({"t"}));
  REQUIRE(PollUntil({c.get()}, [&] { return c->received.size() >= 14; }));
  c->Poll();
  CHECK(c->received.size() == 14);
  for (const Got& g : c->received) CHECK(g.offset >= 3);
}

TEST_CASE(
    "group: Under cooperative-sticky a moving partition reaches its new owner only once the "
    "old owner has let it go",
    "[group]") {
  GroupFixture f;
  f.CreateTopic("t", 6);
  const TPSet all = AllOf("t", 6);
  const auto sticky = PartitionAssignor::kCooperativeSticky;
  // Auto-commit is on: what a and b consumed is committed when they give partitions up.
  auto a = f.Join(GroupFixture::Options("g", "a", sticky), {"t"});
  auto b = f.Join(GroupFixture::Options("g", "b", sticky), {"t"});
  f.Settle("g", {a.get(), b.get()}, all);
  const std::vector<RecordMetadata> before = f.SendToAll("t", 6, 2, "before");
  REQUIRE(PollUntil({a.get(), b.get()},
                    [&] { return a->received.size() + b->received.size() >= before.size(); }));
  const TPSet a_had = a->Owned();

  auto c = f.Join(GroupFixture::Options("g", "c", sticky), {"t"});
  a->Poll();  // a rejoins the rebalance, keeping all it owns, and then is not polled
  REQUIRE(PollUntil({b.get(), c.get()}, [&] { return c->Owned().size() == 1; }));
  for (int i = 0; i < 10; ++i) {
    b->Poll();
    c->Poll();
    CheckDisjoint({a.get(), b.get(), c.get()});
  }
  // The group gives c two partitions, but a still holds one of them: c has only b's.
  std::string a_id = a->Id();
  std::string c_id = c->Id();
  TPSet c_target;
  const GroupDescription d = f.Describe("g");
  for (const MemberDescription& md : d.members) {
    if (md.member_id == c_id) c_target = TPSet(md.assignment.begin(), md.assignment.end());
  }
  REQUIRE(c_target.size() == 2);
  CHECK(a->Owned() == a_had);
  const TPSet waiting = Intersect(c_target, a_had);
  REQUIRE(waiting.size() == 1);
  CHECK(Intersect(c->Owned(), waiting).empty());
  for (const PartitionOffsetDescription& pd : d.offsets) {
    if (waiting.count(pd.partition)) CHECK(pd.owner == a_id);
  }

  // Once a polls and lets it go, c gets it, from where a left off.
  f.Settle("g", {a.get(), b.get(), c.get()}, all);
  CHECK(c->Owned() == c_target);
  CHECK(Flatten(a->revoked) == waiting);
  for (int i = 0; i < 3; ++i) c->Poll();
  CHECK(c->received.empty());  // nothing consumed twice
  const std::vector<RecordMetadata> after = f.SendToAll("t", 6, 1, "after");
  REQUIRE(PollUntil({a.get(), b.get(), c.get()}, [&] {
    return a->received.size() + b->received.size() + c->received.size() >=
           before.size() + after.size();
  }));
  CHECK(c->received.size() == 2);
}

// ---------------------------------------------------------------------------------------
// 4. What the assignors give, as DescribeGroup shows it.

TEST_CASE("group: range gives each member consecutive ranges of each topic", "[group]") {
  GroupFixture f;
  f.CreateTopic("a", 5);
  f.CreateTopic("b", 3);
  const TPSet all = Union(AllOf("a", 5), AllOf("b", 3));
  auto m1 = f.Join(GroupFixture::Options("g", "m1", PartitionAssignor::kRange), {"a", "b"});
  auto m2 = f.Join(GroupFixture::Options("g", "m2", PartitionAssignor::kRange), {"b", "a"});
  f.Settle("g", {m1.get(), m2.get()}, all);

  const GroupDescription d = f.Describe("g");
  CHECK(d.group_id == "g");
  CHECK(d.state == GroupState::kStable);
  CHECK(d.assignor == "range");
  REQUIRE(d.members.size() == 2);
  std::map<std::string, Member*> by_id = {{m1->Id(), m1.get()}, {m2->Id(), m2.get()}};
  for (const MemberDescription& md : d.members) {
    REQUIRE(by_id.count(md.member_id) == 1);
    Member* m = by_id[md.member_id];
    CHECK(md.client_id == m->name);
    CHECK(md.group_instance_id.empty());
    CHECK(md.connected);
    CHECK(md.subscription == std::vector<std::string>{"a", "b"});
    CHECK(TPSet(md.assignment.begin(), md.assignment.end()) == m->Owned());
  }

  // Per topic: consecutive, balanced, and the same member takes the first range of both.
  std::map<std::string, std::string> first_range_owner;
  for (const auto& [topic, count] : std::map<std::string, int>{{"a", 5}, {"b", 3}}) {
    std::vector<size_t> sizes;
    for (const MemberDescription& md : d.members) {
      std::vector<int32_t> mine;
      for (const TopicPartition& tp : md.assignment) {
        if (tp.topic == topic) mine.push_back(tp.partition);
      }
      std::sort(mine.begin(), mine.end());
      INFO("topic " << topic << ", member " << md.member_id << ": " << Show(md.assignment));
      REQUIRE_FALSE(mine.empty());
      CHECK(mine.back() - mine.front() + 1 == static_cast<int32_t>(mine.size()));
      if (mine.front() == 0) first_range_owner[topic] = md.member_id;
      sizes.push_back(mine.size());
    }
    std::sort(sizes.begin(), sizes.end());
    CHECK(sizes == std::vector<size_t>{static_cast<size_t>(count / 2),
                                       static_cast<size_t>(count - count / 2)});
  }
  CHECK(first_range_owner["a"] == first_range_owner["b"]);

  // Offsets: every partition of the subscribed topics, owned, nothing committed yet.
  std::map<TopicPartition, std::string> owner_of;
  for (const MemberDescription& md : d.members) {
    for (const TopicPartition& tp : md.assignment) owner_of[tp] = md.member_id;
  }
  REQUIRE(d.offsets.size() == all.size());
  for (const PartitionOffsetDescription& pd : d.offsets) {
    CHECK(all.count(pd.partition) == 1);
    CHECK(pd.owner == owner_of[pd.partition]);
    CHECK_FALSE(pd.committed.has_value());
    CHECK(pd.log_end_offset == 0);
    CHECK(pd.lag == 0);
  }
}

TEST_CASE("group: roundrobin deals all partitions to the members in turn", "[group]") {
  GroupFixture f;
  f.CreateTopic("a", 5);
  f.CreateTopic("b", 3);
  const TPSet all = Union(AllOf("a", 5), AllOf("b", 3));
  std::vector<std::unique_ptr<Member>> owned;
  std::vector<Member*> members;
  for (int i = 0; i < 3; ++i) {
    owned.push_back(f.Join(
        GroupFixture::Options("g", "m" + std::to_string(i), PartitionAssignor::kRoundRobin),
        {"a", "b"}));
    members.push_back(owned.back().get());
  }
  f.Settle("g", members, all);
  const GroupDescription d = f.Describe("g");
  CHECK(d.assignor == "roundrobin");
  std::map<TopicPartition, std::string> owner;
  for (const MemberDescription& md : d.members) {
    for (const TopicPartition& tp : md.assignment) owner[tp] = md.member_id;
  }
  // In (topic, partition) order the k-th partition goes to the (k mod 3)-th member of some
  // fixed order of the members.
  const std::vector<TopicPartition> order(all.begin(), all.end());
  REQUIRE(owner.size() == order.size());
  std::set<std::string> first_three;
  for (size_t k = 0; k < order.size(); ++k) {
    INFO("partition " << order[k].topic << "-" << order[k].partition);
    if (k < 3) first_three.insert(owner[order[k]]);
    CHECK(owner[order[k]] == owner[order[k % 3]]);
  }
  CHECK(first_three.size() == 3);
  std::multiset<size_t> sizes;
  for (Member* m : members) sizes.insert(m->Owned().size());
  CHECK(sizes == std::multiset<size_t>{2, 3, 3});
}

TEST_CASE(
    "group: DescribeGroup shows each generation, the members and the state as members come "
    "and go",
    "[group]") {
  GroupFixture f;
  f.CreateTopic("t", 2);
  const TPSet all = AllOf("t", 2);
  CHECK_STATUS_IS(f.admin->DescribeGroup("g"), absl::StatusCode::kNotFound, "g");

  auto a = f.Join(GroupFixture::Options("g", "a"), {"t"});
  f.Settle("g", {a.get()}, all);
  const GroupDescription d1 = f.Describe("g");
  CHECK(d1.assignor == "range");  // the first assignor of the default list
  CHECK(d1.generation_id >= 1);
  const ConsumerGroupMetadata md = a->consumer->GroupMetadata();
  CHECK(md.group_id == "g");
  CHECK(md.generation_id == d1.generation_id);
  CHECK_FALSE(md.member_id.empty());
  CHECK(md.group_instance_id.empty());

  auto b = f.Join(GroupFixture::Options("g", "b"), {"t"});
  // b joined: a rebalance waits for a.
  CHECK(f.Describe("g").state == GroupState::kPreparingRebalance);
  f.Settle("g", {a.get(), b.get()}, all);
  const GroupDescription d2 = f.Describe("g");
  CHECK(d2.generation_id > d1.generation_id);
  CHECK(a->consumer->GroupMetadata().generation_id == d2.generation_id);
  CHECK(b->consumer->GroupMetadata().generation_id == d2.generation_id);
  CHECK(a->consumer->GroupMetadata().member_id != b->consumer->GroupMetadata().member_id);

  REQUIRE_OK(b->consumer->Close());
  f.Settle("g", {a.get()}, all);
  const GroupDescription d3 = f.Describe("g");
  CHECK(d3.generation_id > d2.generation_id);

  auto listed = f.admin->ListGroups();
  REQUIRE_OK(listed);
  REQUIRE(listed->size() == 1);
  CHECK((*listed)[0].group_id == "g");
  CHECK((*listed)[0].state == GroupState::kStable);

  // With no members left the group is Empty but keeps what was committed.
  REQUIRE_OK(a->consumer->CommitSync({{TP("t", 0), {0, ""}}}));
  REQUIRE_OK(a->consumer->Close());
  const GroupDescription d4 = f.Describe("g");
  CHECK(d4.state == GroupState::kEmpty);
  CHECK(d4.members.empty());
  CHECK(d4.assignor.empty());
}

// ---------------------------------------------------------------------------------------
// 5. max.poll.interval.ms.

TEST_CASE(
    "group: A member that stops polling for max.poll.interval.ms is removed, fenced, told its "
    "partitions are lost, and rejoins",
    "[group]") {
  const bool lost_listener = GENERATE(true, false);
  INFO((lost_listener ? "with on_partitions_lost" : "without on_partitions_lost"));
  GroupFixture f;
  f.CreateTopic("t", 4);
  const TPSet all = AllOf("t", 4);
  auto os = GroupFixture::Options("g", "slow", PartitionAssignor::kRange);
  os.max_poll_interval_ms = 200;
  os.enable_auto_commit = false;
  auto slow = f.NewMember(os);
  slow->listen_for_lost = lost_listener;
  REQUIRE_OK(slow->Subscribe({"t"}));
  auto ob = GroupFixture::Options("g", "busy", PartitionAssignor::kRange);
  ob.enable_auto_commit = false;
  auto busy = f.Join(ob, {"t"});
  f.Settle("g", {slow.get(), busy.get()}, all);
  const TPSet slow_had = slow->Owned();
  REQUIRE(slow_had.size() == 2);
  const std::string slow_id = slow->Id();
  const TopicPartition slow_tp = *slow_had.begin();

  f.SendToAll("t", 4, 3);
  REQUIRE(PollUntil({slow.get(), busy.get()},
                    [&] { return slow->received.size() + busy->received.size() >= 12; }));
  slow->ClearLog();
  busy->ClearLog();

  // Only busy polls now; once slow has been quiet for the interval, busy gets everything.
  REQUIRE(PollUntil({busy.get()}, [&] { return busy->Owned() == all; }, 20ms));
  CHECK(Intersect(Flatten(busy->assigned), slow_had) == slow_had);
  const GroupDescription d = f.Describe("g");
  REQUIRE(d.members.size() == 1);
  CHECK(d.members[0].member_id == busy->Id());

  // slow does not know yet, but its commits are refused and change nothing.
  CHECK(slow->Owned() == slow_had);
  CHECK_STATUS_IS(slow->consumer->CommitSync(), absl::StatusCode::kFailedPrecondition);
  CHECK_STATUS_IS(slow->consumer->CommitSync({{slow_tp, {1, "stale"}}}),
                  absl::StatusCode::kFailedPrecondition);
  auto committed = busy->consumer->Committed({slow_tp});
  REQUIRE_OK(committed);
  CHECK_FALSE((*committed)[slow_tp].has_value());
  CHECK(slow->lost.empty());
  CHECK(slow->revoked.empty());

  // Its next Poll tells it the partitions were lost, and it joins again.
  slow->Poll();
  INFO("slow lost " << ShowCalls(slow->lost) << ", revoked " << ShowCalls(slow->revoked));
  if (lost_listener) {
    REQUIRE(slow->lost.size() == 1);
    CHECK(TPSet(slow->lost[0].begin(), slow->lost[0].end()) == slow_had);
    CHECK(slow->revoked.empty());
  } else {
    REQUIRE(slow->revoked.size() == 1);  // instead, as in Kafka
    CHECK(TPSet(slow->revoked[0].begin(), slow->revoked[0].end()) == slow_had);
  }
  f.Settle("g", {slow.get(), busy.get()}, all);
  CHECK(slow->Id() != slow_id);
  CHECK(f.Describe("g").members.size() == 2);
  CHECK(slow->Owned().size() == 2);
}

TEST_CASE(
    "group: A member that rejoins inside a long Poll is not removed for not polling while that "
    "Poll lasts",
    "[group]") {
  GroupFixture f;
  f.CreateTopic("t", 2);
  const TPSet all = AllOf("t", 2);
  auto o = GroupFixture::Options("g", "c", PartitionAssignor::kRange);
  o.max_poll_interval_ms = 200;
  o.enable_auto_commit = false;
  auto c = f.Join(o, {"t"});
  f.Settle("g", {c.get()}, all);

  // c stops polling for longer than the interval; DescribeGroup notices and removes it.
  std::this_thread::sleep_for(400ms);
  auto d = f.admin->DescribeGroup("g");
  CHECK((!d.ok() || d->members.empty()));
  c->ClearLog();

  // One Poll of 1 s, three times the interval: c finds it was removed, rejoins and gets its
  // partitions back, once. It is polling all along, so it must not be removed again.
  c->Poll(1000ms);
  INFO("lost " << ShowCalls(c->lost) << ", assigned " << ShowCalls(c->assigned));
  CHECK(c->lost.size() == 1);
  CHECK(c->assigned.size() == 1);
  CHECK(c->Owned() == all);
  const GroupDescription after = f.Describe("g");
  REQUIRE(after.members.size() == 1);
  CHECK(after.members[0].member_id == c->Id());
}

TEST_CASE(
    "group: Closing a member that was removed for not polling commits nothing over the new "
    "owner's progress",
    "[group]") {
  const std::string how = GENERATE(as<std::string>{}, "Close", "Unsubscribe");
  INFO("leaving by " << how);
  GroupFixture f;
  f.CreateTopic("t", 2);
  const TPSet all = AllOf("t", 2);
  auto os = GroupFixture::Options("g", "slow", PartitionAssignor::kRange);
  os.max_poll_interval_ms = 200;
  os.enable_auto_commit = true;  // its Close would commit its positions, if it could
  auto slow = f.Join(os, {"t"});
  auto ob = GroupFixture::Options("g", "busy", PartitionAssignor::kRange);
  ob.enable_auto_commit = false;
  auto busy = f.Join(ob, {"t"});
  f.Settle("g", {slow.get(), busy.get()}, all);
  const TopicPartition slow_tp = *slow->Owned().begin();
  f.SendTo("t", slow_tp.partition, 3);
  REQUIRE(PollUntil({slow.get(), busy.get()}, [&] { return slow->received.size() >= 3; }));
  slow->ClearLog();

  // slow goes quiet; busy takes its partition over, consumes more and commits further.
  REQUIRE(PollUntil({busy.get()}, [&] { return busy->Owned() == all; }, 20ms));
  f.SendTo("t", slow_tp.partition, 3);
  REQUIRE(PollUntil({busy.get()}, [&] {
    auto position = busy->consumer->Position(slow_tp);
    return position.ok() && *position == 6;
  }));
  REQUIRE_OK(busy->consumer->CommitSync());

  const absl::Status left =
      how == "Close" ? slow->consumer->Close() : slow->consumer->Unsubscribe();
  INFO(how << " returned " << left.ToString());
  auto committed = busy->consumer->Committed({slow_tp});
  REQUIRE_OK(committed);
  REQUIRE((*committed)[slow_tp].has_value());
  CHECK((*committed)[slow_tp]->offset == 6);  // not set back to slow's 3
  const GroupDescription d = f.Describe("g");
  REQUIRE(d.members.size() == 1);
  CHECK(d.members[0].member_id == busy->Id());
  CHECK(busy->Owned() == all);
}

TEST_CASE(
    "group: A member removed for not polling and then closed hears on_partitions_lost, not "
    "on_partitions_revoked",
    "[group]") {
  GroupFixture f;
  f.CreateTopic("t", 2);
  const TPSet all = AllOf("t", 2);
  auto os = GroupFixture::Options("g", "slow", PartitionAssignor::kRange);
  os.max_poll_interval_ms = 200;
  os.enable_auto_commit = false;
  auto slow = f.Join(os, {"t"});
  auto busy = f.Join(GroupFixture::Options("g", "busy", PartitionAssignor::kRange), {"t"});
  f.Settle("g", {slow.get(), busy.get()}, all);
  const TPSet slow_had = slow->Owned();
  slow->ClearLog();
  REQUIRE(PollUntil({busy.get()}, [&] { return busy->Owned() == all; }, 20ms));

  // The partitions may already be another member's: they are lost, and committing them from
  // on_partitions_revoked, as that callback invites, would fail.
  const absl::Status closed = slow->consumer->Close();
  INFO("Close returned " << closed.ToString() << "; revoked " << ShowCalls(slow->revoked)
                         << ", lost " << ShowCalls(slow->lost));
  CHECK(slow->revoked.empty());
  CHECK(Flatten(slow->lost) == slow_had);
  CHECK(closed == absl::OkStatus());
}

// ---------------------------------------------------------------------------------------
// 6. Static membership.

TEST_CASE(
    "group: A static member that comes back within session.timeout.ms gets its assignment "
    "again without a rebalance",
    "[group]") {
  GroupFixture f;
  f.CreateTopic("t", 4);
  const TPSet all = AllOf("t", 4);
  auto os = GroupFixture::Options("g", "s", PartitionAssignor::kRange);
  os.group_instance_id = "worker-1";
  os.session_timeout_ms = 60000;
  auto s = f.Join(os, {"t"});
  auto c = f.Join(GroupFixture::Options("g", "c", PartitionAssignor::kRange), {"t"});
  f.Settle("g", {s.get(), c.get()}, all);
  const int32_t generation = f.Describe("g").generation_id;
  const TPSet s_had = s->Owned();
  const TPSet c_had = c->Owned();
  REQUIRE(s_had.size() == 2);
  CHECK(s->consumer->GroupMetadata().group_instance_id == "worker-1");

  const std::vector<RecordMetadata> before = f.SendToAll("t", 4, 3, "before");
  REQUIRE(PollUntil({s.get(), c.get()},
                    [&] { return s->received.size() + c->received.size() >= before.size(); }));
  c->ClearLog();
  c->received.clear();

  REQUIRE_OK(s->consumer->Close());  // auto-commits; the member stays, disconnected
  {
    const GroupDescription d = f.Describe("g");
    CHECK(d.generation_id == generation);
    CHECK(d.state == GroupState::kStable);
    REQUIRE(d.members.size() == 2);
    for (const MemberDescription& md : d.members) {
      if (md.group_instance_id == "worker-1") {
        CHECK_FALSE(md.connected);
        CHECK(TPSet(md.assignment.begin(), md.assignment.end()) == s_had);
      } else {
        CHECK(md.connected);
      }
    }
  }

  // Meanwhile c keeps its partitions and is not given s's.
  const std::vector<RecordMetadata> away = f.SendToAll("t", 4, 2, "away");
  for (int i = 0; i < 5; ++i) c->Poll();
  CHECK(c->Owned() == c_had);
  CHECK(c->revoked.empty());
  CHECK(c->assigned.empty());
  for (const Got& g : c->received) CHECK(c_had.count(TP(g.topic, g.partition)) == 1);

  // The same instance comes back: same partitions, same generation, no rebalance.
  auto back = f.Join(os, {"t"});
  REQUIRE(PollUntil({back.get(), c.get()}, [&] { return back->Owned() == s_had; }));
  f.Settle("g", {back.get(), c.get()}, all);
  CHECK(f.Describe("g").generation_id == generation);
  CHECK(back->consumer->GroupMetadata().generation_id == generation);
  CHECK(Flatten(back->assigned) == s_had);
  CHECK(c->revoked.empty());
  CHECK(c->assigned.empty());
  CHECK(c->Owned() == c_had);
  for (const MemberDescription& md : f.Describe("g").members) CHECK(md.connected);

  // It resumes from what was committed on Close: exactly the records sent while it was away.
  REQUIRE(PollUntil({back.get(), c.get()}, [&] { return back->received.size() >= 4; }));
  back->Poll();
  std::set<Coord> expected;
  for (const RecordMetadata& md : away) {
    if (s_had.count(TP(md.topic, md.partition))) expected.insert(CoordOf(md));
  }
  CHECK(back->received.size() == expected.size());
  CHECK(CoordSet(back->received) == expected);
}

TEST_CASE(
    "group: A static member that does not come back within session.timeout.ms is removed and "
    "its partitions reassigned",
    "[group]") {
  GroupFixture f;
  f.CreateTopic("t", 4);
  const TPSet all = AllOf("t", 4);
  auto os = GroupFixture::Options("g", "s", PartitionAssignor::kRange);
  os.group_instance_id = "worker-1";
  os.session_timeout_ms = 300;
  auto s = f.Join(os, {"t"});
  auto c = f.Join(GroupFixture::Options("g", "c", PartitionAssignor::kRange), {"t"});
  f.Settle("g", {s.get(), c.get()}, all);
  const int32_t generation = f.Describe("g").generation_id;
  const TPSet s_had = s->Owned();
  c->ClearLog();

  REQUIRE_OK(s->consumer->Close());
  // c, polling on, gets s's partitions once the session timeout has passed.
  REQUIRE(PollUntil({c.get()}, [&] { return c->Owned() == all; }, 20ms));
  f.Settle("g", {c.get()}, all);
  const GroupDescription d = f.Describe("g");
  REQUIRE(d.members.size() == 1);
  CHECK(d.members[0].member_id == c->Id());
  CHECK(d.generation_id > generation);
  CHECK(Intersect(Flatten(c->assigned), s_had) == s_had);

  // Coming back after that is joining anew: a rebalance shares the partitions again.
  auto back = f.Join(os, {"t"});
  f.Settle("g", {back.get(), c.get()}, all);
  CHECK(f.Describe("g").generation_id > d.generation_id);
  CHECK(back->Owned().size() == 2);
}

TEST_CASE(
    "group: A second consumer with the same group.instance.id fences the first, whose commits "
    "are refused",
    "[group]") {
  GroupFixture f;
  f.CreateTopic("t", 2);
  const TPSet all = AllOf("t", 2);
  auto os = GroupFixture::Options("g", "s", PartitionAssignor::kRange);
  os.group_instance_id = "worker-1";
  os.enable_auto_commit = false;
  auto first = f.Join(os, {"t"});
  f.Settle("g", {first.get()}, all);

  auto second = f.Join(os, {"t"});
  CHECK_STATUS_IS(first->consumer->CommitSync({{TP("t", 0), {1, ""}}}),
                  absl::StatusCode::kFailedPrecondition);
  REQUIRE(PollUntil({second.get()}, [&] { return second->Owned() == all; }));
  auto committed = second->consumer->Committed({TP("t", 0)});
  REQUIRE_OK(committed);
  CHECK_FALSE((*committed)[TP("t", 0)].has_value());
  REQUIRE_OK(second->consumer->CommitSync({{TP("t", 0), {1, ""}}}));
  const std::string second_id = second->Id();

  // The fenced consumer polling again does not take the instance's place back.
  for (int i = 0; i < 3; ++i) {
    auto polled = first->consumer->Poll(0ms);
    INFO("the fenced consumer's Poll: " << polled.status().ToString());
    if (polled.ok()) CHECK(polled->empty());
    second->Poll();
  }
  CHECK(second->Owned() == all);
  CHECK(second->Id() == second_id);
  CHECK_OK(second->consumer->CommitSync({{TP("t", 0), {2, ""}}}));

  // Destroying the fenced consumer does not disturb the one that took its place.
  first.reset();
  const GroupDescription d = f.Describe("g");
  REQUIRE(d.members.size() == 1);
  CHECK(d.members[0].member_id == second->Id());
  CHECK(d.members[0].connected);
}

TEST_CASE(
    "group: While a static member is away its partitions stay reserved for it, even across a "
    "rebalance",
    "[group]") {
  GroupFixture f;
  f.CreateTopic("t", 6);
  const TPSet all = AllOf("t", 6);
  auto os = GroupFixture::Options("g", "s", PartitionAssignor::kRange);
  os.group_instance_id = "worker-1";
  os.session_timeout_ms = 60000;
  auto s = f.Join(os, {"t"});
  auto b = f.Join(GroupFixture::Options("g", "b", PartitionAssignor::kRange), {"t"});
  f.Settle("g", {s.get(), b.get()}, all);
  REQUIRE_OK(s->consumer->Close());

  // A third member joins while s is away: the group rebalances among all three.
  auto c = f.Join(GroupFixture::Options("g", "c", PartitionAssignor::kRange), {"t"});
  auto away_settled = [&] {
    auto d = f.admin->DescribeGroup("g");
    if (!d.ok() || d->state != GroupState::kStable || d->members.size() != 3) return false;
    for (const MemberDescription& md : d->members) {
      const TPSet target(md.assignment.begin(), md.assignment.end());
      if (md.member_id == b->Id() && target != b->Owned()) return false;
      if (md.member_id == c->Id() && target != c->Owned()) return false;
    }
    return !c->Owned().empty();
  };
  REQUIRE(PollUntil({b.get(), c.get()}, away_settled));
  TPSet s_target;
  for (const MemberDescription& md : f.Describe("g").members) {
    if (md.group_instance_id == "worker-1") {
      CHECK_FALSE(md.connected);
      s_target = TPSet(md.assignment.begin(), md.assignment.end());
    }
  }
  CHECK(s_target.size() == 2);
  CHECK(Intersect(Union(b->Owned(), c->Owned()), s_target).empty());
  CHECK(Union(Union(b->Owned(), c->Owned()), s_target) == all);
  const int32_t generation = f.Describe("g").generation_id;

  // s comes back and takes up exactly that, with no further rebalance.
  auto back = f.Join(os, {"t"});
  f.Settle("g", {back.get(), b.get(), c.get()}, all);
  CHECK(back->Owned() == s_target);
  CHECK(f.Describe("g").generation_id == generation);
}

// ---------------------------------------------------------------------------------------
// 7. Commits.

TEST_CASE("group: CommitSync commits the position of every assigned partition", "[group]") {
  GroupFixture f;
  f.CreateTopic("t", 2);
  f.CreateTopic("other", 1);
  auto o = GroupFixture::Options("g", "c");
  o.enable_auto_commit = false;
  auto c = f.Join(o, {"t"});
  f.Settle("g", {c.get()}, AllOf("t", 2));
  f.SendTo("t", 0, 5);
  f.SendTo("t", 1, 3);
  REQUIRE(PollUntil({c.get()}, [&] { return c->received.size() >= 8; }));

  auto before = c->consumer->Committed({TP("t", 0), TP("t", 1)});
  REQUIRE_OK(before);
  CHECK_FALSE((*before)[TP("t", 0)].has_value());  // nothing commits by itself
  for (const PartitionOffsetDescription& pd : f.Describe("g").offsets) {
    INFO("partition " << pd.partition.partition);
    CHECK_FALSE(pd.committed.has_value());
    CHECK(pd.lag == (pd.partition.partition == 0 ? 5 : 3));  // the whole log
  }
  CHECK_STATUS_IS(c->consumer->CommitSync({{TP("t", 0), {-1, ""}}}),
                  absl::StatusCode::kInvalidArgument);

  REQUIRE_OK(c->consumer->CommitSync());
  auto committed = c->consumer->Committed({TP("t", 0), TP("t", 1), TP("other", 0)});
  REQUIRE_OK(committed);
  REQUIRE((*committed)[TP("t", 0)].has_value());
  REQUIRE((*committed)[TP("t", 1)].has_value());
  CHECK((*committed)[TP("t", 0)]->offset == 5);
  CHECK((*committed)[TP("t", 0)]->metadata.empty());
  CHECK((*committed)[TP("t", 1)]->offset == 3);
  CHECK_FALSE((*committed)[TP("other", 0)].has_value());

  for (const PartitionOffsetDescription& pd : f.Describe("g").offsets) {
    INFO("partition " << pd.partition.partition);
    REQUIRE(pd.committed.has_value());
    CHECK(pd.lag == 0);
  }
}

TEST_CASE("group: CommitSync of given offsets keeps their metadata, and Committed returns both",
          "[group]") {
  GroupFixture f;
  f.CreateTopic("t", 2);
  auto o = GroupFixture::Options("g", "c");
  o.enable_auto_commit = false;
  auto c = f.Join(o, {"t"});
  f.Settle("g", {c.get()}, AllOf("t", 2));
  f.SendTo("t", 0, 5);
  f.SendTo("t", 1, 3);

  REQUIRE_OK(c->consumer->CommitSync(
      {{TP("t", 0), {2, "checkpoint-a"}}, {TP("t", 1), {1, std::string("\0bin\xff", 5)}}}));
  auto committed = c->consumer->Committed({TP("t", 0), TP("t", 1)});
  REQUIRE_OK(committed);
  REQUIRE((*committed)[TP("t", 0)].has_value());
  REQUIRE((*committed)[TP("t", 1)].has_value());
  CHECK((*committed)[TP("t", 0)]->offset == 2);
  CHECK((*committed)[TP("t", 0)]->metadata == "checkpoint-a");
  CHECK((*committed)[TP("t", 1)]->offset == 1);
  CHECK((*committed)[TP("t", 1)]->metadata == std::string("\0bin\xff", 5));

  // A later commit replaces the earlier one.
  REQUIRE_OK(c->consumer->CommitSync({{TP("t", 0), {4, "checkpoint-b"}}}));
  committed = c->consumer->Committed({TP("t", 0), TP("t", 1)});
  REQUIRE_OK(committed);
  CHECK((*committed)[TP("t", 0)]->offset == 4);
  CHECK((*committed)[TP("t", 0)]->metadata == "checkpoint-b");
  CHECK((*committed)[TP("t", 1)]->offset == 1);

  // GroupAdmin sees the same, with the lag.
  const GroupDescription d = f.Describe("g");
  std::map<TopicPartition, PartitionOffsetDescription> offsets;
  for (const PartitionOffsetDescription& pd : d.offsets) offsets[pd.partition] = pd;
  REQUIRE(offsets.count(TP("t", 0)) == 1);
  REQUIRE(offsets.count(TP("t", 1)) == 1);
  REQUIRE(offsets[TP("t", 0)].committed.has_value());
  CHECK(offsets[TP("t", 0)].committed->offset == 4);
  CHECK(offsets[TP("t", 0)].committed->metadata == "checkpoint-b");
  CHECK(offsets[TP("t", 0)].log_end_offset == 5);
  CHECK(offsets[TP("t", 0)].lag == 1);
  CHECK(offsets[TP("t", 1)].lag == 2);
  CHECK(offsets[TP("t", 0)].owner == c->Id());
}

TEST_CASE("group: A CommitAsync callback runs with OK on the next Poll, CommitSync or Close",
          "[group]") {
  const std::string when = GENERATE(as<std::string>{}, "Poll", "CommitSync", "Close");
  INFO("callbacks run by " << when);
  GroupFixture f;
  f.CreateTopic("t", 1);
  auto o = GroupFixture::Options("g", "c");
  o.enable_auto_commit = false;
  auto c = f.Join(o, {"t"});
  f.Settle("g", {c.get()}, AllOf("t", 1));
  f.SendTo("t", 0, 6);
  REQUIRE(PollUntil({c.get()}, [&] { return c->received.size() >= 6; }));

  struct Call {
    int id;
    std::map<TopicPartition, OffsetAndMetadata> offsets;
    absl::Status status;
  };
  std::vector<Call> calls;
  auto callback = [&](int id) {
    return [&calls, id](const std::map<TopicPartition, OffsetAndMetadata>& offsets,
                        const absl::Status& status) { calls.push_back({id, offsets, status}); };
  };
  c->consumer->CommitAsync(callback(1));  // the positions: 6
  c->consumer->CommitAsync({{TP("t", 0), {4, "four"}}}, callback(2));
  CHECK(calls.empty());  // not from CommitAsync itself

  if (when == "Poll") {
    c->Poll();
  } else if (when == "CommitSync") {
    REQUIRE_OK(c->consumer->CommitSync({{TP("t", 0), {5, "five"}}}));
  } else {
    REQUIRE_OK(c->consumer->Close());
  }
  REQUIRE(calls.size() == 2);
  CHECK(calls[0].id == 1);  // in the order of the commits
  CHECK(calls[1].id == 2);
  CHECK(calls[0].status == absl::OkStatus());
  CHECK(calls[1].status == absl::OkStatus());
  REQUIRE(calls[0].offsets.count(TP("t", 0)) == 1);
  CHECK(calls[0].offsets[TP("t", 0)].offset == 6);
  REQUIRE(calls[1].offsets.count(TP("t", 0)) == 1);
  CHECK(calls[1].offsets[TP("t", 0)].offset == 4);
  CHECK(calls[1].offsets[TP("t", 0)].metadata == "four");

  // Each runs once.
  if (when != "Close") {
    c->Poll();
    REQUIRE_OK(c->consumer->CommitSync({{TP("t", 0), {6, ""}}}));
    CHECK(calls.size() == 2);
  }
}

TEST_CASE("group: Commits without a group.id fail with FailedPrecondition", "[group]") {
  GroupFixture f;
  f.CreateTopic("t", 1);
  f.SendTo("t", 0, 3);
  ConsumerOptions o;
  o.auto_offset_reset = OffsetReset::kEarliest;
  auto c = f.NewMember(o);
  REQUIRE_OK(c->consumer->Assign({TP("t", 0)}));
  REQUIRE(PollUntil({c.get()}, [&] { return c->received.size() >= 3; }));

  CHECK_STATUS_IS(c->consumer->CommitSync(), absl::StatusCode::kFailedPrecondition, "group.id");
  CHECK_STATUS_IS(c->consumer->CommitSync({{TP("t", 0), {1, ""}}}),
                  absl::StatusCode::kFailedPrecondition, "group.id");
  std::vector<absl::Status> statuses;
  c->consumer->CommitAsync(
      [&](const std::map<TopicPartition, OffsetAndMetadata>&, const absl::Status& s) {
        statuses.push_back(s);
      });
  c->Poll();
  REQUIRE(statuses.size() == 1);
  CHECK(statuses[0].code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE(
    "group: A commit for a partition the member does not own is refused with "
    "FailedPrecondition and changes nothing",
    "[group]") {
  GroupFixture f;
  f.CreateTopic("t", 2);
  const TPSet all = AllOf("t", 2);
  auto o = GroupFixture::Options("g", "a", PartitionAssignor::kRange);
  o.enable_auto_commit = false;
  auto a = f.Join(o, {"t"});
  o.client_id = "b";
  auto b = f.Join(o, {"t"});
  f.Settle("g", {a.get(), b.get()}, all);
  const TopicPartition mine = *a->Owned().begin();
  const TopicPartition theirs = *b->Owned().begin();
  f.SendToAll("t", 2, 4);

  CHECK_STATUS_IS(a->consumer->CommitSync({{theirs, {2, ""}}}),
                  absl::StatusCode::kFailedPrecondition);
  // Atomic: with one partition not owned, none is stored.
  CHECK_STATUS_IS(a->consumer->CommitSync({{mine, {3, ""}}, {theirs, {3, ""}}}),
                  absl::StatusCode::kFailedPrecondition);
  auto committed = a->consumer->Committed({mine, theirs});
  REQUIRE_OK(committed);
  CHECK_FALSE((*committed)[mine].has_value());
  CHECK_FALSE((*committed)[theirs].has_value());
  // A partition of an unsubscribed topic is not owned either.
  f.CreateTopic("x", 1);
  CHECK_STATUS_IS(a->consumer->CommitSync({{TP("x", 0), {0, ""}}}),
                  absl::StatusCode::kFailedPrecondition);

  REQUIRE_OK(a->consumer->CommitSync({{mine, {3, ""}}}));
  committed = a->consumer->Committed({mine});
  REQUIRE_OK(committed);
  REQUIRE((*committed)[mine].has_value());
  CHECK((*committed)[mine]->offset == 3);

  // A consumer outside the group (Assign) with the group's id may not commit while the
  // group has members, and may once it has none.
  ConsumerOptions outside_options = GroupFixture::Options("g", "outside");
  outside_options.enable_auto_commit = false;
  auto outside = f.NewMember(outside_options);
  REQUIRE_OK(outside->consumer->Assign({theirs}));
  CHECK_STATUS_IS(outside->consumer->CommitSync({{theirs, {1, ""}}}),
                  absl::StatusCode::kFailedPrecondition);
  REQUIRE_OK(a->consumer->Close());
  REQUIRE_OK(b->consumer->Close());
  REQUIRE_OK(outside->consumer->CommitSync({{theirs, {1, "outside"}}}));
  committed = outside->consumer->Committed({theirs});
  REQUIRE_OK(committed);
  REQUIRE((*committed)[theirs].has_value());
  CHECK((*committed)[theirs]->offset == 1);
}

TEST_CASE("group: A new member of the group starts at the committed offset", "[group]") {
  GroupFixture f;
  f.CreateTopic("t", 1);
  f.SendTo("t", 0, 10);
  auto o = GroupFixture::Options("g", "first");
  o.enable_auto_commit = false;
  auto first = f.Join(o, {"t"});
  REQUIRE(PollUntil({first.get()}, [&] { return first->received.size() >= 10; }));
  REQUIRE_OK(first->consumer->CommitSync({{TP("t", 0), {6, ""}}}));
  REQUIRE_OK(first->consumer->Close());

  // latest would skip everything: the commit, not the reset, decides.
  auto o2 = GroupFixture::Options("g", "second");
  o2.auto_offset_reset = OffsetReset::kLatest;
  auto second = f.Join(o2, {"t"});
  REQUIRE(PollUntil({second.get()}, [&] { return second->received.size() >= 4; }));
  second->Poll();
  REQUIRE(second->received.size() == 4);
  CHECK(second->received.front().offset == 6);
  CHECK(second->received.back().offset == 9);
  auto position = second->consumer->Position(TP("t", 0));
  REQUIRE_OK(position);
  CHECK(*position == 10);
}

TEST_CASE(
    "group: Committing before processing loses records at a crash but never repeats them, "
    "committing after processing repeats them but never loses them",
    "[group]") {
  const bool at_most_once = GENERATE(true, false);
  INFO((at_most_once ? "at-most-once" : "at-least-once"));
  GroupFixture f;
  f.CreateTopic("work", 2);
  const TPSet all = AllOf("work", 2);
  auto o = GroupFixture::Options("g", "a", PartitionAssignor::kRange);
  o.enable_auto_commit = false;
  o.max_poll_records = 4;
  auto a = f.Join(o, {"work"});
  o.client_id = "b";
  auto b = f.Join(o, {"work"});
  f.Settle("g", {a.get(), b.get()}, all);
  const TopicPartition a_tp = *a->Owned().begin();
  const TopicPartition b_tp = *b->Owned().begin();
  const std::vector<RecordMetadata> sent = f.SendToAll("work", 2, 12);

  std::vector<Coord> processed;
  auto process = [&](const std::vector<Got>& records, size_t n) {
    for (size_t i = 0; i < n && i < records.size(); ++i) processed.push_back(CoordOf(records[i]));
  };
  // One Poll and its processing, with the commit before or after.
  auto step = [&](Member& m) {
    const std::vector<Got> records = m.Poll();
    if (at_most_once) REQUIRE_OK(m.consumer->CommitSync());
    process(records, records.size());
    if (!at_most_once) REQUIRE_OK(m.consumer->CommitSync());
    return records;
  };
  REQUIRE(step(*a).size() == 4);
  REQUIRE(step(*b).size() == 4);

  // a polls 4 more and crashes: at-most-once after its commit and 1 record processed,
  // at-least-once after processing all 4 but before its commit.
  const std::vector<Got> last = a->Poll();
  REQUIRE(last.size() == 4);
  if (at_most_once) {
    REQUIRE_OK(a->consumer->CommitSync());
    process(last, 1);
  } else {
    process(last, 4);
  }
  a->consumer.reset();  // the crash: no commit (auto-commit is off)

  // b takes a's partition over and drains both.
  auto drained = [&] {
    if (b->Owned() != all) return false;
    auto p0 = b->consumer->Position(a_tp);
    auto p1 = b->consumer->Position(b_tp);
    return p0.ok() && p1.ok() && *p0 == 12 && *p1 == 12;
  };
  // (Its own loop, not PollUntil: every Poll's records must be processed and committed.)
  for (int i = 0; i < 5000 && !drained(); ++i) step(*b);
  REQUIRE(drained());

  std::map<Coord, int> count;
  for (const Coord& c : processed) ++count[c];
  std::set<Coord> expected_lost;
  std::set<Coord> expected_twice;
  for (size_t i = 1; i < last.size(); ++i) expected_lost.insert(CoordOf(last[i]));
  for (const Got& g : last) expected_twice.insert(CoordOf(g));
  std::set<Coord> missing;
  std::set<Coord> twice;
  for (const RecordMetadata& md : sent) {
    const int n = count[CoordOf(md)];
    if (n == 0) missing.insert(CoordOf(md));
    if (n > 1) twice.insert(CoordOf(md));
    CHECK(n <= 2);
  }
  if (at_most_once) {
    CHECK(twice.empty());
    CHECK(missing == expected_lost);
  } else {
    CHECK(missing.empty());
    CHECK(twice == expected_twice);
  }
}

// ---------------------------------------------------------------------------------------
// 8. Auto-commit.

TEST_CASE(
    "group: Auto-commit commits, in a later Poll and on Close, the positions earlier Polls "
    "returned records up to",
    "[group]") {
  GroupFixture f;
  f.CreateTopic("t", 1);
  const TopicPartition tp = TP("t", 0);
  auto committed_offset = [&]() -> std::optional<int64_t> {
    const GroupDescription d = f.Describe("g");
    for (const PartitionOffsetDescription& pd : d.offsets) {
      if (pd.partition == tp && pd.committed) return pd.committed->offset;
    }
    return std::nullopt;
  };

  SECTION("with a small interval") {
    auto o = GroupFixture::Options("g", "c");
    o.enable_auto_commit = true;
    o.auto_commit_interval_ms = 0;
    auto c = f.Join(o, {"t"});
    f.Settle("g", {c.get()}, AllOf("t", 1));
    f.SendTo("t", 0, 5);
    REQUIRE(c->Poll().size() == 5);
    // The records just returned are not committed yet: a crash now would bring them again.
    CHECK(committed_offset().value_or(0) == 0);
    c->Poll();  // a later Poll commits them
    CHECK(committed_offset() == std::optional<int64_t>(5));

    f.SendTo("t", 0, 3);
    REQUIRE(c->Poll().size() == 3);
    CHECK(committed_offset() == std::optional<int64_t>(5));
    REQUIRE_OK(c->consumer->Close());  // and Close commits the rest
    CHECK(committed_offset() == std::optional<int64_t>(8));
  }

  SECTION("with an interval not yet due, only Close commits") {
    auto o = GroupFixture::Options("g", "c");
    o.enable_auto_commit = true;
    o.auto_commit_interval_ms = 600000;
    auto c = f.Join(o, {"t"});
    f.Settle("g", {c.get()}, AllOf("t", 1));
    f.SendTo("t", 0, 5);
    REQUIRE(c->Poll().size() == 5);
    c->Poll();
    c->Poll();
    auto committed = c->consumer->Committed({tp});
    REQUIRE_OK(committed);
    CHECK_FALSE((*committed)[tp].has_value());
    REQUIRE_OK(c->consumer->Close());
    CHECK(committed_offset() == std::optional<int64_t>(5));
  }

  SECTION("disabled, nothing is committed, not even on Close") {
    auto o = GroupFixture::Options("g", "c");
    o.enable_auto_commit = false;
    o.auto_commit_interval_ms = 0;
    auto c = f.Join(o, {"t"});
    f.Settle("g", {c.get()}, AllOf("t", 1));
    f.SendTo("t", 0, 5);
    REQUIRE(c->Poll().size() == 5);
    c->Poll();
    REQUIRE_OK(c->consumer->Close());
    auto d = f.admin->DescribeGroup("g");
    if (d.ok()) CHECK_FALSE(committed_offset().has_value());
  }
}

// ---------------------------------------------------------------------------------------
// 9. Subscriptions that change: patterns, topics created later, new partitions.

TEST_CASE(
    "group: SubscribePattern picks up matching topics created later and drops deleted ones",
    "[group]") {
  GroupFixture f;
  f.CreateTopic("metrics.cpu", 2);
  f.CreateTopic("other", 1);
  f.CreateTopic("xmetrics.cpu", 1);  // matches only in part: the whole name must match
  auto c = f.NewMember(GroupFixture::Options("g", "c"));
  REQUIRE_OK(c->consumer->SubscribePattern("metrics\\..*", c->Listener()));
  CHECK(c->consumer->Subscription() == std::vector<std::string>{"metrics.cpu"});
  f.Settle("g", {c.get()}, AllOf("metrics.cpu", 2));

  f.CreateTopic("metrics.mem", 2);
  const TPSet both = Union(AllOf("metrics.cpu", 2), AllOf("metrics.mem", 2));
  f.Settle("g", {c.get()}, both);
  CHECK(c->consumer->Subscription() == std::vector<std::string>{"metrics.cpu", "metrics.mem"});
  CHECK(Intersect(Flatten(c->assigned), AllOf("metrics.mem", 2)) == AllOf("metrics.mem", 2));

  // Records of the new topic come; those of the others never.
  const auto sent = f.SendTo("metrics.mem", 1, 3);
  f.SendTo("other", 0, 2);
  f.SendTo("xmetrics.cpu", 0, 2);
  REQUIRE(PollUntil({c.get()}, [&] { return c->received.size() >= 3; }));
  c->Poll();
  CHECK(CoordSet(c->received) == CoordSet(sent));

  REQUIRE_OK(f.broker->DeleteTopic("metrics.cpu"));
  f.Settle("g", {c.get()}, AllOf("metrics.mem", 2));
  CHECK(c->consumer->Subscription() == std::vector<std::string>{"metrics.mem"});
}

TEST_CASE("group: A subscribed topic that does not exist yet is assigned once created",
          "[group]") {
  GroupFixture f;
  auto c = f.Join(GroupFixture::Options("g", "c"), {"later"});
  for (int i = 0; i < 3; ++i) c->Poll();
  CHECK(c->Owned().empty());
  f.CreateTopic("later", 2);
  f.Settle("g", {c.get()}, AllOf("later", 2));
  const auto sent = f.SendTo("later", 1, 2);
  REQUIRE(PollUntil({c.get()}, [&] { return c->received.size() >= 2; }));
  CHECK(CoordSet(c->received) == CoordSet(sent));
}

TEST_CASE(
    "group: Subscribe again replaces the subscription, and an empty one leaves the group",
    "[group]") {
  const PartitionAssignor assignor =
      GENERATE(PartitionAssignor::kRange, PartitionAssignor::kCooperativeSticky);
  INFO("assignor " << AssignorLabel(assignor));
  GroupFixture f;
  f.CreateTopic("a", 2);
  f.CreateTopic("b", 2);
  auto m = f.Join(GroupFixture::Options("g", "m", assignor), {"a"});
  f.Settle("g", {m.get()}, AllOf("a", 2));
  m->ClearLog();

  // Adding a topic.
  REQUIRE_OK(m->Subscribe({"a", "b"}));
  CHECK(m->consumer->Subscription() == std::vector<std::string>{"a", "b"});
  f.Settle("g", {m.get()}, Union(AllOf("a", 2), AllOf("b", 2)));
  if (assignor == PartitionAssignor::kCooperativeSticky) {
    CHECK(m->revoked.empty());
    CHECK(Flatten(m->assigned) == AllOf("b", 2));
  }
  auto d = f.Describe("g");
  REQUIRE(d.members.size() == 1);
  CHECK(d.members[0].subscription == std::vector<std::string>{"a", "b"});

  // Replacing it.
  m->ClearLog();
  REQUIRE_OK(m->Subscribe({"b"}));
  f.Settle("g", {m.get()}, AllOf("b", 2));
  CHECK(Intersect(Flatten(m->revoked), AllOf("a", 2)) == AllOf("a", 2));
  if (assignor == PartitionAssignor::kCooperativeSticky) {
    CHECK(Flatten(m->revoked) == AllOf("a", 2));
  }
  const auto sent_a = f.SendTo("a", 0, 2);
  const auto sent_b = f.SendTo("b", 1, 2);
  REQUIRE(PollUntil({m.get()}, [&] { return m->received.size() >= 2; }));
  m->Poll();
  CHECK(CoordSet(m->received) == CoordSet(sent_b));

  // Subscribe({}) is Unsubscribe.
  REQUIRE_OK(m->consumer->Subscribe({}));
  CHECK(m->consumer->Assignment().empty());
  CHECK(m->consumer->Subscription().empty());
  auto after = f.admin->DescribeGroup("g");
  CHECK((!after.ok() || after->members.empty()));
}

TEST_CASE(
    "group: A subscribed topic that is deleted leaves the assignment, and comes back when made "
    "again",
    "[group]") {
  GroupFixture f;
  f.CreateTopic("t", 2);
  f.CreateTopic("u", 1);
  auto m = f.Join(GroupFixture::Options("g", "m"), {"t", "u"});
  f.Settle("g", {m.get()}, Union(AllOf("t", 2), AllOf("u", 1)));

  REQUIRE_OK(f.broker->DeleteTopic("t"));
  f.Settle("g", {m.get()}, AllOf("u", 1));
  CHECK(m->consumer->Subscription() == std::vector<std::string>{"t", "u"});

  f.CreateTopic("t", 3);
  f.Settle("g", {m.get()}, Union(AllOf("t", 3), AllOf("u", 1)));
  const auto sent = f.SendTo("t", 2, 2);
  REQUIRE(PollUntil({m.get()}, [&] { return m->received.size() >= 2; }));
  CHECK(CoordSet(m->received) == CoordSet(sent));
}

TEST_CASE("group: CreatePartitions on a subscribed topic rebalances onto the new partitions",
          "[group]") {
  const PartitionAssignor assignor =
      GENERATE(PartitionAssignor::kRange, PartitionAssignor::kCooperativeSticky);
  INFO("assignor " << AssignorLabel(assignor));
  GroupFixture f;
  f.CreateTopic("t", 2);
  auto a = f.Join(GroupFixture::Options("g", "a", assignor), {"t"});
  auto b = f.Join(GroupFixture::Options("g", "b", assignor), {"t"});
  f.Settle("g", {a.get(), b.get()}, AllOf("t", 2));
  const int32_t generation = f.Describe("g").generation_id;
  a->ClearLog();
  b->ClearLog();

  REQUIRE_OK(f.broker->CreatePartitions("t", 6));
  f.Settle("g", {a.get(), b.get()}, AllOf("t", 6));
  CHECK(f.Describe("g").generation_id > generation);
  CHECK(a->Owned().size() == 3);
  CHECK(b->Owned().size() == 3);
  const TPSet fresh = {TP("t", 2), TP("t", 3), TP("t", 4), TP("t", 5)};
  CHECK(Intersect(Union(Flatten(a->assigned), Flatten(b->assigned)), fresh) == fresh);

  const auto sent = f.SendTo("t", 5, 2);
  REQUIRE(PollUntil({a.get(), b.get()},
                    [&] { return a->received.size() + b->received.size() >= 2; }));
  Member* owner = a->Owned().count(TP("t", 5)) ? a.get() : b.get();
  CHECK(CoordSet(owner->received) == CoordSet(sent));
}

// ---------------------------------------------------------------------------------------
// 10. Durability of commits, and errors.

TEST_CASE("group: Committed offsets survive closing and reopening the broker", "[group]") {
  GroupFixture f;
  f.CreateTopic("t", 2);
  f.SendTo("t", 0, 10);
  f.SendTo("t", 1, 4);
  {
    auto o = GroupFixture::Options("g", "c");
    o.enable_auto_commit = false;
    auto c = f.Join(o, {"t"});
    f.Settle("g", {c.get()}, AllOf("t", 2));
    REQUIRE_OK(c->consumer->CommitSync({{TP("t", 0), {7, "seven"}}, {TP("t", 1), {2, ""}}}));
    REQUIRE_OK(c->consumer->Close());
  }
  f.Reopen();

  auto listed = f.admin->ListGroups();
  REQUIRE_OK(listed);
  REQUIRE(listed->size() == 1);
  CHECK((*listed)[0].group_id == "g");
  CHECK((*listed)[0].state == GroupState::kEmpty);

  auto o = GroupFixture::Options("g", "again");
  o.auto_offset_reset = OffsetReset::kLatest;
  auto c = f.Join(o, {"t"});
  auto committed = c->consumer->Committed({TP("t", 0), TP("t", 1)});
  REQUIRE_OK(committed);
  REQUIRE((*committed)[TP("t", 0)].has_value());
  CHECK((*committed)[TP("t", 0)]->offset == 7);
  CHECK((*committed)[TP("t", 0)]->metadata == "seven");
  REQUIRE((*committed)[TP("t", 1)].has_value());
  CHECK((*committed)[TP("t", 1)]->offset == 2);

  REQUIRE(PollUntil({c.get()}, [&] { return c->received.size() >= 5; }));
  c->Poll();
  CHECK(c->received.size() == 5);
  for (const Got& g : c->received) {
    INFO("partition " << g.partition << " offset " << g.offset);
    CHECK(g.offset >= (g.partition == 0 ? 7 : 2));
  }
}

TEST_CASE(
    "group: Subscribe without a group.id, or with a bad topic name or pattern, fails with "
    "InvalidArgument",
    "[group]") {
  GroupFixture f;
  f.CreateTopic("t", 1);
  ConsumerOptions o;
  auto c = f.NewMember(o);
  CHECK_STATUS_IS(c->consumer->Subscribe({"t"}), absl::StatusCode::kInvalidArgument, "group.id");
  CHECK_STATUS_IS(c->consumer->SubscribePattern("t.*"), absl::StatusCode::kInvalidArgument,
                  "group.id");
  CHECK(c->consumer->Subscription().empty());
  // And with a group.id, bad topic names and patterns are refused too.
  auto g = f.NewMember(GroupFixture::Options("g", "g"));
  CHECK_STATUS_IS(g->consumer->Subscribe({"no spaces allowed"}), absl::StatusCode::kInvalidArgument);
  CHECK_STATUS_IS(g->consumer->Subscribe({""}), absl::StatusCode::kInvalidArgument);
  CHECK_STATUS_IS(g->consumer->SubscribePattern("(unclosed"), absl::StatusCode::kInvalidArgument);
  CHECK(g->consumer->Subscription().empty());
  auto listed = f.admin->ListGroups();
  REQUIRE_OK(listed);
  CHECK(listed->empty());
}

TEST_CASE("group: Subscribe and Assign exclude each other with FailedPrecondition", "[group]") {
  GroupFixture f;
  f.CreateTopic("t", 2);
  SECTION("Assign after Subscribe") {
    auto c = f.Join(GroupFixture::Options("g", "c"), {"t"});
    f.Settle("g", {c.get()}, AllOf("t", 2));
    CHECK_STATUS_IS(c->consumer->Assign({TP("t", 0)}), absl::StatusCode::kFailedPrecondition);
    CHECK(c->Owned() == AllOf("t", 2));  // unchanged
    // After Unsubscribe, Assign is allowed.
    REQUIRE_OK(c->consumer->Unsubscribe());
    REQUIRE_OK(c->consumer->Assign({TP("t", 0)}));
    CHECK(c->Owned() == TPSet{TP("t", 0)});
  }
  SECTION("Subscribe after Assign") {
    auto c = f.NewMember(GroupFixture::Options("g", "c"));
    REQUIRE_OK(c->consumer->Assign({TP("t", 0)}));
    CHECK_STATUS_IS(c->Subscribe({"t"}), absl::StatusCode::kFailedPrecondition);
    CHECK_STATUS_IS(c->consumer->SubscribePattern("t"), absl::StatusCode::kFailedPrecondition);
    CHECK(c->Owned() == TPSet{TP("t", 0)});
    CHECK(c->consumer->Subscription().empty());
  }
}

TEST_CASE("group: A member whose assignors share none with the group's is refused", "[group]") {
  GroupFixture f;
  f.CreateTopic("t", 2);
  auto rr = f.Join(GroupFixture::Options("g", "rr", PartitionAssignor::kRoundRobin), {"t"});
  f.Settle("g", {rr.get()}, AllOf("t", 2));
  const int32_t generation = f.Describe("g").generation_id;

  auto range = f.NewMember(GroupFixture::Options("g", "range", PartitionAssignor::kRange));
  CHECK_STATUS_IS(range->Subscribe({"t"}), absl::StatusCode::kInvalidArgument);
  // The group is untouched.
  for (int i = 0; i < 3; ++i) rr->Poll();
  const GroupDescription d = f.Describe("g");
  CHECK(d.members.size() == 1);
  CHECK(d.assignor == "roundrobin");
  CHECK(d.generation_id == generation);
  CHECK(rr->Owned() == AllOf("t", 2));
  CHECK(rr->revoked.size() == 0);

  // A member that supports the group's assignor among others is welcome, and the group
  // keeps using it.
  auto o = GroupFixture::Options("g", "both");
  o.partition_assignment_strategy = {PartitionAssignor::kRange, PartitionAssignor::kRoundRobin};
  auto both = f.Join(o, {"t"});
  f.Settle("g", {rr.get(), both.get()}, AllOf("t", 2));
  CHECK(f.Describe("g").assignor == "roundrobin");
}

TEST_CASE("group: A refused Subscribe leaves the consumer unsubscribed", "[group]") {
  GroupFixture f;
  f.CreateTopic("t", 2);
  auto rr = f.Join(GroupFixture::Options("g", "rr", PartitionAssignor::kRoundRobin), {"t"});
  f.Settle("g", {rr.get()}, AllOf("t", 2));
  auto range = f.NewMember(GroupFixture::Options("g", "range", PartitionAssignor::kRange));
  CHECK_STATUS_IS(range->Subscribe({"t"}), absl::StatusCode::kInvalidArgument);
  // Nothing changed: not subscribed, free to Assign, and not joining the group later
  // behind the application's back.
  CHECK(range->consumer->Subscription().empty());
  CHECK_OK(range->consumer->Assign({TP("t", 0)}));
  REQUIRE_OK(rr->consumer->Close());
  auto polled = range->consumer->Poll(0ms);
  CHECK_OK(polled);
  auto d = f.admin->DescribeGroup("g");
  CHECK((!d.ok() || d->members.empty()));
}

// ---------------------------------------------------------------------------------------
// 11. Threads, and idle long polls.

TEST_CASE(
    "group: A member blocked in a long Poll on another thread takes part in a rebalance",
    "[group]") {
  GroupFixture f;
  f.CreateTopic("t", 6);
  const TPSet all = AllOf("t", 6);
  // No recording listener for a: it runs on the poller thread, where Catch may not be used.
  auto a = f.NewMember(GroupFixture::Options("g", "a"));
  REQUIRE_OK(a->consumer->Subscribe({"t"}));
  f.Settle("g", {a.get()}, all);

  std::atomic<bool> stop{false};
  std::mutex mu;
  TPSet a_owns;  // a's assignment after its latest Poll
  std::vector<Got> a_got;
  bool a_ok = true;
  std::thread poller([&] {
    while (!stop.load()) {
      auto polled = a->consumer->Poll(2000ms);
      std::lock_guard<std::mutex> lock(mu);
      if (!polled.ok()) {
        a_ok = false;
        return;
      }
      for (const ConsumerRecord& r : *polled) {
        a_got.push_back(Got{std::string(r.topic), r.partition, r.offset, Copy(r.key), Copy(r.value)});
      }
      const auto assignment = a->consumer->Assignment();
      a_owns = TPSet(assignment.begin(), assignment.end());
    }
  });
  // Stops and joins the poller, also when a REQUIRE below ends the test early.
  struct StopPoller {
    std::function<void()> run;
    ~StopPoller() { run(); }
  } stop_poller{[&] {
    if (!poller.joinable()) return;
    stop.store(true);
    a->consumer->Wakeup();
    poller.join();
  }};

  auto b = f.Join(GroupFixture::Options("g", "b"), {"t"});
  auto a_snapshot = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return a_owns;
  };
  const bool settled = PollUntil({b.get()}, [&] {
    const TPSet a_now = a_snapshot();
    return b->Owned().size() == 3 && a_now.size() == 3 && Union(a_now, b->Owned()) == all;
  }, 50ms);
  REQUIRE(settled);

  const std::vector<RecordMetadata> sent = f.SendKeyed("t", 12, 10);
  auto a_count = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return a_got.size();
  };
  const bool all_came =
      PollUntil({b.get()}, [&] { return a_count() + b->received.size() >= sent.size(); }, 50ms);
  stop_poller.run();
  REQUIRE(all_came);
  b->Poll();
  CHECK(a_ok);
  std::vector<Got> together = a_got;
  together.insert(together.end(), b->received.begin(), b->received.end());
  CHECK(together.size() == sent.size());
  CHECK(CoordSet(together) == CoordSet(sent));
}

TEST_CASE(
    "group: Closing the broker ends a member's long Poll on another thread with "
    "FailedPrecondition",
    "[group]") {
  GroupFixture f;
  f.CreateTopic("t", 2);
  auto m = f.Join(GroupFixture::Options("g", "m"), {"t"});
  f.Settle("g", {m.get()}, AllOf("t", 2));
  absl::Status status;
  std::atomic<bool> started{false};
  std::thread poller([&] {
    started.store(true);
    status = m->consumer->Poll(10s).status();
  });
  while (!started.load()) std::this_thread::yield();
  std::this_thread::sleep_for(50ms);  // most likely inside Poll by now; either way works
  const absl::Status closed = f.broker->Close();
  poller.join();
  REQUIRE_OK(closed);
  CHECK(status.code() == absl::StatusCode::kFailedPrecondition);
  CHECK_STATUS_IS(m->consumer->CommitSync(), absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("group: The first commit and closing the broker at once do not deadlock",
          "[group]") {
  // The first commit in a data directory creates __consumer_offsets while Broker::Close runs
  // on another thread. Both must return: the commit with OK or FailedPrecondition. A deadlock
  // is caught by a bounded wait; the stuck threads, broker, consumer and directory are then
  // leaked on purpose (they can be neither joined nor destroyed), so the failure cannot hang.
  struct Shared {
    std::atomic<bool> go{false};
    std::atomic<int> done{0};
    absl::Status commit;
    absl::Status close;
  };
  for (int i = 0; i < 400; ++i) {
    auto tmp = std::make_unique<TempDir>();
    auto opened = Broker::Open(tmp->Sub("data"));
    REQUIRE_OK(opened);
    std::unique_ptr<Broker> broker = std::move(*opened);
    REQUIRE_OK(broker->CreateTopic("t", 1, SmallConfig()));
    ConsumerOptions o;
    o.group_id = "g";
    o.enable_auto_commit = false;
    auto created = Consumer::Create(*broker, o);
    REQUIRE_OK(created);
    std::unique_ptr<Consumer> consumer = std::move(*created);
    REQUIRE_OK(consumer->Assign({TP("t", 0)}));  // a group without members takes its commits

    auto shared = std::make_shared<Shared>();
    Consumer* c = consumer.get();
    Broker* b = broker.get();
    std::thread committer([shared, c] {
      while (!shared->go.load()) {
      }
      shared->commit = c->CommitSync({{TP("t", 0), {1, ""}}});
      shared->done.fetch_add(1);
    });
    std::thread closer([shared, b] {
      while (!shared->go.load()) {
      }
      shared->close = b->Close();
      shared->done.fetch_add(1);
    });
    shared->go.store(true);
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (shared->done.load() < 2 && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(1ms);
    }
    if (shared->done.load() < 2) {
      committer.detach();
      closer.detach();
      (void)consumer.release();
      (void)broker.release();
      (void)tmp.release();
      FAIL("iteration " << i << ": CommitSync and Broker::Close deadlocked");
    }
    committer.join();
    closer.join();
    INFO("iteration " << i << ": commit " << shared->commit.ToString());
    CHECK_OK(shared->close);
    CHECK((shared->commit.ok() || absl::IsFailedPrecondition(shared->commit)));
  }
}

TEST_CASE("group: An idle long Poll of a group member sleeps instead of spinning", "[group]") {
  GroupFixture f;
  f.CreateTopic("t", 3);
  auto a = f.Join(GroupFixture::Options("g", "a"), {"t"});
  std::unique_ptr<Member> other;

  SECTION("with partitions assigned and no data") {
    f.Settle("g", {a.get()}, AllOf("t", 3));
  }
  SECTION("subscribed to a topic that does not exist") {
    auto c = f.Join(GroupFixture::Options("h", "c"), {"absent"});
    c->Poll();
    a = std::move(c);
  }
  SECTION("waiting for a rebalance that another member has not joined yet") {
    f.Settle("g", {a.get()}, AllOf("t", 3));
    other = f.Join(GroupFixture::Options("g", "b"), {"t"});  // and never polls
  }

  const int64_t cpu_before = ThreadCpuMicros();
  auto polled = a->consumer->Poll(500ms);
  const int64_t cpu_used = ThreadCpuMicros() - cpu_before;
  REQUIRE_OK(polled);
  CHECK(polled->empty());
  INFO("CPU time used by Poll(500ms): " << cpu_used << " us");
  CHECK(cpu_used < 50'000);
}

}  // namespace
}  // namespace runnel
