// Fuzzes loading offset and time indexes (lib/storage/{index_file,offset_index,time_index})
// from hostile files, and lookups in what loads. The input is
//   byte 0       bit 0: a time index (else an offset index); bits 1-2: how it is opened,
//                as Segment::OpenIndexes does: 0 IndexFile::Open read-only (a sealed
//                segment at recovery), 1 OpenReadOnly (a reader of another process's
//                directory), 2 Open writable with 4096 bytes (the active segment)
//   bytes 1-8    the segment's base offset (big-endian, top bit cleared: any offset a
//                segment file name can give, up to INT64_MAX)
//   bytes 9-12   the segment's next offset, relative to the base offset (big-endian;
//                INT64_MAX where that overflows)
//   bytes 13-16  the log's size in bytes (big-endian)
//   rest         the index file
// Properties checked: Open fails (DataLoss) exactly when the file is not a whole number of
// entries; a loaded index counts size / entry_size entries; lookups never crash whatever
// the entries, and return an entry or the base; once Check (recovery's validation) accepts
// the index, lookups agree with a linear scan, point inside the log and below the next
// offset, TruncateTo keeps exactly the entries below its offset, and a writable index
// takes appends until full that lookups then find.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "format/byte_order.h"
#include "fuzz_scratch.h"
#include "io/env.h"
#include "storage/file_names.h"
#include "storage/index_file.h"
#include "storage/offset_index.h"
#include "storage/time_index.h"

namespace {

using namespace runnel;  // NOLINT: a fuzz target
using fuzz::Require;
using storage::IndexFile;
using storage::OffsetIndex;
using storage::OffsetPosition;
using storage::TimeIndex;

constexpr size_t kHeader = 17;
constexpr size_t kWritableBytes = 4096;

// Offsets worth looking up: around every entry, the base, and the extremes.
std::vector<int64_t> Targets(const std::vector<int64_t>& entry_values, int64_t base) {
  std::vector<int64_t> t = {INT64_MIN, -1, 0, base - 1, base, base == INT64_MAX ? base : base + 1,
                            INT64_MAX};
  for (int64_t v : entry_values) {
    t.push_back(v);
    if (v > INT64_MIN) t.push_back(v - 1);
    if (v < INT64_MAX) t.push_back(v + 1);
  }
  return t;
}

void FuzzOffsetIndex(OffsetIndex& index, int64_t base, int64_t next_offset, uint64_t log_size) {
  const size_t n = index.entries();
  std::vector<int64_t> offsets;
  for (size_t i = 0; i < n; ++i) offsets.push_back(index.Entry(i).offset);
  // Unchecked: a lookup returns an entry or the base, and never crashes.
  for (int64_t target : Targets(offsets, base)) {
    const OffsetPosition p = index.Lookup(target);
    const bool is_base = p.offset == base && p.position == 0;
    Require(is_base || std::find(offsets.begin(), offsets.end(), p.offset) != offsets.end(),
            "offset lookup returned neither an entry nor the base");
  }
  const bool checked = index.Check(next_offset, log_size).ok();
  if (!checked) return;
  for (int64_t target : Targets(offsets, base)) {
    const OffsetPosition p = index.Lookup(target);
    OffsetPosition expected{base, 0};
    for (size_t i = 0; i < n; ++i) {
      if (index.Entry(i).offset <= target) expected = index.Entry(i);
    }
    Require(p.offset == expected.offset && p.position == expected.position,
            "offset lookup disagrees with a linear scan");
    Require(p.position == 0 || p.position < log_size, "offset lookup points past the log");
    Require(p.offset == base || p.offset < next_offset, "offset lookup past the next offset");
  }
  if (index.file().writable()) {
    // Appends after the last entry until full, as the active segment does.
    int64_t offset = index.Last().offset;
    uint32_t position = index.Last().position;
    while (!index.full() && offset < INT64_MAX - 10 && position < UINT32_MAX - 100 &&
           offset - base < static_cast<int64_t>(UINT32_MAX) - 10) {
      offset += 3;
      position += 61;
      index.Append(offset, position);
      Require(index.Last().offset == offset && index.Last().position == position,
              "an appended offset entry does not read back");
      Require(index.Lookup(offset + 1).offset == offset, "lookup misses an appended entry");
    }
  }
  // TruncateTo keeps exactly the entries below its offset.
  const int64_t cut = offsets.empty() ? base : offsets[offsets.size() / 2];
  index.TruncateTo(cut);
  Require(index.entries() == static_cast<size_t>(std::count_if(
                                 offsets.begin(), offsets.end(),
                                 [cut](int64_t o) { return o < cut; })),
          "offset TruncateTo kept the wrong entries");
  Require(index.entries() == 0 || index.Last().offset < cut, "offset TruncateTo kept too much");
}

void FuzzTimeIndex(TimeIndex& index, int64_t base, int64_t next_offset) {
  const size_t n = index.entries();
  std::vector<int64_t> times;
  std::vector<int64_t> offsets;
  for (size_t i = 0; i < n; ++i) {
    times.push_back(index.Entry(i).timestamp);
    offsets.push_back(index.Entry(i).offset);
  }
  for (int64_t target : Targets(times, base)) {
    const int64_t o = index.Lookup(target);
    Require(o == base || std::find(offsets.begin(), offsets.end(), o) != offsets.end(),
            "time lookup returned neither an entry's offset nor the base");
  }
  if (!index.Check(next_offset).ok()) return;
  for (int64_t target : Targets(times, base)) {
    int64_t expected = base;
    for (size_t i = 0; i < n; ++i) {
      if (index.Entry(i).timestamp <= target) expected = index.Entry(i).offset;
    }
    Require(index.Lookup(target) == expected, "time lookup disagrees with a linear scan");
    Require(expected == base || expected < next_offset, "time lookup past the next offset");
  }
  if (index.file().writable()) {
    int64_t ts = n == 0 ? 0 : index.Last().timestamp;
    int64_t offset = index.Last().offset;
    while (!index.full() && ts < INT64_MAX - 10 && offset < INT64_MAX - 10 &&
           offset - base < static_cast<int64_t>(UINT32_MAX) - 10) {
      const size_t before = index.entries();
      ts += 7;
      offset += 2;
      index.MaybeAppend(ts, offset, /*skip_full_check=*/true);
      Require(index.entries() == before + 1 && index.Last().timestamp == ts &&
                  index.Last().offset == offset,
              "an appended time entry does not read back");
      Require(index.Lookup(ts) == offset, "time lookup misses an appended entry");
    }
  }
  const int64_t cut = offsets.empty() ? base : offsets[offsets.size() / 2];
  index.TruncateTo(cut);
  Require(index.entries() == 0 || index.Last().offset < cut, "time TruncateTo kept too much");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kHeader) return 0;
  const bool time = data[0] & 1;
  const int mode = (data[0] >> 1) & 3;
  const auto base = static_cast<int64_t>(format::LoadBig64(data + 1) & INT64_MAX);
  const uint32_t next_relative = format::LoadBig32(data + 9);
  const int64_t next_offset = base > INT64_MAX - next_relative ? INT64_MAX : base + next_relative;
  const uint64_t log_size = format::LoadBig32(data + 13);
  data += kHeader;
  size -= kHeader;

  static const std::string dir = fuzz::FreshScratchDir("index");
  const std::string path =
      time ? storage::TimeIndexFileName(dir, base) : storage::IndexFileName(dir, base);
  fuzz::WriteBytes(path, data, size);
  const size_t entry_size = time ? TimeIndex::kEntrySize : OffsetIndex::kEntrySize;

  absl::StatusOr<std::unique_ptr<IndexFile>> file =
      mode == 1 ? IndexFile::OpenReadOnly(io::PosixEnv(), path, entry_size)
                : IndexFile::Open(io::PosixEnv(), path, entry_size, kWritableBytes,
                                  /*writable=*/mode == 2);
  const bool whole = size % entry_size == 0;
  const bool fits = mode != 2 || size <= kWritableBytes;
  if (!file.ok()) {
    Require(!whole || (whole && !fits && absl::IsInvalidArgument(file.status())),
            "a well-sized index failed to open");
    Require(whole || absl::IsDataLoss(file.status()), "a partial entry is not DataLoss");
  } else {
    Require(whole && fits, "an index with a partial entry opened");
    Require((*file)->entries() == size / entry_size, "an index lost or gained entries");
    if (time) {
      TimeIndex index(std::move(*file), base);
      FuzzTimeIndex(index, base, next_offset);
    } else {
      OffsetIndex index(std::move(*file), base);
      FuzzOffsetIndex(index, base, next_offset, log_size);
    }
  }
  std::filesystem::remove(path);
  return 0;
}
