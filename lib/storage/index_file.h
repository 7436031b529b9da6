// A memory-mapped file of fixed-size entries, the common part of Kafka's offset and time
// indexes (AbstractIndex.java). An index open for appending is preallocated to its
// maximum size with blocks reserved, so a write through the mapping cannot hit a full disk;
// Trim() cuts it to the entries in use when its segment is sealed. Indexes are derived
// data: recovery rebuilds one that is missing, short or inconsistent.
//
// One writer (the partition's appender) and any number of readers: a reader sees an entry
// only after entries() counts it, and entries are never rewritten while counted except by
// TruncateEntries/Reset, which callers serialise against readers of the same segment.
#ifndef RUNNEL_STORAGE_INDEX_FILE_H_
#define RUNNEL_STORAGE_INDEX_FILE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "io/env.h"

namespace runnel::storage {

class IndexFile {
 public:
  // Opens (creating if missing) `path`. A writable index is grown to `max_bytes` (rounded
  // down to whole entries) and keeps the entries its trimmed size holds; a read-only one is
  // mapped as it is. An existing file whose size is not a whole number of entries is
  // reported as DataLoss, so the caller rebuilds it.
  static absl::StatusOr<std::unique_ptr<IndexFile>> Open(io::Env* env, const std::string& path,
                                                         size_t entry_size, size_t max_bytes,
                                                         bool writable);

  // A copy of an existing index as it is now: for a reader of a directory another
  // process owns.
  static absl::StatusOr<std::unique_ptr<IndexFile>> OpenReadOnly(io::Env* env,
                                                                 const std::string& path,
                                                                 size_t entry_size);
  // An index in memory only, of up to `max_bytes`: what a read-only reader builds while it
  // scans a log it may not write index files for. `path` names it in messages.
  static absl::StatusOr<std::unique_ptr<IndexFile>> InMemory(std::string path, size_t entry_size,
                                                             size_t max_bytes);

  const std::string& path() const { return path_; }
  size_t entry_size() const { return entry_size_; }
  size_t entries() const { return entries_.load(std::memory_order_acquire); }
  size_t max_entries() const { return max_entries_; }
  bool full() const { return entries() >= max_entries_; }
  bool writable() const { return writable_; }

  // The bytes of entry i < entries().
  const uint8_t* entry(size_t i) const { return region_->data() + i * entry_size_; }
  // Appends one entry of entry_size() bytes; the caller checks full() first.
  void Append(const uint8_t* bytes);
  // Keeps the first n entries.
  void TruncateEntries(size_t n);

  // Writes mapped entries and the file size to disk.
  absl::Status Sync();
  // Shrinks the file to the entries in use and makes it read-only; for sealing.
  absl::Status Trim();
  // Grows a trimmed index back to `max_bytes` for appending (reopening an active segment).
  absl::Status MakeWritable(size_t max_bytes);

 private:
  IndexFile(std::unique_ptr<io::File> file, std::string path, size_t entry_size)
      : file_(std::move(file)), path_(std::move(path)), entry_size_(entry_size) {}

  std::unique_ptr<io::File> file_;  // null for an index in memory
  std::string path_;
  std::shared_ptr<io::MappedRegion> region_;  // null while the index is empty and read-only
  size_t entry_size_;
  size_t max_entries_ = 0;
  bool writable_ = false;
  std::atomic<size_t> entries_{0};
};

// base + relative, an index entry's offset; INT64_MAX if that overflows, which only a
// damaged entry of a segment named after an offset near INT64_MAX gives, and which the
// indexes' Check rejects as past the log.
inline int64_t AddRelativeOffset(int64_t base, uint32_t relative) {
  return base > INT64_MAX - static_cast<int64_t>(relative) ? INT64_MAX : base + relative;
}

}  // namespace runnel::storage

#endif  // RUNNEL_STORAGE_INDEX_FILE_H_
