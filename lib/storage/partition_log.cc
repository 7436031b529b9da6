#include "storage/partition_log.h"

#include <fmt/format.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "format/record_batch_builder.h"
#include "storage/checkpoint.h"
#include "storage/file_names.h"
#include "util/formatters.h"
#include "util/strings.h"
#include "util/status_macros.h"

namespace runnel::storage {
namespace {

std::string BaseName(const std::string& dir) {
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  const size_t slash = d.rfind('/');
  return slash == std::string::npos ? d : d.substr(slash + 1);
}

// Copies the first `length` bytes of `from` into a new file `to`, synced.
absl::Status CopyPrefix(io::Env* env, const std::string& from, const std::string& to,
                        uint64_t length) {
  RUNNEL_ASSIGN_OR_RETURN(std::unique_ptr<io::File> src, env->OpenFile(from, io::OpenMode::kReadOnly));
  RUNNEL_ASSIGN_OR_RETURN(std::unique_ptr<io::File> dst, env->OpenFile(to, io::OpenMode::kCreate));
  RUNNEL_RETURN_IF_ERROR(dst->Truncate(0));
  std::vector<uint8_t> buf(1 << 20);
  for (uint64_t pos = 0; pos < length;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), length - pos));
    RUNNEL_ASSIGN_OR_RETURN(size_t n, src->Read(pos, std::span<uint8_t>(buf.data(), want)));
    if (n == 0) break;
    RUNNEL_RETURN_IF_ERROR(dst->Write(pos, std::span<const uint8_t>(buf.data(), n)));
    pos += n;
  }
  return dst->Sync();
}

}  // namespace

size_t ReadResult::size_in_bytes() const {
  size_t n = 0;
  for (const LogSlice& s : slices) n += s.bytes.size();
  return n;
}

std::string RecoveryReport::ToString() const {
  std::string out = fmt::format(
      "{} shutdown; {} segments ({} batches) scanned; {} bytes of torn tail cut",
      clean_shutdown ? "clean" : "unclean", segments_scanned, batches_scanned, bytes_truncated);
  for (const std::string& s : rebuilt_indexes) out += "; rebuilt index: " + s;
  for (const std::string& s : problems) out += "; corruption: " + s;
  for (const std::string& s : set_aside) out += "; set aside: " + s;
  return out;
}

PartitionLog::PartitionLog(io::Env* env, std::string dir, const LogConfig& config,
                           std::string name)
    : env_(env), dir_(std::move(dir)), config_(config), name_(std::move(name)) {}

PartitionLog::~PartitionLog() = default;

absl::StatusOr<std::unique_ptr<PartitionLog>> PartitionLog::Open(io::Env* env,
                                                                 const std::string& dir,
                                                                 const LogConfig& config,
                                                                 std::string name) {
  RUNNEL_RETURN_IF_ERROR(config.Validate());
  if (name.empty()) name = BaseName(dir);
  std::unique_ptr<PartitionLog> log(new PartitionLog(env, dir, config, std::move(name)));
  RUNNEL_RETURN_IF_ERROR(env->CreateDir(dir));
  RUNNEL_RETURN_IF_ERROR(log->Recover());
  return log;
}

absl::StatusOr<std::unique_ptr<PartitionLog>> PartitionLog::OpenReadOnly(
    io::Env* env, const std::string& dir, const LogConfig& config, std::string name) {
  RUNNEL_RETURN_IF_ERROR(config.Validate());
  if (name.empty()) name = BaseName(dir);
  std::unique_ptr<PartitionLog> log(new PartitionLog(env, dir, config, std::move(name)));
  log->read_only_ = true;
  log->failure_ = absl::FailedPreconditionError(
      fmt::format("partition {} is open read-only: the process that owns {} writes it",
                  log->name_, io::DirName(dir)));
  RUNNEL_RETURN_IF_ERROR(log->LoadReadOnly());
  return log;
}

absl::StatusOr<std::vector<int64_t>> PartitionLog::ListSegmentBases() const {
  RUNNEL_ASSIGN_OR_RETURN(std::vector<std::string> names, env_->ListDir(dir_));
  std::vector<int64_t> bases;
  for (const std::string& n : names) {
    if (auto base = ParseOffsetFileName(n, kLogSuffix)) bases.push_back(*base);
  }
  std::sort(bases.begin(), bases.end());
  return bases;
}

absl::StatusOr<std::shared_ptr<Segment>> PartitionLog::OpenSegmentReadOnly(int64_t base,
                                                                          bool sealed,
                                                                          bool* complete) {
  *complete = true;
  RUNNEL_ASSIGN_OR_RETURN(std::unique_ptr<Segment> seg,
                          Segment::Open(env_, dir_, base, config_, /*read_only=*/true));
  // A sealed segment's indexes are final; the owner may still be writing the last one's.
  if (sealed && seg->LoadFromIndexes().ok()) return std::shared_ptr<Segment>(std::move(seg));
  RUNNEL_ASSIGN_OR_RETURN(SegmentScan scan, seg->Recover());
  ++report_.segments_scanned;
  report_.batches_scanned += scan.batches;
  // The tail of the last segment may be a batch still being written; anything else that
  // does not check out is damage, which the owner's next recovery sets aside.
  if (scan.stop != format::BatchCheck::kValid && !scan.rest_is_zero &&
      (sealed || scan.stop != format::BatchCheck::kIncomplete || scan.valid_batch_follows)) {
    *complete = false;
    report_.problems.push_back(
        fmt::format("{} at byte {}: {}", seg->log_path(), scan.valid_bytes, scan.reason));
  }
  return std::shared_ptr<Segment>(std::move(seg));
}

bool PartitionLog::FollowsOn(const SegmentList& list, const Segment& seg) {
  if (list.empty() || list.back()->next_offset() <= seg.base_offset()) return true;
  report_.problems.push_back(fmt::format(
      "{} starts at offset {}, inside the previous segment, which ends at {}", seg.log_path(),
      seg.base_offset(), list.back()->next_offset()));
  return false;
}

absl::Status PartitionLog::LoadReadOnly() {
  std::lock_guard<std::mutex> append_lock(append_mu_);
  RUNNEL_ASSIGN_OR_RETURN(std::vector<int64_t> bases, ListSegmentBases());
  if (bases.empty()) {
    return absl::NotFoundError(fmt::format("partition {} has no segments in {}", name_, dir_));
  }
  SegmentList list;
  for (size_t i = 0; i < bases.size(); ++i) {
    bool complete = true;
    RUNNEL_ASSIGN_OR_RETURN(std::shared_ptr<Segment> seg,
                            OpenSegmentReadOnly(bases[i], i + 1 < bases.size(), &complete));
    if (!FollowsOn(list, *seg)) break;
    list.push_back(std::move(seg));
    if (!complete) break;  // the log is the valid prefix, as the owner's recovery makes it
  }
  const int64_t end = list.back()->next_offset();
  log_end_.store(end);
  visible_.store(end);
  flushed_.store(end);
  PublishSegments(std::move(list));
  return absl::OkStatus();
}

absl::StatusOr<bool> PartitionLog::Refresh(bool entries_changed) {
  if (!read_only_) {
    return absl::FailedPreconditionError(
        fmt::format("partition {} is not open read-only: it has nothing to refresh", name_));
  }
  std::lock_guard<std::mutex> append_lock(append_mu_);
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    if (closed_) return absl::FailedPreconditionError(fmt::format("partition {} is closed", name_));
  }
  std::shared_ptr<const SegmentList> current = segments();
  std::vector<int64_t> bases;
  if (entries_changed) {
    // Listed before the last segment is followed: a segment listed here was created
    // after the owner's last write to the segments before it.
    RUNNEL_ASSIGN_OR_RETURN(bases, ListSegmentBases());
  }
  SegmentList list(*current);
  bool changed = false;
  if (entries_changed) {
    size_t gone = 0;  // retention deletes from the front
    while (gone < list.size() &&
           !std::binary_search(bases.begin(), bases.end(), list[gone]->base_offset())) {
      ++gone;
    }
    if (gone > 0) {
      list.erase(list.begin(), list.begin() + static_cast<ptrdiff_t>(gone));
      changed = true;
    }
  }
  if (!list.empty()) {
    RUNNEL_ASSIGN_OR_RETURN(bool grew, list.back()->Follow());
    changed |= grew;
  }
  for (int64_t base : bases) {
    if (!list.empty() && base <= list.back()->base_offset()) continue;
    if (!report_.problems.empty()) break;  // the log ends at the damage
    bool complete = true;
    RUNNEL_ASSIGN_OR_RETURN(std::shared_ptr<Segment> seg,
                            OpenSegmentReadOnly(base, /*sealed=*/false, &complete));
    if (!FollowsOn(list, *seg)) break;
    list.push_back(std::move(seg));
    changed = true;
  }
  if (!changed) return false;
  if (list.empty()) {
    // Every segment went at once (a topic deleted, or retention racing the listing): keep
    // the last known state; the next refresh sees what replaced it.
    return false;
  }
  const int64_t end = list.back()->next_offset();
  PublishSegments(std::move(list));
  log_end_.store(end);
  flushed_.store(end);
  if (end != visible_offset()) PublishVisible(end);
  return true;
}

absl::Status PartitionLog::Recover() {
  std::lock_guard<std::mutex> append_lock(append_mu_);
  std::lock_guard<std::mutex> flush_lock(flush_mu_);
  RUNNEL_ASSIGN_OR_RETURN(std::vector<std::string> names, env_->ListDir(dir_));
  std::vector<int64_t> bases;
  for (const std::string& n : names) {
    if (EndsWith(n, ".tmp") || EndsWith(n, kDeletedSuffix) || EndsWith(n, ".truncating")) {
      RUNNEL_RETURN_IF_ERROR(env_->RemoveFile(io::JoinPath(dir_, n)));
    } else if (auto base = ParseOffsetFileName(n, kLogSuffix)) {
      bases.push_back(*base);
    }
  }
  std::sort(bases.begin(), bases.end());
  for (const std::string& n : names) {  // indexes whose log is gone
    auto base = ParseOffsetFileName(n, kIndexSuffix);
    if (!base) base = ParseOffsetFileName(n, kTimeIndexSuffix);
    if (base && !std::binary_search(bases.begin(), bases.end(), *base)) {
      RUNNEL_RETURN_IF_ERROR(env_->RemoveFile(io::JoinPath(dir_, n)));
    }
  }

  PartitionCheckpoint cp;
  absl::StatusOr<PartitionCheckpoint> read = ReadCheckpoint(env_, dir_);
  if (read.ok()) {
    cp = *read;
  } else if (read.status().code() != absl::StatusCode::kNotFound) {
    report_.problems.push_back(std::string(read.status().message()));
  }
  report_.clean_shutdown = cp.clean_shutdown;

  SegmentList list;
  bool scanned_any = false;
  for (size_t i = 0; i < bases.size(); ++i) {
    const int64_t next_base = i + 1 < bases.size() ? bases[i + 1] : INT64_MAX;
    RUNNEL_ASSIGN_OR_RETURN(std::unique_ptr<Segment> seg,
                            Segment::Open(env_, dir_, bases[i], config_));
    // Segments must follow each other without overlap or gap: a gap is what is left when
    // a crash (or a recovery cut short) took the end of a segment but not the segments
    // after it, and a log with a hole is no valid prefix. Both are set aside from here.
    if (!list.empty() && list.back()->next_offset() != seg->base_offset()) {
      report_.problems.push_back(fmt::format(
          "{} starts at offset {}, {} the previous segment, which ends at {}", seg->log_path(),
          seg->base_offset(),
          list.back()->next_offset() > seg->base_offset() ? "inside" : "after a gap behind",
          list.back()->next_offset()));
      seg.reset();
      for (size_t j = i; j < bases.size(); ++j) RUNNEL_RETURN_IF_ERROR(SetAside(bases[j], 0));
      break;
    }
    const bool trusted = cp.clean_shutdown || next_base <= cp.recovery_point;
    absl::Status loaded = trusted ? seg->LoadFromIndexes()
                                  : absl::DataLossError("past the recovery checkpoint");
    if (!loaded.ok()) {
      if (trusted) report_.rebuilt_indexes.push_back(std::string(loaded.message()));
      RUNNEL_ASSIGN_OR_RETURN(SegmentScan scan, seg->Recover());
      scanned_any = true;
      ++report_.segments_scanned;
      report_.batches_scanned += scan.batches;
      if (scan.stop != format::BatchCheck::kValid) {
        const bool last = i + 1 == bases.size();
        // A torn tail: zeros (blocks reserved ahead of the data, or pages never written
        // back), or a last batch cut short, with no valid batch after it. Anything else
        // is corruption, which is kept aside rather than cut.
        const bool torn = !scan.valid_batch_follows &&
                          (scan.rest_is_zero ||
                           (last && (scan.stop == format::BatchCheck::kIncomplete ||
                                     scan.bad_batch_reaches_eof)));
        if (torn) {
          RUNNEL_RETURN_IF_ERROR(seg->TruncateToPosition(scan.valid_bytes));
          // Zeros are blocks reserved ahead of the data, not data: only count the rest.
          if (!scan.rest_is_zero) report_.bytes_truncated += scan.file_size - scan.valid_bytes;
        } else {
          report_.problems.push_back(fmt::format("{} at byte {}: {}", seg->log_path(),
                                                 scan.valid_bytes, scan.reason));
          // Keep the valid prefix as the log's end; move the damaged file and every
          // later segment aside, so the log stays a valid prefix and nothing is deleted.
          seg.reset();
          RUNNEL_RETURN_IF_ERROR(SetAside(bases[i], scan.valid_bytes));
          for (size_t j = i + 1; j < bases.size(); ++j) {
            RUNNEL_RETURN_IF_ERROR(SetAside(bases[j], 0));
          }
          if (scan.valid_bytes > 0) {
            RUNNEL_ASSIGN_OR_RETURN(seg, Segment::Open(env_, dir_, bases[i], config_));
            RUNNEL_RETURN_IF_ERROR(seg->Recover().status());
            list.push_back(std::move(seg));
          }
          break;
        }
      }
    }
    list.push_back(std::move(seg));
  }
  if (list.empty()) {
    RUNNEL_ASSIGN_OR_RETURN(std::unique_ptr<Segment> seg,
                            Segment::Create(env_, dir_, bases.empty() ? 0 : bases.front(),
                                            config_, env_->NowMillis()));
    list.push_back(std::move(seg));
  }
  for (size_t i = 0; i + 1 < list.size(); ++i) {
    RUNNEL_RETURN_IF_ERROR(list[i]->Seal());
  }
  RUNNEL_RETURN_IF_ERROR(list.back()->MakeActive());
  if (scanned_any) {
    // What recovery kept becomes durable before anything is appended after it.
    for (const auto& seg : list) RUNNEL_RETURN_IF_ERROR(seg->Flush());
    RUNNEL_RETURN_IF_ERROR(env_->SyncDir(dir_));
  }
  const int64_t end = list.back()->next_offset();
  // A clean shutdown recorded the log's end: a log that now ends before it lost records
  // that no crash took back (say, a segment cut short at a batch boundary, which no scan
  // would notice).
  if (cp.clean_shutdown && end < cp.recovery_point) {
    report_.problems.push_back(fmt::format(
        "partition {} ends at offset {}, but it ended at {} when it was closed: the end of "
        "the log is missing",
        dir_, end, cp.recovery_point));
  }
  log_end_.store(end);
  visible_.store(end);
  flushed_.store(end);
  last_flush_ms_.store(env_->NowMillis());
  PublishSegments(std::move(list));
  // From here on a crash is an unclean shutdown.
  checkpointed_recovery_point_ = end;
  return WriteCheckpoint(env_, dir_, PartitionCheckpoint{false, end});
}

// Renames the segment's log to *.corrupt (its indexes are derived and go), then, if
// `valid_bytes` > 0, puts back a log holding just its valid prefix.
absl::Status PartitionLog::SetAside(int64_t base_offset, uint64_t valid_bytes) {
  const std::string log = LogFileName(dir_, base_offset);
  const std::string aside = log + std::string(kCorruptSuffix);
  RUNNEL_RETURN_IF_ERROR(env_->Rename(log, aside));
  report_.set_aside.push_back(aside);
  for (const std::string& index :
       {IndexFileName(dir_, base_offset), TimeIndexFileName(dir_, base_offset)}) {
    if (env_->FileExists(index)) RUNNEL_RETURN_IF_ERROR(env_->RemoveFile(index));
  }
  if (valid_bytes > 0) RUNNEL_RETURN_IF_ERROR(CopyPrefix(env_, aside, log, valid_bytes));
  return env_->SyncDir(dir_);
}

std::shared_ptr<const PartitionLog::SegmentList> PartitionLog::segments() const {
  std::lock_guard<std::mutex> lock(segments_mu_);
  return segments_;
}

void PartitionLog::PublishSegments(SegmentList list) {
  auto published = std::make_shared<const SegmentList>(std::move(list));
  std::lock_guard<std::mutex> lock(segments_mu_);
  segments_ = std::move(published);
}

void PartitionLog::PublishVisible(int64_t offset) {
  // Sequentially consistent, for waiters that check it against a counter of their own
  // (broker/partition.cc).
  visible_.store(offset, std::memory_order_seq_cst);
  if (visible_listener_) visible_listener_(offset);
}

absl::Status PartitionLog::health() const {
  std::lock_guard<std::mutex> lock(state_mu_);
  return failure_;
}

absl::Status PartitionLog::CheckWritable() const {
  std::lock_guard<std::mutex> lock(state_mu_);
  if (closed_) return absl::FailedPreconditionError(fmt::format("partition {} is closed", name_));
  return failure_;
}

// Records the first failure; the partition takes no more appends or flushes. A cause
// that runnel::IsRetriable would call retriable (ENOSPC from an fsync) becomes Internal:
// no retry can succeed on a read-only partition (runnel/status.h).
absl::Status PartitionLog::Fail(absl::Status cause, std::string_view what) {
  std::lock_guard<std::mutex> lock(state_mu_);
  if (failure_.ok()) {
    const absl::StatusCode code = cause.code();
    const bool retriable = code == absl::StatusCode::kResourceExhausted ||
                           code == absl::StatusCode::kUnavailable ||
                           code == absl::StatusCode::kDeadlineExceeded ||
                           code == absl::StatusCode::kAborted;
    failure_ = absl::Status(retriable ? absl::StatusCode::kInternal : code,
                            fmt::format("partition {} is read-only after {} failed: {}", name_,
                                        what, cause.message()));
  }
  return failure_;
}

int64_t PartitionLog::log_start_offset() const { return segments()->front()->base_offset(); }

uint64_t PartitionLog::size_in_bytes() const {
  uint64_t n = 0;
  // Hold the list: a range-for over *segments() would free the temporary it points into.
  const std::shared_ptr<const SegmentList> list = segments();
  for (const auto& seg : *list) n += seg->size();
  return n;
}

size_t PartitionLog::segment_count() const { return segments()->size(); }

// Whether a batch of `bytes` must start a new segment, given that `pending_bytes` in
// `pending_batches` batches are already headed for the active one and the batch would get
// offset `base_offset`.
bool PartitionLog::ShouldRoll(const Segment& active, uint64_t pending_bytes,
                              size_t pending_batches, int64_t base_offset,
                              const format::BatchHeader& header, size_t bytes,
                              int64_t now) const {
  const uint64_t size = active.size() + pending_bytes;
  if (size == 0) return false;
  return size + bytes > static_cast<uint64_t>(config_.segment_bytes) ||
         now - active.roll_start_ms() >= config_.segment_ms ||
         active.index_room() <= pending_batches ||
         base_offset + header.last_offset_delta - active.base_offset() > INT32_MAX;
}

absl::Status PartitionLog::RollLocked(int64_t now) {
  std::shared_ptr<const SegmentList> current = segments();
  Segment& old = *current->back();
  // Create first: if that fails (a full disk), the old segment simply stays active.
  RUNNEL_ASSIGN_OR_RETURN(std::unique_ptr<Segment> fresh,
                          Segment::Create(env_, dir_, log_end_offset(), config_, now));
  if (absl::Status st = old.Seal(); !st.ok()) return Fail(st, "sealing a segment");
  SegmentList list = *current;
  list.push_back(std::move(fresh));
  PublishSegments(std::move(list));
  new_segment_unsynced_.store(true, std::memory_order_release);
  return absl::OkStatus();
}

absl::Status PartitionLog::Roll() {
  std::lock_guard<std::mutex> lock(append_mu_);
  RUNNEL_RETURN_IF_ERROR(CheckWritable());
  if (segments()->back()->size() == 0) return absl::OkStatus();
  return RollLocked(env_->NowMillis());
}

absl::StatusOr<AppendInfo> PartitionLog::Append(std::span<uint8_t> batch,
                                                const AppendOptions& options) {
  AppendResult result = AppendBatches(std::span<const std::span<uint8_t>>(&batch, 1), options);
  if (!result.status.ok()) return result.status;
  return result.appended.front();
}

absl::Status PartitionLog::CheckBatchForAppend(std::span<uint8_t> batch, bool verify,
                                               format::BatchHeader* header) const {
  if (batch.size() > static_cast<size_t>(config_.max_message_bytes)) {
    return absl::InvalidArgumentError(
        fmt::format("record batch of {} bytes exceeds max.message.bytes {} for partition {}",
                    batch.size(), config_.max_message_bytes, name_));
  }
  if (batch.size() > static_cast<size_t>(config_.segment_bytes)) {
    return absl::InvalidArgumentError(
        fmt::format("record batch of {} bytes exceeds segment.bytes {} for partition {}",
                    batch.size(), config_.segment_bytes, name_));
  }
  if (verify) {
    const format::BatchCheckResult check = format::CheckBatch(batch);
    if (check.check != format::BatchCheck::kValid || check.header.size_in_bytes() != batch.size()) {
      return absl::InvalidArgumentError(fmt::format(
          "invalid record batch of {} bytes for partition {}: {}", batch.size(), name_,
          check.check == format::BatchCheck::kValid ? "the buffer holds more than one batch"
                                                    : check.reason));
    }
    *header = check.header;
  } else {
    absl::StatusOr<format::BatchHeader> decoded = format::DecodeBatchHeader(batch);
    if (!decoded.ok()) return absl::InvalidArgumentError(decoded.status().message());
    *header = *decoded;
  }
  if (header->record_count <= 0) {
    return absl::InvalidArgumentError(
        fmt::format("record batch for partition {} holds no records", name_));
  }
  if (header->last_offset_delta < 0) {
    return absl::InvalidArgumentError(fmt::format(
        "record batch for partition {} has lastOffsetDelta {}", name_, header->last_offset_delta));
  }
  return absl::OkStatus();
}

PartitionLog::AppendResult PartitionLog::AppendBatches(
    std::span<const std::span<uint8_t>> batches, const AppendOptions& options) {
  AppendResult result;
  if (batches.empty()) return result;
  bool flush_now = false;
  {
    std::lock_guard<std::mutex> lock(append_mu_);
    if (result.status = CheckWritable(); !result.status.ok()) return result;
    std::vector<format::BatchHeader> headers(batches.size());
    int64_t records = 0;
    for (size_t i = 0; i < batches.size(); ++i) {
      result.status = CheckBatchForAppend(batches[i], options.verify, &headers[i]);
      if (!result.status.ok()) return result;
      records += int64_t{headers[i].last_offset_delta} + 1;
    }
    // Offsets are int64 (Kafka's): a log whose files name an offset near the top ends there.
    if (log_end_offset() > INT64_MAX - records) {
      result.status = absl::OutOfRangeError(
          fmt::format("partition {} at offset {} cannot take {} more records: offsets end at {}",
                      name_, log_end_offset(), records, INT64_MAX));
      return result;
    }
    const int64_t now = env_->NowMillis();
    std::vector<std::span<const uint8_t>> group;
    for (size_t i = 0; i < batches.size();) {
      std::shared_ptr<Segment> active = segments()->back();
      if (ShouldRoll(*active, 0, 0, log_end_offset(), headers[i], batches[i].size(), now)) {
        // Batches of earlier groups may be written already: fall through to publish them.
        if (result.status = RollLocked(now); !result.status.ok()) break;
        active = segments()->back();
      }
      // As many batches as the active segment takes, written with one system call.
      const size_t first = i;
      uint64_t group_bytes = 0;
      int64_t next = log_end_offset();
      group.clear();
      for (; i < batches.size(); ++i) {
        if (i > first && ShouldRoll(*active, group_bytes, i - first, next, headers[i],
                                    batches[i].size(), now)) {
          break;
        }
        headers[i].base_offset = next;
        format::SetBaseOffset(batches[i], next);
        if (config_.timestamp_type == format::TimestampType::kLogAppendTime) {
          format::SetLogAppendTime(batches[i], now);
          headers[i].max_timestamp = now;
        }
        next = headers[i].next_offset();
        group_bytes += batches[i].size();
        group.push_back(batches[i]);
      }
      const uint64_t old_size = active->size();
      if (absl::Status st = active->Append(group, std::span(headers).subspan(first, i - first));
          !st.ok()) {
        // Cut off whatever part reached the file. A full disk leaves the partition as it
        // was; any other write error leaves it read-only.
        const absl::Status undo = active->TruncateToPosition(old_size);
        if (st.code() == absl::StatusCode::kResourceExhausted && undo.ok()) {
          result.status = absl::ResourceExhaustedError(
              fmt::format("no space to append {} bytes to partition {} in {}: {}", group_bytes,
                          name_, dir_, st.message()));
        } else {
          result.status = Fail(st, "a write");
        }
        break;
      }
      log_end_.store(next, std::memory_order_release);
      for (size_t k = first; k < i; ++k) {
        result.appended.push_back(AppendInfo{
            headers[k].base_offset, headers[k].last_offset(),
            config_.timestamp_type == format::TimestampType::kLogAppendTime ? now : -1});
      }
    }
    if (result.appended.empty()) return result;
    if (config_.sync != SyncPolicy::kAlways) PublishVisible(log_end_offset());
    if (config_.sync == SyncPolicy::kInterval) {
      int64_t records = 0;
      for (const AppendInfo& a : result.appended) records += a.last_offset - a.base_offset + 1;
      const int64_t pending = messages_since_flush_.fetch_add(records) + records;
      flush_now = pending >= config_.flush_messages ||
                  now - last_flush_ms_.load(std::memory_order_relaxed) >= config_.flush_ms;
    }
  }
  if (flush_now && result.status.ok()) result.status = Flush();
  return result;
}

absl::Status PartitionLog::Flush() {
  const int64_t target = log_end_offset();
  std::lock_guard<std::mutex> lock(flush_mu_);
  RUNNEL_RETURN_IF_ERROR(CheckWritable());
  if (flushed_offset() >= target) return absl::OkStatus();  // another flush covered us
  return FlushLocked();
}

void PartitionLog::Abandon() {
  std::lock_guard<std::mutex> append_lock(append_mu_);
  std::lock_guard<std::mutex> flush_lock(flush_mu_);
  std::lock_guard<std::mutex> lock(state_mu_);
  closed_ = true;
}

absl::Status PartitionLog::FlushIfDue() {
  if (config_.sync != SyncPolicy::kInterval || flushed_offset() >= log_end_offset() ||
      env_->NowMillis() - last_flush_ms_.load() < config_.flush_ms) {
    return absl::OkStatus();
  }
  return Flush();
}

absl::Status PartitionLog::FlushLocked() {
  RUNNEL_RETURN_IF_ERROR(health());
  // Everything below `end` was written before log_end_ was published. Records appended
  // while this flush runs stay counted for the next one.
  const int64_t pending_messages = messages_since_flush_.load();
  const int64_t end = log_end_offset();
  const std::shared_ptr<const SegmentList> list = segments();
  const int64_t flushed = flushed_offset();
  // A rolled segment's file is durable only once its directory entry is: without this, a
  // power cut could take back a whole flushed segment.
  if (new_segment_unsynced_.exchange(false, std::memory_order_acq_rel)) {
    if (absl::Status st = env_->SyncDir(dir_); !st.ok()) return Fail(st, "an fsync of the directory");
  }
  for (const auto& seg : *list) {
    if (seg->next_offset() > flushed || seg->needs_index_sync()) {
      if (absl::Status st = seg->Flush(); !st.ok()) return Fail(st, "an fsync");
    }
  }
  // The recovery point moves on disk only when a segment was sealed since it last did:
  // recovery always scans the active segment, so checkpointing within it buys nothing.
  // Written before the records are published, so that a flush that fails publishes
  // nothing. A full disk is the exception: the records are durable already and the old
  // checkpoint (replaced atomically) only makes recovery scan more, so the flush succeeds
  // and the next one writes the checkpoint again. Failing it would fail sends whose
  // records are on disk, and a retry would store them twice.
  if (list->back()->base_offset() > checkpointed_recovery_point_) {
    if (absl::Status st = WriteCheckpoint(env_, dir_, PartitionCheckpoint{false, end}); st.ok()) {
      checkpointed_recovery_point_ = end;
    } else if (st.code() != absl::StatusCode::kResourceExhausted) {
      return Fail(st, "writing the recovery checkpoint");
    }
  }
  messages_since_flush_.fetch_sub(pending_messages);
  last_flush_ms_.store(env_->NowMillis());
  flushed_.store(end, std::memory_order_release);
  if (config_.sync == SyncPolicy::kAlways) PublishVisible(end);
  return absl::OkStatus();
}

absl::StatusOr<ReadResult> PartitionLog::Read(int64_t offset, size_t max_bytes,
                                              bool min_one) const {
  const int64_t visible = visible_offset();
  const std::shared_ptr<const SegmentList> list = segments();
  ReadResult result;
  result.log_start_offset = list->front()->base_offset();
  result.visible_offset = visible;
  result.next_offset = offset;
  if (offset < result.log_start_offset || offset > visible) {
    return absl::OutOfRangeError(fmt::format(
        "offset {} is out of range for partition {}: log start {}, visible end {}", offset,
        name_, result.log_start_offset, visible));
  }
  // The last segment whose base offset is <= offset.
  auto it = std::upper_bound(list->begin(), list->end(), offset,
                             [](int64_t o, const std::shared_ptr<Segment>& s) {
                               return o < s->base_offset();
                             });
  if (it != list->begin()) --it;
  size_t remaining = max_bytes;
  bool limited = false;  // stopped by max_bytes rather than by running out of batches
  for (; it != list->end() && result.next_offset < visible; ++it) {
    RUNNEL_ASSIGN_OR_RETURN(std::optional<LogSlice> slice,
                            (*it)->Read(result.next_offset, remaining, visible,
                                        min_one && result.slices.empty(), &limited));
    if (slice) {
      remaining -= std::min(remaining, slice->bytes.size());
      result.next_offset = slice->next_offset;
      result.slices.push_back(std::move(*slice));
    }
    // Go on to the next segment only if this one has nothing more below `visible`.
    if (limited) break;
    // A wholly visible segment read to its end reaches its own end offset, unless a batch
    // claims offsets it does not hold (a damaged baseOffset: Kafka's CRC leaves it out).
    // The records after it must not vanish behind the next segment or the visible end.
    if (result.next_offset < (*it)->next_offset() && (*it)->next_offset() <= visible) {
      if (!result.slices.empty()) return result;  // what precedes the damage first
      return absl::DataLossError(fmt::format(
          "corrupt segment {}: no batch at or after offset {} below its end offset {}",
          (*it)->log_path(), result.next_offset, (*it)->next_offset()));
    }
  }
  // No batch holds an offset in [offset, visible): a gap (offsets that were never
  // written, or compacted away). Say where reading goes on, so a reader never stalls.
  if (result.slices.empty() && !limited) result.next_offset = visible;
  return result;
}

absl::StatusOr<std::optional<TimestampOffset>> PartitionLog::OffsetForTimestamp(
    int64_t timestamp) const {
  const int64_t visible = visible_offset();
  const std::shared_ptr<const SegmentList> list = segments();
  for (const auto& seg : *list) {
    if (seg->max_timestamp() < timestamp) continue;
    RUNNEL_ASSIGN_OR_RETURN(std::optional<TimestampOffset> found,
                            seg->FindOffsetByTimestamp(timestamp, visible));
    if (found) return found;
  }
  return std::nullopt;
}

absl::Status PartitionLog::DeleteSegmentFiles(const Segment& segment) {
  // Rename first: a crash between the renames leaves *.deleted names that Open removes.
  const int64_t base = segment.base_offset();
  for (const std::string& path :
       {LogFileName(dir_, base), IndexFileName(dir_, base), TimeIndexFileName(dir_, base)}) {
    if (!env_->FileExists(path)) continue;
    const std::string doomed = path + std::string(kDeletedSuffix);
    RUNNEL_RETURN_IF_ERROR(env_->Rename(path, doomed));
    RUNNEL_RETURN_IF_ERROR(env_->RemoveFile(doomed));
  }
  return absl::OkStatus();
}

absl::Status PartitionLog::TruncateTo(int64_t offset) {
  std::lock_guard<std::mutex> append_lock(append_mu_);
  std::lock_guard<std::mutex> flush_lock(flush_mu_);
  RUNNEL_RETURN_IF_ERROR(CheckWritable());
  if (offset >= log_end_offset()) return absl::OkStatus();
  const std::shared_ptr<const SegmentList> current = segments();
  if (offset < current->front()->base_offset()) {
    return absl::InvalidArgumentError(
        fmt::format("cannot truncate partition {} to offset {}, before its log start {}", name_,
                    offset, current->front()->base_offset()));
  }
  SegmentList keep;
  std::vector<std::shared_ptr<Segment>> drop;
  for (const auto& seg : *current) {
    (seg->base_offset() < offset || keep.empty() ? keep : drop).push_back(seg);
  }
  const std::shared_ptr<Segment>& last = keep.back();
  if (absl::Status st = last->TruncateTo(offset); !st.ok()) return Fail(st, "a truncation");
  if (absl::Status st = last->MakeActive(); !st.ok()) return Fail(st, "a truncation");
  const int64_t end = last->next_offset();
  PublishSegments(std::move(keep));
  for (const auto& seg : drop) {
    if (absl::Status st = DeleteSegmentFiles(*seg); !st.ok()) return Fail(st, "a truncation");
  }
  // Dropped segments must not come back after a crash, ahead of what is appended next.
  if (!drop.empty()) {
    if (absl::Status st = env_->SyncDir(dir_); !st.ok()) return Fail(st, "a truncation");
  }
  log_end_.store(end);
  flushed_.store(std::min(flushed_offset(), end));
  if (visible_offset() > end) PublishVisible(end);
  if (checkpointed_recovery_point_ > end) {
    if (absl::Status st = WriteCheckpoint(env_, dir_, PartitionCheckpoint{false, end}); !st.ok()) {
      return Fail(st, "writing the recovery checkpoint");
    }
    checkpointed_recovery_point_ = end;
  }
  return absl::OkStatus();
}

absl::StatusOr<RetentionResult> PartitionLog::EnforceRetention() {
  std::lock_guard<std::mutex> lock(append_mu_);
  RUNNEL_RETURN_IF_ERROR(CheckWritable());
  const int64_t now = env_->NowMillis();
  std::shared_ptr<const SegmentList> current = segments();
  const int64_t visible = visible_offset();
  uint64_t total = 0;
  for (const auto& seg : *current) total += seg->size();

  // A prefix of segments goes: each expired by time or not needed to keep retention.bytes,
  // and holding only visible data (Kafka deletes nothing above the high watermark).
  size_t n = 0;
  uint64_t remaining = total;
  for (const auto& seg : *current) {
    if (seg->size() == 0 || seg->next_offset() > visible) break;
    const bool expired = config_.retention_ms >= 0 && seg->max_timestamp() >= 0 &&
                         seg->max_timestamp() < now - config_.retention_ms;
    const bool too_big = config_.retention_bytes >= 0 && seg.get() != current->back().get() &&
                         remaining - seg->size() >= static_cast<uint64_t>(config_.retention_bytes);
    if (!expired && !too_big) break;
    remaining -= seg->size();
    ++n;
  }
  return DeletePrefixLocked(std::move(current), n, now);
}

absl::StatusOr<RetentionResult> PartitionLog::DeletePrefixLocked(
    std::shared_ptr<const SegmentList> current, size_t n, int64_t now) {
  RetentionResult result;
  if (n == 0) return result;
  if (n == current->size()) {  // the active segment goes too: start a fresh one first
    RUNNEL_RETURN_IF_ERROR(RollLocked(now));
    current = segments();
  }
  // The segments kept must be durable directory entries before the older ones go: were a
  // power cut to take back a rolled segment's entry after the segments before it were
  // deleted, the log would have no segment left and would start again at offset 0.
  if (absl::Status st = env_->SyncDir(dir_); !st.ok()) return Fail(st, "an fsync of the directory");
  SegmentList keep(current->begin() + static_cast<ptrdiff_t>(n), current->end());
  PublishSegments(std::move(keep));
  for (size_t i = 0; i < n; ++i) {
    const Segment& seg = *(*current)[i];
    ++result.segments_deleted;
    result.bytes_deleted += seg.size();
    // The segment has left the list: files left behind would come back at the next open,
    // behind the log's back (after later deletions, with a gap before them). Stop here.
    if (absl::Status st = DeleteSegmentFiles(seg); !st.ok()) return Fail(st, "deleting a segment");
  }
  // And the deletions durable before anything else happens: on a filesystem that does not
  // order directory updates, a power cut could bring back an older deleted segment but
  // not a newer one, and the gap between them would make recovery set the live log aside.
  if (n > 0) {
    if (absl::Status st = env_->SyncDir(dir_); !st.ok()) return Fail(st, "an fsync of the directory");
  }
  return result;
}

absl::StatusOr<RetentionResult> PartitionLog::DeleteSegmentsBefore(int64_t offset) {
  std::lock_guard<std::mutex> lock(append_mu_);
  RUNNEL_RETURN_IF_ERROR(CheckWritable());
  std::shared_ptr<const SegmentList> current = segments();
  const int64_t limit = std::min(offset, visible_offset());
  size_t n = 0;
  // The active segment always stays: it is where the next append goes.
  while (n + 1 < current->size() && (*current)[n]->next_offset() <= limit) ++n;
  return DeletePrefixLocked(std::move(current), n, env_->NowMillis());
}

absl::Status PartitionLog::Close() {
  std::lock_guard<std::mutex> append_lock(append_mu_);
  std::lock_guard<std::mutex> flush_lock(flush_mu_);
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    if (closed_) return absl::FailedPreconditionError(fmt::format("partition {} is closed", name_));
    closed_ = true;
    if (read_only_) return absl::OkStatus();  // nothing of ours to flush or mark
    RUNNEL_RETURN_IF_ERROR(failure_);  // no clean-shutdown mark on a failed partition
  }
  RUNNEL_RETURN_IF_ERROR(FlushLocked());
  const std::shared_ptr<Segment> active = segments()->back();
  RUNNEL_RETURN_IF_ERROR(active->Seal());
  RUNNEL_RETURN_IF_ERROR(active->Flush());
  return WriteCheckpoint(env_, dir_, PartitionCheckpoint{true, log_end_offset()});
}

}  // namespace runnel::storage
