#include "storage/segment.h"

#include <fmt/format.h>

#include <algorithm>

#include "format/byte_order.h"
#include "storage/file_names.h"
#include "util/formatters.h"
#include "util/status_macros.h"

namespace runnel::storage {
namespace {

// The fields of a batch header that reads need, taken from bytes already trusted to hold
// whole batches; still checked, so a damaged sealed segment yields DataLoss, not a wild read.
struct BatchPeek {
  int64_t base_offset;
  int64_t last_offset;
  int64_t max_timestamp;
  uint64_t size;
};

bool PeekBatch(const uint8_t* data, uint64_t pos, uint64_t bound, BatchPeek* out) {
  if (bound - pos < format::kBatchHeaderSize) return false;
  const uint8_t* p = data + pos;
  const auto length = static_cast<int32_t>(format::LoadBig32(p + format::kBatchLengthPos));
  if (length < static_cast<int32_t>(format::kBatchHeaderSize - format::kLogOverhead)) return false;
  out->size = static_cast<uint64_t>(length) + format::kLogOverhead;
  if (out->size > bound - pos || static_cast<int8_t>(p[format::kMagicPos]) != format::kMagicV2) {
    return false;
  }
  out->base_offset = static_cast<int64_t>(format::LoadBig64(p + format::kBaseOffsetPos));
  const auto delta = static_cast<int32_t>(format::LoadBig32(p + format::kLastOffsetDeltaPos));
  if (out->base_offset < 0 || delta < 0 || out->base_offset > INT64_MAX - 1 - delta) return false;
  out->last_offset = out->base_offset + delta;
  out->max_timestamp = static_cast<int64_t>(format::LoadBig64(p + format::kMaxTimestampPos));
  return true;
}

// Whether a valid batch with an offset at or after `next_offset` starts anywhere in
// (pos, end). Only positions whose magic byte and base offset are plausible get the
// CRC check, so random bytes cost little more than a pass over them.
bool ValidBatchAfter(const uint8_t* data, uint64_t pos, uint64_t end, int64_t next_offset) {
  for (uint64_t p = pos + 1; p + format::kBatchHeaderSize <= end; ++p) {
    if (static_cast<int8_t>(data[p + format::kMagicPos]) != format::kMagicV2) continue;
    const auto base = static_cast<int64_t>(format::LoadBig64(data + p + format::kBaseOffsetPos));
    if (base < next_offset || base - next_offset > INT32_MAX) continue;
    const format::BatchCheckResult r =
        format::CheckBatch(std::span<const uint8_t>(data + p, end - p));
    if (r.check == format::BatchCheck::kValid) return true;
  }
  return false;
}

// Where a read for an offset starts: the index entry's position when the batch there is
// the one the entry names, else the segment's start. The index is derived data, and Open
// checks only its order: an entry damaged on disk must cost a scan, never skip records.
uint64_t CheckedStart(const OffsetPosition& entry, const uint8_t* data, uint64_t bound) {
  BatchPeek b;
  if (entry.position == 0) return 0;
  if (PeekBatch(data, entry.position, bound, &b) && b.last_offset == entry.offset) {
    return entry.position;
  }
  return 0;
}

absl::Status CorruptAt(const std::string& path, uint64_t position, std::string_view what) {
  return absl::DataLossError(fmt::format("corrupt segment {} at byte {}: {}", path, position, what));
}

// The reading mapping of an active segment covers a whole segment up front (address
// space is cheap), so it is rarely remapped.
uint64_t MappingSizeFor(uint64_t bytes, const LogConfig& config) {
  return std::max<uint64_t>({bytes, static_cast<uint64_t>(config.segment_bytes), 4096});
}

}  // namespace

Segment::Segment(io::Env* env, std::string dir, int64_t base_offset, const LogConfig& config)
    : env_(env),
      dir_(std::move(dir)),
      base_offset_(base_offset),
      config_(config),
      log_path_(LogFileName(dir_, base_offset)),
      next_offset_(base_offset),
      offset_of_max_timestamp_(base_offset) {}

Segment::~Segment() = default;

absl::StatusOr<std::unique_ptr<Segment>> Segment::Create(io::Env* env, const std::string& dir,
                                                         int64_t base_offset,
                                                         const LogConfig& config,
                                                         int64_t now_ms) {
  std::unique_ptr<Segment> s(new Segment(env, dir, base_offset, config));
  absl::Status opened = s->OpenFiles(/*create=*/true);
  if (opened.ok()) {
    absl::StatusOr<uint64_t> size = s->log_->Size();
    if (size.ok() && *size != 0) {
      return absl::AlreadyExistsError(
          fmt::format("cannot create segment {}: it exists with {} bytes", s->log_path_, *size));
    }
    opened = size.status();
  }
  if (opened.ok()) {
    s->roll_start_ms_ = now_ms;
    opened = s->MakeActive();
  }
  if (opened.ok()) return s;
  // Leave no empty files behind (a full disk fails index preallocation): a later append
  // to the previous segment would pass this base offset, and the next recovery would
  // then find this segment starting inside the previous one.
  s.reset();
  for (const std::string& path : {LogFileName(dir, base_offset), IndexFileName(dir, base_offset),
                                  TimeIndexFileName(dir, base_offset)}) {
    env->RemoveFile(path).IgnoreError();
  }
  return opened;
}

absl::StatusOr<std::unique_ptr<Segment>> Segment::Open(io::Env* env, const std::string& dir,
                                                       int64_t base_offset,
                                                       const LogConfig& config,
                                                       bool read_only) {
  std::unique_ptr<Segment> s(new Segment(env, dir, base_offset, config));
  s->read_only_ = read_only;
  RUNNEL_RETURN_IF_ERROR(s->OpenFiles(/*create=*/false));
  return s;
}

absl::Status Segment::OpenFiles(bool create) {
  RUNNEL_ASSIGN_OR_RETURN(
      log_, env_->OpenFile(log_path_, create      ? io::OpenMode::kCreate
                                      : read_only_ ? io::OpenMode::kReadOnly
                                                   : io::OpenMode::kReadWrite));
  RUNNEL_ASSIGN_OR_RETURN(uint64_t size, log_->Size());
  if (size > static_cast<uint64_t>(UINT32_MAX)) {
    return CorruptAt(log_path_, 0, fmt::format("{} bytes is more than a segment can hold", size));
  }
  // Not yet counted as readable: size_ stays 0 until the state is loaded or recovered.
  return EnsureMapped(size);
}

absl::Status Segment::OpenIndexes(bool writable) {
  offset_index_.reset();
  time_index_.reset();
  const auto max_bytes = static_cast<size_t>(config_.segment_index_bytes);
  const std::string offsets_path = IndexFileName(dir_, base_offset_);
  const std::string times_path = TimeIndexFileName(dir_, base_offset_);
  if (read_only_) {
    // Writable here means built by this reader, so in memory; otherwise the files as
    // the owner left them.
    RUNNEL_ASSIGN_OR_RETURN(
        std::unique_ptr<IndexFile> offsets,
        writable ? IndexFile::InMemory(offsets_path, OffsetIndex::kEntrySize, max_bytes)
                 : IndexFile::OpenReadOnly(env_, offsets_path, OffsetIndex::kEntrySize));
    RUNNEL_ASSIGN_OR_RETURN(
        std::unique_ptr<IndexFile> times,
        writable ? IndexFile::InMemory(times_path, TimeIndex::kEntrySize, max_bytes)
                 : IndexFile::OpenReadOnly(env_, times_path, TimeIndex::kEntrySize));
    offset_index_ = std::make_unique<OffsetIndex>(std::move(offsets), base_offset_);
    time_index_ = std::make_unique<TimeIndex>(std::move(times), base_offset_);
    return absl::OkStatus();
  }
  RUNNEL_ASSIGN_OR_RETURN(
      std::unique_ptr<IndexFile> offsets,
      IndexFile::Open(env_, offsets_path, OffsetIndex::kEntrySize, max_bytes,
                      writable));
  offset_index_ = std::make_unique<OffsetIndex>(std::move(offsets), base_offset_);
  RUNNEL_ASSIGN_OR_RETURN(
      std::unique_ptr<IndexFile> times,
      IndexFile::Open(env_, times_path, TimeIndex::kEntrySize, max_bytes, writable));
  time_index_ = std::make_unique<TimeIndex>(std::move(times), base_offset_);
  return absl::OkStatus();
}

absl::Status Segment::MakeActive() {
  if (offset_index_ == nullptr) RUNNEL_RETURN_IF_ERROR(OpenIndexes(/*writable=*/true));
  if (!offset_index_->file().writable()) {
    RUNNEL_RETURN_IF_ERROR(
        offset_index_->file().MakeWritable(static_cast<size_t>(config_.segment_index_bytes)));
    RUNNEL_RETURN_IF_ERROR(
        time_index_->file().MakeWritable(static_cast<size_t>(config_.segment_index_bytes)));
  }
  sealed_ = false;
  indexes_synced_ = false;
  return absl::OkStatus();
}

absl::Status Segment::EnsureMapped(uint64_t bytes) {
  std::lock_guard<std::mutex> lock(region_mu_);
  if (region_ != nullptr && region_->size() >= bytes) return absl::OkStatus();
  RUNNEL_ASSIGN_OR_RETURN(region_, log_->Map(MappingSizeFor(bytes, config_), /*writable=*/false));
  return absl::OkStatus();
}

std::shared_ptr<const io::MappedRegion> Segment::region() const {
  std::lock_guard<std::mutex> lock(region_mu_);
  return region_;
}

// segment.ms counts from the first batch's time for a reopened segment (Kafka's
// rollingBasedTimestamp), from now for an empty one, and never from the future.
void Segment::SetRollStart() {
  const int64_t now = env_->NowMillis();
  roll_start_ms_ = now;
  const std::shared_ptr<const io::MappedRegion> map = region();
  BatchPeek b;
  if (size() > 0 && PeekBatch(map->data(), 0, size(), &b) && b.max_timestamp >= 0) {
    roll_start_ms_ = std::min(now, b.max_timestamp);
  }
}

void Segment::ResetState() {
  next_offset_.store(base_offset_, std::memory_order_release);
  size_.store(0, std::memory_order_release);
  max_timestamp_.store(-1, std::memory_order_release);
  offset_of_max_timestamp_ = base_offset_;
  bytes_since_index_entry_ = 0;
}

// Kafka's LogSegment.append rule: an index entry for this batch when more than
// index.interval.bytes were appended since the last one.
void Segment::IndexBatch(const format::BatchHeader& header, uint64_t position) {
  if (header.max_timestamp > max_timestamp_.load(std::memory_order_relaxed)) {
    max_timestamp_.store(header.max_timestamp, std::memory_order_release);
    offset_of_max_timestamp_ = header.last_offset();
  }
  if (bytes_since_index_entry_ > static_cast<uint64_t>(config_.index_interval_bytes)) {
    offset_index_->Append(header.last_offset(), static_cast<uint32_t>(position));
    time_index_->MaybeAppend(max_timestamp(), offset_of_max_timestamp_);
    bytes_since_index_entry_ = 0;
  }
  bytes_since_index_entry_ += header.size_in_bytes();
}

absl::Status Segment::LoadFromIndexes() {
  if (!env_->FileExists(IndexFileName(dir_, base_offset_)) ||
      !env_->FileExists(TimeIndexFileName(dir_, base_offset_))) {
    return absl::DataLossError(fmt::format("an index of segment {} is missing", log_path_));
  }
  RUNNEL_RETURN_IF_ERROR(OpenIndexes(/*writable=*/false));
  RUNNEL_ASSIGN_OR_RETURN(uint64_t file_size, log_->Size());
  RUNNEL_RETURN_IF_ERROR(EnsureMapped(file_size));
  const std::shared_ptr<const io::MappedRegion> map = region();
  RUNNEL_RETURN_IF_ERROR(offset_index_->Check(INT64_MAX, std::max<uint64_t>(file_size, 1)));

  // Walk the batches after the last index entry, as Kafka's readNextOffset does. Were the
  // index rule (see IndexBatch) to make an entry for one of them, the index is short.
  const OffsetPosition last = offset_index_->Last();
  uint64_t pos = last.position;
  int64_t next = base_offset_;
  int64_t max_ts = time_index_->Last().timestamp;
  int64_t offset_of_max = time_index_->Last().offset;
  uint64_t since_entry = 0;
  while (pos < file_size) {
    BatchPeek b;
    if (!PeekBatch(map->data(), pos, file_size, &b)) {
      return CorruptAt(log_path_, pos, "broken batch header after the last index entry");
    }
    if (offset_index_->entries() > 0 && pos == last.position && b.last_offset != last.offset) {
      return CorruptAt(log_path_, pos, "the last offset index entry does not match its batch");
    }
    if (since_entry > static_cast<uint64_t>(config_.index_interval_bytes)) {
      return absl::DataLossError(fmt::format("offset index of {} is short", log_path_));
    }
    if (b.base_offset < next) return CorruptAt(log_path_, pos, "offsets go backwards");
    if (b.max_timestamp > max_ts) {
      max_ts = b.max_timestamp;
      offset_of_max = b.last_offset;
    }
    next = b.last_offset + 1;
    since_entry += b.size;
    pos += b.size;
  }
  RUNNEL_RETURN_IF_ERROR(time_index_->Check(std::max(next, base_offset_ < INT64_MAX ? base_offset_ + 1 : INT64_MAX)));
  // The last time index entry gives the segment's largest timestamp, which retention acts
  // on: it must be the max timestamp of the batch it names.
  if (time_index_->entries() > 0) {
    const TimestampOffset t = time_index_->Last();
    uint64_t p = offset_index_->Lookup(t.offset).position;
    BatchPeek b{};
    while (PeekBatch(map->data(), p, file_size, &b) && b.last_offset < t.offset) p += b.size;
    if (p >= file_size || b.last_offset != t.offset || b.max_timestamp != t.timestamp) {
      return absl::DataLossError(fmt::format(
          "time index of {} names timestamp {} at offset {}, which no batch has", log_path_,
          t.timestamp, t.offset));
    }
  }
  if (offset_index_->entries() > 0 && last.offset >= next) {
    return absl::DataLossError(fmt::format("offset index of {} points past the log", log_path_));
  }
  next_offset_.store(next, std::memory_order_release);
  max_timestamp_.store(max_ts, std::memory_order_release);
  offset_of_max_timestamp_ = offset_of_max;
  bytes_since_index_entry_ = since_entry;
  size_.store(file_size, std::memory_order_release);
  SetRollStart();
  sealed_ = true;
  indexes_synced_ = true;
  return absl::OkStatus();
}

Segment::BatchRun Segment::IndexValidBatches(const uint8_t* data, uint64_t pos, uint64_t end,
                                             int64_t* next) {
  BatchRun run;
  while (pos < end) {
    const format::BatchCheckResult r =
        format::CheckBatch(std::span<const uint8_t>(data + pos, end - pos));
    if (r.check != format::BatchCheck::kValid) {
      run.stop = r.check;
      run.reason = std::string(r.reason);
      break;
    }
    if (r.header.base_offset < *next || r.header.last_offset() - base_offset_ > INT32_MAX) {
      run.stop = format::BatchCheck::kCorrupt;
      run.reason = "batch offsets go backwards or leave the segment's range";
      break;
    }
    if (!offset_index_->full() && !time_index_->almost_full()) IndexBatch(r.header, pos);
    *next = r.header.next_offset();
    pos += r.header.size_in_bytes();
    ++run.batches;
  }
  run.end = pos;
  return run;
}

absl::StatusOr<SegmentScan> Segment::Recover() {
  RUNNEL_ASSIGN_OR_RETURN(uint64_t file_size, log_->Size());
  // Index files may be missing or garbage: start them afresh.
  for (const std::string& path : {IndexFileName(dir_, base_offset_), TimeIndexFileName(dir_, base_offset_)}) {
    if (!read_only_ && env_->FileExists(path)) RUNNEL_RETURN_IF_ERROR(env_->RemoveFile(path));
  }
  RUNNEL_RETURN_IF_ERROR(OpenIndexes(/*writable=*/true));
  RUNNEL_RETURN_IF_ERROR(EnsureMapped(file_size));
  const std::shared_ptr<const io::MappedRegion> map = region();
  ResetState();

  SegmentScan scan;
  scan.file_size = file_size;
  int64_t next = base_offset_;
  BatchRun run = IndexValidBatches(map->data(), 0, file_size, &next);
  const uint64_t pos = run.end;
  scan.batches = run.batches;
  scan.stop = run.stop;
  scan.reason = std::move(run.reason);
  scan.valid_bytes = pos;
  scan.bad_batch_reaches_eof =
      scan.stop != format::BatchCheck::kValid &&
      (file_size - pos < format::kLogOverhead ||
       pos + format::kLogOverhead +
               static_cast<uint32_t>(format::LoadBig32(map->data() + pos + format::kBatchLengthPos)) >=
           file_size);
  if (scan.stop != format::BatchCheck::kValid) {
    scan.valid_batch_follows = ValidBatchAfter(map->data(), pos, file_size, next);
  }
  scan.rest_is_zero = std::all_of(map->data() + pos, map->data() + file_size,
                                  [](uint8_t b) { return b == 0; });
  next_offset_.store(next, std::memory_order_release);
  size_.store(pos, std::memory_order_release);
  SetRollStart();
  sealed_ = false;
  return scan;
}

absl::StatusOr<bool> Segment::Follow() {
  if (!read_only_ || sealed()) return false;  // only the scanned tail of a reader grows
  RUNNEL_ASSIGN_OR_RETURN(uint64_t file_size, log_->Size());
  const uint64_t from = size();
  if (file_size <= from) return false;
  RUNNEL_RETURN_IF_ERROR(EnsureMapped(file_size));
  const std::shared_ptr<const io::MappedRegion> map = region();
  int64_t next = next_offset();
  const BatchRun run = IndexValidBatches(map->data(), from, file_size, &next);
  if (run.end == from) return false;
  // Offsets first: a reader that sees the new size finds the batches' offsets published.
  next_offset_.store(next, std::memory_order_release);
  size_.store(run.end, std::memory_order_release);
  return true;
}

absl::Status Segment::TruncateToPosition(uint64_t position) {
  RUNNEL_RETURN_IF_ERROR(log_->Truncate(position));
  if (position < size()) size_.store(position, std::memory_order_release);
  return absl::OkStatus();
}

absl::Status Segment::TruncateTo(int64_t offset) {
  if (offset >= next_offset()) return absl::OkStatus();
  // Find the first batch that holds an offset >= `offset`.
  const std::shared_ptr<const io::MappedRegion> map = region();
  const uint64_t bound = size();
  uint64_t pos = offset_index_->Lookup(offset - 1).position;
  int64_t next = base_offset_;
  if (offset <= base_offset_) pos = 0;
  while (pos < bound) {
    BatchPeek b;
    if (!PeekBatch(map->data(), pos, bound, &b)) return CorruptAt(log_path_, pos, "broken batch");
    if (b.last_offset >= offset) break;
    next = b.last_offset + 1;
    pos += b.size;
  }
  offset_index_->TruncateTo(offset);
  time_index_->TruncateTo(offset);
  const bool shared = [&] {
    std::lock_guard<std::mutex> lock(region_mu_);
    return region_.use_count() > 2;  // region_ and `map`
  }();
  size_.store(pos, std::memory_order_release);
  next_offset_.store(next, std::memory_order_release);
  if (shared) {
    // Readers hold views of the bytes being cut: write the kept prefix to a new file and
    // rename it over the old one, whose inode lives on under their mappings.
    const std::string tmp = log_path_ + ".truncating";
    {
      RUNNEL_ASSIGN_OR_RETURN(std::unique_ptr<io::File> copy,
                              env_->OpenFile(tmp, io::OpenMode::kCreate));
      RUNNEL_RETURN_IF_ERROR(copy->Truncate(0));
      RUNNEL_RETURN_IF_ERROR(copy->Write(0, std::span<const uint8_t>(map->data(), pos)));
      RUNNEL_RETURN_IF_ERROR(copy->Sync());
    }
    RUNNEL_RETURN_IF_ERROR(env_->Rename(tmp, log_path_));
    RUNNEL_RETURN_IF_ERROR(env_->SyncDir(dir_));  // or a crash could bring the old file back
    RUNNEL_ASSIGN_OR_RETURN(log_, env_->OpenFile(log_path_, io::OpenMode::kReadWrite));
    {
      std::lock_guard<std::mutex> lock(region_mu_);
      region_.reset();
    }
    RUNNEL_RETURN_IF_ERROR(EnsureMapped(pos));
  } else {
    RUNNEL_RETURN_IF_ERROR(log_->Truncate(pos));
    RUNNEL_RETURN_IF_ERROR(log_->Sync());  // the cut must be durable before appends follow
  }
  // Recompute the largest timestamp from what is left.
  int64_t max_ts = -1;
  int64_t offset_of_max = base_offset_;
  const std::shared_ptr<const io::MappedRegion> now_map = region();
  for (uint64_t p = 0; p < pos;) {
    BatchPeek b;
    if (!PeekBatch(now_map->data(), p, pos, &b)) return CorruptAt(log_path_, p, "broken batch");
    if (b.max_timestamp > max_ts) {
      max_ts = b.max_timestamp;
      offset_of_max = b.last_offset;
    }
    p += b.size;
  }
  max_timestamp_.store(max_ts, std::memory_order_release);
  offset_of_max_timestamp_ = offset_of_max;
  bytes_since_index_entry_ = pos - offset_index_->Last().position;
  return absl::OkStatus();
}

absl::Status Segment::Append(std::span<const std::span<const uint8_t>> batches,
                             std::span<const format::BatchHeader> headers) {
  const uint64_t position = size();
  uint64_t total = 0;
  for (std::span<const uint8_t> b : batches) total += b.size();
  RUNNEL_RETURN_IF_ERROR(log_->WriteV(position, batches));
  RUNNEL_RETURN_IF_ERROR(EnsureMapped(position + total));
  // Publish the bytes before the index entries that point at them (see Read).
  size_.store(position + total, std::memory_order_release);
  next_offset_.store(headers.back().next_offset(), std::memory_order_release);
  uint64_t at = position;
  for (size_t i = 0; i < batches.size(); ++i) {
    IndexBatch(headers[i], at);
    at += batches[i].size();
  }
  return absl::OkStatus();
}

size_t Segment::index_room() const {
  const size_t offsets = offset_index_->file().max_entries() - offset_index_->entries();
  const size_t times = time_index_->file().max_entries() - time_index_->entries();
  return std::min(offsets, times == 0 ? 0 : times - 1);  // one time entry kept for Seal
}

absl::Status Segment::Seal() {
  if (sealed_) return absl::OkStatus();
  if (size() > 0) {
    time_index_->MaybeAppend(max_timestamp(), offset_of_max_timestamp_, /*skip_full_check=*/true);
  }
  RUNNEL_RETURN_IF_ERROR(offset_index_->file().Trim());
  RUNNEL_RETURN_IF_ERROR(time_index_->file().Trim());
  sealed_ = true;
  return absl::OkStatus();
}

absl::Status Segment::Flush() {
  RUNNEL_RETURN_IF_ERROR(log_->Sync());
  if (sealed_ && !indexes_synced_) {
    RUNNEL_RETURN_IF_ERROR(offset_index_->file().Sync());
    RUNNEL_RETURN_IF_ERROR(time_index_->file().Sync());
    indexes_synced_ = true;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<LogSlice>> Segment::Read(int64_t offset, size_t max_bytes,
                                                      int64_t visible_offset, bool min_one,
                                                      bool* limited) const {
  *limited = false;
  // Index first, size second: an entry is published after the bytes it points at.
  const OffsetPosition entry = offset_index_->Lookup(offset);
  const uint64_t bound = size();
  const std::shared_ptr<const io::MappedRegion> map = region();
  uint64_t pos = CheckedStart(entry, map->data(), bound);
  BatchPeek b;
  // Offsets only go up within a segment. baseOffset is outside the batch CRC (as in
  // Kafka), so a damaged one is caught here, where it would otherwise hide its records
  // from a reader that skips offsets below its position.
  int64_t prev_next = INT64_MIN;
  while (true) {
    if (pos >= bound) return std::nullopt;
    if (!PeekBatch(map->data(), pos, bound, &b)) return CorruptAt(log_path_, pos, "broken batch header");
    if (b.base_offset < prev_next) return CorruptAt(log_path_, pos, "offsets go backwards");
    if (b.last_offset >= offset) break;
    prev_next = b.last_offset + 1;
    pos += b.size;
  }
  const uint64_t start = pos;
  uint64_t total = 0;
  int64_t next = offset;
  while (pos < bound) {
    if (!PeekBatch(map->data(), pos, bound, &b)) return CorruptAt(log_path_, pos, "broken batch header");
    // What precedes a batch that goes backwards is returned; the next read starts at it
    // and reports it.
    if (total > 0 && b.base_offset < next) break;
    if (b.base_offset >= visible_offset) break;
    if (total + b.size > max_bytes && (total > 0 || !min_one)) {
      *limited = true;
      break;
    }
    total += b.size;
    pos += b.size;
    next = b.last_offset + 1;
  }
  if (total == 0) return std::nullopt;
  return LogSlice{map, std::span<const uint8_t>(map->data() + start, total), next};
}

absl::StatusOr<std::optional<TimestampOffset>> Segment::FindOffsetByTimestamp(
    int64_t timestamp, int64_t visible_offset) const {
  if (max_timestamp() < timestamp) return std::nullopt;
  // Scan from the last entry strictly before `timestamp`: an entry (t, o) says only that
  // no record up to o is newer than t, so with t == timestamp records before o may hold
  // `timestamp` too, and the first of them is the answer.
  const int64_t from_offset =
      time_index_->Lookup(timestamp > INT64_MIN ? timestamp - 1 : timestamp);
  const OffsetPosition entry = offset_index_->Lookup(from_offset);
  const uint64_t bound = size();
  const std::shared_ptr<const io::MappedRegion> map = region();
  uint64_t pos = CheckedStart(entry, map->data(), bound);
  while (pos < bound) {
    BatchPeek b;
    if (!PeekBatch(map->data(), pos, bound, &b)) return CorruptAt(log_path_, pos, "broken batch header");
    if (b.base_offset >= visible_offset) break;
    if (b.max_timestamp >= timestamp && b.last_offset >= from_offset) {
      const std::span<const uint8_t> bytes(map->data() + pos, b.size);
      RUNNEL_ASSIGN_OR_RETURN(format::BatchHeader header, format::ValidateBatch(bytes));
      format::RecordIterator it(bytes, header);
      format::Record record;
      while (it.Next(&record)) {
        if (record.offset >= visible_offset) return std::nullopt;
        if (record.timestamp >= timestamp && record.offset >= from_offset) {
          return TimestampOffset{record.timestamp, record.offset};
        }
      }
      RUNNEL_RETURN_IF_ERROR(it.status());
    }
    pos += b.size;
  }
  return std::nullopt;
}

}  // namespace runnel::storage
