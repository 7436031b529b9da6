#include "bench_util.h"

#include <fmt/format.h>

#include <string>
#include <utility>

#include "util/formatters.h"

namespace runnel::bench {
namespace {

std::vector<std::function<void()>>& Cleanups() {
  static auto* cleanups = new std::vector<std::function<void()>>();
  return *cleanups;
}

}  // namespace

int RecordsPerBatch(size_t batch_bytes) {
  const RecordPool& pool = RecordPool::Get();
  format::RecordBatchBuilder builder;
  int count = 0;
  for (uint64_t seq = 0;; ++seq) {
    const BenchRecord& r = pool.at(seq);
    // Record n of a batch has timestamp and offset deltas n, as BuildBatch makes them.
    const size_t more = format::RecordBatchBuilder::RecordSize(count, count, r.key, r.value, {});
    if (builder.size_in_bytes() + more > batch_bytes) break;
    builder.Add(kBaseTimestamp + count, r.key, r.value);
    ++count;
  }
  return count;
}

std::span<uint8_t> BuildBatch(format::RecordBatchBuilder& builder, uint64_t* seq,
                              int records) {
  const RecordPool& pool = RecordPool::Get();
  builder.Clear();
  for (int i = 0; i < records; ++i, ++*seq) {
    const BenchRecord& r = pool.at(*seq);
    builder.Add(kBaseTimestamp + static_cast<int64_t>(*seq), r.key, r.value);
  }
  return builder.Finish();
}

bool CheckOk(benchmark::State& state, const absl::Status& status, std::string_view what) {
  if (status.ok()) return true;
  const std::string message = fmt::format("{}: {}", what, status);
  state.SkipWithError(message.c_str());
  return false;
}

void AtBenchExit(std::function<void()> fn) { Cleanups().push_back(std::move(fn)); }

void RunCleanups() {
  auto& cleanups = Cleanups();
  while (!cleanups.empty()) {
    std::function<void()> fn = std::move(cleanups.back());
    cleanups.pop_back();
    fn();
  }
}

}  // namespace runnel::bench
