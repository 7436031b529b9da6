// Kafka's time index (TimeIndex.java): 12-byte big-endian entries of (timestamp i64,
// offset - base offset as u32), appended beside offset index entries whenever the
// segment's largest timestamp grows, so timestamps strictly increase along the file.
// Lookup gives the offset from which to scan for the first record at or after a time.
// Thread-safety as IndexFile.
#ifndef RUNNEL_STORAGE_TIME_INDEX_H_
#define RUNNEL_STORAGE_TIME_INDEX_H_

#include <cstdint>
#include <memory>

#include "storage/index_file.h"

namespace runnel::storage {

struct TimestampOffset {
  int64_t timestamp = -1;
  int64_t offset = 0;
};

class TimeIndex {
 public:
  static constexpr size_t kEntrySize = 12;

  TimeIndex(std::unique_ptr<IndexFile> file, int64_t base_offset)
      : file_(std::move(file)), base_offset_(base_offset) {}

  IndexFile& file() { return *file_; }
  const IndexFile& file() const { return *file_; }
  size_t entries() const { return file_->entries(); }
  bool full() const { return file_->full(); }
  TimestampOffset Entry(size_t i) const;
  // The last entry, or (-1, base offset) when empty.
  TimestampOffset Last() const;

  // Appends (timestamp, offset) if timestamp exceeds the last entry's; offset must not be
  // below the last entry's. The segment rolls while one slot is still free (almost_full),
  // which sealing uses for the segment's final entry (skip_full_check).
  void MaybeAppend(int64_t timestamp, int64_t offset, bool skip_full_check = false);
  bool almost_full() const { return entries() + 1 >= file_->max_entries(); }
  // The offset of the greatest entry whose timestamp is <= target, or the base offset.
  int64_t Lookup(int64_t target) const;
  // Drops entries whose offset is >= offset.
  void TruncateTo(int64_t offset);
  // DataLoss naming the file and entry unless timestamps strictly increase, offsets do
  // not decrease and stay below `next_offset`.
  absl::Status Check(int64_t next_offset) const;

 private:
  std::unique_ptr<IndexFile> file_;
  int64_t base_offset_;
};

}  // namespace runnel::storage

#endif  // RUNNEL_STORAGE_TIME_INDEX_H_
