// The partition's recovery checkpoint, `runnel-partition.checkpoint` in its directory: a
// few text lines sealed by a CRC32C, replaced atomically (temp file, fsync, rename, fsync
// of the directory). It says whether the log was shut down cleanly and up to which offset
// everything is known to be on disk; recovery scans only the segments past that point.
#ifndef RUNNEL_STORAGE_CHECKPOINT_H_
#define RUNNEL_STORAGE_CHECKPOINT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "io/env.h"

namespace runnel::storage {

struct PartitionCheckpoint {
  bool clean_shutdown = false;
  // Every batch below this offset was fsynced, with the indexes of its sealed segments.
  int64_t recovery_point = 0;
};

// NotFound when there is none; DataLoss naming the file when it does not parse or its CRC
// does not match.
absl::StatusOr<PartitionCheckpoint> ReadCheckpoint(io::Env* env, const std::string& dir);
absl::Status WriteCheckpoint(io::Env* env, const std::string& dir, const PartitionCheckpoint& cp);

}  // namespace runnel::storage

#endif  // RUNNEL_STORAGE_CHECKPOINT_H_
