#include "storage/checkpoint.h"

#include <fmt/format.h>

#include <cinttypes>
#include <cstdio>

#include "format/crc32c.h"
#include "storage/file_names.h"
#include "util/status_macros.h"

namespace runnel::storage {
namespace {

constexpr std::string_view kHeader = "runnel partition checkpoint v1\n";

std::string Body(const PartitionCheckpoint& cp) {
  return fmt::format("{}clean_shutdown={}\nrecovery_point={}\n", kHeader,
                     cp.clean_shutdown ? 1 : 0, cp.recovery_point);
}

uint32_t BodyCrc(std::string_view body) {
  return format::Crc32c(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
}

}  // namespace

absl::StatusOr<PartitionCheckpoint> ReadCheckpoint(io::Env* env, const std::string& dir) {
  const std::string path = io::JoinPath(dir, std::string(kCheckpointFileName));
  if (!env->FileExists(path)) return absl::NotFoundError(fmt::format("no checkpoint {}", path));
  RUNNEL_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, io::ReadFile(env, path));
  const std::string text(bytes.begin(), bytes.end());
  int clean = 0;
  int64_t recovery_point = 0;
  unsigned crc = 0;
  int consumed = 0;
  const std::string format = std::string(kHeader) +
                             "clean_shutdown=%d\nrecovery_point=%" SCNd64 "\ncrc32c=%8x\n%n";
  if (std::sscanf(text.c_str(), format.c_str(), &clean, &recovery_point, &crc, &consumed) != 3 ||
      static_cast<size_t>(consumed) != text.size() || (clean != 0 && clean != 1) ||
      recovery_point < 0) {
    return absl::DataLossError(fmt::format("checkpoint {} does not parse", path));
  }
  PartitionCheckpoint cp{clean == 1, recovery_point};
  if (BodyCrc(Body(cp)) != crc || Body(cp) + fmt::format("crc32c={:08x}\n", crc) != text) {
    return absl::DataLossError(fmt::format("checkpoint {} fails its CRC32C", path));
  }
  return cp;
}

absl::Status WriteCheckpoint(io::Env* env, const std::string& dir, const PartitionCheckpoint& cp) {
  std::string text = Body(cp);
  text += fmt::format("crc32c={:08x}\n", BodyCrc(text));
  return io::WriteFileAtomically(
      env, io::JoinPath(dir, std::string(kCheckpointFileName)),
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

}  // namespace runnel::storage
