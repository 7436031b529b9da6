// The raw limit (bench/raw_limit.h): the same records framed as
// [u32 length][u32 CRC32C][key][value] and written with write() in 1 MiB chunks, or with an
// fdatasync after every 16 KiB (the producer's batch.size) for the durable rows; read back
// with read() and every frame's CRC checked. With `in_memory`, only the framing into a
// 1 MiB buffer: the CPU ceiling. One thread whatever the case's threads and partitions.
#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "bench/compare/system.h"
#include "bench/raw_limit.h"

namespace runnel::bench {
namespace {

using Clock = std::chrono::steady_clock;

bool Over(const ProduceCase& c, int64_t records, Clock::time_point start) {
  return (c.max_records > 0 && records >= c.max_records) ||
         Clock::now() - start >= std::chrono::duration<double>(c.max_seconds);
}

class RawSystem : public System {
 public:
  explicit RawSystem(bool in_memory) : in_memory_(in_memory) {}
  std::string name() const override { return in_memory_ ? "raw (in memory)" : "raw write/read"; }
  std::string durability(bool durable) const override {
    if (in_memory_) return "none: framing only, the CPU ceiling";
    return durable ? "write() + fdatasync per 16 KiB" : "write() per 1 MiB: page cache";
  }
  std::string version() const override {
    return in_memory_ ? "framing into a 1 MiB buffer, CRC32C per frame" : "write(2)/read(2), CRC32C per frame";
  }
  bool has_latency() const override { return false; }

  absl::StatusOr<RunFigures> Produce(const ProduceCase& c) override {
    const RecordPool& pool = RecordPool::Get(c.value_size);
    std::vector<uint8_t> chunk(c.durable && !in_memory_ ? kBatchBytes : kMiB);
    uint64_t seq = 0;
    int64_t records = 0;
    int64_t bytes = 0;
    if (in_memory_) {
      const auto start = Clock::now();
      while (!Over(c, records, start)) {
        bytes += static_cast<int64_t>(FrameChunk(pool, chunk.data(), chunk.size(), &seq, &records));
      }
      return Figures(c, records, start);
    }
    TempDir dir;
    if (!dir.status().ok()) return dir.status();
    const std::string path = dir.Sub("raw.log");
    absl::StatusOr<int> fd = CreateFile(path);
    if (!fd.ok()) return fd.status();
    const auto start = Clock::now();
    absl::Status st;
    while (st.ok() && !Over(c, records, start)) {
      const int64_t before = records;
      st = WriteFramed(pool, *fd, path, chunk, 8 * chunk.size(), c.durable, &seq, &records, &bytes);
      if (c.progress != nullptr) c.progress->fetch_add(records - before);
    }
    RunFigures figures = Figures(c, records, start);
    close(*fd);
    if (!st.ok()) return st;
    return figures;
  }

  absl::StatusOr<ConsumeFigures> Consume(const ConsumeCase& c) override {
    if (in_memory_) return absl::UnimplementedError("framing only: nothing to read");
    TempDir dir;
    if (!dir.status().ok()) return dir.status();
    // Two files of half the records each: one reader reads both in turn, the "group" reads
    // them on two threads.
    const uint64_t frame = kFrameHeaderSize + kKeySize + kValueSize;
    std::vector<std::string> paths = {dir.Sub("raw0.log"), dir.Sub("raw1.log")};
    uint64_t seq = 0;
    for (const std::string& path : paths) {
      absl::StatusOr<int> fd = CreateFile(path);
      if (!fd.ok()) return fd.status();
      std::vector<uint8_t> chunk(kMiB / frame * frame);  // whole frames, no slack
      int64_t records = 0, bytes = 0;
      const uint64_t total = static_cast<uint64_t>(c.records / 2) * frame;
      absl::Status st = WriteFramed(RecordPool::Get(), *fd, path, chunk, total, false, &seq, &records, &bytes);
      close(*fd);
      if (!st.ok()) return st;
    }
    ConsumeFigures figures;
    for (int readers : {1, 2}) {
      std::vector<absl::StatusOr<int64_t>> got(2, int64_t{0});
      std::vector<uint64_t> touched(2, 0);
      auto read_file = [&](size_t i) {
        const int fd = open(paths[i].c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
          got[i] = absl::InternalError(fmt::format("cannot open {}", paths[i]));
          return;
        }
        std::vector<uint8_t> buf;
        int64_t bytes = 0;
        got[i] = ReadFramed(fd, paths[i], buf, &bytes, &touched[i]);
        close(fd);
        if (got[i].ok() && c.progress != nullptr) c.progress->fetch_add(*got[i]);
      };
      const auto start = Clock::now();
      if (readers == 1) {
        read_file(0);
        read_file(1);
      } else {
        std::thread other([&] { read_file(1); });
        read_file(0);
        other.join();
      }
      RunFigures& f = readers == 1 ? figures.one : figures.group;
      f.seconds = std::chrono::duration<double>(Clock::now() - start).count();
      for (size_t i = 0; i < 2; ++i) {
        if (!got[i].ok()) return got[i].status();
        f.records += *got[i];
        f.bytes += touched[i];
      }
    }
    return figures;
  }

  absl::StatusOr<LatencyRun> Latency(const LatencyCase&) override {
    return absl::UnimplementedError("the raw limit has no latency run");
  }

 private:
  static RunFigures Figures(const ProduceCase& c, int64_t records, Clock::time_point start) {
    RunFigures f;
    f.records = records;
    f.bytes = static_cast<uint64_t>(records) * (kKeySize + c.value_size);
    f.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return f;
  }

  bool in_memory_;
};

}  // namespace

std::unique_ptr<System> MakeRawSystem() { return std::make_unique<RawSystem>(false); }
std::unique_ptr<System> MakeFramingSystem() { return std::make_unique<RawSystem>(true); }

}  // namespace runnel::bench
