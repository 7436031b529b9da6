#include "groups/assignor.h"

#include <algorithm>

namespace runnel::groups {
namespace {

bool Subscribed(const AssignorMember& m, const std::string& topic) {
  return std::binary_search(m.topics.begin(), m.topics.end(), topic);
}

std::vector<const AssignorMember*> Sorted(const std::vector<AssignorMember>& members) {
  std::vector<const AssignorMember*> out;
  for (const auto& m : members) out.push_back(&m);
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->id < b->id; });
  return out;
}

Assignment Empty(const std::vector<AssignorMember>& members) {
  Assignment out;
  for (const auto& m : members) out[m.id];
  return out;
}

// Per topic, the subscribed members in order take consecutive ranges; the first
// (count % members) take one more.
Assignment Range(const std::vector<AssignorMember>& members,
                 const std::map<std::string, int32_t>& partitions) {
  Assignment out = Empty(members);
  const auto sorted = Sorted(members);
  for (const auto& [topic, count] : partitions) {
    std::vector<const AssignorMember*> subs;
    for (auto* m : sorted) {
      if (Subscribed(*m, topic)) subs.push_back(m);
    }
    if (subs.empty()) continue;
    const int32_t n = static_cast<int32_t>(subs.size());
    int32_t next = 0;
    for (int32_t i = 0; i < n; ++i) {
      const int32_t take = count / n + (i < count % n ? 1 : 0);
      for (int32_t k = 0; k < take; ++k) out[subs[static_cast<size_t>(i)]->id].push_back({topic, next++});
    }
  }
  return out;
}

// Every partition in (topic, partition) order, dealt to the members in turn, skipping
// those not subscribed to its topic.
Assignment RoundRobin(const std::vector<AssignorMember>& members,
                      const std::map<std::string, int32_t>& partitions) {
  Assignment out = Empty(members);
  const auto sorted = Sorted(members);
  if (sorted.empty()) return out;
  size_t turn = 0;
  for (const auto& [topic, count] : partitions) {
    for (int32_t p = 0; p < count; ++p) {
      for (size_t tries = 0; tries < sorted.size(); ++tries) {
        const AssignorMember* m = sorted[turn++ % sorted.size()];
        if (Subscribed(*m, topic)) {
          out[m->id].push_back({topic, p});
          break;
        }
      }
    }
  }
  return out;
}

// Keeps what each member owns (and may still have), hands out the rest to the least
// loaded eligible member, then moves partitions from the most to the least loaded
// eligible member until no move narrows the gap: each move is forced by balance.
Assignment CooperativeSticky(const std::vector<AssignorMember>& members,
                             const std::map<std::string, int32_t>& partitions) {
  const auto sorted = Sorted(members);
  std::map<std::string, std::set<TopicPartition>> load;
  for (auto* m : sorted) load[m->id];
  std::set<TopicPartition> taken;
  for (auto* m : sorted) {
    for (const TopicPartition& tp : m->owned) {
      auto count = partitions.find(tp.topic);
      if (count == partitions.end() || tp.partition >= count->second || !Subscribed(*m, tp.topic) ||
          !taken.insert(tp).second) {
        continue;
      }
      load[m->id].insert(tp);
    }
  }
  auto least_loaded = [&](const std::string& topic, const std::string* except) {
    const AssignorMember* best = nullptr;
    for (auto* m : sorted) {
      if (!Subscribed(*m, topic) || (except && m->id == *except)) continue;
      if (!best || load[m->id].size() < load[best->id].size()) best = m;
    }
    return best;
  };
  for (const auto& [topic, count] : partitions) {
    for (int32_t p = 0; p < count; ++p) {
      const TopicPartition tp{topic, p};
      if (taken.count(tp)) continue;
      if (const AssignorMember* m = least_loaded(topic, nullptr)) load[m->id].insert(tp);
    }
  }
  // Balance: take from the most loaded member a partition that a member with at least two
  // fewer can have. Each move lowers the sum of squared loads, so this ends.
  bool moved = true;
  while (moved) {
    moved = false;
    std::vector<const AssignorMember*> by_load = sorted;
    std::stable_sort(by_load.begin(), by_load.end(), [&](auto* a, auto* b) {
      return load[a->id].size() > load[b->id].size();
    });
    for (auto* from : by_load) {
      auto& mine = load[from->id];
      // Give away the highest partitions first, so results read naturally.
      for (auto it = mine.rbegin(); it != mine.rend(); ++it) {
        const AssignorMember* to = least_loaded(it->topic, &from->id);
        if (to && load[to->id].size() + 1 < mine.size()) {
          load[to->id].insert(*it);
          mine.erase(std::next(it).base());
          moved = true;
          break;
        }
      }
      if (moved) break;
    }
  }
  Assignment out;
  for (const auto& [id, tps] : load) out[id] = std::vector<TopicPartition>(tps.begin(), tps.end());
  return out;
}

}  // namespace

Assignment Assign(PartitionAssignor assignor, const std::vector<AssignorMember>& members,
                  const std::map<std::string, int32_t>& partitions) {
  switch (assignor) {
    case PartitionAssignor::kRange:
      return Range(members, partitions);
    case PartitionAssignor::kRoundRobin:
      return RoundRobin(members, partitions);
    case PartitionAssignor::kCooperativeSticky:
      return CooperativeSticky(members, partitions);
  }
  return Empty(members);
}

std::string_view AssignorName(PartitionAssignor assignor) {
  switch (assignor) {
    case PartitionAssignor::kRange:
      return "range";
    case PartitionAssignor::kRoundRobin:
      return "roundrobin";
    case PartitionAssignor::kCooperativeSticky:
      return "cooperative-sticky";
  }
  return "unknown";
}

bool IsCooperative(PartitionAssignor assignor) {
  return assignor == PartitionAssignor::kCooperativeSticky;
}

}  // namespace runnel::groups
