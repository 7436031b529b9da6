#include "broker/topic_metadata.h"

#include <fmt/format.h>

#include <sstream>

#include "format/crc32c.h"
#include "util/formatters.h"
#include "util/status_macros.h"

namespace runnel::internal {
namespace {

constexpr std::string_view kHeader = "runnel topics v1\n";
constexpr size_t kMaxTopicNameLength = 249;

uint32_t TextCrc(std::string_view text) {
  return format::Crc32c(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

}  // namespace

absl::Status ValidateTopicName(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("topic name is empty");
  if (name == "." || name == "..") {
    return absl::InvalidArgumentError(fmt::format("topic name \"{}\" is not allowed", name));
  }
  if (name.size() > kMaxTopicNameLength) {
    return absl::InvalidArgumentError(fmt::format(
        "topic name of {} characters is longer than the limit of {}", name.size(),
        kMaxTopicNameLength));
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) {
      const auto byte = static_cast<unsigned char>(c);
      const std::string shown =
          byte >= 0x20 && byte < 0x7f ? fmt::format("'{}'", c) : fmt::format("byte 0x{:02x}", byte);
      return absl::InvalidArgumentError(fmt::format(
          "topic name \"{}\" has an illegal character {}: only ASCII letters, digits, '.', "
          "'_' and '-' are allowed",
          name, shown));
    }
  }
  return absl::OkStatus();
}

std::string PartitionDir(const std::string& dir, std::string_view topic, int32_t partition) {
  return io::JoinPath(dir, fmt::format("{}-{}", topic, partition));
}

absl::StatusOr<TopicTable> ReadTopicTable(io::Env* env, const std::string& dir) {
  const std::string path = io::JoinPath(dir, std::string(kTopicsFileName));
  TopicTable table;
  if (!env->FileExists(path)) return table;
  RUNNEL_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, io::ReadFile(env, path));
  const std::string text(bytes.begin(), bytes.end());
  auto damaged = [&](std::string_view why) {
    return absl::DataLossError(fmt::format("topic metadata {} is damaged: {}", path, why));
  };
  const size_t crc_line = text.rfind("crc32c=");
  if (text.compare(0, kHeader.size(), kHeader) != 0 || crc_line == std::string::npos) {
    return damaged("no header or no checksum line");
  }
  const std::string body = text.substr(0, crc_line);
  if (text.substr(crc_line) != fmt::format("crc32c={:08x}\n", TextCrc(body))) {
    return damaged("checksum mismatch");
  }
  std::istringstream lines(body.substr(kHeader.size()));
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string keyword, name;
    int32_t partitions = 0;
    if (!(words >> keyword >> name >> partitions) || keyword != "topic") {
      return damaged(fmt::format("bad line \"{}\"", line));
    }
    std::map<std::string, std::string> settings;
    std::string setting;
    while (words >> setting) {
      const size_t eq = setting.find('=');
      if (eq == std::string::npos) return damaged(fmt::format("bad setting \"{}\"", setting));
      settings[setting.substr(0, eq)] = setting.substr(eq + 1);
    }
    absl::StatusOr<TopicConfig> config = TopicConfig::FromMap(settings);
    if (!config.ok() || !ValidateTopicName(name).ok() || partitions < 1 ||
        partitions > kMaxPartitions) {
      return damaged(fmt::format("bad topic line \"{}\"", line));
    }
    table[name] = TopicEntry{partitions, *config};
  }
  return table;
}

absl::Status WriteTopicTable(io::Env* env, const std::string& dir, const TopicTable& table) {
  std::string text(kHeader);
  for (const auto& [name, entry] : table) {
    text += fmt::format("topic {} {}", name, entry.partitions);
    for (const auto& [key, value] : entry.config.ToMap()) text += fmt::format(" {}={}", key, value);
    text += "\n";
  }
  text += fmt::format("crc32c={:08x}\n", TextCrc(text));
  return io::WriteFileAtomically(
      env, io::JoinPath(dir, std::string(kTopicsFileName)),
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

}  // namespace runnel::internal
