// CRC32C over 64 B (a small record), 4 KiB (a page) and 1 MiB (a fetch): the table-driven
// portable path, the SSE4.2 path, and Crc32cExtend, which picks one at first use.
// Items are checksummed buffers.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "bench_util.h"
#include "format/crc32c.h"

namespace runnel::bench {
namespace {

using CrcFn = uint32_t (*)(uint32_t, const uint8_t*, size_t);

const std::vector<uint8_t>& CrcInput() {
  static const auto* data = [] {
    auto* v = new std::vector<uint8_t>(kMiB);
    uint64_t x = 1;
    for (uint8_t& b : *v) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      b = static_cast<uint8_t>(x >> 56);
    }
    return v;
  }();
  return *data;
}

template <CrcFn kFn>
void BM_Crc32c(benchmark::State& state) {
  if (kFn == &format::Crc32cExtendHardware && !format::Crc32cHardwareAvailable()) {
    state.SkipWithError("this CPU has no SSE4.2");
    return;
  }
  const auto n = static_cast<size_t>(state.range(0));
  const uint8_t* data = CrcInput().data();
  uint32_t crc = 0;
  for (auto _ : state) {
    crc = kFn(crc, data, n);
    benchmark::DoNotOptimize(crc);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(n));
}

void Sizes(benchmark::internal::Benchmark* b) { b->Arg(64)->Arg(4096)->Arg(static_cast<int64_t>(kMiB)); }

BENCHMARK(BM_Crc32c<format::Crc32cExtendPortable>)->Name("Crc32c/Portable")->Apply(Sizes);
BENCHMARK(BM_Crc32c<format::Crc32cExtendHardware>)->Name("Crc32c/Hardware")->Apply(Sizes);
BENCHMARK(BM_Crc32c<format::Crc32cExtend>)->Name("Crc32c/Extend")->Apply(Sizes);

}  // namespace
}  // namespace runnel::bench
