// Recovery time of runnel: how long Broker::Open takes on a log of a given size after the
// process that wrote it was killed with SIGKILL (every segment after the recovery
// checkpoint is scanned and CRC-checked), and after a clean Close (the clean-shutdown
// marker skips the scan). The writer is a child process: this binary run again with
// --recovery-fill, so that the SIGKILL hits a real process, by its pid.
#ifndef RUNNEL_BENCH_COMPARE_RECOVERY_H_
#define RUNNEL_BENCH_COMPARE_RECOVERY_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace runnel::bench {

struct RecoveryFigures {
  uint64_t bytes = 0;        // keys and values written
  uint64_t disk_bytes = 0;   // the partitions' size on disk, as DescribeTopic reports it
  int64_t records = 0;
  int partitions = 0;
  double fill_seconds = 0;
  double after_kill_seconds = 0;   // Open after SIGKILL
  double after_close_seconds = 0;  // Open after Close
};

// Free bytes on the filesystem holding `path`, or 0 if unknown.
uint64_t FreeBytes(const std::string& path);

// Fills a fresh directory with about `bytes` of 1 KiB records in 8 partitions from a
// child (`self` --recovery-fill DIR BYTES), kills it, then times the two opens.
absl::StatusOr<RecoveryFigures> RunRecovery(const std::string& self, uint64_t bytes);

// The child's side: fills `dir`, prints "filled <records>" and waits to be killed.
int RecoveryFillMain(const std::string& dir, uint64_t bytes);

}  // namespace runnel::bench

#endif  // RUNNEL_BENCH_COMPARE_RECOVERY_H_
