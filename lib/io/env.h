// The platform seam: every file operation runnel makes goes through an Env, so that tests
// can wrap it to fail on command (ENOSPC, EIO, short writes) or to cut power (drop all
// that was not synced). PosixEnv() is the real one. Errors are absl::Status values that
// name the file and the operation; ENOSPC/EDQUOT map to ResourceExhausted, ENOENT to
// NotFound, EEXIST to AlreadyExists, EACCES/EPERM/EROFS to PermissionDenied, a lock held
// elsewhere to FailedPrecondition, anything else to Internal (with errno's text). Envs and files are thread-safe for concurrent calls on different
// objects; one File may be written from one thread and read from many.
#ifndef RUNNEL_IO_ENV_H_
#define RUNNEL_IO_ENV_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace runnel::io {

// A memory mapping of a file. Unmapped when the last reference goes, so a reader holding a
// shared_ptr keeps its bytes readable even after the file is unlinked.
class MappedRegion {
 public:
  virtual ~MappedRegion() = default;
  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  // Writes dirty pages in [offset, offset + length) back to the file (msync).
  virtual absl::Status Sync(size_t offset, size_t length) = 0;

 protected:
  MappedRegion(uint8_t* data, size_t size) : data_(data), size_(size) {}

 private:
  uint8_t* data_;
  size_t size_;
};

class File {
 public:
  virtual ~File() = default;
  const std::string& path() const { return path_; }

  // Writes all of `data` at `offset`; a short write is retried until done or an error.
  virtual absl::Status Write(uint64_t offset, std::span<const uint8_t> data) = 0;
  // Writes `parts` back to back from `offset`, as one system call where the platform
  // allows (pwritev): many small batches cost what one large write does. The default
  // writes each part in turn.
  virtual absl::Status WriteV(uint64_t offset, std::span<const std::span<const uint8_t>> parts);
  // Reads up to out.size() bytes at `offset`; fewer only at the end of the file.
  virtual absl::StatusOr<size_t> Read(uint64_t offset, std::span<uint8_t> out) const = 0;
  // fdatasync: the written data and the size are durable when this returns OK.
  virtual absl::Status Sync() = 0;
  virtual absl::Status Truncate(uint64_t size) = 0;
  // Sets the size to `size` with disk blocks reserved (fallocate), so that later writes,
  // including through a mapping, cannot fail for lack of space; ResourceExhausted if the
  // disk is full. Falls back to Truncate where the filesystem cannot allocate.
  virtual absl::Status Allocate(uint64_t size) = 0;
  virtual absl::StatusOr<uint64_t> Size() const = 0;
  // Maps [0, length) of the file, which may extend past its end (those pages must not be
  // touched until the file grows over them). `writable` maps it shared and read-write.
  virtual absl::StatusOr<std::shared_ptr<MappedRegion>> Map(size_t length, bool writable) = 0;

 protected:
  explicit File(std::string path) : path_(std::move(path)) {}

 private:
  std::string path_;
};

enum class OpenMode {
  kReadOnly,         // must exist
  kReadWrite,        // must exist
  kCreate,           // created if missing, read-write
  kCreateExclusive,  // must not exist, read-write
};

// Held while alive; the lock is released when it is destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class Env {
 public:
  virtual ~Env() = default;

  virtual absl::StatusOr<std::unique_ptr<File>> OpenFile(const std::string& path,
                                                         OpenMode mode) = 0;
  // Creates the directory and any missing parents; OK if it exists as a directory.
  virtual absl::Status CreateDir(const std::string& path) = 0;
  virtual absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) = 0;
  virtual absl::Status RemoveFile(const std::string& path) = 0;
  virtual absl::Status RemoveDir(const std::string& path) = 0;  // must be empty
  // Atomically replaces `to` (if it exists) with `from`.
  virtual absl::Status Rename(const std::string& from, const std::string& to) = 0;
  // Makes the directory's entries (creates, renames, removes) durable.
  virtual absl::Status SyncDir(const std::string& path) = 0;
  virtual bool FileExists(const std::string& path) = 0;
  // An exclusive advisory lock on `path` (created if missing), writing this process's pid
  // into it; FailedPrecondition naming the holder's pid when another process holds it.
  virtual absl::StatusOr<std::unique_ptr<FileLock>> LockFile(const std::string& path) = 0;
  // Wall-clock time in milliseconds since the Unix epoch (Kafka's timestamps).
  virtual int64_t NowMillis() = 0;
};

// The process-wide POSIX Env. Never destroyed.
Env* PosixEnv();

// `length` bytes of zeroed private memory, mapped like a file but backed by none: for
// indexes a read-only reader builds for itself. Pages cost memory only once touched.
absl::StatusOr<std::shared_ptr<MappedRegion>> MapAnonymous(size_t length);

// "<dir>/<name>", the one place paths are joined.
std::string JoinPath(const std::string& dir, const std::string& name);
// The directory part of `path`: "." for a bare name, "/" for a top-level one.
std::string DirName(const std::string& path);

// Writes `contents` to `path` so that a crash leaves the old or the new file, never a
// mix: temp file, write, fsync, rename, fsync of the directory.
absl::Status WriteFileAtomically(Env* env, const std::string& path,
                                 std::span<const uint8_t> contents);
// Reads a whole (small) file.
absl::StatusOr<std::vector<uint8_t>> ReadFile(Env* env, const std::string& path);

// Delegates everything to a target Env; fault-injecting Envs derive from it.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env* target) : target_(target) {}
  Env* target() const { return target_; }

  absl::StatusOr<std::unique_ptr<File>> OpenFile(const std::string& path, OpenMode mode) override {
    return target_->OpenFile(path, mode);
  }
  absl::Status CreateDir(const std::string& path) override { return target_->CreateDir(path); }
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) override {
    return target_->ListDir(path);
  }
  absl::Status RemoveFile(const std::string& path) override { return target_->RemoveFile(path); }
  absl::Status RemoveDir(const std::string& path) override { return target_->RemoveDir(path); }
  absl::Status Rename(const std::string& from, const std::string& to) override {
    return target_->Rename(from, to);
  }
  absl::Status SyncDir(const std::string& path) override { return target_->SyncDir(path); }
  bool FileExists(const std::string& path) override { return target_->FileExists(path); }
  absl::StatusOr<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    return target_->LockFile(path);
  }
  int64_t NowMillis() override { return target_->NowMillis(); }

 private:
  Env* target_;
};

}  // namespace runnel::io

#endif  // RUNNEL_IO_ENV_H_
