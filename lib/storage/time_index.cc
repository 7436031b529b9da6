#include "storage/time_index.h"

#include <fmt/format.h>

#include "format/byte_order.h"

namespace runnel::storage {

TimestampOffset TimeIndex::Entry(size_t i) const {
  const uint8_t* e = file_->entry(i);
  return {static_cast<int64_t>(format::LoadBig64(e)),
          AddRelativeOffset(base_offset_, format::LoadBig32(e + 8))};
}

TimestampOffset TimeIndex::Last() const {
  const size_t n = entries();
  return n == 0 ? TimestampOffset{-1, base_offset_} : Entry(n - 1);
}

void TimeIndex::MaybeAppend(int64_t timestamp, int64_t offset, bool skip_full_check) {
  if ((!skip_full_check && almost_full()) || full()) return;
  if (entries() > 0 && timestamp <= Last().timestamp) return;
  uint8_t e[kEntrySize];
  format::StoreBig64(e, static_cast<uint64_t>(timestamp));
  format::StoreBig32(e + 8, static_cast<uint32_t>(offset - base_offset_));
  file_->Append(e);
}

int64_t TimeIndex::Lookup(int64_t target) const {
  const size_t n = entries();
  if (n == 0 || Entry(0).timestamp > target) return base_offset_;
  size_t lo = 0;  // Entry(lo).timestamp <= target
  size_t hi = n;  // Entry(hi).timestamp > target, or hi == n
  while (hi - lo > 1) {
    const size_t mid = lo + (hi - lo) / 2;
    if (Entry(mid).timestamp <= target) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return Entry(lo).offset;
}

void TimeIndex::TruncateTo(int64_t offset) {
  size_t n = entries();
  while (n > 0 && Entry(n - 1).offset >= offset) --n;
  file_->TruncateEntries(n);
}

absl::Status TimeIndex::Check(int64_t next_offset) const {
  const size_t n = entries();
  for (size_t i = 0; i < n; ++i) {
    const TimestampOffset e = Entry(i);
    const bool ordered = i == 0 || (e.timestamp > Entry(i - 1).timestamp &&
                                    e.offset >= Entry(i - 1).offset);
    if (!ordered || e.offset >= next_offset) {
      return absl::DataLossError(
          fmt::format("time index {} entry {} (timestamp {}, offset {}) is out of order or past "
                      "the log (next offset {})",
                      file_->path(), i, e.timestamp, e.offset, next_offset));
    }
  }
  return absl::OkStatus();
}

}  // namespace runnel::storage
