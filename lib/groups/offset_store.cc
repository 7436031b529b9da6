#include "groups/offset_store.h"

#include <fmt/format.h>

#include "util/formatters.h"
#include "util/status_macros.h"

namespace runnel::groups {

absl::StatusOr<std::unique_ptr<OffsetStore>> OffsetStore::Open(internal::BrokerCore* core) {
  std::unique_ptr<OffsetStore> store(new OffsetStore(core));
  RUNNEL_RETURN_IF_ERROR(store->topic_.Replay(
      [raw = store.get()](std::string_view key, std::optional<std::string_view> value) {
        return raw->Apply(key, value);
      }));
  return store;
}

absl::Status OffsetStore::Apply(std::string_view key, std::optional<std::string_view> value) {
  RUNNEL_ASSIGN_OR_RETURN(std::optional<OffsetKey> decoded, DecodeOffsetKey(key));
  if (!decoded) return absl::OkStatus();
  if (!value) {
    auto g = groups_.find(decoded->group);
    if (g == groups_.end()) return absl::OkStatus();
    g->second.erase(decoded->partition);
    if (g->second.empty()) groups_.erase(g);
    return absl::OkStatus();
  }
  RUNNEL_ASSIGN_OR_RETURN(OffsetValue offset, DecodeOffsetValue(*value));
  groups_[decoded->group][decoded->partition] = std::move(offset);
  return absl::OkStatus();
}

absl::Status OffsetStore::Commit(std::string_view group, const GroupOffsets& offsets) {
  if (offsets.empty()) return absl::OkStatus();
  if (group.size() > kMaxGroupIdBytes) {
    return absl::InvalidArgumentError(fmt::format(
        "group id of {} bytes exceeds the {} bytes __consumer_offsets can hold", group.size(),
        kMaxGroupIdBytes));
  }
  KeyedRecords records;
  for (const auto& [tp, value] : offsets) {
    if (value.metadata.size() > kMaxOffsetMetadataBytes) {
      return absl::InvalidArgumentError(fmt::format(
          "metadata of {} bytes for partition {}-{} exceeds offset.metadata.max.bytes {}",
          value.metadata.size(), tp.topic, tp.partition, kMaxOffsetMetadataBytes));
    }
    records.emplace_back(EncodeOffsetKey({std::string(group), tp}), EncodeOffsetValue(value));
  }
  RUNNEL_RETURN_IF_ERROR(topic_.Append(records));
  GroupOffsets& stored = groups_[std::string(group)];
  for (const auto& [tp, value] : offsets) stored[tp] = value;
  MaybeCompact();
  return absl::OkStatus();
}

absl::Status OffsetStore::Delete(std::string_view group,
                                 const std::vector<TopicPartition>& partitions) {
  auto g = groups_.find(group);
  if (g == groups_.end()) return absl::OkStatus();
  std::vector<TopicPartition> doomed = partitions;
  if (doomed.empty()) {
    for (const auto& [tp, value] : g->second) doomed.push_back(tp);
  }
  KeyedRecords records;
  for (const TopicPartition& tp : doomed) {
    if (g->second.count(tp)) records.emplace_back(EncodeOffsetKey({g->first, tp}), std::nullopt);
  }
  if (records.empty()) return absl::OkStatus();
  RUNNEL_RETURN_IF_ERROR(topic_.Append(records));
  for (const TopicPartition& tp : doomed) g->second.erase(tp);
  if (g->second.empty()) groups_.erase(g);
  MaybeCompact();
  return absl::OkStatus();
}

size_t OffsetStore::LiveBytes() const {
  size_t n = 0;
  for (const auto& [group, offsets] : groups_) {
    for (const auto& [tp, value] : offsets) {
      n += 2 * group.size() + tp.topic.size() + value.metadata.size() + 32 + kKeyedRecordOverhead;
    }
  }
  return n;
}

void OffsetStore::MaybeCompact() {
  // The change is stored: a compaction that fails leaves the log as it was, to be tried
  // again after a later change, and must not make this one look failed.
  topic_
      .MaybeCompact(LiveBytes(),
                    [this] {
                      KeyedRecords live;
                      for (const auto& [group, offsets] : groups_) {
                        for (const auto& [tp, value] : offsets) {
                          live.emplace_back(EncodeOffsetKey({group, tp}), EncodeOffsetValue(value));
                        }
                      }
                      return live;
                    })
      .IgnoreError();
}

const GroupOffsets* OffsetStore::Find(std::string_view group) const {
  auto g = groups_.find(group);
  return g == groups_.end() ? nullptr : &g->second;
}

std::vector<std::string> OffsetStore::Groups() const {
  std::vector<std::string> out;
  for (const auto& [group, offsets] : groups_) out.push_back(group);
  return out;
}

}  // namespace runnel::groups
