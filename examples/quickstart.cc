// Quick start: runnel's storage engine on its own. It opens a partition log (Kafka's
// on-disk format, in ./quickstart-data/greetings-0 unless a directory is given), appends
// batches of records, closes it, reopens it (a clean shutdown skips the recovery scan),
// and reads everything back. The Broker, Producer and Consumer build on this log.
#include <cstdio>
#include <filesystem>
#include <string>

#include "format/record_batch.h"
#include "format/record_batch_builder.h"
#include "io/env.h"
#include "storage/partition_log.h"
#include "util/formatters.h"

namespace {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "quickstart: %s\n", status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using runnel::format::RecordBatchBuilder;
  using runnel::storage::PartitionLog;

  const std::string root = argc > 1 ? argv[1] : "quickstart-data";
  const std::string dir = root + "/greetings-0";
  std::filesystem::remove_all(root);

  runnel::storage::LogConfig config;  // Kafka's defaults: 1 GiB segments, 7-day retention
  config.sync = runnel::storage::SyncPolicy::kAlways;  // acknowledged means fsynced

  {
    auto log = PartitionLog::Open(runnel::io::PosixEnv(), dir, config);
    if (!log.ok()) return Fail(log.status());
    const char* greetings[][2] = {{"en", "hello"}, {"fr", "bonjour"}, {"es", "hola"},
                                  {"de", "hallo"}, {"it", "ciao"},    {"fi", "moi"}};
    for (int b = 0; b < 3; ++b) {
      RecordBatchBuilder batch;  // one Kafka RecordBatch v2 of two records
      for (int i = 0; i < 2; ++i) {
        const auto* g = greetings[b * 2 + i];
        batch.Add(/*timestamp=*/1700000000000 + b * 2 + i, g[0], g[1]);
      }
      std::vector<uint8_t> bytes = batch.Build();
      auto appended = (*log)->Append(bytes);
      if (!appended.ok()) return Fail(appended.status());
      if (absl::Status s = (*log)->Flush(); !s.ok()) return Fail(s);  // group commit
      std::printf("appended offsets %lld-%lld\n", static_cast<long long>(appended->base_offset),
                  static_cast<long long>(appended->last_offset));
    }
    if (absl::Status s = (*log)->Close(); !s.ok()) return Fail(s);
  }

  auto log = PartitionLog::Open(runnel::io::PosixEnv(), dir, config);
  if (!log.ok()) return Fail(log.status());
  std::printf("reopened: %s\n", (*log)->recovery_report().ToString().c_str());

  int64_t offset = (*log)->log_start_offset();
  int count = 0;
  int64_t first = -1, last = -1;
  while (offset < (*log)->visible_offset()) {
    auto read = (*log)->Read(offset, 1 << 20);  // zero-copy views of whole batches
    if (!read.ok()) return Fail(read.status());
    for (const auto& slice : read->slices) {
      std::span<const uint8_t> rest = slice.bytes;
      while (!rest.empty()) {
        auto header = runnel::format::ValidateBatch(
            rest.first(runnel::format::DecodeBatchHeader(rest)->size_in_bytes()));
        if (!header.ok()) return Fail(header.status());
        runnel::format::RecordIterator records(rest.first(header->size_in_bytes()), *header);
        runnel::format::Record r;
        while (records.Next(&r)) {
          std::printf("  offset %lld  %.*s = %.*s\n", static_cast<long long>(r.offset),
                      static_cast<int>(r.key->size()), r.key->data(),
                      static_cast<int>(r.value->size()), r.value->data());
          if (first < 0) first = r.offset;
          last = r.offset;
          ++count;
        }
        if (!records.status().ok()) return Fail(records.status());
        rest = rest.subspan(header->size_in_bytes());
      }
    }
    offset = read->next_offset;
  }
  std::printf("read back %d records from offsets %lld to %lld\n", count,
              static_cast<long long>(first), static_cast<long long>(last));
  return (*log)->Close().ok() ? 0 : 1;
}
