#include "groups/group_coordinator.h"

#include <fmt/format.h>

#include <algorithm>

#include "util/formatters.h"
#include "util/status_macros.h"

namespace runnel::groups {
namespace {

constexpr std::string_view kServiceName = "group-coordinator";
// Reasons kept for members removed from a group, so that their next call says why.
constexpr size_t kMaxRemovedReasons = 1024;

std::chrono::milliseconds Ms(int32_t ms) { return std::chrono::milliseconds(ms); }

std::string Name(const TopicPartition& tp) { return fmt::format("{}-{}", tp.topic, tp.partition); }

// The order assignors see members in: static members by group.instance.id, then dynamic
// ones by member id, so a static member's place survives its restart.
std::string AssignorKey(const std::string& id, const JoinRequest& r) {
  return r.instance_id.empty() ? "1" + id : "0" + r.instance_id;
}

}  // namespace

absl::StatusOr<std::shared_ptr<GroupCoordinator>> GroupCoordinator::ForBroker(
    internal::BrokerCore& core) {
  RUNNEL_ASSIGN_OR_RETURN(
      std::shared_ptr<internal::BrokerService> service,
      core.Service(kServiceName, [&]() -> absl::StatusOr<std::shared_ptr<internal::BrokerService>> {
        RUNNEL_ASSIGN_OR_RETURN(std::unique_ptr<OffsetStore> store, OffsetStore::Open(&core));
        return std::shared_ptr<internal::BrokerService>(
            new GroupCoordinator(core, std::move(store)));
      }));
  return std::static_pointer_cast<GroupCoordinator>(service);
}

std::optional<PartitionAssignor> GroupCoordinator::ChooseProtocol(const Group& g,
                                                                  const JoinRequest* joining) const {
  std::vector<const JoinRequest*> all;
  const Member* first = nullptr;
  for (const auto& [id, m] : g.members) {
    all.push_back(&m.request);
    if (!first || m.join_order < first->join_order) first = &m;
  }
  if (joining) all.push_back(joining);
  if (all.empty()) return std::nullopt;
  const std::vector<PartitionAssignor>& preferred = first ? first->request.protocols : joining->protocols;
  for (PartitionAssignor candidate : preferred) {
    const bool everyone = std::all_of(all.begin(), all.end(), [&](const JoinRequest* r) {
      return std::find(r->protocols.begin(), r->protocols.end(), candidate) != r->protocols.end();
    });
    if (everyone) return candidate;
  }
  return std::nullopt;
}

std::map<std::string, int32_t> GroupCoordinator::PartitionCounts(const Group& g) const {
  std::map<std::string, int32_t> counts;
  for (const auto& [id, m] : g.members) {
    for (const std::string& topic : m.request.topics) {
      if (counts.count(topic)) continue;
      absl::StatusOr<std::shared_ptr<internal::Topic>> t = core_.FindTopic(topic);
      if (t.ok()) counts[topic] = static_cast<int32_t>((*t)->partitions.size());
    }
  }
  return counts;
}

absl::StatusOr<GroupCoordinator::Member*> GroupCoordinator::FindMember(Group& g,
                                                                       const std::string& member) {
  auto it = g.members.find(member);
  if (it != g.members.end()) return &it->second;
  auto why = g.removed.find(member);
  return absl::FailedPreconditionError(fmt::format(
      "member {} is no longer in group \"{}\": {}", member, g.id,
      why != g.removed.end() ? why->second : std::string("it left the group")));
}

void GroupCoordinator::Touch(Member& m) {
  ++m.changes;
  if (m.request.waker) m.request.waker->Notify();
}

void GroupCoordinator::ReleaseLocked(Group& g, Member& m,
                                     const std::vector<TopicPartition>& partitions) {
  for (const TopicPartition& tp : partitions) {
    if (!m.owned.erase(tp)) continue;
    g.owners.erase(tp);
    for (auto& [id, other] : g.members) {
      if (id != m.id && other.target.count(tp)) Touch(other);
    }
  }
}

void GroupCoordinator::TriggerRebalance(Group& g, Clock::time_point now) {
  if (g.state != GroupState::kPreparingRebalance) {
    g.state = GroupState::kPreparingRebalance;
    Clock::duration timeout{0};
    for (auto& [id, m] : g.members) {
      m.joined = !m.attached;  // a closed static member has nothing to release
      if (m.attached) timeout = std::max<Clock::duration>(timeout, Ms(m.request.max_poll_interval_ms));
      Touch(m);
    }
    g.rebalance_deadline = now + timeout;
  }
  MaybeCompleteRebalance(g);
}

void GroupCoordinator::MaybeCompleteRebalance(Group& g) {
  if (g.state != GroupState::kPreparingRebalance) return;
  if (g.members.empty()) {
    g.state = GroupState::kEmpty;
    g.protocol.reset();
    ++g.generation;
    return;
  }
  for (const auto& [id, m] : g.members) {
    if (!m.joined) return;
  }
  std::optional<PartitionAssignor> protocol = ChooseProtocol(g, nullptr);
  if (!protocol) protocol = g.members.begin()->second.request.protocols.front();
  g.topics_version = core_.topics_version();
  std::map<std::string, int32_t> counts = PartitionCounts(g);
  std::vector<AssignorMember> input;
  for (const auto& [id, m] : g.members) {
    input.push_back({AssignorKey(id, m.request), m.request.topics, m.owned});
  }
  Assignment assignment = Assign(*protocol, input, counts);
  g.protocol = protocol;
  g.partition_counts = std::move(counts);
  ++g.generation;
  g.state = GroupState::kStable;
  for (auto& [id, m] : g.members) {
    const auto& mine = assignment[AssignorKey(id, m.request)];
    m.target = std::set<TopicPartition>(mine.begin(), mine.end());
    m.generation = g.generation;
    Touch(m);
  }
}

void GroupCoordinator::Remove(Group& g, const std::string& member, std::string why) {
  auto it = g.members.find(member);
  if (it == g.members.end()) return;
  ReleaseLocked(g, it->second,
                std::vector<TopicPartition>(it->second.owned.begin(), it->second.owned.end()));
  g.members.erase(it);
  if (g.removed.size() >= kMaxRemovedReasons) g.removed.clear();
  if (!why.empty()) g.removed[member] = std::move(why);
  TriggerRebalance(g, Clock::now());
}

void GroupCoordinator::Expire(Group& g, Clock::time_point now) {
  std::vector<std::pair<std::string, std::string>> doomed;
  for (const auto& [id, m] : g.members) {
    if (m.attached && !m.in_poll && now - m.poll_returned > Ms(m.request.max_poll_interval_ms)) {
      doomed.emplace_back(id, fmt::format("it did not call Poll within max.poll.interval.ms = {}, "
                                          "so its partitions were given to other members",
                                          m.request.max_poll_interval_ms));
    } else if (!m.attached && now - m.detached_at > Ms(m.request.session_timeout_ms)) {
      doomed.emplace_back(id, fmt::format("static member \"{}\" did not come back within "
                                          "session.timeout.ms = {}",
                                          m.request.instance_id, m.request.session_timeout_ms));
    } else if (g.state == GroupState::kPreparingRebalance && !m.joined &&
               now >= g.rebalance_deadline) {
      doomed.emplace_back(id, fmt::format("it did not rejoin a rebalance within "
                                          "max.poll.interval.ms = {}",
                                          m.request.max_poll_interval_ms));
    }
  }
  for (auto& [id, why] : doomed) Remove(g, id, std::move(why));
}

void GroupCoordinator::CheckMetadata(Group& g, Clock::time_point now) {
  const uint64_t version = core_.topics_version();
  if (g.state != GroupState::kStable || version == g.topics_version) return;
  g.topics_version = version;
  if (PartitionCounts(g) != g.partition_counts) TriggerRebalance(g, now);
}

Clock::time_point GroupCoordinator::NextCheck(const Group& g) const {
  Clock::time_point next = Clock::time_point::max();
  if (g.state == GroupState::kPreparingRebalance) next = g.rebalance_deadline;
  for (const auto& [id, m] : g.members) {
    if (m.attached && !m.in_poll) {
      next = std::min(next, m.poll_returned + Ms(m.request.max_poll_interval_ms));
    } else if (!m.attached) {
      next = std::min(next, m.detached_at + Ms(m.request.session_timeout_ms));
    }
  }
  return next;
}

absl::StatusOr<std::string> GroupCoordinator::Join(const std::string& group,
                                                   const JoinRequest& request) {
  std::lock_guard<std::mutex> lock(mu_);
  RUNNEL_RETURN_IF_ERROR(core_.CheckOpen());
  Group& g = groups_[group];
  g.id = group;
  const Clock::time_point now = Clock::now();
  Expire(g, now);
  // A static member that comes back is not a stranger: judge its assignors without its
  // old self.
  std::string previous;
  if (!request.instance_id.empty()) {
    for (const auto& [id, m] : g.members) {
      if (m.request.instance_id == request.instance_id) previous = id;
    }
  }
  {
    Group probe;
    for (const auto& [id, m] : g.members) {
      if (id != previous) probe.members.emplace(id, m);
    }
    if (!ChooseProtocol(probe, &request)) {
      std::vector<std::string_view> names;
      for (PartitionAssignor a : request.protocols) names.push_back(AssignorName(a));
      std::vector<std::string_view> theirs;
      if (g.protocol) theirs.push_back(AssignorName(*g.protocol));
      return absl::InvalidArgumentError(fmt::format(
          "partition.assignment.strategy [{}] shares no assignor with the members of group "
          "\"{}\" (using [{}])",
          fmt::join(names, ", "), group, fmt::join(theirs, ", ")));
    }
  }
  std::string id = fmt::format("{}-{:06}", request.client_id.empty() ? "consumer" : request.client_id,
                               ++next_member_);
  Member m;
  m.id = id;
  m.request = request;
  m.join_order = next_member_;
  m.poll_returned = now;
  bool rebalance = true;
  if (!previous.empty()) {
    Member& old = g.members.at(previous);
    // The old consumer, if still open, is fenced: its member id is gone.
    if (old.attached) {
      g.removed[previous] = fmt::format(
          "another consumer joined with the same group.instance.id \"{}\" (fenced)",
          request.instance_id);
    }
    ReleaseLocked(g, old, std::vector<TopicPartition>(old.owned.begin(), old.owned.end()));
    rebalance = old.request.topics != request.topics || old.request.protocols != request.protocols;
    m.join_order = old.join_order;
    m.target = std::move(old.target);
    m.generation = old.generation;
    m.changes = old.changes + 1;
    m.joined = g.state != GroupState::kPreparingRebalance;
    g.members.erase(previous);
  }
  g.members.emplace(id, std::move(m));
  if (rebalance) {
    TriggerRebalance(g, now);
  } else if (g.state == GroupState::kPreparingRebalance) {
    g.members.at(id).joined = false;
  }
  return id;
}

absl::StatusOr<MemberView> GroupCoordinator::Heartbeat(const std::string& group,
                                                       const std::string& member,
                                                       uint64_t seen_changes, bool in_poll) {
  std::lock_guard<std::mutex> lock(mu_);
  RUNNEL_RETURN_IF_ERROR(core_.CheckOpen());
  Group& g = groups_[group];
  g.id = group;
  const Clock::time_point now = Clock::now();
  if (in_poll) {
    // Inside Poll now: a long Poll is not a member that stopped polling.
    auto it = g.members.find(member);
    if (it != g.members.end()) it->second.in_poll = true;
  }
  Expire(g, now);
  CheckMetadata(g, now);
  RUNNEL_ASSIGN_OR_RETURN(Member * m, FindMember(g, member));
  MemberView view;
  view.changes = m->changes;
  view.next_check = NextCheck(g);
  if (seen_changes == m->changes) return view;
  view.generation = m->generation;
  view.rejoin = g.state == GroupState::kPreparingRebalance && !m->joined;
  const std::optional<PartitionAssignor> protocol = ChooseProtocol(g, nullptr);
  view.eager = !protocol || !IsCooperative(*protocol);
  view.target = m->target;
  view.owned = m->owned;
  return view;
}

void GroupCoordinator::PollReturned(const std::string& group, const std::string& member) {
  std::lock_guard<std::mutex> lock(mu_);
  auto g = groups_.find(group);
  if (g == groups_.end()) return;
  auto m = g->second.members.find(member);
  if (m == g->second.members.end()) return;
  m->second.in_poll = false;
  m->second.poll_returned = Clock::now();
}

bool GroupCoordinator::InstanceTaken(const std::string& group, const std::string& instance_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto g = groups_.find(group);
  if (g == groups_.end()) return false;
  for (const auto& [id, m] : g->second.members) {
    if (m.attached && m.request.instance_id == instance_id) return true;
  }
  return false;
}

absl::Status GroupCoordinator::Rejoin(const std::string& group, const std::string& member,
                                      const std::vector<TopicPartition>& released) {
  std::lock_guard<std::mutex> lock(mu_);
  Group& g = groups_[group];
  RUNNEL_ASSIGN_OR_RETURN(Member * m, FindMember(g, member));
  ReleaseLocked(g, *m, released);
  if (g.state == GroupState::kPreparingRebalance && !m->joined) {
    m->joined = true;
    ++m->changes;
    MaybeCompleteRebalance(g);
  }
  return absl::OkStatus();
}

absl::Status GroupCoordinator::Release(const std::string& group, const std::string& member,
                                       const std::vector<TopicPartition>& partitions) {
  std::lock_guard<std::mutex> lock(mu_);
  Group& g = groups_[group];
  RUNNEL_ASSIGN_OR_RETURN(Member * m, FindMember(g, member));
  ReleaseLocked(g, *m, partitions);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TopicPartition>> GroupCoordinator::Acquire(
    const std::string& group, const std::string& member, const std::vector<TopicPartition>& wanted) {
  std::lock_guard<std::mutex> lock(mu_);
  Group& g = groups_[group];
  RUNNEL_ASSIGN_OR_RETURN(Member * m, FindMember(g, member));
  std::vector<TopicPartition> got;
  if (g.state != GroupState::kStable) return got;  // wait for the new generation
  for (const TopicPartition& tp : wanted) {
    if (!m->target.count(tp) || g.owners.count(tp)) continue;
    g.owners[tp] = m->id;
    m->owned.insert(tp);
    got.push_back(tp);
  }
  return got;
}

absl::Status GroupCoordinator::UpdateSubscription(const std::string& group,
                                                  const std::string& member,
                                                  const std::vector<std::string>& topics) {
  std::lock_guard<std::mutex> lock(mu_);
  Group& g = groups_[group];
  RUNNEL_ASSIGN_OR_RETURN(Member * m, FindMember(g, member));
  if (m->request.topics == topics) return absl::OkStatus();
  m->request.topics = topics;
  TriggerRebalance(g, Clock::now());
  return absl::OkStatus();
}

void GroupCoordinator::Leave(const std::string& group, const std::string& member,
                             bool detach_static) {
  std::lock_guard<std::mutex> lock(mu_);
  auto g = groups_.find(group);
  if (g == groups_.end()) return;
  auto it = g->second.members.find(member);
  if (it == g->second.members.end()) return;
  Member& m = it->second;
  if (!detach_static || m.request.instance_id.empty()) {
    Remove(g->second, member, "");
    return;
  }
  ReleaseLocked(g->second, m, std::vector<TopicPartition>(m.owned.begin(), m.owned.end()));
  m.attached = false;
  m.in_poll = false;
  m.detached_at = Clock::now();
  m.request.waker = nullptr;
  m.joined = true;
  MaybeCompleteRebalance(g->second);
}

absl::Status GroupCoordinator::Commit(const std::string& group, const std::string& member,
                                      int32_t generation, const GroupOffsets& offsets) {
  std::lock_guard<std::mutex> lock(mu_);
  RUNNEL_RETURN_IF_ERROR(core_.CheckOpen());
  Group& g = groups_[group];
  g.id = group;
  Expire(g, Clock::now());
  if (member.empty()) {
    if (!g.members.empty()) {
      return absl::FailedPreconditionError(fmt::format(
          "group \"{}\" has {} members: a consumer outside the group (Assign) may commit only "
          "to a group without members",
          group, g.members.size()));
    }
  } else {
    RUNNEL_ASSIGN_OR_RETURN(Member * m, FindMember(g, member));
    for (const auto& [tp, value] : offsets) {
      if (!m->owned.count(tp)) {
        return absl::FailedPreconditionError(fmt::format(
            "commit refused: partition {} is not owned by member {} of group \"{}\" "
            "(generation {}; the group is at generation {}): it was revoked or reassigned "
            "in a rebalance",
            Name(tp), member, group, generation, g.generation));
      }
    }
  }
  for (const auto& [tp, value] : offsets) {
    if (value.offset < 0) {
      return absl::InvalidArgumentError(fmt::format(
          "cannot commit offset {} for partition {}: offsets are 0 or more", value.offset, Name(tp)));
    }
  }
  return store_->Commit(group, offsets);
}

absl::StatusOr<std::map<TopicPartition, std::optional<OffsetAndMetadata>>>
GroupCoordinator::Committed(const std::string& group, const std::vector<TopicPartition>& partitions) {
  std::lock_guard<std::mutex> lock(mu_);
  RUNNEL_RETURN_IF_ERROR(core_.CheckOpen());
  std::map<TopicPartition, std::optional<OffsetAndMetadata>> out;
  const GroupOffsets* offsets = store_->Find(group);
  for (const TopicPartition& tp : partitions) {
    auto it = offsets ? offsets->find(tp) : GroupOffsets::const_iterator();
    if (offsets && it != offsets->end()) {
      out[tp] = OffsetAndMetadata{it->second.offset, it->second.metadata};
    } else {
      out[tp] = std::nullopt;
    }
  }
  return out;
}

std::vector<GroupListing> GroupCoordinator::ListGroups() {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, GroupState> found;
  for (const std::string& group : store_->Groups()) found[group] = GroupState::kEmpty;
  const Clock::time_point now = Clock::now();
  for (auto& [id, g] : groups_) {
    Expire(g, now);
    if (!g.members.empty()) found[id] = g.state;
  }
  std::vector<GroupListing> out;
  for (const auto& [id, state] : found) out.push_back({id, state});
  return out;
}

absl::StatusOr<GroupDescription> GroupCoordinator::DescribeGroup(const std::string& group) {
  std::lock_guard<std::mutex> lock(mu_);
  RUNNEL_RETURN_IF_ERROR(core_.CheckOpen());
  const GroupOffsets* offsets = store_->Find(group);
  auto it = groups_.find(group);
  if (it != groups_.end()) Expire(it->second, Clock::now());
  if (!offsets && (it == groups_.end() || it->second.members.empty())) {
    return absl::NotFoundError(fmt::format("unknown consumer group \"{}\"", group));
  }
  GroupDescription d;
  d.group_id = group;
  std::set<TopicPartition> partitions;
  std::map<TopicPartition, std::string> owners;
  if (it != groups_.end() && !it->second.members.empty()) {
    const Group& g = it->second;
    d.state = g.state;
    d.generation_id = g.generation;
    if (g.protocol) d.assignor = std::string(AssignorName(*g.protocol));
    owners = g.owners;
    for (const auto& [count_topic, count] : PartitionCounts(g)) {
      for (int32_t p = 0; p < count; ++p) partitions.insert({count_topic, p});
    }
    for (const auto& [id, m] : g.members) {
      MemberDescription md;
      md.member_id = id;
      md.group_instance_id = m.request.instance_id;
      md.client_id = m.request.client_id;
      md.subscription = m.request.topics;
      md.assignment.assign(m.target.begin(), m.target.end());
      md.connected = m.attached;
      d.members.push_back(std::move(md));
    }
  }
  if (offsets) {
    for (const auto& [tp, value] : *offsets) partitions.insert(tp);
  }
  for (const TopicPartition& tp : partitions) {
    PartitionOffsetDescription pd;
    pd.partition = tp;
    int64_t start = 0;
    absl::StatusOr<std::shared_ptr<internal::Topic>> topic = core_.FindTopic(tp.topic);
    if (topic.ok() && static_cast<size_t>(tp.partition) < (*topic)->partitions.size()) {
      const storage::PartitionLog& log = (*topic)->partitions[static_cast<size_t>(tp.partition)]->log();
      start = log.log_start_offset();
      pd.log_end_offset = log.visible_offset();
    }
    auto c = offsets ? offsets->find(tp) : GroupOffsets::const_iterator();
    if (offsets && c != offsets->end()) {
      pd.committed = OffsetAndMetadata{c->second.offset, c->second.metadata};
      pd.lag = std::max<int64_t>(0, pd.log_end_offset - c->second.offset);
    } else {
      pd.lag = pd.log_end_offset - start;
    }
    auto o = owners.find(tp);
    if (o != owners.end()) pd.owner = o->second;
    d.offsets.push_back(std::move(pd));
  }
  return d;
}

absl::StatusOr<std::map<TopicPartition, int64_t>> GroupCoordinator::ResetOffsets(
    const std::string& group, const std::vector<TopicPartition>& partitions, const OffsetSpec& spec) {
  std::lock_guard<std::mutex> lock(mu_);
  RUNNEL_RETURN_IF_ERROR(core_.CheckOpen());
  auto it = groups_.find(group);
  if (it != groups_.end()) {
    Expire(it->second, Clock::now());
    if (!it->second.members.empty()) {
      return absl::FailedPreconditionError(fmt::format(
          "cannot reset the offsets of group \"{}\": it has {} members; close them first",
          group, it->second.members.size()));
    }
  }
  if ((spec.kind == OffsetSpec::Kind::kTimestamp || spec.kind == OffsetSpec::Kind::kOffset) &&
      spec.value < 0) {
    return absl::InvalidArgumentError(
        fmt::format("cannot reset group \"{}\" to {}: must be 0 or more", group, spec.value));
  }
  std::vector<TopicPartition> targets = partitions;
  if (targets.empty()) {
    if (const GroupOffsets* offsets = store_->Find(group)) {
      for (const auto& [tp, value] : *offsets) targets.push_back(tp);
    }
    if (targets.empty()) {
      return absl::NotFoundError(fmt::format(
          "group \"{}\" has no committed offsets to reset; name the partitions", group));
    }
  }
  GroupOffsets next;
  std::map<TopicPartition, int64_t> out;
  const int64_t now_ms = core_.env()->NowMillis();
  for (const TopicPartition& tp : targets) {
    RUNNEL_ASSIGN_OR_RETURN(std::shared_ptr<internal::Topic> topic, core_.FindTopic(tp.topic));
    if (tp.partition < 0 || static_cast<size_t>(tp.partition) >= topic->partitions.size()) {
      return absl::NotFoundError(fmt::format("partition {} of topic \"{}\" does not exist",
                                             tp.partition, tp.topic));
    }
    const storage::PartitionLog& log = topic->partitions[static_cast<size_t>(tp.partition)]->log();
    const int64_t start = log.log_start_offset();
    const int64_t end = log.visible_offset();
    int64_t offset = start;
    switch (spec.kind) {
      case OffsetSpec::Kind::kEarliest:
        offset = start;
        break;
      case OffsetSpec::Kind::kLatest:
        offset = end;
        break;
      case OffsetSpec::Kind::kTimestamp: {
        RUNNEL_ASSIGN_OR_RETURN(std::optional<storage::TimestampOffset> found,
                                log.OffsetForTimestamp(spec.value));
        offset = found ? found->offset : end;
        break;
      }
      case OffsetSpec::Kind::kOffset:
        offset = std::clamp(spec.value, start, end);
        break;
    }
    next[tp] = OffsetValue{offset, "", now_ms};
    out[tp] = offset;
  }
  RUNNEL_RETURN_IF_ERROR(store_->Commit(group, next));
  return out;
}

absl::Status GroupCoordinator::DeleteGroup(const std::string& group) {
  std::lock_guard<std::mutex> lock(mu_);
  RUNNEL_RETURN_IF_ERROR(core_.CheckOpen());
  auto it = groups_.find(group);
  if (it != groups_.end()) {
    Expire(it->second, Clock::now());
    if (!it->second.members.empty()) {
      return absl::FailedPreconditionError(fmt::format(
          "cannot delete group \"{}\": it has {} members; close them first", group,
          it->second.members.size()));
    }
  }
  if (!store_->Find(group)) {
    return absl::NotFoundError(fmt::format("unknown consumer group \"{}\"", group));
  }
  RUNNEL_RETURN_IF_ERROR(store_->Delete(group, {}));
  if (it != groups_.end()) groups_.erase(it);
  return absl::OkStatus();
}

void GroupCoordinator::OnBrokerClose() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, g] : groups_) {
    for (auto& [mid, m] : g.members) Touch(m);
  }
}

int GroupCoordinator::offset_compactions() {
  std::lock_guard<std::mutex> lock(mu_);
  return store_->compactions();
}

}  // namespace runnel::groups
