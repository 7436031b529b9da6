#include "raw_limit.h"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>

#include "format/crc32c.h"
#include "io/errno_status.h"

namespace runnel::bench {
namespace {

void Store32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }

}  // namespace

size_t FrameChunk(const RecordPool& pool, uint8_t* buf, size_t capacity, uint64_t* seq,
                  int64_t* records) {
  const size_t frame_size = kFrameHeaderSize + kKeySize + pool.value_size();
  size_t used = 0;
  while (capacity - used >= frame_size) {
    const BenchRecord& r = pool.at((*seq)++);
    const auto* key = reinterpret_cast<const uint8_t*>(r.key.data());
    const auto* value = reinterpret_cast<const uint8_t*>(r.value.data());
    uint8_t* p = buf + used;
    const uint32_t crc = format::Crc32cExtend(format::Crc32cExtend(0, key, r.key.size()), value,
                                              r.value.size());
    Store32(p, static_cast<uint32_t>(r.key.size() + r.value.size()));
    Store32(p + 4, crc);
    std::memcpy(p + kFrameHeaderSize, key, r.key.size());
    std::memcpy(p + kFrameHeaderSize + r.key.size(), value, r.value.size());
    used += kFrameHeaderSize + r.key.size() + r.value.size();
    ++*records;
  }
  return used;
}

absl::Status WriteAll(int fd, const uint8_t* data, size_t n, const std::string& path) {
  while (n > 0) {
    const ssize_t w = write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return io::ErrnoStatus(errno, "write", path);
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

absl::StatusOr<int> CreateFile(const std::string& path) {
  unlink(path.c_str());
  const int fd = open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) return io::ErrnoStatus(errno, "open", path);
  return fd;
}

absl::Status WriteFramed(const RecordPool& pool, int fd, const std::string& path,
                         std::vector<uint8_t>& chunk, uint64_t total, bool sync, uint64_t* seq,
                         int64_t* records, int64_t* bytes) {
  for (uint64_t written = 0; written < total;) {
    const size_t n = FrameChunk(pool, chunk.data(), chunk.size(), seq, records);
    if (absl::Status st = WriteAll(fd, chunk.data(), n, path); !st.ok()) return st;
    if (sync && fdatasync(fd) != 0) return io::ErrnoStatus(errno, "fdatasync", path);
    written += n;
    *bytes += static_cast<int64_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ReadFramed(int fd, const std::string& path, std::vector<uint8_t>& buf,
                                   int64_t* bytes, uint64_t* touched) {
  if (buf.size() < kMiB) buf.resize(kMiB + 4096);
  if (lseek(fd, 0, SEEK_SET) != 0) return io::ErrnoStatus(errno, "lseek", path);
  int64_t records = 0;
  size_t have = 0;  // bytes of an incomplete frame at buf[0]
  while (true) {
    const ssize_t n = read(fd, buf.data() + have, kMiB);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io::ErrnoStatus(errno, "read", path);
    }
    if (n == 0) break;
    *bytes += n;
    have += static_cast<size_t>(n);
    size_t pos = 0;
    while (have - pos >= kFrameHeaderSize) {
      const uint8_t* p = buf.data() + pos;
      const uint32_t length = Load32(p);
      if (have - pos < kFrameHeaderSize + length) break;
      if (length < kKeySize ||
          format::Crc32cExtend(0, p + kFrameHeaderSize, length) != Load32(p + 4)) {
        return absl::DataLossError(fmt::format("{}: raw frame with a bad length or CRC", path));
      }
      *touched += kKeySize + (length - kKeySize);  // the key's and the value's sizes
      pos += kFrameHeaderSize + length;
      ++records;
    }
    std::memmove(buf.data(), buf.data() + pos, have - pos);
    have -= pos;
  }
  if (have != 0) return absl::DataLossError(fmt::format("{}: raw file ends inside a frame", path));
  return records;
}

}  // namespace runnel::bench
