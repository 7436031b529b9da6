// Helpers for storage tests: build batches of simple records and read a partition log
// back as decoded records, checking every batch's CRC on the way.
#ifndef RUNNEL_TEST_SUPPORT_LOG_TESTING_H_
#define RUNNEL_TEST_SUPPORT_LOG_TESTING_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "io/env.h"
#include "storage/partition_log.h"

namespace runnel::testing {

struct TestRecord {
  int64_t offset = -1;  // assigned by the log; ignored when building
  int64_t timestamp = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;

  bool operator==(const TestRecord&) const = default;
};

// One batch holding `records` (offsets are assigned at append).
std::vector<uint8_t> MakeBatch(const std::vector<TestRecord>& records);
// `count` records "k<i>"/"v<i>..." of `value_size` bytes with timestamps ts0, ts0+1, ...
std::vector<TestRecord> MakeRecords(int count, int first_index = 0, size_t value_size = 10,
                                    int64_t ts0 = 1000);
// Appends `records` as one batch and fills in their offsets.
absl::Status AppendRecords(storage::PartitionLog& log, std::vector<TestRecord>& records);
// Every visible record from `from` on, decoded; DataLoss if any batch fails its CRC.
absl::StatusOr<std::vector<TestRecord>> ReadAll(const storage::PartitionLog& log,
                                                int64_t from = -1, size_t max_bytes = 1 << 16);
// Decodes every record of the slices of one read.
absl::StatusOr<std::vector<TestRecord>> Decode(const storage::ReadResult& result);

// An Env whose clock the test sets.
class ManualClockEnv : public io::EnvWrapper {
 public:
  explicit ManualClockEnv(io::Env* target, int64_t now_ms = 1'000'000)
      : io::EnvWrapper(target), now_ms_(now_ms) {}
  int64_t NowMillis() override { return now_ms_; }
  void Advance(int64_t ms) { now_ms_ += ms; }
  void Set(int64_t ms) { now_ms_ = ms; }

 private:
  int64_t now_ms_;
};

}  // namespace runnel::testing

#endif  // RUNNEL_TEST_SUPPORT_LOG_TESTING_H_
