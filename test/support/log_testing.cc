#include "support/log_testing.h"

#include <fmt/format.h>

#include "format/record_batch.h"
#include "format/record_batch_builder.h"
#include "util/status_macros.h"

namespace runnel::testing {

std::vector<uint8_t> MakeBatch(const std::vector<TestRecord>& records) {
  format::RecordBatchBuilder builder;
  for (const TestRecord& r : records) {
    builder.Add(r.timestamp, r.key ? std::optional<std::string_view>(*r.key) : std::nullopt,
                r.value ? std::optional<std::string_view>(*r.value) : std::nullopt);
  }
  return builder.Build();
}

std::vector<TestRecord> MakeRecords(int count, int first_index, size_t value_size, int64_t ts0) {
  std::vector<TestRecord> out;
  for (int i = 0; i < count; ++i) {
    const int n = first_index + i;
    std::string value = fmt::format("v{}-", n);
    while (value.size() < value_size) value.push_back(static_cast<char>('a' + (value.size() + n) % 26));
    out.push_back(TestRecord{-1, ts0 + i, fmt::format("k{}", n), value});
  }
  return out;
}

absl::Status AppendRecords(storage::PartitionLog& log, std::vector<TestRecord>& records) {
  std::vector<uint8_t> batch = MakeBatch(records);
  RUNNEL_ASSIGN_OR_RETURN(storage::AppendInfo info, log.Append(batch));
  for (size_t i = 0; i < records.size(); ++i) {
    records[i].offset = info.base_offset + static_cast<int64_t>(i);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TestRecord>> Decode(const storage::ReadResult& result) {
  std::vector<TestRecord> out;
  for (const storage::LogSlice& slice : result.slices) {
    std::span<const uint8_t> rest = slice.bytes;
    while (!rest.empty()) {
      const format::BatchCheckResult check = format::CheckBatch(rest);
      if (check.check != format::BatchCheck::kValid) {
        return absl::DataLossError(fmt::format("read returned a bad batch: {}", check.reason));
      }
      const size_t size = check.header.size_in_bytes();
      format::RecordIterator it(rest.first(size), check.header);
      format::Record rec;
      while (it.Next(&rec)) {
        TestRecord r;
        r.offset = rec.offset;
        r.timestamp = rec.timestamp;
        if (rec.key) r.key = std::string(*rec.key);
        if (rec.value) r.value = std::string(*rec.value);
        out.push_back(std::move(r));
      }
      RUNNEL_RETURN_IF_ERROR(it.status());
      rest = rest.subspan(size);
    }
  }
  return out;
}

absl::StatusOr<std::vector<TestRecord>> ReadAll(const storage::PartitionLog& log, int64_t from,
                                                size_t max_bytes) {
  int64_t offset = from < 0 ? log.log_start_offset() : from;
  std::vector<TestRecord> out;
  while (offset < log.visible_offset()) {
    RUNNEL_ASSIGN_OR_RETURN(storage::ReadResult result, log.Read(offset, max_bytes));
    if (result.next_offset <= offset) {
      return absl::InternalError(fmt::format("a read at offset {} below visible {} did not advance",
                                             offset, log.visible_offset()));
    }
    RUNNEL_ASSIGN_OR_RETURN(std::vector<TestRecord> records, Decode(result));
    for (TestRecord& r : records) {
      if (r.offset >= offset) out.push_back(std::move(r));
    }
    offset = result.next_offset;
  }
  return out;
}

}  // namespace runnel::testing
