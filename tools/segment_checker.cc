#include "tools/segment_checker.h"

#include <fmt/format.h>

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "format/byte_order.h"
#include "storage/file_names.h"
#include "util/formatters.h"

namespace runnel::tools {
namespace {

using format::BatchCheck;

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool AllZero(std::span<const uint8_t> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

// The first position at or after `from` where a whole valid batch starts, or nullopt.
// Cheap tests (magic, a length that fits) come before the CRC.
std::optional<uint64_t> FindNextValidBatch(std::span<const uint8_t> bytes, uint64_t from) {
  const uint64_t end = bytes.size();
  for (uint64_t p = from; p + format::kBatchHeaderSize <= end; ++p) {
    if (static_cast<int8_t>(bytes[p + format::kMagicPos]) != format::kMagicV2) continue;
    const auto length =
        static_cast<int32_t>(format::LoadBig32(bytes.data() + p + format::kBatchLengthPos));
    if (length < static_cast<int32_t>(format::kBatchHeaderSize - format::kLogOverhead) ||
        p + format::kLogOverhead + static_cast<uint64_t>(length) > end) {
      continue;
    }
    if (format::CheckBatch(bytes.subspan(p)).check == BatchCheck::kValid) return p;
  }
  return std::nullopt;
}

std::string OffsetRange(const format::BatchHeader& h) {
  return fmt::format("offsets {}..{}", h.base_offset, h.last_offset());
}

// The batch of `scan` that starts at `position`, or nullptr.
const WalkedBatch* BatchAt(const SegmentScan& scan, uint64_t position) {
  auto it = std::lower_bound(scan.batches.begin(), scan.batches.end(), position,
                             [](const WalkedBatch& b, uint64_t p) { return b.position < p; });
  return it != scan.batches.end() && it->position == position ? &*it : nullptr;
}

template <typename Entry>
absl::StatusOr<IndexContents<Entry>> ReadIndex(
    const std::string& path, size_t entry_size,
    const std::function<Entry(const uint8_t*)>& decode) {
  absl::StatusOr<std::vector<uint8_t>> bytes = io::ReadFile(io::PosixEnv(), path);
  if (!bytes.ok()) return bytes.status();
  IndexContents<Entry> index;
  const size_t whole = bytes->size() / entry_size;
  index.trailing_bytes = bytes->size() % entry_size;
  size_t used = whole;
  while (used > 0 &&
         AllZero(std::span<const uint8_t>(bytes->data() + (used - 1) * entry_size, entry_size))) {
    --used;
  }
  index.unused_slots = whole - used;
  for (size_t i = 0; i < used; ++i) index.entries.push_back(decode(bytes->data() + i * entry_size));
  return index;
}

}  // namespace

std::string FormatFinding(const Finding& f) {
  const char* kind = f.kind == Finding::Kind::kProblem ? "problem" : "note";
  if (f.position.has_value()) return fmt::format("{}: {} at byte {}: {}", kind, f.file, *f.position, f.what);
  return fmt::format("{}: {}: {}", kind, f.file, f.what);
}

void Findings::Problem(const std::string& file, std::optional<uint64_t> position,
                       std::string what) {
  ++problems_;
  sink_(Finding{Finding::Kind::kProblem, file, position, std::move(what)});
}

void Findings::Note(const std::string& file, std::optional<uint64_t> position, std::string what) {
  ++notes_;
  sink_(Finding{Finding::Kind::kNote, file, position, std::move(what)});
}

LogFile::LogFile(std::string path, std::shared_ptr<io::MappedRegion> region)
    : path_(std::move(path)), region_(std::move(region)) {
  if (region_ != nullptr) bytes_ = std::span<const uint8_t>(region_->data(), region_->size());
}

absl::StatusOr<std::unique_ptr<LogFile>> LogFile::Open(const std::string& path) {
  absl::StatusOr<std::unique_ptr<io::File>> file =
      io::PosixEnv()->OpenFile(path, io::OpenMode::kReadOnly);
  if (!file.ok()) return file.status();
  absl::StatusOr<uint64_t> size = (*file)->Size();
  if (!size.ok()) return size.status();
  std::shared_ptr<io::MappedRegion> region;
  if (*size > 0) {
    absl::StatusOr<std::shared_ptr<io::MappedRegion>> mapped =
        (*file)->Map(static_cast<size_t>(*size), /*writable=*/false);
    if (!mapped.ok()) return mapped.status();
    region = std::move(*mapped);
  }
  return std::unique_ptr<LogFile>(new LogFile(path, std::move(region)));
}

SegmentScan WalkLog(const LogFile& log, bool last_segment, Findings& findings,
                    const std::function<void(const WalkedBatch&)>& on_batch) {
  SegmentScan scan;
  const std::span<const uint8_t> bytes = log.bytes();
  const std::optional<SegmentFile> name = ParseSegmentFileName(BaseName(log.path()));
  int64_t next_offset = name.has_value() ? name->base_offset : 0;
  uint64_t pos = 0;
  while (pos < bytes.size()) {
    const format::BatchCheckResult r = format::CheckBatch(bytes.subspan(pos));
    // CheckBatch decodes the header once the length and magic are sound and the whole
    // batch is present: then only the CRC or the record count is wrong, and the next
    // batch starts where the length says.
    const bool sound_length = r.check == BatchCheck::kValid || r.header.batch_length > 0;
    if (sound_length) {
      WalkedBatch b{pos, r.header, r.check == BatchCheck::kValid,
                    bytes.subspan(pos, r.header.size_in_bytes())};
      if (!b.crc_valid) {
        findings.Problem(log.path(), pos,
                         fmt::format("batch of {} ({} bytes) is damaged: {}",
                                     OffsetRange(r.header), r.header.size_in_bytes(), r.reason));
      } else {
        ++scan.valid_batches;
      }
      if (r.header.base_offset < next_offset) {
        findings.Problem(log.path(), pos,
                         fmt::format("batch of {} goes backwards: offset {} was expected or later",
                                     OffsetRange(r.header), next_offset));
      }
      next_offset = std::max(next_offset, r.header.next_offset());
      scan.batches.push_back(b);
      if (on_batch) on_batch(b);
      pos += r.header.size_in_bytes();
      continue;
    }
    const std::optional<uint64_t> next = FindNextValidBatch(bytes, pos + 1);
    if (next.has_value()) {
      findings.Problem(log.path(), pos,
                       fmt::format("damaged batch ({}): {} bytes skipped to the next valid batch "
                                   "at byte {}",
                                   r.reason, *next - pos, *next));
      pos = *next;
      continue;
    }
    const uint64_t tail = bytes.size() - pos;
    const bool zeros = AllZero(bytes.subspan(pos));
    if (last_segment && (r.check == BatchCheck::kIncomplete || zeros)) {
      scan.torn_tail = pos;
      findings.Note(log.path(), pos,
                    fmt::format("torn tail of {} bytes ({}): the end of the partition's last "
                                "segment, as a live writer or a crash leaves it",
                                tail, zeros ? "all zeros" : r.reason));
    } else {
      findings.Problem(log.path(), pos,
                       fmt::format("damaged batch ({}): no valid batch in the {} bytes from here "
                                   "to the end of the file",
                                   r.reason, tail));
    }
    break;
  }
  return scan;
}

absl::StatusOr<IndexContents<OffsetIndexEntry>> ReadOffsetIndex(const std::string& path,
                                                                int64_t base_offset) {
  return ReadIndex<OffsetIndexEntry>(path, 8, [base_offset](const uint8_t* e) {
    return OffsetIndexEntry{base_offset + format::LoadBig32(e), format::LoadBig32(e + 4)};
  });
}

absl::StatusOr<IndexContents<TimeIndexEntry>> ReadTimeIndex(const std::string& path,
                                                            int64_t base_offset) {
  return ReadIndex<TimeIndexEntry>(path, 12, [base_offset](const uint8_t* e) {
    return TimeIndexEntry{static_cast<int64_t>(format::LoadBig64(e)),
                          base_offset + format::LoadBig32(e + 8)};
  });
}

void CheckOffsetIndex(const std::string& path, const IndexContents<OffsetIndexEntry>& index,
                      const SegmentScan& scan, Findings& findings) {
  constexpr size_t kEntrySize = 8;
  const uint64_t log_end =
      scan.batches.empty() ? 0 : scan.batches.back().position + scan.batches.back().bytes.size();
  for (size_t i = 0; i < index.entries.size(); ++i) {
    const OffsetIndexEntry& e = index.entries[i];
    const std::string entry = fmt::format("entry {} (offset {}, position {})", i, e.offset, e.position);
    if (i > 0) {
      const OffsetIndexEntry& prev = index.entries[i - 1];
      if (e.offset <= prev.offset || e.position <= prev.position) {
        findings.Problem(path, i * kEntrySize,
                         fmt::format("{} does not increase on entry {} (offset {}, position {})",
                                     entry, i - 1, prev.offset, prev.position));
        continue;
      }
    }
    const WalkedBatch* b = BatchAt(scan, e.position);
    if (b == nullptr && scan.torn_tail.has_value() && e.position >= *scan.torn_tail) {
      findings.Note(path, i * kEntrySize,
                    fmt::format("{} points into the torn tail of the log (byte {} on)", entry,
                                *scan.torn_tail));
    } else if (b == nullptr) {
      findings.Problem(path, i * kEntrySize,
                       e.position >= log_end
                           ? fmt::format("{} points past the last batch of the log (which ends "
                                         "at byte {})",
                                         entry, log_end)
                           : fmt::format("{} points inside a batch, not at the start of one",
                                         entry));
    } else if (b->header.last_offset() != e.offset) {
      findings.Problem(path, i * kEntrySize,
                       fmt::format("{}: the batch at that position holds {}; the entry must "
                                   "name its last offset {}",
                                   entry, OffsetRange(b->header), b->header.last_offset()));
    }
  }
  if (index.trailing_bytes > 0) {
    findings.Problem(path, index.entries.size() * kEntrySize + index.unused_slots * kEntrySize,
                     fmt::format("{} bytes after the last whole {}-byte entry",
                                 index.trailing_bytes, kEntrySize));
  }
}

void CheckTimeIndex(const std::string& path, const IndexContents<TimeIndexEntry>& index,
                    const SegmentScan& scan, Findings& findings) {
  constexpr size_t kEntrySize = 12;
  absl::flat_hash_map<int64_t, const WalkedBatch*> by_last_offset;
  for (const WalkedBatch& b : scan.batches) by_last_offset[b.header.last_offset()] = &b;
  for (size_t i = 0; i < index.entries.size(); ++i) {
    const TimeIndexEntry& e = index.entries[i];
    const std::string entry =
        fmt::format("entry {} (timestamp {}, offset {})", i, e.timestamp, e.offset);
    if (i > 0) {
      const TimeIndexEntry& prev = index.entries[i - 1];
      if (e.timestamp <= prev.timestamp || e.offset < prev.offset) {
        findings.Problem(path, i * kEntrySize,
                         fmt::format("{} does not increase on entry {} (timestamp {}, offset {})",
                                     entry, i - 1, prev.timestamp, prev.offset));
        continue;
      }
    }
    auto it = by_last_offset.find(e.offset);
    const int64_t last_offset =
        scan.batches.empty() ? INT64_MIN : scan.batches.back().header.last_offset();
    if (it == by_last_offset.end() && scan.torn_tail.has_value() && e.offset > last_offset) {
      findings.Note(path, i * kEntrySize,
                    fmt::format("{} names a batch lost in the torn tail of the log", entry));
    } else if (it == by_last_offset.end()) {
      findings.Problem(path, i * kEntrySize,
                       fmt::format("{}: no batch of the log ends at offset {}", entry, e.offset));
    } else if (it->second->header.max_timestamp != e.timestamp) {
      findings.Problem(path, i * kEntrySize,
                       fmt::format("{}: the batch of {} has max timestamp {}", entry,
                                   OffsetRange(it->second->header),
                                   it->second->header.max_timestamp));
    }
  }
  if (index.trailing_bytes > 0) {
    findings.Problem(path, index.entries.size() * kEntrySize + index.unused_slots * kEntrySize,
                     fmt::format("{} bytes after the last whole {}-byte entry",
                                 index.trailing_bytes, kEntrySize));
  }
}

std::optional<SegmentFile> ParseSegmentFileName(const std::string& name) {
  using Kind = SegmentFile::Kind;
  for (const auto& [suffix, kind] : {std::pair{storage::kLogSuffix, Kind::kLog},
                                     std::pair{storage::kIndexSuffix, Kind::kIndex},
                                     std::pair{storage::kTimeIndexSuffix, Kind::kTimeIndex}}) {
    if (std::optional<int64_t> base = storage::ParseOffsetFileName(name, suffix)) {
      return SegmentFile{kind, *base};
    }
  }
  return std::nullopt;
}

absl::StatusOr<std::vector<int64_t>> ListLogSegments(const std::string& dir) {
  absl::StatusOr<std::vector<std::string>> names = io::PosixEnv()->ListDir(dir);
  if (!names.ok()) return names.status();
  std::vector<int64_t> bases;
  for (const std::string& name : *names) {
    if (std::optional<int64_t> base = storage::ParseOffsetFileName(name, storage::kLogSuffix)) {
      bases.push_back(*base);
    }
  }
  std::sort(bases.begin(), bases.end());
  return bases;
}

}  // namespace runnel::tools
