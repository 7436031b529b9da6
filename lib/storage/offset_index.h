// Kafka's sparse offset index (OffsetIndex.java): 8-byte big-endian entries of
// (offset - base offset as u32, file position as u32), one for roughly every
// index.interval.bytes of log, each naming the last offset of the batch that starts at
// that position. Lookup finds the greatest entry at or below an offset; the caller then
// scans batches forward from its position. Thread-safety as IndexFile.
#ifndef RUNNEL_STORAGE_OFFSET_INDEX_H_
#define RUNNEL_STORAGE_OFFSET_INDEX_H_

#include <cstdint>
#include <memory>

#include "storage/index_file.h"

namespace runnel::storage {

struct OffsetPosition {
  int64_t offset = 0;
  uint32_t position = 0;
};

class OffsetIndex {
 public:
  static constexpr size_t kEntrySize = 8;

  OffsetIndex(std::unique_ptr<IndexFile> file, int64_t base_offset)
      : file_(std::move(file)), base_offset_(base_offset) {}

  IndexFile& file() { return *file_; }
  const IndexFile& file() const { return *file_; }
  size_t entries() const { return file_->entries(); }
  bool full() const { return file_->full(); }
  OffsetPosition Entry(size_t i) const;
  // The last entry, or (base offset, 0) when empty.
  OffsetPosition Last() const;

  // Appends (offset, position); offset must exceed the last entry's and fit 32 bits
  // relative to the base offset.
  void Append(int64_t offset, uint32_t position);
  // The greatest entry whose offset is <= target, or (base offset, 0) if none is.
  OffsetPosition Lookup(int64_t target) const;
  // Drops entries whose offset is >= offset.
  void TruncateTo(int64_t offset);
  // DataLoss naming the file and entry unless entries strictly increase in offset and
  // position, stay below `next_offset`, and point inside a log of `log_size` bytes.
  absl::Status Check(int64_t next_offset, uint64_t log_size) const;

 private:
  std::unique_ptr<IndexFile> file_;
  int64_t base_offset_;
};

}  // namespace runnel::storage

#endif  // RUNNEL_STORAGE_OFFSET_INDEX_H_
