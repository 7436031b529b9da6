// Kafka's segment file names: the base offset zero-padded to 20 digits, so that `ls`
// sorts segments by offset (LogFileUtils.java), plus the suffixes runnel adds.
// The name builders and their parser live together so they cannot drift apart.
#ifndef RUNNEL_STORAGE_FILE_NAMES_H_
#define RUNNEL_STORAGE_FILE_NAMES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace runnel::storage {

inline constexpr std::string_view kLogSuffix = ".log";
inline constexpr std::string_view kIndexSuffix = ".index";
inline constexpr std::string_view kTimeIndexSuffix = ".timeindex";
// A segment file being removed by retention: renamed first, so that a crash mid-delete
// leaves a name recovery knows to finish removing (Kafka's ".deleted").
inline constexpr std::string_view kDeletedSuffix = ".deleted";
// A damaged segment file that recovery moved out of the log, kept for inspection.
inline constexpr std::string_view kCorruptSuffix = ".corrupt";
// The partition's recovery checkpoint (see checkpoint.h).
inline constexpr std::string_view kCheckpointFileName = "runnel-partition.checkpoint";

// "00000000000000000042" for 42.
std::string OffsetFileStem(int64_t base_offset);
// "<dir>/00000000000000000042.log" and friends.
std::string LogFileName(const std::string& dir, int64_t base_offset);
std::string IndexFileName(const std::string& dir, int64_t base_offset);
std::string TimeIndexFileName(const std::string& dir, int64_t base_offset);

// The base offset of a file named "<20 digits><suffix>" exactly, or nullopt.
std::optional<int64_t> ParseOffsetFileName(std::string_view name, std::string_view suffix);

}  // namespace runnel::storage

#endif  // RUNNEL_STORAGE_FILE_NAMES_H_
