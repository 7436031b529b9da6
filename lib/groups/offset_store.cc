#include "groups/offset_store.h"

#include <fmt/format.h>

#include "format/record_batch.h"
#include "format/record_batch_builder.h"
#include "util/formatters.h"
#include "util/status_macros.h"

namespace runnel::groups {
namespace {

using Records = std::vector<std::pair<std::string, std::optional<std::string>>>;

// Bytes per record beyond key and value: the record's own framing, roughly.
constexpr size_t kRecordOverhead = 16;
// Compaction writes the live offsets in batches of about this size.
constexpr size_t kCompactionBatchBytes = 512 * 1024;

}  // namespace

absl::StatusOr<std::unique_ptr<OffsetStore>> OffsetStore::Open(internal::BrokerCore* core) {
  std::unique_ptr<OffsetStore> store(new OffsetStore(core));
  absl::StatusOr<std::shared_ptr<internal::Topic>> topic =
      core->FindTopic(internal::kConsumerOffsetsTopic);
  if (topic.ok()) {
    store->topic_ = *topic;
    RUNNEL_RETURN_IF_ERROR(store->Replay(*(*topic)->partitions.at(0)));
  } else if (!absl::IsNotFound(topic.status())) {
    return topic.status();
  }
  return store;
}

absl::Status OffsetStore::Replay(internal::Partition& partition) {
  const storage::PartitionLog& log = partition.log();
  int64_t offset = log.log_start_offset();
  const int64_t end = log.visible_offset();
  while (offset < end) {
    RUNNEL_ASSIGN_OR_RETURN(storage::ReadResult read, log.Read(offset, 4 << 20));
    if (read.empty()) break;
    for (const storage::LogSlice& slice : read.slices) {
      std::span<const uint8_t> rest = slice.bytes;
      while (!rest.empty()) {
        const format::BatchCheckResult check = format::CheckBatch(rest, /*verify_crc=*/true);
        if (check.check != format::BatchCheck::kValid) {
          return absl::DataLossError(fmt::format(
              "{}: the batch at or after offset {} is unreadable ({}): committed offsets "
              "cannot be restored",
              log.name(), offset, check.reason));
        }
        const format::BatchHeader& h = check.header;
        format::RecordIterator it(rest.first(h.size_in_bytes()), h);
        rest = rest.subspan(h.size_in_bytes());
        format::Record r;
        while (it.Next(&r)) {
          if (!r.key) continue;
          absl::StatusOr<std::optional<OffsetKey>> key = DecodeOffsetKey(*r.key);
          if (!key.ok()) {
            return absl::DataLossError(
                fmt::format("{} offset {}: {}", log.name(), r.offset, key.status().message()));
          }
          if (!*key) continue;
          if (!r.value) {
            auto g = groups_.find((*key)->group);
            if (g == groups_.end()) continue;
            g->second.erase((*key)->partition);
            if (g->second.empty()) groups_.erase(g);
            continue;
          }
          absl::StatusOr<OffsetValue> value = DecodeOffsetValue(*r.value);
          if (!value.ok()) {
            return absl::DataLossError(
                fmt::format("{} offset {}: {}", log.name(), r.offset, value.status().message()));
          }
          groups_[(*key)->group][(*key)->partition] = std::move(*value);
        }
        if (!it.status().ok()) {
          return absl::DataLossError(fmt::format("{} batch at offset {}: {}", log.name(),
                                                 h.base_offset, it.status().message()));
        }
      }
    }
    offset = read.next_offset;
  }
  return absl::OkStatus();
}

absl::StatusOr<internal::Partition*> OffsetStore::Topic() {
  if (topic_ && !topic_->stale.load()) return topic_->partitions.at(0).get();
  if (!topic_) {
    TopicConfig config = core_->options().default_topic_config;
    config.retention_ms = -1;  // commits go only by compaction or group deletion
    config.retention_bytes = -1;
    config.segment_bytes = core_->options().offsets_topic_segment_bytes;
    config.segment_ms = std::numeric_limits<int64_t>::max() / 2;
    config.max_message_bytes = std::numeric_limits<int32_t>::max();
    config.message_timestamp_type = TimestampType::kCreateTime;
    RUNNEL_RETURN_IF_ERROR(core_->CreateInternalTopic(internal::kConsumerOffsetsTopic, 1, config));
  }
  RUNNEL_ASSIGN_OR_RETURN(topic_, core_->FindTopic(internal::kConsumerOffsetsTopic));
  return topic_->partitions.at(0).get();
}

absl::Status OffsetStore::Append(internal::Partition& partition, const Records& records,
                                 bool force_sync) {
  format::RecordBatchBuilder builder;
  const int64_t now = core_->env()->NowMillis();
  for (const auto& [key, value] : records) {
    builder.Add(now, std::string_view(key),
                value ? std::optional<std::string_view>(*value) : std::nullopt);
  }
  std::vector<uint8_t> batch = builder.Build();
  RUNNEL_RETURN_IF_ERROR(partition.Append(batch, {.verify = false}).status());
  if (force_sync || partition.log().config().sync == storage::SyncPolicy::kAlways) {
    RUNNEL_RETURN_IF_ERROR(partition.log().Flush());
  }
  return absl::OkStatus();
}

absl::Status OffsetStore::Commit(std::string_view group, const GroupOffsets& offsets) {
  if (offsets.empty()) return absl::OkStatus();
  if (group.size() > kMaxGroupIdBytes) {
    return absl::InvalidArgumentError(fmt::format(
        "group id of {} bytes exceeds the {} bytes __consumer_offsets can hold", group.size(),
        kMaxGroupIdBytes));
  }
  Records records;
  for (const auto& [tp, value] : offsets) {
    if (value.metadata.size() > kMaxOffsetMetadataBytes) {
      return absl::InvalidArgumentError(fmt::format(
          "metadata of {} bytes for partition {}-{} exceeds offset.metadata.max.bytes {}",
          value.metadata.size(), tp.topic, tp.partition, kMaxOffsetMetadataBytes));
    }
    records.emplace_back(EncodeOffsetKey({std::string(group), tp}), EncodeOffsetValue(value));
  }
  RUNNEL_ASSIGN_OR_RETURN(internal::Partition * partition, Topic());
  RUNNEL_RETURN_IF_ERROR(Append(*partition, records, /*force_sync=*/false));
  GroupOffsets& stored = groups_[std::string(group)];
  for (const auto& [tp, value] : offsets) stored[tp] = value;
  // The commit is stored: a compaction that fails leaves the log as it was, to be tried
  // again after a later commit, and must not make this commit look failed.
  MaybeCompact(*partition).IgnoreError();
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
  Records records;
  for (const TopicPartition& tp : doomed) {
    if (g->second.count(tp)) records.emplace_back(EncodeOffsetKey({g->first, tp}), std::nullopt);
  }
  if (records.empty()) return absl::OkStatus();
  RUNNEL_ASSIGN_OR_RETURN(internal::Partition * partition, Topic());
  RUNNEL_RETURN_IF_ERROR(Append(*partition, records, /*force_sync=*/false));
  for (const TopicPartition& tp : doomed) g->second.erase(tp);
  if (g->second.empty()) groups_.erase(g);
  MaybeCompact(*partition).IgnoreError();  // as in Commit
  return absl::OkStatus();
}

size_t OffsetStore::LiveBytes() const {
  size_t n = 0;
  for (const auto& [group, offsets] : groups_) {
    for (const auto& [tp, value] : offsets) {
      n += 2 * group.size() + tp.topic.size() + value.metadata.size() + 32 + kRecordOverhead;
    }
  }
  return n;
}

absl::Status OffsetStore::MaybeCompact(internal::Partition& partition) {
  storage::PartitionLog& log = partition.log();
  const uint64_t size = log.size_in_bytes();
  if (size <= static_cast<uint64_t>(core_->options().offsets_topic_segment_bytes) ||
      size <= 2 * LiveBytes()) {
    return absl::OkStatus();
  }
  RUNNEL_RETURN_IF_ERROR(log.Roll());
  const int64_t start = log.log_end_offset();
  // A batch must fit in a segment: segment.bytes may be small.
  const size_t batch_limit = std::min<size_t>(
      kCompactionBatchBytes, static_cast<size_t>(core_->options().offsets_topic_segment_bytes) / 4);
  Records batch;
  size_t batch_bytes = 0;
  for (const auto& [group, offsets] : groups_) {
    for (const auto& [tp, value] : offsets) {
      batch.emplace_back(EncodeOffsetKey({group, tp}), EncodeOffsetValue(value));
      batch_bytes += batch.back().first.size() + batch.back().second->size() + kRecordOverhead;
      if (batch_bytes >= batch_limit) {
        RUNNEL_RETURN_IF_ERROR(Append(partition, batch, /*force_sync=*/false));
        batch.clear();
        batch_bytes = 0;
      }
    }
  }
  // Whatever the sync policy, the copy is on disk before the originals go.
  if (!batch.empty()) {
    RUNNEL_RETURN_IF_ERROR(Append(partition, batch, /*force_sync=*/true));
  } else {
    RUNNEL_RETURN_IF_ERROR(log.Flush());
  }
  RUNNEL_RETURN_IF_ERROR(log.DeleteSegmentsBefore(start).status());
  ++compactions_;
  return absl::OkStatus();
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
