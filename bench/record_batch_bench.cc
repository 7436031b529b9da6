// The RecordBatch v2 codec alone, in memory: building ~16 KiB batches of 100-byte records
// (RecordBatchBuilder::Add for each record, then Build, which computes the CRC) and
// decoding them (CheckBatch, with and without the CRC pass, then RecordIterator over every
// record, touching each key and value). Items are records.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "bench_util.h"
#include "format/record_batch.h"
#include "format/record_batch_builder.h"

namespace runnel::bench {
namespace {

void BM_Encode(benchmark::State& state) {
  format::RecordBatchBuilder builder;
  const int per_batch = RecordsPerBatch();
  uint64_t seq = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    const std::span<uint8_t> batch = BuildBatch(builder, &seq, per_batch);
    benchmark::DoNotOptimize(batch.data());
    bytes += static_cast<int64_t>(batch.size());
  }
  state.SetItemsProcessed(state.iterations() * per_batch);
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_Encode)->Name("RecordBatch/Encode");

void BM_Decode(benchmark::State& state, bool verify_crc) {
  format::RecordBatchBuilder builder;
  uint64_t seq = 0;
  const std::span<const uint8_t> built = BuildBatch(builder, &seq, RecordsPerBatch());
  const std::vector<uint8_t> batch(built.begin(), built.end());
  int64_t records = 0;
  for (auto _ : state) {
    const format::BatchCheckResult check = format::CheckBatch(batch, verify_crc);
    if (check.check != format::BatchCheck::kValid) {
      state.SkipWithError("CheckBatch rejected a freshly built batch");
      break;
    }
    format::RecordIterator it(batch, check.header);
    format::Record record;
    size_t touched = 0;
    while (it.Next(&record)) {
      touched += (record.key ? record.key->size() : 0) + (record.value ? record.value->size() : 0);
      ++records;
    }
    if (!it.status().ok()) {
      state.SkipWithError("RecordIterator failed on a freshly built batch");
      break;
    }
    benchmark::DoNotOptimize(touched);
  }
  state.SetItemsProcessed(records);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(batch.size()));
}
BENCHMARK_CAPTURE(BM_Decode, crc, true)->Name("RecordBatch/Decode");
BENCHMARK_CAPTURE(BM_Decode, no_crc, false)->Name("RecordBatch/DecodeNoCrc");

}  // namespace
}  // namespace runnel::bench
