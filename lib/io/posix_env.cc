#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include <cctype>
#include <climits>
#include <vector>
#include "io/env.h"
#include "io/errno_status.h"
#include "util/status_macros.h"

namespace runnel::io {
namespace {

class PosixMappedRegion final : public MappedRegion {
 public:
  PosixMappedRegion(uint8_t* data, size_t size, std::string path)
      : MappedRegion(data, size), path_(std::move(path)) {}
  ~PosixMappedRegion() override { munmap(data(), size()); }

  absl::Status Sync(size_t offset, size_t length) override {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t start = offset / page * page;
    if (length == 0 || start >= size()) return absl::OkStatus();
    const size_t end = length > size() - offset ? size() : offset + length;
    if (msync(data() + start, end - start, MS_SYNC) != 0) {
      return ErrnoStatus(errno, "msync", path_);
    }
    return absl::OkStatus();
  }

 private:
  std::string path_;
};

class PosixFile final : public File {
 public:
  PosixFile(std::string path, int fd) : File(std::move(path)), fd_(fd) {}
  ~PosixFile() override { close(fd_); }

  absl::Status Write(uint64_t offset, std::span<const uint8_t> data) override {
    while (!data.empty()) {
      const ssize_t n = pwrite(fd_, data.data(), data.size(), static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno, "write", path());
      }
      data = data.subspan(static_cast<size_t>(n));
      offset += static_cast<uint64_t>(n);
    }
    return absl::OkStatus();
  }

  absl::Status WriteV(uint64_t offset,
                      std::span<const std::span<const uint8_t>> parts) override {
    std::vector<iovec> iov;
    iov.reserve(parts.size());
    for (std::span<const uint8_t> p : parts) {
      if (!p.empty()) iov.push_back({const_cast<uint8_t*>(p.data()), p.size()});
    }
    size_t next = 0;
    while (next < iov.size()) {
      const int count = static_cast<int>(std::min<size_t>(iov.size() - next, IOV_MAX));
      ssize_t n = pwritev(fd_, iov.data() + next, count, static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno, "write", path());
      }
      offset += static_cast<uint64_t>(n);
      // Skip what was written; a short write leaves a part half done.
      while (n > 0 && next < iov.size()) {
        if (static_cast<size_t>(n) >= iov[next].iov_len) {
          n -= static_cast<ssize_t>(iov[next].iov_len);
          ++next;
        } else {
          iov[next].iov_base = static_cast<uint8_t*>(iov[next].iov_base) + n;
          iov[next].iov_len -= static_cast<size_t>(n);
          n = 0;
        }
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<size_t> Read(uint64_t offset, std::span<uint8_t> out) const override {
    size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = pread(fd_, out.data() + done, out.size() - done,
                              static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno, "read", path());
      }
      if (n == 0) break;
      done += static_cast<size_t>(n);
    }
    return done;
  }

  absl::Status Sync() override {
    if (fdatasync(fd_) != 0) return ErrnoStatus(errno, "fdatasync", path());
    return absl::OkStatus();
  }

  absl::Status Truncate(uint64_t size) override {
    if (ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      return ErrnoStatus(errno, "truncate", path());
    }
    return absl::OkStatus();
  }

  absl::Status Allocate(uint64_t size) override {
    RUNNEL_ASSIGN_OR_RETURN(uint64_t current, Size());
    if (size <= current) return Truncate(size);
    // fallocate grows the file only once the blocks are had, so a full disk leaves the
    // size as it was.
    const int rc = posix_fallocate(fd_, 0, static_cast<off_t>(size));
    if (rc == EOPNOTSUPP || rc == EINVAL) return Truncate(size);
    if (rc != 0) return ErrnoStatus(rc, "allocate", path());
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Size() const override {
    struct stat st;
    if (fstat(fd_, &st) != 0) return ErrnoStatus(errno, "stat", path());
    return static_cast<uint64_t>(st.st_size);
  }

  absl::StatusOr<std::shared_ptr<MappedRegion>> Map(size_t length, bool writable) override {
    if (length == 0) {
      return absl::InvalidArgumentError(fmt::format("cannot map 0 bytes of {}", path()));
    }
    void* p = mmap(nullptr, length, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED,
                   fd_, 0);
    if (p == MAP_FAILED) return ErrnoStatus(errno, "mmap", path());
    // Writable mappings are runnel's indexes, touched a few bytes at a time: without this,
    // each first touch reads ahead (and zero-fills) many pages of preallocated file.
    if (writable) madvise(p, length, MADV_RANDOM);
    return std::shared_ptr<MappedRegion>(
        std::make_shared<PosixMappedRegion>(static_cast<uint8_t*>(p), length, path()));
  }

 private:
  int fd_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<MappedRegion>> MapAnonymous(size_t length) {
  if (length == 0) return absl::InvalidArgumentError("cannot map 0 bytes of memory");
  void* p = mmap(nullptr, length, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return ErrnoStatus(errno, "mmap", "anonymous memory");
  return std::shared_ptr<MappedRegion>(
      std::make_shared<PosixMappedRegion>(static_cast<uint8_t*>(p), length, "anonymous memory"));
}

namespace {

class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override { close(fd_); }  // closing releases the flock

 private:
  int fd_;
};

class PosixEnvImpl final : public Env {
 public:
  absl::StatusOr<std::unique_ptr<File>> OpenFile(const std::string& path,
                                                 OpenMode mode) override {
    int flags = O_CLOEXEC;
    switch (mode) {
      case OpenMode::kReadOnly: flags |= O_RDONLY; break;
      case OpenMode::kReadWrite: flags |= O_RDWR; break;
      case OpenMode::kCreate: flags |= O_RDWR | O_CREAT; break;
      case OpenMode::kCreateExclusive: flags |= O_RDWR | O_CREAT | O_EXCL; break;
    }
    const int fd = open(path.c_str(), flags, 0644);
    if (fd < 0) return ErrnoStatus(errno, "open", path);
    return std::unique_ptr<File>(std::make_unique<PosixFile>(path, fd));
  }

  absl::Status CreateDir(const std::string& path) override {
    // Parents first, as `mkdir -p` does.
    for (size_t slash = path.find('/', 1); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      const std::string parent = path.substr(0, slash);
      if (mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST) {
        return ErrnoStatus(errno, "create directory", parent);
      }
    }
    if (mkdir(path.c_str(), 0755) == 0) {
      // A new directory's entry lives in its parent: make it durable there too.
      RUNNEL_RETURN_IF_ERROR(SyncDir(DirName(path)));
    } else if (errno != EEXIST) {
      return ErrnoStatus(errno, "create directory", path);
    }
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return ErrnoStatus(errno, "stat", path);
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(
          fmt::format("create directory {}: a file that is not a directory has that name", path));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) override {
    DIR* d = opendir(path.c_str());
    if (d == nullptr) return ErrnoStatus(errno, "list directory", path);
    std::vector<std::string> names;
    while (struct dirent* e = readdir(d)) {
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
        names.emplace_back(e->d_name);
      }
    }
    closedir(d);
    return names;
  }

  absl::Status RemoveFile(const std::string& path) override {
    if (unlink(path.c_str()) != 0) return ErrnoStatus(errno, "remove", path);
    return absl::OkStatus();
  }

  absl::Status RemoveDir(const std::string& path) override {
    if (rmdir(path.c_str()) != 0) return ErrnoStatus(errno, "remove directory", path);
    return absl::OkStatus();
  }

  absl::Status Rename(const std::string& from, const std::string& to) override {
    if (rename(from.c_str(), to.c_str()) != 0) {
      return ErrnoStatus(errno, fmt::format("rename to {} of", to), from);
    }
    return absl::OkStatus();
  }

  absl::Status SyncDir(const std::string& path) override {
    const int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, "open directory", path);
    const int rc = fsync(fd);
    const int err = errno;
    close(fd);
    if (rc != 0) return ErrnoStatus(err, "fsync directory", path);
    return absl::OkStatus();
  }

  bool FileExists(const std::string& path) override { return access(path.c_str(), F_OK) == 0; }

  absl::StatusOr<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoStatus(errno, "open lock file", path);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      char buf[32] = {};
      const ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
      close(fd);
      if (err == EWOULDBLOCK) {
        std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
        while (!holder.empty() && std::isspace(static_cast<unsigned char>(holder.back()))) {
          holder.pop_back();
        }
        return absl::FailedPreconditionError(
            fmt::format("{} is locked by process {}", path, holder.empty() ? "unknown" : holder));
      }
      return ErrnoStatus(err, "lock", path);
    }
    // Write before truncating, so a contender never reads an empty file.
    const std::string pid = fmt::format("{}\n", getpid());
    if (pwrite(fd, pid.data(), pid.size(), 0) < 0 ||
        ftruncate(fd, static_cast<off_t>(pid.size())) != 0) {
      const int err = errno;
      close(fd);
      return ErrnoStatus(err, "write pid to lock file", path);
    }
    return std::unique_ptr<FileLock>(std::make_unique<PosixFileLock>(fd));
  }

  int64_t NowMillis() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace

Env* PosixEnv() {
  static Env* env = new PosixEnvImpl;
  return env;
}

}  // namespace runnel::io
