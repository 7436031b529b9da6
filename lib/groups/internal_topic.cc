#include "groups/internal_topic.h"

#include <fmt/format.h>

#include <limits>

#include "format/record_batch.h"
#include "format/record_batch_builder.h"
#include "util/formatters.h"
#include "util/status_macros.h"

namespace runnel::groups {
namespace {

// Compaction writes the live records in batches of about this size.
constexpr size_t kCompactionBatchBytes = 512 * 1024;

}  // namespace

absl::StatusOr<internal::Partition*> InternalTopic::Partition(bool create) {
  if (topic_ && !topic_->stale.load()) return topic_->partitions.at(0).get();
  absl::StatusOr<std::shared_ptr<internal::Topic>> found = core_->FindTopic(name_);
  if (!found.ok() && absl::IsNotFound(found.status()) && create) {
    TopicConfig config = core_->options().default_topic_config;
    config.retention_ms = -1;  // records go only by compaction
    config.retention_bytes = -1;
    config.segment_bytes = core_->options().offsets_topic_segment_bytes;
    config.segment_ms = std::numeric_limits<int64_t>::max() / 2;
    config.max_message_bytes = std::numeric_limits<int32_t>::max();
    config.message_timestamp_type = TimestampType::kCreateTime;
    RUNNEL_RETURN_IF_ERROR(core_->CreateInternalTopic(name_, 1, config));
    found = core_->FindTopic(name_);
  }
  if (!found.ok()) return found.status();
  topic_ = *found;
  return topic_->partitions.at(0).get();
}

absl::Status InternalTopic::Replay(
    const std::function<absl::Status(std::string_view key,
                                     std::optional<std::string_view> value)>& apply) {
  absl::StatusOr<internal::Partition*> partition = Partition(/*create=*/false);
  if (absl::IsNotFound(partition.status())) return absl::OkStatus();
  if (!partition.ok()) return partition.status();
  const storage::PartitionLog& log = (*partition)->log();
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
              "{}: the batch at or after offset {} is unreadable ({}): its state cannot be "
              "restored",
              log.name(), offset, check.reason));
        }
        const format::BatchHeader& h = check.header;
        format::RecordIterator it(rest.first(h.size_in_bytes()), h);
        rest = rest.subspan(h.size_in_bytes());
        format::Record r;
        while (it.Next(&r)) {
          if (!r.key) continue;
          absl::Status applied = apply(*r.key, r.value);
          if (!applied.ok()) {
            return absl::DataLossError(
                fmt::format("{} offset {}: {}", log.name(), r.offset, applied.message()));
          }
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

absl::Status InternalTopic::Append(const KeyedRecords& records, bool force_sync) {
  if (records.empty()) return absl::OkStatus();
  RUNNEL_ASSIGN_OR_RETURN(internal::Partition * partition, Partition(/*create=*/true));
  format::RecordBatchBuilder builder;
  const int64_t now = core_->env()->NowMillis();
  for (const auto& [key, value] : records) {
    builder.Add(now, std::string_view(key),
                value ? std::optional<std::string_view>(*value) : std::nullopt);
  }
  std::vector<uint8_t> batch = builder.Build();
  RUNNEL_RETURN_IF_ERROR(partition->Append(batch, {.verify = false}).status());
  if (force_sync || partition->log().config().sync == storage::SyncPolicy::kAlways) {
    RUNNEL_RETURN_IF_ERROR(partition->log().Flush());
  }
  return absl::OkStatus();
}

absl::Status InternalTopic::MaybeCompact(size_t live_bytes,
                                         const std::function<KeyedRecords()>& live) {
  RUNNEL_ASSIGN_OR_RETURN(internal::Partition * partition, Partition(/*create=*/false));
  storage::PartitionLog& log = partition->log();
  const uint64_t size = log.size_in_bytes();
  const auto segment_bytes = static_cast<size_t>(log.config().segment_bytes);
  if (size <= segment_bytes || size <= 2 * live_bytes) return absl::OkStatus();
  RUNNEL_RETURN_IF_ERROR(log.Roll());
  const int64_t start = log.log_end_offset();
  // A batch must fit in a segment: segment.bytes may be small.
  const size_t batch_limit = std::min(kCompactionBatchBytes, segment_bytes / 4);
  KeyedRecords batch;
  size_t batch_bytes = 0;
  for (auto& record : live()) {
    batch_bytes += record.first.size() + (record.second ? record.second->size() : 0) +
                   kKeyedRecordOverhead;
    batch.push_back(std::move(record));
    if (batch_bytes >= batch_limit) {
      RUNNEL_RETURN_IF_ERROR(Append(batch));
      batch.clear();
      batch_bytes = 0;
    }
  }
  // Whatever the sync policy, the copy is on disk before the originals go.
  if (!batch.empty()) {
    RUNNEL_RETURN_IF_ERROR(Append(batch, /*force_sync=*/true));
  } else {
    RUNNEL_RETURN_IF_ERROR(log.Flush());
  }
  RUNNEL_RETURN_IF_ERROR(log.DeleteSegmentsBefore(start).status());
  ++compactions_;
  return absl::OkStatus();
}

}  // namespace runnel::groups
