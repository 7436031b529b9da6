// Record values that say what they are. A value made by MakeValue carries its stream (a
// writer's topic-partition or key space, as the torture numbers them), its sequence number,
// its own length and a CRC32C of all of that and its body; the body is pseudo-random bytes
// drawn from (seed, stream, seq). So a reader with nothing but the value can tell whether it
// is intact (ParseValue) and a checker with the seed can tell whether it is byte-identical to
// the one written (MakeValue again), without keeping a copy of what was written.
#ifndef RUNNEL_TEST_TORTURE_PAYLOAD_H_
#define RUNNEL_TEST_TORTURE_PAYLOAD_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace runnel::torture {

inline constexpr size_t kPayloadHeaderBytes = 24;

struct PayloadId {
  uint32_t stream = 0;
  uint64_t seq = 0;
};

// `size` is raised to kPayloadHeaderBytes if smaller.
std::string MakeValue(uint64_t seed, uint32_t stream, uint64_t seq, size_t size);
// "s<stream>-<seq>": keys, too, say which record they belong to.
std::string MakeKey(uint32_t stream, uint64_t seq);

// DataLoss saying what is wrong (bad magic, length, CRC) when the value is not one that
// MakeValue made, or was damaged since.
absl::StatusOr<PayloadId> ParseValue(std::string_view value);

// A 64-bit digest of a record's key and value (null and empty differ), what writers stream
// to the checker for each acknowledged record.
uint64_t RecordDigest(const std::optional<std::string_view>& key,
                      const std::optional<std::string_view>& value);

// A record size between min and max, mostly small with a tail of large ones (a quarter of
// draws anywhere up to max), as real workloads are.
size_t DrawSize(std::mt19937_64& rng, size_t min, size_t max);

}  // namespace runnel::torture

#endif  // RUNNEL_TEST_TORTURE_PAYLOAD_H_
