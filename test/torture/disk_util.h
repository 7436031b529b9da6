// Helpers shared by the disk tortures (disk_full.cc, disk_corrupt.cc): reading every
// partition of a topic back through a Consumer, listing the files a healthy broker would
// not leave in its data directory, and running `runnel verify`.
#ifndef RUNNEL_TEST_TORTURE_DISK_UTIL_H_
#define RUNNEL_TEST_TORTURE_DISK_UTIL_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "runnel/broker.h"

namespace runnel::torture::disk {

// One record as a reader got it: its offset and the digest of its key and value, and
// whether its value parses as a payload.h value (then stream and seq say which).
struct ReadBack {
  int64_t offset = 0;
  uint64_t digest = 0;
  bool parses = false;
  uint32_t stream = 0;
  uint64_t seq = 0;
  std::string value;  // kept only when asked for
};

// What a Consumer read from one partition, from the beginning to the end offset it
// reported when the read began. `error` is the first error a Poll (or a seek) gave: the
// read stops there.
struct PartitionRead {
  std::vector<ReadBack> records;
  int64_t end_offset = -1;
  int64_t log_start = -1;
  absl::Status error;
};

// Reads every partition of `topic` (0..partitions-1) from the beginning with a fresh
// Consumer (no group). A Poll error ends that partition's read; the others go on.
std::map<int32_t, PartitionRead> ReadTopic(Broker& broker, const std::string& topic,
                                           int32_t partitions, bool keep_values = false);

// Files under the data directory `dir` that a healthy, closed or open broker does not keep:
// anything but the lock file, the topic table, and in partition directories the segments'
// .log/.index/.timeindex and the recovery checkpoint (so temp files of
// io::WriteFileAtomically, "*.tmp", half-done truncations and deletions). Paths relative
// to `dir`.
std::vector<std::string> StrayFiles(const std::string& dir);


// The problem lines ("problem: FILE at byte POS: WHY") of a verify run, parsed.
struct VerifyProblem {
  std::string file;
  std::optional<uint64_t> position;
  std::string line;
};
std::vector<VerifyProblem> VerifyProblems(const std::string& output);

}  // namespace runnel::torture::disk

#endif  // RUNNEL_TEST_TORTURE_DISK_UTIL_H_
