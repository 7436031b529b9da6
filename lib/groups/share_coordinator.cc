#include "groups/share_coordinator.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "format/byte_order.h"
#include "util/formatters.h"
#include "util/status_macros.h"

namespace runnel::groups {
namespace {

constexpr std::string_view kServiceName = "share-coordinator";

}  // namespace

std::string EncodeShareStateKey(std::string_view group, const TopicPartition& tp) {
  std::string key(2 + group.size() + 2 + tp.topic.size() + 4, '\0');
  auto* p = reinterpret_cast<uint8_t*>(key.data());
  format::StoreBig16(p, static_cast<uint16_t>(group.size()));
  std::copy(group.begin(), group.end(), key.begin() + 2);
  p += 2 + group.size();
  format::StoreBig16(p, static_cast<uint16_t>(tp.topic.size()));
  std::copy(tp.topic.begin(), tp.topic.end(), key.begin() + 4 + static_cast<ptrdiff_t>(group.size()));
  p += 2 + tp.topic.size();
  format::StoreBig32(p, static_cast<uint32_t>(tp.partition));
  return key;
}

absl::StatusOr<std::pair<std::string, TopicPartition>> DecodeShareStateKey(std::string_view key) {
  const auto* p = reinterpret_cast<const uint8_t*>(key.data());
  auto damaged = [&] {
    return absl::DataLossError(fmt::format("a share state key of {} bytes is damaged", key.size()));
  };
  if (key.size() < 2) return damaged();
  const size_t glen = format::LoadBig16(p);
  if (key.size() < 2 + glen + 2) return damaged();
  const size_t tlen = format::LoadBig16(p + 2 + glen);
  if (key.size() != 2 + glen + 2 + tlen + 4) return damaged();
  std::pair<std::string, TopicPartition> out;
  out.first = std::string(key.substr(2, glen));
  out.second.topic = std::string(key.substr(4 + glen, tlen));
  out.second.partition = static_cast<int32_t>(format::LoadBig32(p + 4 + glen + tlen));
  return out;
}

absl::StatusOr<std::shared_ptr<ShareCoordinator>> ShareCoordinator::ForBroker(
    internal::BrokerCore& core) {
  RUNNEL_ASSIGN_OR_RETURN(
      std::shared_ptr<internal::BrokerService> service,
      core.Service(kServiceName, [&]() -> absl::StatusOr<std::shared_ptr<internal::BrokerService>> {
        std::shared_ptr<ShareCoordinator> c(new ShareCoordinator(core));
        RUNNEL_RETURN_IF_ERROR(c->topic_.Replay(
            [raw = c.get()](std::string_view key, std::optional<std::string_view> value) {
              return raw->Apply(key, value);
            }));
        return std::shared_ptr<internal::BrokerService>(std::move(c));
      }));
  return std::static_pointer_cast<ShareCoordinator>(service);
}

absl::Status ShareCoordinator::Apply(std::string_view key, std::optional<std::string_view> value) {
  RUNNEL_ASSIGN_OR_RETURN(auto decoded, DecodeShareStateKey(key));
  auto& [group, tp] = decoded;
  if (!value) {
    auto g = groups_.find(group);
    if (g != groups_.end()) g->second.partitions.erase(tp);
    return absl::OkStatus();
  }
  RUNNEL_ASSIGN_OR_RETURN(SharePartition state, SharePartition::Decode(*value));
  groups_[group].partitions.insert_or_assign(tp, std::move(state));
  return absl::OkStatus();
}

void ShareCoordinator::OnBrokerClose() {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, g] : groups_) {
    for (const auto& [member, waker] : g.members) waker->Notify();
  }
}

absl::StatusOr<uint64_t> ShareCoordinator::Join(std::string_view group, internal::Waker* waker) {
  RUNNEL_RETURN_IF_ERROR(core_.CheckWritable());
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t member = next_member_++;
  auto g = groups_.find(group);
  if (g == groups_.end()) g = groups_.emplace(std::string(group), Group{}).first;
  g->second.members[member] = waker;
  return member;
}

absl::Status ShareCoordinator::Leave(std::string_view group, uint64_t member,
                                     const SharePartitionLimits& limits) {
  std::lock_guard<std::mutex> lock(mu_);
  auto g = groups_.find(group);
  if (g == groups_.end()) return absl::OkStatus();
  g->second.members.erase(member);
  std::set<TopicPartition> changed;
  for (auto& [tp, sp] : g->second.partitions) {
    const auto before = sp.in_flight();
    sp.ReleaseMember(member, limits);
    if (sp.in_flight() != before) changed.insert(tp);
  }
  NotifyOthers(g->second, member);
  return core_.CheckOpen().ok() ? Store(group, changed) : absl::OkStatus();
}

void ShareCoordinator::NotifyOthers(const Group& g, uint64_t except) {
  for (const auto& [member, waker] : g.members) {
    if (member != except) waker->Notify();
  }
}

absl::Status ShareCoordinator::Store(std::string_view group,
                                     const std::set<TopicPartition>& changed) {
  auto g = groups_.find(group);
  if (g == groups_.end() || changed.empty()) return absl::OkStatus();
  KeyedRecords records;
  for (const TopicPartition& tp : changed) {
    auto sp = g->second.partitions.find(tp);
    if (sp != g->second.partitions.end()) {
      records.emplace_back(EncodeShareStateKey(group, tp), sp->second.Encode());
    }
  }
  RUNNEL_RETURN_IF_ERROR(topic_.Append(records));
  size_t live_bytes = 0;
  for (const auto& [name, grp] : groups_) {
    for (const auto& [tp, sp] : grp.partitions) {
      live_bytes += name.size() + tp.topic.size() + 32 + sp.in_flight().size() * 2 +
                    kKeyedRecordOverhead;
    }
  }
  // The change is stored: a failed compaction is tried again after a later one.
  topic_
      .MaybeCompact(live_bytes,
                    [this] {
                      KeyedRecords live;
                      for (const auto& [name, grp] : groups_) {
                        for (const auto& [tp, sp] : grp.partitions) {
                          live.emplace_back(EncodeShareStateKey(name, tp), sp.Encode());
                        }
                      }
                      return live;
                    })
      .IgnoreError();
  return absl::OkStatus();
}

int64_t ShareCoordinator::NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

absl::StatusOr<ShareCoordinator::Acquired> ShareCoordinator::Acquire(
    std::string_view group, uint64_t member, const std::vector<PartitionSource>& partitions,
    size_t first, int32_t max_records, bool from_earliest, const SharePartitionLimits& limits) {
  RUNNEL_RETURN_IF_ERROR(core_.CheckWritable());
  std::lock_guard<std::mutex> lock(mu_);
  auto g = groups_.find(group);
  if (g == groups_.end() || g->second.members.count(member) == 0) {
    return absl::FailedPreconditionError(
        fmt::format("member {} is not in share group \"{}\"", member, group));
  }
  const int64_t now = NowMillis();
  Acquired out;
  std::set<TopicPartition> changed;
  int32_t left = max_records;
  for (size_t i = 0; i < partitions.size() && left > 0; ++i) {
    const PartitionSource& source = partitions[(first + i) % partitions.size()];
    const int64_t log_start = source.log->log_start_offset();
    const int64_t log_end = source.log->visible_offset();
    auto sp = g->second.partitions.find(source.tp);
    if (sp != g->second.partitions.end() && sp->second.end_offset() > log_end) {
      g->second.partitions.erase(sp);  // a new log under the old name
      sp = g->second.partitions.end();
    }
    if (sp == g->second.partitions.end()) {
      sp = g->second.partitions.emplace(source.tp, SharePartition(from_earliest ? log_start : log_end))
               .first;
      changed.insert(source.tp);
    }
    bool blocked = false;
    std::vector<AcquiredRecord> got =
        sp->second.Acquire(member, now, left, log_start, log_end, limits, &blocked);
    if (blocked) out.blocked.insert(source.tp);
    if (got.empty()) continue;
    left -= static_cast<int32_t>(got.size());
    changed.insert(source.tp);
    out.fetches.push_back({source.tp, std::move(got)});
  }
  // Handed out only once stored: a crash after this still counts the deliveries.
  RUNNEL_RETURN_IF_ERROR(Store(group, changed));
  return out;
}

absl::Status ShareCoordinator::Acknowledge(std::string_view group, uint64_t member,
                                           const std::vector<Ack>& acks,
                                           const SharePartitionLimits& limits) {
  if (acks.empty()) return absl::OkStatus();
  RUNNEL_RETURN_IF_ERROR(core_.CheckWritable());
  std::lock_guard<std::mutex> lock(mu_);
  auto g = groups_.find(group);
  if (g == groups_.end()) {
    return absl::FailedPreconditionError(fmt::format("share group \"{}\" has no members", group));
  }
  absl::Status first_error;
  std::set<TopicPartition> changed;
  for (const Ack& ack : acks) {
    auto sp = g->second.partitions.find(ack.tp);
    absl::Status st =
        sp == g->second.partitions.end()
            ? absl::FailedPreconditionError(fmt::format(
                  "partition {}-{} has nothing acquired in share group \"{}\"", ack.tp.topic,
                  ack.tp.partition, group))
            : sp->second.Acknowledge(member, ack.offset, ack.type, limits);
    if (!st.ok()) {
      if (first_error.ok()) {
        first_error = absl::Status(st.code(), fmt::format("{}-{}: {}", ack.tp.topic,
                                                          ack.tp.partition, st.message()));
      }
      continue;
    }
    changed.insert(ack.tp);
  }
  RUNNEL_RETURN_IF_ERROR(Store(group, changed));
  // A release makes a record available; any finished record may free room under the
  // in-flight bound. Either way waiting members look again.
  if (!changed.empty()) NotifyOthers(g->second, member);
  return first_error;
}

int64_t ShareCoordinator::NextExpiry(std::string_view group,
                                     const std::vector<TopicPartition>& partitions) const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t next = std::numeric_limits<int64_t>::max();
  auto g = groups_.find(group);
  if (g == groups_.end()) return next;
  for (const TopicPartition& tp : partitions) {
    auto sp = g->second.partitions.find(tp);
    if (sp != g->second.partitions.end()) next = std::min(next, sp->second.NextExpiry());
  }
  return next;
}

std::optional<SharePartition> ShareCoordinator::State(std::string_view group,
                                                      const TopicPartition& tp) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto g = groups_.find(group);
  if (g == groups_.end()) return std::nullopt;
  auto sp = g->second.partitions.find(tp);
  if (sp == g->second.partitions.end()) return std::nullopt;
  return sp->second;
}

int ShareCoordinator::compactions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return topic_.compactions();
}

}  // namespace runnel::groups
