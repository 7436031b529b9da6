// The partition assignors of lib/groups/assignor.h, as pure functions: range (per topic,
// consecutive ranges, the first members taking one more), roundrobin (every partition
// dealt in turn, skipping members not subscribed to its topic) and cooperative-sticky
// (balanced, keeping owners where balance allows, moving only what balance forces).
// Hand-worked examples first, then properties checked over many random groups.
#include "groups/assignor.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace runnel::groups {
namespace {

using TPs = std::vector<TopicPartition>;
using Counts = std::map<std::string, int32_t>;

TopicPartition TP(const std::string& topic, int32_t p) { return {topic, p}; }

// Partitions 0..n-1 of `topic`, in order.
TPs All(const std::string& topic, int32_t from, int32_t to) {
  TPs out;
  for (int32_t p = from; p < to; ++p) out.push_back(TP(topic, p));
  return out;
}

AssignorMember Member(std::string id, std::vector<std::string> topics,
                      std::set<TopicPartition> owned = {}) {
  std::sort(topics.begin(), topics.end());
  return AssignorMember{std::move(id), std::move(topics), std::move(owned)};
}

std::string Describe(const Assignment& a) {
  std::ostringstream out;
  for (const auto& [id, tps] : a) {
    out << id << ":";
    for (const auto& tp : tps) out << " " << tp.topic << "-" << tp.partition;
    out << "\n";
  }
  return out.str();
}

std::string Describe(const std::vector<AssignorMember>& members, const Counts& counts) {
  std::ostringstream out;
  out << "topics:";
  for (const auto& [t, n] : counts) out << " " << t << "[" << n << "]";
  out << "\n";
  for (const auto& m : members) {
    out << m.id << " subscribes";
    for (const auto& t : m.topics) out << " " << t;
    out << "; owns";
    for (const auto& tp : m.owned) out << " " << tp.topic << "-" << tp.partition;
    out << "\n";
  }
  return out.str();
}

bool Subscribed(const AssignorMember& m, const std::string& topic) {
  return std::find(m.topics.begin(), m.topics.end(), topic) != m.topics.end();
}

// Every structural property every assignor must have: each member has an entry (and no
// one else does), its list is sorted and holds only partitions of topics it subscribes
// to that exist, and every partition of a topic someone subscribes to is assigned to
// exactly one member (partitions of topics no member subscribes to, to none).
void CheckValid(const std::vector<AssignorMember>& members, const Counts& counts,
                const Assignment& a) {
  INFO(Describe(members, counts) << "assignment:\n" << Describe(a));
  std::set<std::string> ids;
  for (const auto& m : members) ids.insert(m.id);
  std::set<std::string> keys;
  for (const auto& [id, tps] : a) keys.insert(id);
  CHECK(keys == ids);
  std::map<TopicPartition, int> times;
  for (const auto& m : members) {
    auto it = a.find(m.id);
    if (it == a.end()) continue;
    const TPs& tps = it->second;
    CHECK(std::is_sorted(tps.begin(), tps.end()));
    for (const auto& tp : tps) {
      INFO("member " << m.id << " got " << tp.topic << "-" << tp.partition);
      CHECK(Subscribed(m, tp.topic));
      auto c = counts.find(tp.topic);
      REQUIRE(c != counts.end());
      CHECK(tp.partition >= 0);
      CHECK(tp.partition < c->second);
      ++times[tp];
    }
  }
  for (const auto& [topic, n] : counts) {
    const bool anyone =
        std::any_of(members.begin(), members.end(), [&](auto& m) { return Subscribed(m, topic); });
    for (int32_t p = 0; p < n; ++p) {
      INFO("partition " << topic << "-" << p);
      CHECK(times[TP(topic, p)] == (anyone ? 1 : 0));
    }
  }
}

size_t Load(const Assignment& a, const std::string& id) { return a.at(id).size(); }

std::pair<size_t, size_t> MinMax(const Assignment& a) {
  size_t lo = SIZE_MAX, hi = 0;
  for (const auto& [id, tps] : a) {
    lo = std::min(lo, tps.size());
    hi = std::max(hi, tps.size());
  }
  return {lo, hi};
}

// ---------------------------------------------------------------------------------------
// Names

TEST_CASE("assignor: Kafka's protocol names and which assignor is cooperative", "[assignor]") {
  CHECK(AssignorName(PartitionAssignor::kRange) == "range");
  CHECK(AssignorName(PartitionAssignor::kRoundRobin) == "roundrobin");
  CHECK(AssignorName(PartitionAssignor::kCooperativeSticky) == "cooperative-sticky");
  CHECK_FALSE(IsCooperative(PartitionAssignor::kRange));
  CHECK_FALSE(IsCooperative(PartitionAssignor::kRoundRobin));
  CHECK(IsCooperative(PartitionAssignor::kCooperativeSticky));
}

TEST_CASE("assignor: No members give an empty assignment and members without topics get empty lists",
          "[assignor]") {
  for (PartitionAssignor kind : {PartitionAssignor::kRange, PartitionAssignor::kRoundRobin,
                                 PartitionAssignor::kCooperativeSticky}) {
    INFO(AssignorName(kind));
    CHECK(Assign(kind, {}, {{"t", 3}}).empty());
    const std::vector<AssignorMember> members = {Member("a", {}), Member("b", {"t"})};
    const Assignment a = Assign(kind, members, {{"t", 3}});
    CHECK(a.at("a").empty());
    CHECK(a.at("b") == All("t", 0, 3));
    // A subscribed topic that does not exist (no partition count) assigns nothing.
    const Assignment none = Assign(kind, {Member("a", {"missing"})}, {});
    REQUIRE(none.size() == 1);
    CHECK(none.at("a").empty());
  }
}

// ---------------------------------------------------------------------------------------
// range

TEST_CASE("assignor: range gives consecutive ranges per topic and the first members the extra",
          "[assignor][range]") {
  // Ids out of order in the input: members are ordered by id.
  const std::vector<AssignorMember> members = {Member("c", {"t1", "t2"}), Member("a", {"t1", "t2"}),
                                               Member("b", {"t1", "t2"})};
  const Counts counts = {{"t1", 7}, {"t2", 2}};
  const Assignment a = Assign(PartitionAssignor::kRange, members, counts);
  INFO(Describe(a));
  // t1: 7 = 3 + 2 + 2; t2: 2 = 1 + 1 + 0.
  CHECK(a.at("a") == TPs{TP("t1", 0), TP("t1", 1), TP("t1", 2), TP("t2", 0)});
  CHECK(a.at("b") == TPs{TP("t1", 3), TP("t1", 4), TP("t2", 1)});
  CHECK(a.at("c") == TPs{TP("t1", 5), TP("t1", 6)});
  CheckValid(members, counts, a);
}

TEST_CASE("assignor: range splits each topic among its own subscribers only", "[assignor][range]") {
  const std::vector<AssignorMember> members = {Member("a", {"t1"}), Member("b", {"t1", "t2"}),
                                               Member("c", {"t2"})};
  const Counts counts = {{"t1", 3}, {"t2", 5}};
  const Assignment a = Assign(PartitionAssignor::kRange, members, counts);
  INFO(Describe(a));
  CHECK(a.at("a") == TPs{TP("t1", 0), TP("t1", 1)});
  CHECK(a.at("b") == TPs{TP("t1", 2), TP("t2", 0), TP("t2", 1), TP("t2", 2)});
  CHECK(a.at("c") == TPs{TP("t2", 3), TP("t2", 4)});
  CheckValid(members, counts, a);
}

TEST_CASE("assignor: range with more members than partitions leaves the last members empty",
          "[assignor][range]") {
  const std::vector<AssignorMember> members = {Member("m1", {"t"}), Member("m2", {"t"}),
                                               Member("m3", {"t"}), Member("m4", {"t"})};
  const Assignment a = Assign(PartitionAssignor::kRange, members, {{"t", 2}});
  CHECK(a.at("m1") == TPs{TP("t", 0)});
  CHECK(a.at("m2") == TPs{TP("t", 1)});
  CHECK(a.at("m3").empty());
  CHECK(a.at("m4").empty());
}

TEST_CASE("assignor: range ignores what members own", "[assignor][range]") {
  const std::vector<AssignorMember> owning = {Member("a", {"t"}, {TP("t", 3)}),
                                              Member("b", {"t"}, {TP("t", 0)})};
  const std::vector<AssignorMember> fresh = {Member("a", {"t"}), Member("b", {"t"})};
  CHECK(Assign(PartitionAssignor::kRange, owning, {{"t", 4}}) ==
        Assign(PartitionAssignor::kRange, fresh, {{"t", 4}}));
}

// ---------------------------------------------------------------------------------------
// roundrobin

TEST_CASE("assignor: roundrobin deals every partition in turn across topics", "[assignor][roundrobin]") {
  const std::vector<AssignorMember> members = {Member("b", {"t1", "t2"}), Member("a", {"t1", "t2"})};
  const Counts counts = {{"t1", 3}, {"t2", 3}};
  const Assignment a = Assign(PartitionAssignor::kRoundRobin, members, counts);
  INFO(Describe(a));
  // t1-0 a, t1-1 b, t1-2 a, t2-0 b, t2-1 a, t2-2 b.
  CHECK(a.at("a") == TPs{TP("t1", 0), TP("t1", 2), TP("t2", 1)});
  CHECK(a.at("b") == TPs{TP("t1", 1), TP("t2", 0), TP("t2", 2)});
  CheckValid(members, counts, a);
}

TEST_CASE("assignor: roundrobin skips members not subscribed to a partition's topic",
          "[assignor][roundrobin]") {
  // Kafka's circular iterator: for each partition, advance to the next member that
  // subscribes to its topic and hand it the partition.
  const std::vector<AssignorMember> members = {Member("a", {"t1", "t2"}), Member("b", {"t2"}),
                                               Member("c", {"t1", "t2"})};
  const Counts counts = {{"t1", 2}, {"t2", 3}};
  const Assignment a = Assign(PartitionAssignor::kRoundRobin, members, counts);
  INFO(Describe(a));
  // t1-0: a. t1-1: b skipped, c. t2-0: a. t2-1: b. t2-2: c.
  CHECK(a.at("a") == TPs{TP("t1", 0), TP("t2", 0)});
  CHECK(a.at("b") == TPs{TP("t2", 1)});
  CHECK(a.at("c") == TPs{TP("t1", 1), TP("t2", 2)});
  CheckValid(members, counts, a);
}

TEST_CASE("assignor: roundrobin with identical subscriptions is balanced", "[assignor][roundrobin]") {
  for (int n = 1; n <= 6; ++n) {
    std::vector<AssignorMember> members;
    for (int i = 0; i < n; ++i) members.push_back(Member("m" + std::to_string(i), {"x", "y"}));
    const Counts counts = {{"x", 5}, {"y", 4}};
    const Assignment a = Assign(PartitionAssignor::kRoundRobin, members, counts);
    CheckValid(members, counts, a);
    auto [lo, hi] = MinMax(a);
    INFO(n << " members\n" << Describe(a));
    CHECK(hi - lo <= 1);
  }
}

// ---------------------------------------------------------------------------------------
// cooperative-sticky

TEST_CASE("assignor: cooperative-sticky with nothing owned is balanced", "[assignor][sticky]") {
  for (int n = 1; n <= 7; ++n) {
    for (int32_t parts = 0; parts <= 13; ++parts) {
      std::vector<AssignorMember> members;
      for (int i = 0; i < n; ++i) members.push_back(Member("m" + std::to_string(i), {"t", "u"}));
      const Counts counts = {{"t", parts}, {"u", 3}};
      const Assignment a = Assign(PartitionAssignor::kCooperativeSticky, members, counts);
      CheckValid(members, counts, a);
      auto [lo, hi] = MinMax(a);
      INFO(n << " members, " << parts << " + 3 partitions\n" << Describe(a));
      CHECK(hi - lo <= 1);
    }
  }
}

TEST_CASE("assignor: cooperative-sticky moves the minimum when a third member joins two",
          "[assignor][sticky]") {
  const std::set<TopicPartition> a_owns = {TP("t", 0), TP("t", 1), TP("t", 2)};
  const std::set<TopicPartition> b_owns = {TP("t", 3), TP("t", 4), TP("t", 5)};
  const std::vector<AssignorMember> members = {Member("a", {"t"}, a_owns), Member("b", {"t"}, b_owns),
                                               Member("c", {"t"})};
  const Assignment a = Assign(PartitionAssignor::kCooperativeSticky, members, {{"t", 6}});
  INFO(Describe(a));
  CheckValid(members, {{"t", 6}}, a);
  REQUIRE(Load(a, "a") == 2);
  REQUIRE(Load(a, "b") == 2);
  REQUIRE(Load(a, "c") == 2);
  // a and b keep two of their own each: only two partitions move, both to c.
  for (const auto& tp : a.at("a")) CHECK(a_owns.count(tp) == 1);
  for (const auto& tp : a.at("b")) CHECK(b_owns.count(tp) == 1);
  std::set<TopicPartition> moved(a.at("c").begin(), a.at("c").end());
  CHECK(moved.size() == 2);
}

TEST_CASE("assignor: cooperative-sticky keeps every owned partition when already balanced",
          "[assignor][sticky]") {
  // An unusual but balanced split: nothing may move.
  const std::set<TopicPartition> a_owns = {TP("t", 0), TP("t", 5), TP("u", 1)};
  const std::set<TopicPartition> b_owns = {TP("t", 1), TP("t", 2), TP("u", 0)};
  const std::set<TopicPartition> c_owns = {TP("t", 3), TP("t", 4)};
  const std::vector<AssignorMember> members = {Member("a", {"t", "u"}, a_owns),
                                               Member("b", {"t", "u"}, b_owns),
                                               Member("c", {"t", "u"}, c_owns)};
  const Counts counts = {{"t", 6}, {"u", 2}};
  const Assignment a = Assign(PartitionAssignor::kCooperativeSticky, members, counts);
  INFO(Describe(a));
  CheckValid(members, counts, a);
  CHECK(a.at("a") == TPs(a_owns.begin(), a_owns.end()));
  CHECK(a.at("b") == TPs(b_owns.begin(), b_owns.end()));
  CHECK(a.at("c") == TPs(c_owns.begin(), c_owns.end()));
}

TEST_CASE("assignor: cooperative-sticky gives a leaver's partitions out without moving others",
          "[assignor][sticky]") {
  // Three members had two each; the third left and its partitions (t-4, t-5) are free.
  const std::set<TopicPartition> a_owns = {TP("t", 0), TP("t", 1)};
  const std::set<TopicPartition> b_owns = {TP("t", 2), TP("t", 3)};
  const std::vector<AssignorMember> members = {Member("a", {"t"}, a_owns), Member("b", {"t"}, b_owns)};
  const Assignment a = Assign(PartitionAssignor::kCooperativeSticky, members, {{"t", 6}});
  INFO(Describe(a));
  CheckValid(members, {{"t", 6}}, a);
  CHECK(Load(a, "a") == 3);
  CHECK(Load(a, "b") == 3);
  for (const auto& tp : a_owns) CHECK(std::count(a.at("a").begin(), a.at("a").end(), tp) == 1);
  for (const auto& tp : b_owns) CHECK(std::count(a.at("b").begin(), a.at("b").end(), tp) == 1);
}

TEST_CASE("assignor: cooperative-sticky never keeps an owned partition the member no longer may have",
          "[assignor][sticky]") {
  // a owned partitions of "u" but unsubscribed from it; it also claims partitions that no
  // longer exist (t-9, a deleted topic "gone"). b and a both claim t-1.
  const std::vector<AssignorMember> members = {
      Member("a", {"t"}, {TP("u", 0), TP("u", 1), TP("t", 9), TP("gone", 0), TP("t", 1)}),
      Member("b", {"t", "u"}, {TP("t", 1)}),
  };
  const Counts counts = {{"t", 4}, {"u", 2}};
  const Assignment a = Assign(PartitionAssignor::kCooperativeSticky, members, counts);
  INFO(Describe(a));
  CheckValid(members, counts, a);
  for (const auto& tp : a.at("a")) CHECK(tp.topic == "t");
  // u is b's alone.
  CHECK(std::count(a.at("b").begin(), a.at("b").end(), TP("u", 0)) == 1);
  CHECK(std::count(a.at("b").begin(), a.at("b").end(), TP("u", 1)) == 1);
}

TEST_CASE("assignor: cooperative-sticky honours subscriptions when balancing", "[assignor][sticky]") {
  // Only a subscribes to "solo": however loaded a is, solo's partitions stay with it.
  const std::vector<AssignorMember> members = {Member("a", {"shared", "solo"}),
                                               Member("b", {"shared"}), Member("c", {"shared"})};
  const Counts counts = {{"shared", 3}, {"solo", 6}};
  const Assignment a = Assign(PartitionAssignor::kCooperativeSticky, members, counts);
  INFO(Describe(a));
  CheckValid(members, counts, a);
  for (int32_t p = 0; p < 6; ++p) {
    CHECK(std::count(a.at("a").begin(), a.at("a").end(), TP("solo", p)) == 1);
  }
  // The shared partitions go to b and c, which can take them.
  CHECK(Load(a, "a") == 6);
  CHECK(Load(a, "b") + Load(a, "c") == 3);
}

TEST_CASE("assignor: every assignor is deterministic and ignores the order members are given in",
          "[assignor]") {
  std::vector<AssignorMember> members = {
      Member("d", {"t", "u"}, {TP("t", 0), TP("u", 2)}), Member("a", {"t"}, {TP("t", 1)}),
      Member("c", {"u"}), Member("b", {"t", "u"}, {TP("t", 2), TP("t", 3), TP("t", 4)})};
  const Counts counts = {{"t", 7}, {"u", 5}};
  for (PartitionAssignor kind : {PartitionAssignor::kRange, PartitionAssignor::kRoundRobin,
                                 PartitionAssignor::kCooperativeSticky}) {
    INFO(AssignorName(kind));
    const Assignment first = Assign(kind, members, counts);
    CheckValid(members, counts, first);
    for (int i = 0; i < 5; ++i) CHECK(Assign(kind, members, counts) == first);
    std::vector<AssignorMember> shuffled = members;
    std::reverse(shuffled.begin(), shuffled.end());
    CHECK(Assign(kind, shuffled, counts) == first);
    std::rotate(shuffled.begin(), shuffled.begin() + 1, shuffled.end());
    CHECK(Assign(kind, shuffled, counts) == first);
  }
}

// ---------------------------------------------------------------------------------------
// Properties over random groups

struct RandomGroup {
  std::vector<AssignorMember> members;
  Counts counts;
  bool identical = false;  // every member subscribes to every topic
};

// members 1..8, topics 1..4 of 1..12 partitions, random subscriptions (sometimes all
// identical), and random prior ownership (sometimes stale: claims of partitions that no
// longer exist, of unsubscribed topics, or claimed by two members).
RandomGroup MakeRandomGroup(std::mt19937& rng) {
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  RandomGroup g;
  const int topics = uniform(1, 4);
  std::vector<std::string> names;
  for (int t = 0; t < topics; ++t) {
    names.push_back("topic" + std::to_string(t));
    g.counts[names.back()] = uniform(1, 12);
  }
  const int n = uniform(1, 8);
  g.identical = uniform(0, 2) == 0;
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back("member-" + std::to_string(uniform(0, 999)) + "-" + std::to_string(i));
  std::shuffle(ids.begin(), ids.end(), rng);
  for (const std::string& id : ids) {
    std::vector<std::string> subscribed;
    for (const std::string& t : names) {
      if (g.identical || uniform(0, 2) > 0) subscribed.push_back(t);
    }
    if (!g.identical && uniform(0, 9) == 0) subscribed.push_back("nonexistent");
    std::sort(subscribed.begin(), subscribed.end());
    g.members.push_back(Member(id, subscribed));
  }
  // Prior ownership: mostly a valid earlier assignment of a random subset of partitions,
  // with some noise.
  const int mode = uniform(0, 3);
  if (mode > 0) {
    for (const auto& [topic, count] : g.counts) {
      for (int32_t p = 0; p < count; ++p) {
        if (uniform(0, 3) == 0) continue;  // free
        AssignorMember& m = g.members[static_cast<size_t>(uniform(0, n - 1))];
        m.owned.insert(TP(topic, p));
      }
    }
  }
  if (mode == 3) {  // noise
    for (auto& m : g.members) {
      if (uniform(0, 2) == 0) m.owned.insert(TP(names[0], 12 + uniform(0, 3)));
      if (uniform(0, 2) == 0) m.owned.insert(TP("deleted", uniform(0, 3)));
      if (uniform(0, 2) == 0) m.owned.insert(TP(names[static_cast<size_t>(uniform(0, topics - 1))], 0));
    }
  }
  return g;
}

// The partitions each member may keep: owned, existing, subscribed, and claimed by no
// member earlier in id order (cooperative-sticky's rule for duplicate claims).
std::map<std::string, std::set<TopicPartition>> ValidOwned(const RandomGroup& g) {
  std::vector<const AssignorMember*> sorted;
  for (const auto& m : g.members) sorted.push_back(&m);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->id < b->id; });
  std::set<TopicPartition> taken;
  std::map<std::string, std::set<TopicPartition>> out;
  for (auto* m : sorted) {
    for (const auto& tp : m->owned) {
      auto c = g.counts.find(tp.topic);
      if (c == g.counts.end() || tp.partition < 0 || tp.partition >= c->second) continue;
      if (!Subscribed(*m, tp.topic) || !taken.insert(tp).second) continue;
      out[m->id].insert(tp);
    }
  }
  return out;
}

TEST_CASE("assignor: properties of every assignor over random groups", "[assignor][property]") {
  const uint32_t base_seed = 20240611;
  for (uint32_t round = 0; round < 3000; ++round) {
    std::mt19937 rng(base_seed + round);
    const RandomGroup g = MakeRandomGroup(rng);
    INFO("seed " << base_seed + round << "\n" << Describe(g.members, g.counts));

    for (PartitionAssignor kind : {PartitionAssignor::kRange, PartitionAssignor::kRoundRobin,
                                   PartitionAssignor::kCooperativeSticky}) {
      INFO(AssignorName(kind));
      const Assignment a = Assign(kind, g.members, g.counts);
      INFO("assignment:\n" << Describe(a));
      CheckValid(g.members, g.counts, a);
      // Deterministic, and independent of the members' order.
      CHECK(Assign(kind, g.members, g.counts) == a);
      std::vector<AssignorMember> reversed(g.members.rbegin(), g.members.rend());
      CHECK(Assign(kind, reversed, g.counts) == a);
      if (g.identical) {
        auto [lo, hi] = MinMax(a);
        if (kind == PartitionAssignor::kRange) {
          // Balanced per topic instead: each member gets floor or ceil of every topic.
          for (const auto& [topic, count] : g.counts) {
            const size_t n = g.members.size();
            for (const auto& [id, tps] : a) {
              const size_t mine = static_cast<size_t>(
                  std::count_if(tps.begin(), tps.end(), [&](auto& tp) { return tp.topic == topic; }));
              CHECK(mine >= static_cast<size_t>(count) / n);
              CHECK(mine <= (static_cast<size_t>(count) + n - 1) / n);
            }
          }
        } else {
          CHECK(hi - lo <= 1);
        }
      }
    }

    // cooperative-sticky: no single move of a partition to another member subscribed to
    // its topic would narrow the gap between them by two or more.
    const Assignment sticky = Assign(PartitionAssignor::kCooperativeSticky, g.members, g.counts);
    INFO("cooperative-sticky:\n" << Describe(sticky));
    for (const auto& from : g.members) {
      for (const auto& tp : sticky.at(from.id)) {
        for (const auto& to : g.members) {
          if (to.id == from.id || !Subscribed(to, tp.topic)) continue;
          INFO("could move " << tp.topic << "-" << tp.partition << " from " << from.id << " to "
                             << to.id);
          CHECK(Load(sticky, to.id) + 1 >= Load(sticky, from.id));
        }
      }
    }

    // Stickiness with identical subscriptions: as many owned partitions stay with their
    // owners as any balanced assignment can keep. With P partitions among N members, q =
    // P / N and r = P % N, a balanced assignment gives r members q + 1 and the rest q, so
    // at most sum(min(owned, q)) + min(r, members owning more than q) stay.
    if (g.identical) {
      const auto valid = ValidOwned(g);
      size_t total = 0;
      for (const auto& [t, c] : g.counts) total += static_cast<size_t>(c);
      const size_t n = g.members.size();
      const size_t q = total / n, r = total % n;
      size_t best = 0, above = 0, kept = 0;
      for (const auto& m : g.members) {
        auto it = valid.find(m.id);
        const size_t owned = it == valid.end() ? 0 : it->second.size();
        best += std::min(owned, q);
        if (owned > q) ++above;
        for (const auto& tp : sticky.at(m.id)) {
          if (it != valid.end() && it->second.count(tp)) ++kept;
        }
        // A member never gives away what it owned while receiving what it did not.
        if (it != valid.end()) {
          size_t mine_kept = 0;
          for (const auto& tp : sticky.at(m.id)) mine_kept += it->second.count(tp);
          const bool lost = mine_kept < owned;
          const bool gained = sticky.at(m.id).size() > mine_kept;
          INFO("member " << m.id);
          CHECK_FALSE((lost && gained));
        }
      }
      best += std::min(r, above);
      CHECK(kept == best);
    }
  }
}

}  // namespace
}  // namespace runnel::groups
