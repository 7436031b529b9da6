#include "bench_util.h"

#include <fmt/format.h>
#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>

#include "util/formatters.h"

namespace runnel::bench {
namespace {

// splitmix64: a fixed sequence from a fixed seed, so every run sees the same bytes.
uint64_t NextRandom(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::vector<std::function<void()>>& Cleanups() {
  static auto* cleanups = new std::vector<std::function<void()>>();
  return *cleanups;
}

}  // namespace

RecordPool::RecordPool(size_t value_size) : value_size_(value_size) {
  constexpr std::string_view kAlphabet =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
  uint64_t rng = 42;
  bytes_.reserve(kCount * (kKeySize + value_size));
  for (size_t i = 0; i < kCount; ++i) {
    // "key-" and 12 digits: 16 bytes, spread over the key space like user or device ids.
    bytes_ += fmt::format("key-{:012d}", NextRandom(&rng) % 1'000'000'000'000ULL);
    for (size_t j = 0; j < value_size; ++j) bytes_ += kAlphabet[NextRandom(&rng) & 63];
  }
  records_.reserve(kCount);
  const std::string_view all = bytes_;
  for (size_t i = 0; i < kCount; ++i) {
    const size_t at = i * (kKeySize + value_size);
    records_.push_back({all.substr(at, kKeySize), all.substr(at + kKeySize, value_size)});
  }
}

const RecordPool& RecordPool::Get(size_t value_size) {
  static std::mutex mu;
  static auto* pools = new std::map<size_t, std::unique_ptr<RecordPool>>();
  std::lock_guard<std::mutex> lock(mu);
  std::unique_ptr<RecordPool>& pool = (*pools)[value_size];
  if (pool == nullptr) pool.reset(new RecordPool(value_size));
  return *pool;
}

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

std::string TempRoot() {
  const char* env = std::getenv("TMPDIR");
  return env != nullptr && env[0] != '\0' ? std::string(env) : std::string("/tmp");
}

TempDir::TempDir() {
  std::string templ = TempRoot() + "/runnel-bench-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    status_ = absl::InternalError(
        fmt::format("cannot make a temporary directory {}: {}", templ, std::strerror(errno)));
    return;
  }
  path_ = std::move(templ);
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  if (ec) fmt::print(stderr, "runnel_bench: cannot remove {}: {}\n", path_, ec.message());
}

std::string TempDir::Sub(std::string_view name) const {
  return fmt::format("{}/{}", path_, name);
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
