// One segment of a partition log: `<base>.log` holding whole RecordBatch v2 batches back to
// back, with its sparse `<base>.index` and `<base>.timeindex` (Kafka's LogSegment).
//
// Threads: one appender at a time (the PartitionLog's append lock) and any number of
// concurrent readers. A reader sees bytes only up to size(), which is published after the
// bytes are written, and holds the mapping it read from, so its LogSlice stays valid after
// the segment is deleted or truncated. Open/Recover/Truncate* run while no one else uses the
// segment, except TruncateTo, which is safe against readers holding slices.
#ifndef RUNNEL_STORAGE_SEGMENT_H_
#define RUNNEL_STORAGE_SEGMENT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include <mutex>
#include "format/record_batch.h"
#include "io/env.h"
#include "storage/log_config.h"
#include "storage/offset_index.h"
#include "storage/time_index.h"

namespace runnel::storage {

// Whole batches read from a segment, viewed in place. `region` keeps the bytes mapped.
struct LogSlice {
  std::shared_ptr<const io::MappedRegion> region;
  std::span<const uint8_t> bytes;
  int64_t next_offset = 0;  // one past the last offset of the last batch
};

// What a recovery scan of a segment's log found.
struct SegmentScan {
  uint64_t valid_bytes = 0;  // the valid batches end here
  uint64_t file_size = 0;
  int64_t batches = 0;
  // kValid when every byte up to file_size is a valid batch; otherwise why the scan stopped.
  format::BatchCheck stop = format::BatchCheck::kValid;
  std::string reason;
  bool rest_is_zero = true;  // bytes in [valid_bytes, file_size) are all zero
  // The bad batch's own length field says it runs to (or past) the end of the file: what
  // a write cut short by a crash leaves.
  bool bad_batch_reaches_eof = false;
  // A valid batch starts somewhere after the bad one: the damage is not a torn tail
  // (say, a corrupted length that points past the end of the file).
  bool valid_batch_follows = false;
};

class Segment {
 public:
  // A new, empty segment for appending (fails if its files exist with data).
  static absl::StatusOr<std::unique_ptr<Segment>> Create(io::Env* env, const std::string& dir,
                                                         int64_t base_offset,
                                                         const LogConfig& config,
                                                         int64_t now_ms);
  // An existing segment. Its state is not known until LoadFromIndexes or Recover.
  // A `read_only` segment never writes: its files are opened read-only, and Recover keeps
  // the indexes it rebuilds in memory (for reading a directory another process owns).
  static absl::StatusOr<std::unique_ptr<Segment>> Open(io::Env* env, const std::string& dir,
                                                       int64_t base_offset,
                                                       const LogConfig& config,
                                                       bool read_only = false);
  ~Segment();

  // Trusts the log as written (a clean shutdown or a flushed segment): checks both indexes
  // and reads the batches after the last index entry. DataLoss if an index is missing,
  // inconsistent or short, or a batch after it is broken: the caller then Recover()s.
  absl::Status LoadFromIndexes();
  // Scans the whole log, checking each batch's length, CRC and offsets, and rebuilds both
  // indexes; the segment then ends after the last valid batch. Does not cut the file:
  // TruncateToPosition does, once the caller has decided what the rest is.
  absl::StatusOr<SegmentScan> Recover();
  // For a read-only segment after Recover, which another process may still be appending
  // to: takes in the whole valid batches written after size() since. Returns whether any
  // were. Stops before a batch whose length or CRC does not check out (yet).
  absl::StatusOr<bool> Follow();
  // Cuts the log file at `position`, a batch boundary at or below the valid end.
  absl::Status TruncateToPosition(uint64_t position);
  // Removes every batch at or after `offset` (a batch containing it goes whole); readers
  // holding slices of the removed bytes keep them.
  absl::Status TruncateTo(int64_t offset);
  // Reopens the indexes for appending (the partition's last segment).
  absl::Status MakeActive();

  // Writes batches at the end, in one vectored write. On error the file may hold part of
  // them and none is published: the caller decides between TruncateToPosition(size())
  // and giving the partition up.
  absl::Status Append(std::span<const std::span<const uint8_t>> batches,
                      std::span<const format::BatchHeader> headers);
  // How many more batches the indexes can take before the segment must roll.
  size_t index_room() const;
  // Adds the final time index entry and trims both indexes: the segment takes no more.
  absl::Status Seal();
  // fsyncs the log (and, once sealed, the indexes).
  absl::Status Flush();

  // Whole batches holding offsets >= `offset` and below `visible_offset`, starting with
  // the batch that contains `offset`, up to `max_bytes` (a first batch larger than that
  // still comes whole when `min_one` is set). nullopt when there are none. Sets
  // *limited when `max_bytes` stopped it before the last visible batch.
  absl::StatusOr<std::optional<LogSlice>> Read(int64_t offset, size_t max_bytes,
                                               int64_t visible_offset, bool min_one,
                                               bool* limited) const;
  // The first record below `visible_offset` whose timestamp is >= `timestamp`.
  absl::StatusOr<std::optional<TimestampOffset>> FindOffsetByTimestamp(
      int64_t timestamp, int64_t visible_offset) const;

  int64_t base_offset() const { return base_offset_; }
  // One past the last offset in the segment (the base offset when empty).
  int64_t next_offset() const { return next_offset_.load(std::memory_order_acquire); }
  uint64_t size() const { return size_.load(std::memory_order_acquire); }
  // The largest timestamp of any batch, -1 if none.
  int64_t max_timestamp() const { return max_timestamp_.load(std::memory_order_acquire); }
  // When segment.ms starts counting: creation, or the first batch's time after a reopen.
  int64_t roll_start_ms() const { return roll_start_ms_; }
  bool sealed() const { return sealed_.load(std::memory_order_acquire); }
  // Sealed, with indexes not yet fsynced: Flush has work even if the log was synced.
  bool needs_index_sync() const { return sealed() && !indexes_synced_.load(std::memory_order_acquire); }
  const std::string& log_path() const { return log_path_; }

 private:
  Segment(io::Env* env, std::string dir, int64_t base_offset, const LogConfig& config);
  absl::Status OpenFiles(bool create);
  absl::Status OpenIndexes(bool writable);
  // The mapping readers use; grown to cover at least `bytes`.
  absl::Status EnsureMapped(uint64_t bytes);
  std::shared_ptr<const io::MappedRegion> region() const;
  void IndexBatch(const format::BatchHeader& header, uint64_t position);
  // The valid batches of [pos, end), indexed while the indexes have room. Stops at the
  // first batch that is not valid, or whose offsets go backwards from *next.
  struct BatchRun {
    uint64_t end = 0;  // where the valid batches end
    int64_t batches = 0;
    format::BatchCheck stop = format::BatchCheck::kValid;
    std::string reason;
  };
  BatchRun IndexValidBatches(const uint8_t* data, uint64_t pos, uint64_t end, int64_t* next);
  void ResetState();
  void SetRollStart();

  io::Env* env_;
  bool read_only_ = false;
  std::string dir_;
  int64_t base_offset_;
  LogConfig config_;
  std::string log_path_;
  std::unique_ptr<io::File> log_;
  std::unique_ptr<OffsetIndex> offset_index_;
  std::unique_ptr<TimeIndex> time_index_;

  mutable std::mutex region_mu_;
  std::shared_ptr<io::MappedRegion> region_ ABSL_GUARDED_BY(region_mu_);

  std::atomic<int64_t> next_offset_;
  std::atomic<uint64_t> size_{0};
  std::atomic<int64_t> max_timestamp_{-1};
  int64_t offset_of_max_timestamp_;
  int64_t roll_start_ms_ = 0;
  uint64_t bytes_since_index_entry_ = 0;
  std::atomic<bool> sealed_{true};
  std::atomic<bool> indexes_synced_{false};
};

}  // namespace runnel::storage

#endif  // RUNNEL_STORAGE_SEGMENT_H_
