// The raw limit every runnel benchmark is compared with: the same records framed as
// [u32 length][u32 CRC32C of key+value][key][value] into a buffer and written with
// write(2), optionally with fdatasync after each buffer. Shared by raw_limit_bench.cc
// (Google Benchmark) and the producer driver (produce_driver.cc).
#ifndef RUNNEL_BENCH_RAW_LIMIT_H_
#define RUNNEL_BENCH_RAW_LIMIT_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bench_util.h"

namespace runnel::bench {

inline constexpr size_t kFrameHeaderSize = 8;

inline uint32_t Load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Frames records of `pool` from *seq on into `buf` until the next frame would not fit,
// and returns the bytes used; *records counts the frames.
size_t FrameChunk(const RecordPool& pool, uint8_t* buf, size_t capacity, uint64_t* seq,
                  int64_t* records);

absl::Status WriteAll(int fd, const uint8_t* data, size_t n, const std::string& path);
// Creates `path` afresh (truncated), write-only.
absl::StatusOr<int> CreateFile(const std::string& path);

// Frames and writes `total` bytes (whole chunks of chunk.size()) to `fd`, fdatasync-ing
// after each chunk when `sync`; adds to *records and *bytes.
absl::Status WriteFramed(const RecordPool& pool, int fd, const std::string& path,
                         std::vector<uint8_t>& chunk, uint64_t total, bool sync, uint64_t* seq,
                         int64_t* records, int64_t* bytes);

// Reads the whole framed file from the start in 1 MiB read()s, checking every frame's
// CRC; a frame cut by a chunk's end is carried over to the next. `buf` grows to at least
// 1 MiB plus a frame. Adds to *bytes, and the key and value sizes to *touched (so the
// reads cannot be optimised away). Returns the records read.
absl::StatusOr<int64_t> ReadFramed(int fd, const std::string& path, std::vector<uint8_t>& buf,
                                   int64_t* bytes, uint64_t* touched);

}  // namespace runnel::bench

#endif  // RUNNEL_BENCH_RAW_LIMIT_H_
