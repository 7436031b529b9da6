#include "support/fault_env.h"

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <limits>
#include <random>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "io/errno_status.h"

#if defined(__SANITIZE_THREAD__)
#define RUNNEL_FAULT_ENV_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RUNNEL_FAULT_ENV_TSAN 1
#endif
#endif
#ifdef RUNNEL_FAULT_ENV_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace runnel::testing {
namespace {

// absl::MutexLock that also tells ThreadSanitizer about the lock: Debian's Abseil is not
// built with TSan, so its Mutex is invisible to it and every guarded access would be
// reported as a race.
class ABSL_SCOPED_LOCKABLE MuLock {
 public:
  explicit MuLock(absl::Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
#ifdef RUNNEL_FAULT_ENV_TSAN
    __tsan_acquire(mu_);
#endif
  }
  ~MuLock() ABSL_UNLOCK_FUNCTION() {
#ifdef RUNNEL_FAULT_ENV_TSAN
    __tsan_release(mu_);
#endif
    mu_->Unlock();
  }
  MuLock(const MuLock&) = delete;
  MuLock& operator=(const MuLock&) = delete;

 private:
  absl::Mutex* mu_;
};

// The key files are tracked by: absolute, lexically normal, no trailing slash.
std::string Normalize(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(path, ec);
  if (ec) p = path;
  std::string s = p.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

std::string Parent(const std::string& normalized) {
  const size_t slash = normalized.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return normalized.substr(0, slash);
}

bool IsCreate(io::OpenMode mode) {
  return mode == io::OpenMode::kCreate || mode == io::OpenMode::kCreateExclusive;
}

// Replaces the contents of `path` (created if missing), bypassing the fault logic.
absl::Status WriteWhole(io::Env* env, const std::string& path, std::span<const uint8_t> bytes) {
  absl::StatusOr<std::unique_ptr<io::File>> file = env->OpenFile(path, io::OpenMode::kCreate);
  if (!file.ok()) return file.status();
  if (absl::Status s = (*file)->Truncate(0); !s.ok()) return s;
  return bytes.empty() ? absl::OkStatus() : (*file)->Write(0, bytes);
}

}  // namespace

std::string_view FaultOpName(FaultOp op) {
  switch (op) {
    case FaultOp::kWrite: return "write";
    case FaultOp::kSync: return "sync";
    case FaultOp::kOpen: return "open";
    case FaultOp::kRename: return "rename";
    case FaultOp::kMap: return "map";
    case FaultOp::kTruncate: return "truncate";
    case FaultOp::kSyncDir: return "sync directory";
    case FaultOp::kRemove: return "remove";
    case FaultOp::kAny: return "any";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------
// The wrappers handed to the code under test.

class FaultEnv::FaultRegion final : public io::MappedRegion {
 public:
  FaultRegion(FaultEnv* env, std::shared_ptr<io::MappedRegion> target,
              std::shared_ptr<io::File> file, StatePtr state, std::string path)
      : MappedRegion(target->data(), target->size()),
        env_(env),
        target_(std::move(target)),
        file_(std::move(file)),
        state_(std::move(state)),
        path_(std::move(path)) {
    env_->AddLive(0, 1);
  }
  ~FaultRegion() override { env_->AddLive(0, -1); }

  absl::Status Sync(size_t offset, size_t length) override {
    Verdict v = env_->Check(FaultOp::kSync, path_, /*mutating=*/true);
    if (!v.status.ok()) return v.status;
    const SyncPrep prep = env_->PrepareSync(*state_, *file_, offset, length);
    if (absl::Status s = target_->Sync(offset, length); !s.ok()) return s;
    env_->OnSynced(*state_, prep);
    return absl::OkStatus();
  }

 private:
  FaultEnv* env_;
  std::shared_ptr<io::MappedRegion> target_;
  std::shared_ptr<io::File> file_;  // to read what a sync makes durable
  StatePtr state_;
  std::string path_;
};

class FaultEnv::FaultFile final : public io::File {
 public:
  FaultFile(FaultEnv* env, std::shared_ptr<io::File> target, StatePtr state)
      : File(target->path()), env_(env), target_(std::move(target)), state_(std::move(state)) {
    env_->AddLive(1, 0);
  }
  ~FaultFile() override { env_->AddLive(-1, 0); }

  absl::Status Write(uint64_t offset, std::span<const uint8_t> data) override {
    Verdict v = env_->Check(FaultOp::kWrite, path(), /*mutating=*/true);
    if (v.short_write) data = data.first(data.size() / 2);
    if (!v.status.ok() && !v.short_write) return v.status;
    absl::Status s = target_->Write(offset, data);
    if (s.ok()) env_->OnWrite(*state_, offset, data);
    return v.short_write ? v.status : s;
  }

  absl::StatusOr<size_t> Read(uint64_t offset, std::span<uint8_t> out) const override {
    return target_->Read(offset, out);
  }

  absl::Status Sync() override {
    Verdict v = env_->Check(FaultOp::kSync, path(), /*mutating=*/true);
    if (!v.status.ok()) return v.status;
    const SyncPrep prep =
        env_->PrepareSync(*state_, *target_, 0, std::numeric_limits<size_t>::max());
    if (absl::Status s = target_->Sync(); !s.ok()) return s;
    env_->OnSynced(*state_, prep);
    return absl::OkStatus();
  }

  absl::Status Truncate(uint64_t size) override {
    Verdict v = env_->Check(FaultOp::kTruncate, path(), /*mutating=*/true);
    if (!v.status.ok()) return v.status;
    if (absl::Status s = target_->Truncate(size); !s.ok()) return s;
    env_->OnTruncate(*state_, size);
    return absl::OkStatus();
  }

  absl::Status Allocate(uint64_t size) override {
    Verdict v = env_->Check(FaultOp::kTruncate, path(), /*mutating=*/true);
    if (!v.status.ok()) return v.status;
    if (absl::Status s = target_->Allocate(size); !s.ok()) return s;
    env_->OnTruncate(*state_, size);
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Size() const override { return target_->Size(); }

  absl::StatusOr<std::shared_ptr<io::MappedRegion>> Map(size_t length, bool writable) override {
    Verdict v = env_->Check(FaultOp::kMap, path(), /*mutating=*/false);
    if (!v.status.ok()) return v.status;
    absl::StatusOr<std::shared_ptr<io::MappedRegion>> region = target_->Map(length, writable);
    if (!region.ok()) return region.status();
    if (writable) env_->OnMap(*state_, *target_, length);
    return std::shared_ptr<io::MappedRegion>(
        std::make_shared<FaultRegion>(env_, *std::move(region), target_, state_, path()));
  }

 private:
  FaultEnv* env_;
  std::shared_ptr<io::File> target_;
  StatePtr state_;
};

// ---------------------------------------------------------------------------------------
// Configuration and fault decisions.

FaultEnv::FaultEnv(io::Env* target) : EnvWrapper(target) {}

FaultEnv::~FaultEnv() = default;

int64_t FaultEnv::count(FaultOp op) const {
  MuLock lock(&mu_);
  if (op != FaultOp::kAny) {
    auto it = counts_.find(op);
    return it == counts_.end() ? 0 : it->second;
  }
  int64_t total = 0;
  for (const auto& [kind, n] : counts_) total += n;
  return total;
}

void FaultEnv::FailNth(FaultOp op, int64_t n, absl::Status error, bool persistent,
                       std::string path_contains) {
  MuLock lock(&mu_);
  faults_.push_back(Fault{op, std::max<int64_t>(n, 1), std::move(error), persistent,
                          /*short_write=*/false, std::move(path_contains)});
}

void FaultEnv::ShortWriteNth(int64_t n, absl::Status error, std::string path_contains) {
  if (error.ok()) error = NoSpace(path_contains);
  MuLock lock(&mu_);
  faults_.push_back(Fault{FaultOp::kWrite, std::max<int64_t>(n, 1), std::move(error),
                          /*persistent=*/false, /*short_write=*/true, std::move(path_contains)});
}

void FaultEnv::ClearFaults() {
  MuLock lock(&mu_);
  faults_.clear();
}

void FaultEnv::KillAfter(int64_t n_ops) {
  MuLock lock(&mu_);
  kill_budget_ = std::max<int64_t>(n_ops, 0);
  dead_ = false;
}

bool FaultEnv::dead() const {
  MuLock lock(&mu_);
  return dead_;
}

absl::Status FaultEnv::IoError(std::string_view path, std::string_view operation) {
  return io::ErrnoStatus(EIO, operation, path);
}

absl::Status FaultEnv::NoSpace(std::string_view path, std::string_view operation) {
  return io::ErrnoStatus(ENOSPC, operation, path);
}

absl::Status FaultEnv::CheckDeadLocked(std::string_view what, const std::string& path) {
  if (!dead_ && kill_budget_ == 0) dead_ = true;
  if (dead_) {
    return absl::InternalError(fmt::format("{} {}: power lost (FaultEnv is dead)", what, path));
  }
  if (kill_budget_ > 0) --kill_budget_;
  return absl::OkStatus();
}

FaultEnv::Verdict FaultEnv::Check(FaultOp op, const std::string& path, bool mutating) {
  MuLock lock(&mu_);
  ++counts_[op];
  Verdict verdict;
  if (mutating) {
    verdict.status = CheckDeadLocked(FaultOpName(op), path);
    if (!verdict.status.ok()) return verdict;
  }
  bool fired = false;
  for (Fault& f : faults_) {
    if (f.op != op && f.op != FaultOp::kAny) continue;
    if (!f.path_contains.empty() && path.find(f.path_contains) == std::string::npos) continue;
    ++f.seen;
    if (!fired && (f.seen == f.n || (f.persistent && f.seen > f.n))) {
      fired = true;
      verdict.status = f.error;
      verdict.short_write = f.short_write;
    }
  }
  return verdict;
}

// ---------------------------------------------------------------------------------------
// Bookkeeping after real operations.

void FaultEnv::AddLive(int files, int regions) {
  MuLock lock(&mu_);
  live_files_ += files;
  live_regions_ += regions;
}

void FaultEnv::OnWrite(FileState& st, uint64_t offset, std::span<const uint8_t> data) {
  MuLock lock(&mu_);
  const uint64_t end = offset + data.size();
  if (end <= st.size) return;
  st.size = end;
  if (!st.has_image) return;
  // Bytes the write adds under the mapping become part of the snapshot.
  const size_t old_len = st.image.size();
  const size_t new_len = static_cast<size_t>(std::min<uint64_t>(st.map_length, end));
  if (new_len <= old_len) return;
  st.image.resize(new_len, 0);
  for (uint64_t pos = std::max<uint64_t>(old_len, offset); pos < new_len; ++pos) {
    st.image[pos] = data[pos - offset];
  }
}

void FaultEnv::OnTruncate(FileState& st, uint64_t size) {
  MuLock lock(&mu_);
  st.size = size;
  st.synced_size = std::min(st.synced_size, size);
  if (st.has_image) {
    st.image.resize(static_cast<size_t>(std::min<uint64_t>(st.map_length, size)), 0);
  }
}

void FaultEnv::OnMap(FileState& st, const io::File& file, size_t length) {
  MuLock lock(&mu_);
  if (st.has_image && length <= st.map_length) return;
  if (!st.has_image) st.image.clear();
  st.has_image = true;
  st.map_length = std::max(st.map_length, length);
  // Snapshot what the file holds now under the newly covered range.
  const size_t old_len = st.image.size();
  const size_t new_len = static_cast<size_t>(std::min<uint64_t>(st.map_length, st.size));
  if (new_len <= old_len) return;
  st.image.resize(new_len, 0);
  std::span<uint8_t> out(st.image.data() + old_len, new_len - old_len);
  (void)file.Read(old_len, out);  // a short read leaves zeros, as the file would hold
}

FaultEnv::SyncPrep FaultEnv::PrepareSync(FileState& st, const io::File& file, size_t offset,
                                         size_t length) {
  MuLock lock(&mu_);
  SyncPrep prep;
  prep.size = st.size;
  prep.image_offset = offset;
  if (!st.has_image || offset >= st.image.size()) return prep;
  const size_t end = st.image.size() - offset < length ? st.image.size() : offset + length;
  prep.image_bytes.assign(st.image.begin() + static_cast<ptrdiff_t>(offset),
                          st.image.begin() + static_cast<ptrdiff_t>(end));
  // The page cache holds what the sync will write, mapped writes included.
  absl::StatusOr<size_t> n = file.Read(offset, prep.image_bytes);
  if (n.ok()) prep.image_bytes.resize(*n);
  return prep;
}

void FaultEnv::OnSynced(FileState& st, const SyncPrep& prep) {
  MuLock lock(&mu_);
  st.synced_size = std::min(std::max(st.synced_size, prep.size), st.size);
  if (!st.has_image || prep.image_offset >= st.image.size()) return;
  const size_t n = std::min(prep.image_bytes.size(), st.image.size() - prep.image_offset);
  std::copy_n(prep.image_bytes.begin(), n,
              st.image.begin() + static_cast<ptrdiff_t>(prep.image_offset));
}

FaultEnv::StatePtr FaultEnv::NewStateLocked(const std::string& path, bool durable) {
  auto st = std::make_shared<FileState>();
  absl::StatusOr<std::unique_ptr<io::File>> file =
      target()->OpenFile(path, io::OpenMode::kReadOnly);
  if (file.ok()) {
    absl::StatusOr<uint64_t> size = (*file)->Size();
    if (size.ok()) st->size = *size;
  }
  st->synced_size = durable ? st->size : 0;
  st->created_unsynced = !durable;
  return st;
}

// ---------------------------------------------------------------------------------------
// Env operations.

absl::StatusOr<std::unique_ptr<io::File>> FaultEnv::OpenFile(const std::string& path,
                                                             io::OpenMode mode) {
  const bool create = IsCreate(mode);
  Verdict v = Check(FaultOp::kOpen, path, /*mutating=*/create);
  if (!v.status.ok()) return v.status;
  const bool existed = !create || target()->FileExists(path);
  absl::StatusOr<std::unique_ptr<io::File>> opened = target()->OpenFile(path, mode);
  if (!opened.ok()) return opened.status();
  std::shared_ptr<io::File> file = *std::move(opened);

  StatePtr st;
  {
    MuLock lock(&mu_);
    const std::string key = Normalize(path);
    auto it = files_.find(key);
    if (it != files_.end() && existed) {
      st = it->second;
    } else {
      st = NewStateLocked(path, /*durable=*/existed);
      files_[key] = st;
    }
  }
  return std::unique_ptr<io::File>(std::make_unique<FaultFile>(this, std::move(file), st));
}

absl::Status FaultEnv::CreateDir(const std::string& path) {
  {
    MuLock lock(&mu_);
    if (absl::Status s = CheckDeadLocked("create directory", path); !s.ok()) return s;
  }
  return target()->CreateDir(path);
}

absl::Status FaultEnv::RemoveFile(const std::string& path) {
  Verdict v = Check(FaultOp::kRemove, path, /*mutating=*/true);
  if (!v.status.ok()) return v.status;
  if (absl::Status s = target()->RemoveFile(path); !s.ok()) return s;
  MuLock lock(&mu_);
  files_.erase(Normalize(path));
  return absl::OkStatus();
}

absl::Status FaultEnv::RemoveDir(const std::string& path) {
  Verdict v = Check(FaultOp::kRemove, path, /*mutating=*/true);
  if (!v.status.ok()) return v.status;
  return target()->RemoveDir(path);
}

absl::Status FaultEnv::Rename(const std::string& from, const std::string& to) {
  Verdict v = Check(FaultOp::kRename, from, /*mutating=*/true);
  if (!v.status.ok()) return v.status;
  PendingRename r;
  r.from = Normalize(from);
  r.to = Normalize(to);
  r.is_dir = target()->ListDir(from).ok();
  r.to_was_dir = target()->ListDir(to).ok();
  if (!r.is_dir && !r.to_was_dir && target()->FileExists(to)) {
    absl::StatusOr<std::vector<uint8_t>> old = io::ReadFile(target(), to);
    if (old.ok()) r.backup = *std::move(old);
  }
  if (absl::Status s = target()->Rename(from, to); !s.ok()) return s;

  MuLock lock(&mu_);
  if (r.is_dir) {
    // Carry the tracked files inside the directory along.
    const std::string prefix = r.from + "/";
    std::map<std::string, StatePtr> moved;
    for (auto it = files_.begin(); it != files_.end();) {
      if (it->first.compare(0, prefix.size(), prefix) == 0) {
        moved[r.to + it->first.substr(r.from.size())] = it->second;
        it = files_.erase(it);
      } else {
        ++it;
      }
    }
    files_.merge(moved);
  } else {
    if (auto it = files_.find(r.to); it != files_.end()) r.replaced = it->second;
    auto it = files_.find(r.from);
    r.moved = it != files_.end() ? it->second : NewStateLocked(to, /*durable=*/true);
    if (it != files_.end()) files_.erase(it);
    files_[r.to] = r.moved;
  }
  renames_.push_back(std::move(r));
  return absl::OkStatus();
}

absl::Status FaultEnv::SyncDir(const std::string& path) {
  Verdict v = Check(FaultOp::kSyncDir, path, /*mutating=*/true);
  if (!v.status.ok()) return v.status;
  if (absl::Status s = target()->SyncDir(path); !s.ok()) return s;
  MuLock lock(&mu_);
  const std::string dir = Normalize(path);
  for (auto& [key, st] : files_) {
    if (Parent(key) == dir) st->created_unsynced = false;
  }
  std::erase_if(renames_, [&](const PendingRename& r) { return Parent(r.to) == dir; });
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------
// Power cut.

absl::Status FaultEnv::UndoRenameLocked(const PendingRename& r) {
  if (r.is_dir) {
    if (!target()->ListDir(r.to).ok()) return absl::OkStatus();
    if (absl::Status s = target()->Rename(r.to, r.from); !s.ok()) return s;
    const std::string prefix = r.to + "/";
    std::map<std::string, StatePtr> moved;
    for (auto it = files_.begin(); it != files_.end();) {
      if (it->first.compare(0, prefix.size(), prefix) == 0) {
        moved[r.from + it->first.substr(r.to.size())] = it->second;
        it = files_.erase(it);
      } else {
        ++it;
      }
    }
    files_.merge(moved);
    return r.to_was_dir ? target()->CreateDir(r.to) : absl::OkStatus();
  }
  // Skip when `to` no longer holds the renamed file (it was removed or replaced since).
  auto it = files_.find(r.to);
  if (it == files_.end() || it->second != r.moved) return absl::OkStatus();
  if (absl::Status s = target()->Rename(r.to, r.from); !s.ok()) return s;
  files_.erase(it);
  files_[r.from] = r.moved;
  if (r.to_was_dir) return target()->CreateDir(r.to);
  if (!r.backup.has_value()) return absl::OkStatus();
  if (absl::Status s = WriteWhole(target(), r.to, *r.backup); !s.ok()) return s;
  files_[r.to] = r.replaced != nullptr ? r.replaced : NewStateLocked(r.to, /*durable=*/true);
  return absl::OkStatus();
}

absl::Status FaultEnv::CutFileLocked(const std::string& path, const FileState& st,
                                     uint64_t random) {
  absl::StatusOr<std::unique_ptr<io::File>> file =
      target()->OpenFile(path, io::OpenMode::kReadWrite);
  if (absl::IsNotFound(file.status())) return absl::OkStatus();  // removed behind our back
  if (!file.ok()) return file.status();
  absl::StatusOr<uint64_t> size = (*file)->Size();
  if (!size.ok()) return size.status();
  uint64_t keep = *size;
  if (keep > st.synced_size) {
    // A torn write: some prefix of what followed the last sync made it to the disk.
    keep = st.synced_size + random % (*size - st.synced_size + 1);
    if (absl::Status s = (*file)->Truncate(keep); !s.ok()) return s;
  }
  if (st.has_image) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(st.image.size(), keep));
    if (n > 0) return (*file)->Write(0, std::span<const uint8_t>(st.image.data(), n));
  }
  return absl::OkStatus();
}

absl::Status FaultEnv::PowerCut(uint64_t seed) {
  MuLock lock(&mu_);
  if (live_files_ != 0 || live_regions_ != 0) {
    return absl::FailedPreconditionError(fmt::format(
        "PowerCut with {} files and {} mappings still open through the FaultEnv; destroy "
        "them first",
        live_files_, live_regions_));
  }
  absl::Status status;
  for (auto r = renames_.rbegin(); r != renames_.rend(); ++r) status.Update(UndoRenameLocked(*r));
  for (auto it = files_.begin(); it != files_.end();) {
    if (it->second->created_unsynced) {
      absl::Status s = target()->RemoveFile(it->first);
      if (!absl::IsNotFound(s)) status.Update(s);
      it = files_.erase(it);
    } else {
      ++it;
    }
  }
  std::mt19937_64 rng(seed);
  for (const auto& [path, st] : files_) status.Update(CutFileLocked(path, *st, rng()));

  files_.clear();
  renames_.clear();
  faults_.clear();
  kill_budget_ = -1;
  dead_ = false;
  return status;
}

}  // namespace runnel::testing
