// FaultEnv: an io::Env for tests that counts operations, fails them on command (EIO,
// ENOSPC, short writes), "dies" after N mutating operations, and simulates a power cut on
// the real directory tree, in the spirit of leveldb's db/fault_injection_test.cc.
//
// What survives PowerCut() (the model; deliberately simple):
//  - File data: a file keeps the bytes up to its size at its last successful File::Sync or
//    MappedRegion::Sync (msync, like fdatasync on Linux, also makes the size durable), plus
//    a random-length prefix (chosen by the seed) of what lies beyond: a torn write. Bytes
//    overwritten below the synced size are not rolled back, and a Truncate or Allocate
//    that shrinks a file counts as durable at once. Files first seen already on disk start
//    fully durable.
//  - Mappings: bytes under a writable mapping go back to the snapshot taken at the last
//    successful sync covering them (MappedRegion::Sync for its range, File::Sync for all of
//    it, as Linux's fdatasync also writes back pages dirtied through a mapping), or to the
//    file's contents when first mapped. Bytes a Truncate/Allocate adds under a mapping
//    snapshot as zeros. Snapshots are kept in memory.
//  - Directory entries: a file created since the last SyncDir of its directory is removed;
//    a rename since the last SyncDir of the destination's directory is undone (the source
//    name comes back and the destination gets its previous contents back from an in-memory
//    copy made at rename time). Removals are NOT undone, directories made by CreateDir are
//    kept, and an undo is skipped when the destination was since removed or replaced.
// After PowerCut everything on disk counts as durable again and faults and dead mode are
// cleared; operation counts are kept.
//
// Thread-safe. The FaultEnv must outlive every File and MappedRegion it hands out, and
// PowerCut needs them all destroyed first (it fails with FailedPrecondition otherwise).
// Test files are assumed small: mapping snapshots and replaced files are held in memory.
#ifndef RUNNEL_TEST_SUPPORT_FAULT_ENV_H_
#define RUNNEL_TEST_SUPPORT_FAULT_ENV_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "io/env.h"

namespace runnel::testing {

// Operation kinds that FaultEnv counts and can fail. kSync covers File::Sync and
// MappedRegion::Sync; kTruncate covers File::Truncate and File::Allocate; kRemove covers
// RemoveFile and RemoveDir; kAny matches every kind.
enum class FaultOp { kWrite, kSync, kOpen, kRename, kMap, kTruncate, kSyncDir, kRemove, kAny };

std::string_view FaultOpName(FaultOp op);

class FaultEnv : public io::EnvWrapper {
 public:
  explicit FaultEnv(io::Env* target = io::PosixEnv());
  ~FaultEnv() override;
  FaultEnv(const FaultEnv&) = delete;
  FaultEnv& operator=(const FaultEnv&) = delete;

  // Operations attempted through this env of that kind (kAny: of all kinds), failed ones
  // included, since construction.
  int64_t count(FaultOp op) const;

  // The n-th (1-based, counted from this call) operation of kind `op` on a path containing
  // `path_contains` fails with `error` and has no effect; with `persistent`, so does every
  // later one. Several faults may be armed at once.
  void FailNth(FaultOp op, int64_t n, absl::Status error, bool persistent = false,
               std::string path_contains = "");
  // The n-th write (counted from this call) writes the first half of its bytes to the file,
  // then returns `error`: what a write(2) that hit ENOSPC midway leaves.
  void ShortWriteNth(int64_t n, absl::Status error, std::string path_contains = "");
  void ClearFaults();

  // After `n_ops` more mutating operations (Write, File or MappedRegion Sync, Truncate,
  // Allocate, Rename, RemoveFile, RemoveDir, CreateDir, SyncDir, OpenFile with a create
  // mode), every later one fails with Internal "power lost" and has no effect; reads and
  // Map keep working (bytes stored through a mapping are undone by PowerCut).
  void KillAfter(int64_t n_ops);
  bool dead() const;

  // Makes the disk look as a power loss at this moment would leave it (see the model
  // above), then forgets all tracking. Call once the code under test has destroyed its
  // files and mappings.
  absl::Status PowerCut(uint64_t seed);

  // Errors shaped like io::ErrnoStatus's: "<operation> <path>: <strerror>".
  static absl::Status IoError(std::string_view path, std::string_view operation = "write");
  static absl::Status NoSpace(std::string_view path, std::string_view operation = "write");

  absl::StatusOr<std::unique_ptr<io::File>> OpenFile(const std::string& path,
                                                     io::OpenMode mode) override;
  absl::Status CreateDir(const std::string& path) override;
  absl::Status RemoveFile(const std::string& path) override;
  absl::Status RemoveDir(const std::string& path) override;
  absl::Status Rename(const std::string& from, const std::string& to) override;
  absl::Status SyncDir(const std::string& path) override;

 private:
  class FaultFile;
  class FaultRegion;

  // What the env knows about one file: an inode, so renames carry it to its new path.
  struct FileState {
    uint64_t size = 0;         // current size, as changed through this env
    uint64_t synced_size = 0;  // durable size (as of the last successful sync)
    bool created_unsynced = false;
    // For files mapped writable: the durable bytes of [0, image.size()), where
    // image.size() == min(map_length, size).
    bool has_image = false;
    size_t map_length = 0;
    std::vector<uint8_t> image;
  };
  using StatePtr = std::shared_ptr<FileState>;

  struct Fault {
    FaultOp op;
    int64_t n;
    absl::Status error;
    bool persistent;
    bool short_write;
    std::string path_contains;
    int64_t seen = 0;
  };
  struct Verdict {
    absl::Status status;
    bool short_write = false;
  };
  struct PendingRename {
    std::string from, to;  // normalized
    bool is_dir = false;
    bool to_was_dir = false;
    StatePtr moved;                              // the renamed file
    StatePtr replaced;                           // what `to` held before, if tracked
    std::optional<std::vector<uint8_t>> backup;  // the contents `to` held before
  };
  // Taken just before a sync: what it will make durable.
  struct SyncPrep {
    uint64_t size = 0;
    size_t image_offset = 0;
    std::vector<uint8_t> image_bytes;
  };

  // Counts the operation and decides whether it fails (dead mode first, then faults).
  Verdict Check(FaultOp op, const std::string& path, bool mutating);
  absl::Status CheckDeadLocked(std::string_view what, const std::string& path)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Bookkeeping for FaultFile and FaultRegion, after (or just before) the real operation.
  void OnWrite(FileState& st, uint64_t offset, std::span<const uint8_t> data);
  void OnTruncate(FileState& st, uint64_t size);
  void OnMap(FileState& st, const io::File& file, size_t length);
  SyncPrep PrepareSync(FileState& st, const io::File& file, size_t offset, size_t length);
  void OnSynced(FileState& st, const SyncPrep& prep);
  void AddLive(int files, int regions);

  StatePtr NewStateLocked(const std::string& path, bool durable)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status UndoRenameLocked(const PendingRename& r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CutFileLocked(const std::string& path, const FileState& st, uint64_t random)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<FaultOp, int64_t> counts_ ABSL_GUARDED_BY(mu_);
  std::vector<Fault> faults_ ABSL_GUARDED_BY(mu_);
  int64_t kill_budget_ ABSL_GUARDED_BY(mu_) = -1;  // mutating ops left; -1: not armed
  bool dead_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, StatePtr> files_ ABSL_GUARDED_BY(mu_);  // by normalized path
  std::vector<PendingRename> renames_ ABSL_GUARDED_BY(mu_);     // oldest first
  int live_files_ ABSL_GUARDED_BY(mu_) = 0;
  int live_regions_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace runnel::testing

#endif  // RUNNEL_TEST_SUPPORT_FAULT_ENV_H_
