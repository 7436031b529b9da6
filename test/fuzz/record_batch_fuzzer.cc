// Fuzzes the read side of RecordBatch v2 (lib/format/record_batch.h), whose contract is that
// no bytes whatsoever make it read outside the span it was given or crash.
//
// The input is read three ways:
//  1. as one batch: CheckBatch, and if valid every record through RecordIterator;
//  2. the same with verify_crc = false, because a mutated input almost never carries a
//     matching CRC32C and the record parser is where the interesting bounds checks are;
//  3. as a log of consecutive batches, advancing by size_in_bytes() while kValid, as
//     recovery and fetch scan a segment.
// Every byte of every key, value and header is touched, and the guarantees the API makes
// (views inside the batch, offsets increasing within the header's range, records_read()
// equal to the record count when the iteration ends cleanly) are checked with a trap, so a
// logic error is reported as a crash too.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "format/record_batch.h"

namespace {

using runnel::format::BatchCheck;
using runnel::format::BatchCheckResult;
using runnel::format::BatchHeader;
using runnel::format::CheckBatch;
using runnel::format::Record;
using runnel::format::RecordHeader;
using runnel::format::RecordIterator;
using runnel::format::ValidateBatch;

void Require(bool condition) {
  if (!condition) __builtin_trap();
}

// Folds every byte of `s` into `*sum` and checks that it lies inside `batch`.
void Touch(std::string_view s, std::span<const uint8_t> batch, uint32_t* sum) {
  const auto* begin = reinterpret_cast<const char*>(batch.data());
  Require(s.empty() || (s.data() >= begin && s.data() + s.size() <= begin + batch.size()));
  for (char c : s) *sum = *sum * 31 + static_cast<uint8_t>(c);
}

void Touch(std::optional<std::string_view> s, std::span<const uint8_t> batch, uint32_t* sum) {
  if (s) Touch(*s, batch, sum);
}

// Reads every record of `batch`, whose header `header` CheckBatch accepted.
void ReadAll(std::span<const uint8_t> batch, const BatchHeader& header) {
  RecordIterator it(batch, header);
  Record record;
  uint32_t sum = 0;
  int64_t previous = -1;
  while (it.Next(&record)) {
    Require(record.offset >= header.base_offset && record.offset <= header.last_offset());
    Require(record.offset > previous);
    previous = record.offset;
    Touch(record.key, batch, &sum);
    Touch(record.value, batch, &sum);
    for (const RecordHeader& h : record.headers) {
      Touch(h.key, batch, &sum);
      Touch(h.value, batch, &sum);
    }
    sum += static_cast<uint32_t>(record.timestamp);
  }
  if (it.status().ok()) Require(it.records_read() == header.record_count);
  // Make the sum an input of an (empty) asm statement so the reads are not optimised away.
  __asm__ volatile("" : : "r"(sum));
}

// Checks the batch at the start of `bytes` and reads it if valid; returns its size, or 0.
size_t CheckAndRead(std::span<const uint8_t> bytes, bool verify_crc) {
  const BatchCheckResult r = CheckBatch(bytes, verify_crc);
  if (r.check != BatchCheck::kValid) {
    Require(!r.reason.empty());
    return 0;
  }
  const size_t size = r.header.size_in_bytes();
  Require(size >= runnel::format::kBatchHeaderSize && size <= bytes.size());
  ReadAll(bytes.first(size), r.header);
  return size;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> input(data, size);

  // 1 and 2: the input as one batch.
  const size_t first = CheckAndRead(input, /*verify_crc=*/true);
  CheckAndRead(input, /*verify_crc=*/false);
  // ValidateBatch agrees with CheckBatch, and insists on the exact size.
  Require(ValidateBatch(input).ok() == (first != 0 && first == size));

  // 3: the input as a log of consecutive batches.
  std::span<const uint8_t> rest = input;
  while (size_t n = CheckAndRead(rest, /*verify_crc=*/true)) rest = rest.subspan(n);
  return 0;
}
