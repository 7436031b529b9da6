// runnel_bench's main: Google Benchmark's, plus the workload in the report's context and
// the removal of shared fixtures (a filled log, a raw file) once every benchmark has run.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "bench_util.h"
#include "format/crc32c.h"

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  using namespace runnel::bench;
  benchmark::AddCustomContext(
      "runnel_records", fmt::format("{}-byte keys, {}-byte values, {} records per {}-byte batch",
                                    kKeySize, kValueSize, RecordsPerBatch(), kBatchBytes));
  benchmark::AddCustomContext("runnel_tmpdir", TempRoot());
  benchmark::AddCustomContext("runnel_crc32c",
                              runnel::format::Crc32cHardwareAvailable() ? "sse4.2" : "portable");
  benchmark::RunSpecifiedBenchmarks();
  RunCleanups();
  benchmark::Shutdown();
  return 0;
}
