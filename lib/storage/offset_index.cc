#include "storage/offset_index.h"

#include <fmt/format.h>

#include "format/byte_order.h"

namespace runnel::storage {

OffsetPosition OffsetIndex::Entry(size_t i) const {
  const uint8_t* e = file_->entry(i);
  return {AddRelativeOffset(base_offset_, format::LoadBig32(e)), format::LoadBig32(e + 4)};
}

OffsetPosition OffsetIndex::Last() const {
  const size_t n = entries();
  return n == 0 ? OffsetPosition{base_offset_, 0} : Entry(n - 1);
}

void OffsetIndex::Append(int64_t offset, uint32_t position) {
  uint8_t e[kEntrySize];
  format::StoreBig32(e, static_cast<uint32_t>(offset - base_offset_));
  format::StoreBig32(e + 4, position);
  file_->Append(e);
}

OffsetPosition OffsetIndex::Lookup(int64_t target) const {
  size_t n = entries();
  if (n == 0 || Entry(0).offset > target) return {base_offset_, 0};
  // Tailing readers look near the end: try the last entry before searching.
  if (Entry(n - 1).offset <= target) return Entry(n - 1);
  size_t lo = 0;  // Entry(lo).offset <= target < Entry(hi).offset
  size_t hi = n - 1;
  while (hi - lo > 1) {
    const size_t mid = lo + (hi - lo) / 2;
    if (Entry(mid).offset <= target) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return Entry(lo);
}

void OffsetIndex::TruncateTo(int64_t offset) {
  size_t n = entries();
  while (n > 0 && Entry(n - 1).offset >= offset) --n;
  file_->TruncateEntries(n);
}

absl::Status OffsetIndex::Check(int64_t next_offset, uint64_t log_size) const {
  const size_t n = entries();
  for (size_t i = 0; i < n; ++i) {
    const OffsetPosition e = Entry(i);
    const bool ordered =
        i == 0 || (e.offset > Entry(i - 1).offset && e.position > Entry(i - 1).position);
    if (!ordered || e.offset >= next_offset || e.position >= log_size) {
      return absl::DataLossError(fmt::format(
          "offset index {} entry {} (offset {}, position {}) is out of order or past the log "
          "(next offset {}, {} bytes)",
          file_->path(), i, e.offset, e.position, next_offset, log_size));
    }
  }
  return absl::OkStatus();
}

}  // namespace runnel::storage
