// The broker's list of topics, `runnel-topics.meta` in the data directory: one line per
// topic with its partition count and every config setting by Kafka name, sealed by a
// CRC32C and replaced atomically on every admin change. Also Kafka's topic-name rules.
#ifndef RUNNEL_BROKER_TOPIC_METADATA_H_
#define RUNNEL_BROKER_TOPIC_METADATA_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "io/env.h"
#include "runnel/topic_config.h"
#include "storage/log_config.h"

namespace runnel::internal {

inline constexpr std::string_view kTopicsFileName = "runnel-topics.meta";
inline constexpr int32_t kMaxPartitions = 100000;

struct TopicEntry {
  int32_t partitions = 0;
  TopicConfig config;
};
using TopicTable = std::map<std::string, TopicEntry>;

// InvalidArgument naming the rule a topic name breaks (Kafka's Topic.validate).
absl::Status ValidateTopicName(std::string_view name);

// An empty table when the file does not exist; DataLoss naming the file if it is damaged.
absl::StatusOr<TopicTable> ReadTopicTable(io::Env* env, const std::string& dir);
absl::Status WriteTopicTable(io::Env* env, const std::string& dir, const TopicTable& table);

// "<dir>/<topic>-<partition>", Kafka's partition directory.
std::string PartitionDir(const std::string& dir, std::string_view topic, int32_t partition);

storage::LogConfig ToLogConfig(const TopicConfig& config);

}  // namespace runnel::internal

#endif  // RUNNEL_BROKER_TOPIC_METADATA_H_
