// Fuzzes the small text files and names runnel persists, selected by byte 0 (modulo 4);
// the rest of the input is the file (or name):
//   0  the broker's topic table, runnel-topics.meta (lib/broker/topic_metadata.cc)
//   1  a partition's recovery checkpoint, runnel-partition.checkpoint
//      (lib/storage/checkpoint.cc), which also holds the clean-shutdown mark
//   2  topic config as key=value lines, through TopicConfig::FromMap, as the topic table
//      and the admin API parse it (lib/broker/topic_config.cc, lib/storage/log_config.cc)
//   3  a segment file name, through ParseOffsetFileName (lib/storage/file_names.cc); byte 1
//      picks the suffix
// Each parser must return a clean error, never crash; what parses must come back unchanged
// through the matching writer: the topic table and checkpoint byte for byte once written,
// a config through ToMap/FromMap, a file name through OffsetFileStem.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "broker/topic_metadata.h"
#include "fuzz_scratch.h"
#include "io/env.h"
#include "runnel/topic_config.h"
#include "storage/checkpoint.h"
#include "storage/file_names.h"
#include "storage/log_config.h"

namespace {

using namespace runnel;  // NOLINT: a fuzz target
using fuzz::Require;

void CheckConfig(const TopicConfig& config) {
  Require(config.Validate().ok(), "a parsed config does not validate");
  Require(internal::ToLogConfig(config).Validate().ok(), "a parsed log config does not validate");
  const absl::StatusOr<TopicConfig> again = TopicConfig::FromMap(config.ToMap());
  Require(again.ok() && again->ToMap() == config.ToMap(), "a config does not survive ToMap");
}

void FuzzTopicTable(const std::string& dir, const uint8_t* data, size_t size) {
  const std::string path = io::JoinPath(dir, std::string(internal::kTopicsFileName));
  fuzz::WriteBytes(path, data, size);
  const absl::StatusOr<internal::TopicTable> table = internal::ReadTopicTable(io::PosixEnv(), dir);
  if (!table.ok()) {
    Require(absl::IsDataLoss(table.status()), "a bad topic table is not DataLoss");
    return;
  }
  for (const auto& [name, entry] : *table) {
    Require(internal::ValidateTopicName(name).ok(), "a topic table kept a bad topic name");
    Require(entry.partitions >= 1 && entry.partitions <= internal::kMaxPartitions,
            "a topic table kept a bad partition count");
    CheckConfig(entry.config);
  }
  // Written back and read again, the table is the same, and the file is then canonical.
  Require(internal::WriteTopicTable(io::PosixEnv(), dir, *table).ok(), "cannot write the table");
  const std::string written = fuzz::ReadBytes(path);
  const absl::StatusOr<internal::TopicTable> reread = internal::ReadTopicTable(io::PosixEnv(), dir);
  Require(reread.ok() && reread->size() == table->size(), "a written topic table does not read");
  for (const auto& [name, entry] : *table) {
    auto it = reread->find(name);
    Require(it != reread->end() && it->second.partitions == entry.partitions &&
                it->second.config.ToMap() == entry.config.ToMap(),
            "a topic changed through a write and a read");
  }
  Require(internal::WriteTopicTable(io::PosixEnv(), dir, *reread).ok(), "cannot rewrite the table");
  Require(fuzz::ReadBytes(path) == written, "the topic table file is not canonical");
}

void FuzzCheckpoint(const std::string& dir, const uint8_t* data, size_t size) {
  const std::string path = io::JoinPath(dir, std::string(storage::kCheckpointFileName));
  fuzz::WriteBytes(path, data, size);
  const absl::StatusOr<storage::PartitionCheckpoint> cp =
      storage::ReadCheckpoint(io::PosixEnv(), dir);
  if (!cp.ok()) {
    Require(absl::IsDataLoss(cp.status()), "a bad checkpoint is not DataLoss");
    return;
  }
  Require(cp->recovery_point >= 0, "a checkpoint with a negative recovery point parsed");
  // The format is strict: only what WriteCheckpoint writes parses.
  Require(storage::WriteCheckpoint(io::PosixEnv(), dir, *cp).ok(), "cannot write a checkpoint");
  Require(fuzz::ReadBytes(path) == std::string(reinterpret_cast<const char*>(data), size),
          "a checkpoint parsed that WriteCheckpoint would not write");
}

void FuzzConfigMap(std::string_view text) {
  std::map<std::string, std::string> settings;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      settings[std::string(line)] = "";
    } else {
      settings[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
    }
  }
  const absl::StatusOr<TopicConfig> config = TopicConfig::FromMap(settings);
  if (!config.ok()) {
    // cleanup.policy=compact is refused as Unimplemented (topic_config.h).
    Require(absl::IsInvalidArgument(config.status()) || absl::IsUnimplemented(config.status()),
            "a bad config is not InvalidArgument");
    Require(!config.status().message().empty(), "a bad config has no message");
    return;
  }
  CheckConfig(*config);
}

void FuzzFileName(uint8_t selector, std::string_view name) {
  constexpr std::string_view kSuffixes[] = {storage::kLogSuffix, storage::kIndexSuffix,
                                            storage::kTimeIndexSuffix, storage::kDeletedSuffix};
  const std::string_view suffix = kSuffixes[selector % 4];
  const std::optional<int64_t> base = storage::ParseOffsetFileName(name, suffix);
  if (!base) return;
  Require(*base >= 0, "a file name parsed to a negative offset");
  Require(storage::OffsetFileStem(*base) + std::string(suffix) == name,
          "a parsed file name is not the one its offset gives");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t selector = data[0] % 4;
  ++data;
  --size;
  static const std::string dir = fuzz::FreshScratchDir("metadata");
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  switch (selector) {
    case 0: FuzzTopicTable(dir, data, size); break;
    case 1: FuzzCheckpoint(dir, data, size); break;
    case 2: FuzzConfigMap(text); break;
    case 3:
      if (size >= 1) FuzzFileName(data[0], text.substr(1));
      break;
  }
  return 0;
}
