// The raw limit: what the machine does with the same records and no log at all. Every
// PartitionLog benchmark is judged against one of these (bench/ratio.py prints the ratios).
//
// A record is framed as [u32 length][u32 CRC32C of key+value][key][value] (host byte
// order; length = key + value bytes), 124 bytes for a 16-byte key and a 100-byte value:
// about what a record costs inside a RecordBatch (~123 bytes), so both write the same
// volume. Frames are packed whole into a chunk buffer, and the filled part is written with
// one write(2) per chunk.
//
//   RawLimit/FrameOnly           framing into a 1 MiB buffer, no I/O: the CPU ceiling
//   RawLimit/Write               64 MiB per iteration into a new file, write() per 1 MiB
//   RawLimit/Write16K            the same with write() per 16 KiB, the log's batch size:
//                                how much of the gap to the log is the size of its writes
//   RawLimit/WriteFdatasync      write() per 1 MiB with fdatasync() after every 1 MiB
//   RawLimit/WriteFdatasync16K   8 MiB per iteration, write() + fdatasync() per 16 KiB,
//                                like PartitionLog/AppendSyncAlways with 16 KiB batches
//   RawLimit/Read                read() of a 256 MiB file in 1 MiB chunks, every frame's
//                                CRC checked (the file is in the page cache, as the log is)
//
// The file is recreated between iterations outside the timing. Items are records.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench_util.h"
#include "raw_limit.h"
#include "format/crc32c.h"
#include "io/errno_status.h"

namespace runnel::bench {
namespace {

constexpr size_t kFrameSize = kFrameHeaderSize + kKeySize + kValueSize;
constexpr uint64_t kWriteTotal = 64 * kMiB;
constexpr uint64_t kSyncSmallTotal = 8 * kMiB;
constexpr uint64_t kReadTotal = 256 * kMiB;

void BM_RawWrite(benchmark::State& state, size_t chunk_size, bool sync, uint64_t total) {
  TempDir dir;
  if (!CheckOk(state, dir.status(), "temp dir")) return;
  const std::string path = dir.Sub("raw.log");
  std::vector<uint8_t> chunk(chunk_size);
  uint64_t seq = 0;
  int64_t records = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    absl::StatusOr<int> fd = CreateFile(path);
    if (!CheckOk(state, fd.status(), "create")) break;
    state.ResumeTiming();
    const absl::Status st = WriteFramed(RecordPool::Get(), *fd, path, chunk, total, sync, &seq, &records, &bytes);
    state.PauseTiming();
    close(*fd);
    unlink(path.c_str());
    if (!CheckOk(state, st, "raw write")) break;
    state.ResumeTiming();
  }
  state.SetItemsProcessed(records);
  state.SetBytesProcessed(bytes);
}
BENCHMARK_CAPTURE(BM_RawWrite, write, kMiB, false, kWriteTotal)
    ->Name("RawLimit/Write")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_RawWrite, write16k, kBatchBytes, false, kWriteTotal)
    ->Name("RawLimit/Write16K")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_RawWrite, fdatasync, kMiB, true, kWriteTotal)
    ->Name("RawLimit/WriteFdatasync")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_RawWrite, fdatasync16k, kBatchBytes, true, kSyncSmallTotal)
    ->Name("RawLimit/WriteFdatasync16K")->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_FrameOnly(benchmark::State& state) {
  std::vector<uint8_t> chunk(kMiB);
  uint64_t seq = 0;
  int64_t records = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    for (uint64_t done = 0; done < kWriteTotal;) {
      const size_t n = FrameChunk(RecordPool::Get(), chunk.data(), chunk.size(), &seq, &records);
      benchmark::DoNotOptimize(chunk.data());
      benchmark::ClobberMemory();
      done += n;
      bytes += static_cast<int64_t>(n);
    }
  }
  state.SetItemsProcessed(records);
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_FrameOnly)->Name("RawLimit/FrameOnly")->Unit(benchmark::kMillisecond);

// A framed file of kReadTotal bytes, written once and shared by every RawLimit/Read run.
struct RawFile {
  TempDir dir;
  std::string path;
  int fd = -1;
  ~RawFile() {
    if (fd >= 0) close(fd);
  }
};

absl::StatusOr<RawFile*> SharedRawFile() {
  static RawFile* file = nullptr;
  if (file != nullptr) return file;
  auto made = std::make_unique<RawFile>();
  if (!made->dir.status().ok()) return made->dir.status();
  made->path = made->dir.Sub("raw.log");
  absl::StatusOr<int> wfd = CreateFile(made->path);
  if (!wfd.ok()) return wfd.status();
  std::vector<uint8_t> chunk(kMiB);
  uint64_t seq = 0;
  int64_t records = 0;
  int64_t bytes = 0;
  absl::Status st = WriteFramed(RecordPool::Get(), *wfd, made->path, chunk, kReadTotal, false, &seq,
                                &records, &bytes);
  close(*wfd);
  if (!st.ok()) return st;
  made->fd = open(made->path.c_str(), O_RDONLY | O_CLOEXEC);
  if (made->fd < 0) return io::ErrnoStatus(errno, "open", made->path);
  file = made.release();
  AtBenchExit([] {
    delete file;
    file = nullptr;
  });
  return file;
}

void BM_RawRead(benchmark::State& state) {
  absl::StatusOr<RawFile*> file = SharedRawFile();
  if (!CheckOk(state, file.status(), "writing the file to read")) return;
  std::vector<uint8_t> buf(kMiB + kFrameSize);
  int64_t records = 0;
  int64_t bytes = 0;
  uint64_t touched = 0;
  for (auto _ : state) {
    absl::StatusOr<int64_t> n = ReadFramed((*file)->fd, (*file)->path, buf, &bytes, &touched);
    if (!CheckOk(state, n.status(), "raw read")) break;
    records += *n;
  }
  benchmark::DoNotOptimize(touched);
  state.SetItemsProcessed(records);
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_RawRead)->Name("RawLimit/Read")->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace runnel::bench
