// The checks that `runnel dump` and `runnel verify` share: walking a segment's .log batch
// by batch (length, magic, CRC32C), finding the next valid batch after damage, and
// checking a .index / .timeindex against the batches of the .log beside it.
//
// Everything here only reads: files are opened read-only and mapped read-only, no lock is
// taken, so it works beside a process that owns the data directory. Damage is reported to
// a Findings sink, never as an error status; a status means a file could not be read.
//
// A live writer (or a crash) leaves the end of a partition's last segment torn: a batch
// cut short, or preallocated zeros. That is a note, not a problem (leveldb's log_reader
// makes the same distinction). Index files of an active segment are preallocated with
// zeros; trailing all-zero entries are unused slots, not entries.
#ifndef RUNNEL_TOOLS_SEGMENT_CHECKER_H_
#define RUNNEL_TOOLS_SEGMENT_CHECKER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "format/record_batch.h"
#include "io/env.h"

namespace runnel::tools {

// One thing wrong (a problem) or worth knowing (a note) about a file, at a byte position
// when there is one.
struct Finding {
  enum class Kind { kProblem, kNote };
  Kind kind = Kind::kProblem;
  std::string file;
  std::optional<uint64_t> position;
  std::string what;
};

// "problem: FILE at byte POS: WHAT" (or "note: ...", and no "at byte" without a position).
std::string FormatFinding(const Finding& finding);

// Counts findings and hands each to a sink (which prints it).
class Findings {
 public:
  explicit Findings(std::function<void(const Finding&)> sink) : sink_(std::move(sink)) {}
  void Problem(const std::string& file, std::optional<uint64_t> position, std::string what);
  void Note(const std::string& file, std::optional<uint64_t> position, std::string what);
  int problems() const { return problems_; }
  int notes() const { return notes_; }

 private:
  std::function<void(const Finding&)> sink_;
  int problems_ = 0;
  int notes_ = 0;
};

// A .log file mapped read-only. Its size is taken once, at Open: a live writer's later
// appends are not seen.
class LogFile {
 public:
  static absl::StatusOr<std::unique_ptr<LogFile>> Open(const std::string& path);
  const std::string& path() const { return path_; }
  std::span<const uint8_t> bytes() const { return bytes_; }

 private:
  LogFile(std::string path, std::shared_ptr<io::MappedRegion> region);
  std::string path_;
  std::shared_ptr<io::MappedRegion> region_;  // null for an empty file
  std::span<const uint8_t> bytes_;
};

// A batch the walk found. `crc_valid` is false for a batch whose header and length are
// sound but whose CRC32C (or record count) is not: it is shown and skipped over.
struct WalkedBatch {
  uint64_t position = 0;
  format::BatchHeader header;
  bool crc_valid = true;
  std::span<const uint8_t> bytes;  // the whole batch
};

// What the walk of one .log found: every batch with a sound header, in file order.
struct SegmentScan {
  std::vector<WalkedBatch> batches;
  int64_t valid_batches = 0;
  // Where the torn tail of a last segment starts, if it has one. Index entries pointing
  // into it are notes too: after a crash the index may hold what the log lost.
  std::optional<uint64_t> torn_tail;
};

// Walks `log` from byte 0. Each damaged stretch is reported with its position and
// CheckBatch's reason; the walk resumes at the next valid batch after it, or stops when
// there is none. `last_segment`: the partition's active segment, whose torn tail is a note.
// `on_batch` (may be null) sees each batch as it is found.
SegmentScan WalkLog(const LogFile& log, bool last_segment, Findings& findings,
                    const std::function<void(const WalkedBatch&)>& on_batch = nullptr);

// Index entries as stored, with absolute offsets; trailing all-zero (preallocated) slots
// are dropped and counted.
struct OffsetIndexEntry {
  int64_t offset = 0;
  uint32_t position = 0;
};
struct TimeIndexEntry {
  int64_t timestamp = 0;
  int64_t offset = 0;
};
template <typename Entry>
struct IndexContents {
  std::vector<Entry> entries;
  size_t unused_slots = 0;
  size_t trailing_bytes = 0;  // bytes after the last whole entry (a damaged file)
};

// Reads an index file (NotFound if it does not exist). `base_offset` is its segment's.
absl::StatusOr<IndexContents<OffsetIndexEntry>> ReadOffsetIndex(const std::string& path,
                                                                int64_t base_offset);
absl::StatusOr<IndexContents<TimeIndexEntry>> ReadTimeIndex(const std::string& path,
                                                            int64_t base_offset);

// Kafka's rules, against the batches of the segment's log: offset index entries strictly
// increase in offset and position, and each points at the start of a batch whose last
// offset is the entry's offset; time index timestamps strictly increase, offsets do not
// decrease, and each entry names a batch by its last offset and max timestamp.
// Positions in findings are byte positions in the index file.
void CheckOffsetIndex(const std::string& path, const IndexContents<OffsetIndexEntry>& index,
                      const SegmentScan& scan, Findings& findings);
void CheckTimeIndex(const std::string& path, const IndexContents<TimeIndexEntry>& index,
                    const SegmentScan& scan, Findings& findings);

// The segment files of a partition directory, by kind: base offsets, ascending.
struct SegmentFile {
  enum class Kind { kLog, kIndex, kTimeIndex };
  Kind kind;
  int64_t base_offset;
};
// Parses "<20 digits>.log|.index|.timeindex"; nullopt for any other name.
std::optional<SegmentFile> ParseSegmentFileName(const std::string& name);
// The base offsets of the .log files in `dir`, ascending.
absl::StatusOr<std::vector<int64_t>> ListLogSegments(const std::string& dir);

}  // namespace runnel::tools

#endif  // RUNNEL_TOOLS_SEGMENT_CHECKER_H_
