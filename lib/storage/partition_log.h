// The log of one topic partition: a directory of segments (segment.h) with Kafka's
// on-disk layout, appended to at the end, read from anywhere between the log start and
// the visible offset, rolled by size and age, trimmed by retention, and recovered after a
// crash (DESIGN.md "On-disk format" and "Durability and visibility").
//
// Offsets: log start <= visible <= log end. The log end (Kafka's LEO) is the next offset
// to assign; the visible offset bounds what readers get: the log end under sync policies
// none and interval, the fsynced end under always.
//
// Threads: Append, Roll, TruncateTo, EnforceRetention and Close serialise on one lock;
// Flush on another (so concurrent flushers share one fsync: group commit); Read and
// OffsetForTimestamp take no lock but a brief one to copy the segment list, and may run
// from any number of threads at once. Slices a Read returns stay valid while held, even
// if retention deletes their segment meanwhile.
//
// Errors: after a failed write or fsync the partition is read-only: every later Append
// and Flush fails with the first error (an fsync is never retried, so a failure is never
// mistaken for success). A full disk is the exception: the partial write is cut off again
// and the append fails with ResourceExhausted, leaving the partition writable. A flush
// that finds no space for the recovery checkpoint succeeds (its records are durable; the
// old checkpoint only makes recovery scan more) and the next flush writes it again. The
// first error of a read-only partition is Internal when its cause was retriable (ENOSPC
// from an fsync): retrying cannot help.
#ifndef RUNNEL_STORAGE_PARTITION_LOG_H_
#define RUNNEL_STORAGE_PARTITION_LOG_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include <mutex>
#include "io/env.h"
#include "storage/log_config.h"
#include "storage/segment.h"

namespace runnel::storage {

struct AppendInfo {
  int64_t base_offset = 0;
  int64_t last_offset = 0;
  // The time the log stamped on the batch under LogAppendTime, -1 under CreateTime.
  int64_t log_append_time = -1;
};

struct AppendOptions {
  // Check the batch's structure and CRC before writing it. A producer that built the
  // batch itself in this process may skip the second CRC pass.
  bool verify = true;
};

struct ReadResult {
  std::vector<LogSlice> slices;  // whole batches in offset order
  int64_t log_start_offset = 0;
  int64_t visible_offset = 0;

  bool empty() const { return slices.empty(); }
  size_t size_in_bytes() const;
  // Where the next read starts: one past the last offset returned; when nothing was
  // returned, the read offset, or the visible offset if no batch lies before it.
  int64_t next_offset = 0;
};

// What Open found and did. Torn tails are normal after a crash; problems are not.
struct RecoveryReport {
  bool clean_shutdown = false;
  int64_t segments_scanned = 0;
  int64_t batches_scanned = 0;
  uint64_t bytes_truncated = 0;  // of a torn batch cut off (not counting reserved zeros)
  std::vector<std::string> rebuilt_indexes;    // why each index was rebuilt
  std::vector<std::string> problems;           // corruption: file, byte position, reason
  std::vector<std::string> set_aside;          // files renamed to *.corrupt
  std::string ToString() const;
};

struct RetentionResult {
  int segments_deleted = 0;
  uint64_t bytes_deleted = 0;
};

class PartitionLog {
 public:
  // Opens (creating if needed) the partition directory `dir` and recovers it. `name` is
  // used in messages ("orders-3"); it defaults to the directory's last component. Fails
  // only for I/O errors or a bad config: torn tails are cut and corruption is set aside,
  // both described in recovery_report().
  static absl::StatusOr<std::unique_ptr<PartitionLog>> Open(io::Env* env, const std::string& dir,
                                                            const LogConfig& config,
                                                            std::string name = "");
  // Opens the partition directory `dir` that another process may own and be writing, and
  // never writes to it: segments are read as they are (indexes checked, or rebuilt in
  // memory), the log ends at the last batch whose length and CRC check out, and appends,
  // flushes, truncation and retention fail with FailedPrecondition. Refresh() follows
  // what the owner writes. NotFound if `dir` or its segments do not exist (yet).
  static absl::StatusOr<std::unique_ptr<PartitionLog>> OpenReadOnly(io::Env* env,
                                                                    const std::string& dir,
                                                                    const LogConfig& config,
                                                                    std::string name = "");
  // Releases files and mappings without flushing or marking a clean shutdown, as a
  // crash would; call Close() for an orderly shutdown.
  ~PartitionLog();
  PartitionLog(const PartitionLog&) = delete;
  PartitionLog& operator=(const PartitionLog&) = delete;

  // Flushes, trims the active segment's indexes and records a clean shutdown, so the next
  // Open skips the recovery scan. Later calls fail with FailedPrecondition.
  absl::Status Close();
  // Closes without touching the files: every later append, flush, roll, retention or
  // truncation fails with FailedPrecondition. For a partition whose directory is about to
  // be deleted (and perhaps made again by a new topic of the same name). Waits for an
  // operation in progress to finish.
  void Abandon();

  // Appends one RecordBatch v2 (as RecordBatchBuilder builds it), assigning its offsets
  // from the log end: the batch's baseOffset (and, under LogAppendTime, its timestamp) is
  // rewritten in place. InvalidArgument for a malformed, empty or too large batch.
  // Under sync policy always the batch becomes visible only after a Flush covers it.
  absl::StatusOr<AppendInfo> Append(std::span<uint8_t> batch, const AppendOptions& options = {});

  struct AppendResult {
    std::vector<AppendInfo> appended;  // the batches appended, in order
    absl::Status status;               // why the rest were not
  };
  // Appends several batches in order, each as Append would, writing each run that fits in
  // one segment with a single vectored write. Every batch is checked before any is
  // written; a write error part way leaves the batches before it appended.
  AppendResult AppendBatches(std::span<const std::span<uint8_t>> batches,
                             const AppendOptions& options = {});
  // For a log opened read-only: takes in what the owner has written since, the new
  // batches of the last segment, new segments, and segments retention deleted, and moves
  // the visible offset (waking listeners). `entries_changed` says whether files may have
  // been created or removed; without it only the last segment is looked at. Returns
  // whether anything changed. NotFound once the directory is gone.
  absl::StatusOr<bool> Refresh(bool entries_changed = true);
  bool read_only() const { return read_only_; }
  // fsyncs everything appended so far. Concurrent callers share one fsync.
  absl::Status Flush();
  // Under sync policy interval, Flush if flush.ms has passed since the last one; the
  // broker's background thread calls it, as appends alone cannot notice time passing.
  absl::Status FlushIfDue();
  // Whole batches from the one holding `offset` on, up to `max_bytes` (the first batch
  // comes whole even if larger, when `min_one`). OutOfRange when `offset` is below the
  // log start or above the visible offset; empty at the visible offset. DataLoss naming
  // the segment file and byte when the batches read do not follow each other (a damaged
  // baseOffset, which the batch CRC does not cover) or a segment ends short of its end
  // offset; the batches before the damage are returned first.
  absl::StatusOr<ReadResult> Read(int64_t offset, size_t max_bytes, bool min_one = true) const;
  // The first visible record whose timestamp is >= `timestamp` (Kafka's
  // offsetsForTimes), nullopt if there is none.
  absl::StatusOr<std::optional<TimestampOffset>> OffsetForTimestamp(int64_t timestamp) const;
  // Removes every batch holding an offset >= `offset` (Kafka's truncateTo). Readers
  // holding slices keep them; a Read running at the same moment may not, so do not
  // truncate while other threads read this partition.
  absl::Status TruncateTo(int64_t offset);
  // Starts a new segment now, if the active one holds anything.
  absl::Status Roll();
  // Deletes the oldest segments beyond retention.ms and retention.bytes.
  absl::StatusOr<RetentionResult> EnforceRetention();
  // Deletes the oldest segments that hold only offsets below `offset` (and below the
  // visible offset), as Kafka's DeleteRecords does segment by segment; the log start
  // becomes the base offset of the first segment kept. The active segment is kept.
  absl::StatusOr<RetentionResult> DeleteSegmentsBefore(int64_t offset);

  int64_t log_start_offset() const;
  int64_t log_end_offset() const { return log_end_.load(std::memory_order_acquire); }
  int64_t visible_offset(std::memory_order order = std::memory_order_acquire) const {
    return visible_.load(order);
  }
  int64_t flushed_offset() const { return flushed_.load(std::memory_order_acquire); }
  uint64_t size_in_bytes() const;
  size_t segment_count() const;
  const std::string& dir() const { return dir_; }
  const std::string& name() const { return name_; }
  const LogConfig& config() const { return config_; }
  const RecoveryReport& recovery_report() const { return report_; }
  // OK, or why the partition no longer takes appends.
  absl::Status health() const;

  // Called with the new visible offset whenever it moves, from the thread that moved it,
  // while a partition lock is held: keep it short (notify a condition variable). Set it
  // before other threads use the log.
  void set_visible_offset_listener(std::function<void(int64_t)> listener) {
    visible_listener_ = std::move(listener);
  }

 private:
  using SegmentList = std::vector<std::shared_ptr<Segment>>;

  PartitionLog(io::Env* env, std::string dir, const LogConfig& config, std::string name);
  absl::Status Recover();
  absl::Status LoadReadOnly();
  absl::StatusOr<std::vector<int64_t>> ListSegmentBases() const;
  // A read-only segment of the owner's, scanned (or loaded from its indexes when
  // `sealed` and they check out). Sets *complete to false when it ends in a batch that is
  // corrupt rather than not yet written.
  absl::StatusOr<std::shared_ptr<Segment>> OpenSegmentReadOnly(int64_t base, bool sealed,
                                                               bool* complete);
  // Whether `seg` may follow the list's last segment; if it starts inside it, reports the
  // problem (the log then ends before it).
  bool FollowsOn(const SegmentList& list, const Segment& seg);
  absl::Status SetAside(int64_t base_offset, uint64_t valid_bytes);
  std::shared_ptr<const SegmentList> segments() const;
  void PublishSegments(SegmentList list) ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_);
  void PublishVisible(int64_t offset);
  absl::Status CheckWritable() const;
  absl::Status Fail(absl::Status cause, std::string_view what);
  bool ShouldRoll(const Segment& active, uint64_t pending_bytes, size_t pending_batches,
                  int64_t base_offset, const format::BatchHeader& header, size_t bytes,
                  int64_t now) const;
  absl::Status CheckBatchForAppend(std::span<uint8_t> batch, bool verify,
                                   format::BatchHeader* header) const;
  absl::Status RollLocked(int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_);
  absl::Status FlushLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(flush_mu_);
  absl::Status DeleteSegmentFiles(const Segment& segment);
  absl::StatusOr<RetentionResult> DeletePrefixLocked(std::shared_ptr<const SegmentList> current,
                                                     size_t n, int64_t now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_);

  io::Env* const env_;
  const std::string dir_;
  const LogConfig config_;
  const std::string name_;
  RecoveryReport report_;
  bool read_only_ = false;
  std::function<void(int64_t)> visible_listener_;

  // std::mutex rather than absl::Mutex: Debian's Abseil is not built for ThreadSanitizer,
  // which then cannot see absl::Mutex's locking and reports false races.
  std::mutex append_mu_ ABSL_ACQUIRED_BEFORE(flush_mu_);
  std::mutex flush_mu_;
  mutable std::mutex segments_mu_;
  std::shared_ptr<const SegmentList> segments_ ABSL_GUARDED_BY(segments_mu_);

  std::atomic<int64_t> log_end_{0};
  std::atomic<int64_t> visible_{0};
  std::atomic<int64_t> flushed_{0};
  std::atomic<int64_t> messages_since_flush_{0};
  std::atomic<int64_t> last_flush_ms_{0};
  std::atomic<bool> new_segment_unsynced_{false};  // a roll made a file the directory may lose
  int64_t checkpointed_recovery_point_ ABSL_GUARDED_BY(flush_mu_) = 0;

  mutable std::mutex state_mu_;
  absl::Status failure_ ABSL_GUARDED_BY(state_mu_);
  bool closed_ ABSL_GUARDED_BY(state_mu_) = false;
};

}  // namespace runnel::storage

#endif  // RUNNEL_STORAGE_PARTITION_LOG_H_
