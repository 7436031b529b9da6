// Fuzzes partition recovery with hostile files. The input describes a partition directory:
//   byte 0       layout flags: bit 0 writes a clean-shutdown checkpoint (so the indexes are
//                trusted and checked rather than rebuilt), bit 1 splits the log into two
//                segments, bit 2 adds an .index, bit 3 a .timeindex
//   bytes 1-2    where the rest is split between the files (big-endian, modulo its size)
//   rest         the bytes of the first .log, then of the second .log / the indexes
// PartitionLog::Open must not crash, and whatever it opens must read back only batches
// that pass their CRC, at contiguous offsets, and take a new append after them.
#include <cstdint>
#include <filesystem>
#include <string>

#include "format/record_batch.h"
#include "format/record_batch_builder.h"
#include "fuzz_scratch.h"
#include "io/env.h"
#include "storage/checkpoint.h"
#include "storage/file_names.h"
#include "storage/partition_log.h"

namespace {

namespace fs = std::filesystem;
using namespace runnel;  // NOLINT: a fuzz target

using fuzz::Require;
using fuzz::WriteBytes;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const uint8_t flags = data[0];
  const size_t split_seed = (size_t{data[1]} << 8) | data[2];
  data += 3;
  size -= 3;
  const size_t split = size == 0 ? 0 : split_seed % (size + 1);

  static const std::string root = fuzz::FreshScratchDir("recovery");
  const std::string dir = root + "/partition-0";
  fs::remove_all(dir);
  fs::create_directories(dir);
  WriteBytes(storage::LogFileName(dir, 0), data, split);
  const uint8_t* rest = data + split;
  const size_t rest_size = size - split;
  if (flags & 2) {
    // A second segment named after an offset the first may or may not reach.
    WriteBytes(storage::LogFileName(dir, 1 + (split_seed & 0xff)), rest, rest_size);
  } else {
    const size_t half = rest_size / 2;
    if (flags & 4) WriteBytes(storage::IndexFileName(dir, 0), rest, half);
    if (flags & 8) WriteBytes(storage::TimeIndexFileName(dir, 0), rest + half, rest_size - half);
  }
  io::Env* env = io::PosixEnv();
  if (flags & 1) {
    Require(storage::WriteCheckpoint(env, dir, {true, 0}).ok(), "cannot write a checkpoint");
  }

  storage::LogConfig config;
  config.segment_index_bytes = 4096;
  auto log = storage::PartitionLog::Open(env, dir, config);
  if (log.ok()) {
    int64_t offset = (*log)->log_start_offset();
    while (offset < (*log)->visible_offset()) {
      auto read = (*log)->Read(offset, 4096);
      if (!read.ok()) break;  // a damaged sealed segment read after a "clean" shutdown
      for (const storage::LogSlice& slice : read->slices) {
        std::span<const uint8_t> bytes = slice.bytes;
        while (!bytes.empty()) {
          const format::BatchCheckResult r = format::CheckBatch(bytes);
          // Only a trusted (clean-shutdown) segment may hold a bad batch; the reader's CRC
          // check is what catches it, so stop there.
          if (r.check != format::BatchCheck::kValid) {
            Require(flags & 1, "recovery kept an invalid batch");
            goto done;
          }
          format::RecordIterator it(bytes.first(r.header.size_in_bytes()), r.header);
          format::Record record;
          while (it.Next(&record)) {
          }
          bytes = bytes.subspan(r.header.size_in_bytes());
        }
      }
      Require(read->next_offset > offset, "a read did not advance");
      offset = read->next_offset;
    }
  done:
    format::RecordBatchBuilder builder;
    builder.Add(1, "k", "v");
    std::vector<uint8_t> batch = builder.Build();
    auto appended = (*log)->Append(batch);
    if (appended.ok()) Require(appended->base_offset == (*log)->log_end_offset() - 1, "bad offset");
    log->reset();
  }
  fs::remove_all(dir);
  return 0;
}
