#include "storage/index_file.h"

#include <fmt/format.h>

#include <cstring>

#include "util/status_macros.h"

namespace runnel::storage {

absl::StatusOr<std::unique_ptr<IndexFile>> IndexFile::Open(io::Env* env, const std::string& path,
                                                           size_t entry_size, size_t max_bytes,
                                                           bool writable) {
  RUNNEL_ASSIGN_OR_RETURN(std::unique_ptr<io::File> file,
                          env->OpenFile(path, io::OpenMode::kCreate));
  RUNNEL_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  if (size % entry_size != 0) {
    return absl::DataLossError(fmt::format("index {} is {} bytes, not a whole number of {}-byte "
                                           "entries",
                                           path, size, entry_size));
  }
  std::unique_ptr<IndexFile> index(new IndexFile(std::move(file), path, entry_size));
  index->entries_.store(size / entry_size, std::memory_order_relaxed);
  index->max_entries_ = size / entry_size;
  if (writable) {
    RUNNEL_RETURN_IF_ERROR(index->MakeWritable(max_bytes));
  } else if (size > 0) {
    RUNNEL_ASSIGN_OR_RETURN(index->region_, index->file_->Map(size, /*writable=*/true));
  }
  return index;
}

absl::StatusOr<std::unique_ptr<IndexFile>> IndexFile::OpenReadOnly(io::Env* env,
                                                                   const std::string& path,
                                                                   size_t entry_size) {
  // Copied, not mapped: the owner may trim this file while we look (sealing the segment
  // it just rolled from), and a mapping past the new end would fault.
  RUNNEL_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, io::ReadFile(env, path));
  if (bytes.size() % entry_size != 0) {
    return absl::DataLossError(fmt::format("index {} is {} bytes, not a whole number of {}-byte "
                                           "entries",
                                           path, bytes.size(), entry_size));
  }
  std::unique_ptr<IndexFile> index(new IndexFile(nullptr, path, entry_size));
  index->entries_.store(bytes.size() / entry_size, std::memory_order_relaxed);
  index->max_entries_ = bytes.size() / entry_size;
  if (!bytes.empty()) {
    RUNNEL_ASSIGN_OR_RETURN(index->region_, io::MapAnonymous(bytes.size()));
    std::memcpy(index->region_->data(), bytes.data(), bytes.size());
  }
  return index;
}

absl::StatusOr<std::unique_ptr<IndexFile>> IndexFile::InMemory(std::string path,
                                                               size_t entry_size,
                                                               size_t max_bytes) {
  std::unique_ptr<IndexFile> index(new IndexFile(nullptr, std::move(path), entry_size));
  index->max_entries_ = max_bytes / entry_size;
  if (index->max_entries_ > 0) {
    RUNNEL_ASSIGN_OR_RETURN(index->region_, io::MapAnonymous(index->max_entries_ * entry_size));
  }
  index->writable_ = true;
  return index;
}

absl::Status IndexFile::MakeWritable(size_t max_bytes) {
  if (file_ == nullptr) return absl::OkStatus();
  const size_t max_entries = max_bytes / entry_size_;
  if (max_entries < entries()) {
    return absl::InvalidArgumentError(
        fmt::format("segment.index.bytes {} is smaller than the {} entries of {}", max_bytes,
                    entries(), path()));
  }
  RUNNEL_RETURN_IF_ERROR(file_->Allocate(max_entries * entry_size_));
  RUNNEL_ASSIGN_OR_RETURN(region_, file_->Map(max_entries * entry_size_, /*writable=*/true));
  max_entries_ = max_entries;
  writable_ = true;
  return absl::OkStatus();
}

void IndexFile::Append(const uint8_t* bytes) {
  const size_t n = entries_.load(std::memory_order_relaxed);
  std::memcpy(region_->data() + n * entry_size_, bytes, entry_size_);
  entries_.store(n + 1, std::memory_order_release);
}

void IndexFile::TruncateEntries(size_t n) {
  if (n < entries()) entries_.store(n, std::memory_order_release);
}

absl::Status IndexFile::Sync() {
  if (file_ == nullptr) return absl::OkStatus();
  if (region_ != nullptr) {
    RUNNEL_RETURN_IF_ERROR(region_->Sync(0, entries() * entry_size_));
  }
  return file_->Sync();
}

absl::Status IndexFile::Trim() {
  if (!writable_) return absl::OkStatus();
  if (file_ == nullptr) {
    max_entries_ = entries();
    writable_ = false;
    return absl::OkStatus();
  }
  // The mapping stays as it is: readers only touch counted entries, which the smaller
  // file still holds.
  RUNNEL_RETURN_IF_ERROR(file_->Truncate(entries() * entry_size_));
  max_entries_ = entries();
  writable_ = false;
  return absl::OkStatus();
}

}  // namespace runnel::storage
