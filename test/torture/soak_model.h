// The soak torture's model (soak.cc): what each topic partition's log and each group's
// committed offsets should hold, as the soak's own acknowledged operations made them, and
// the consumers' positions as the model expects them to move. Plain data and small pure
// functions: the soak drives the library and the model side by side and compares.
#ifndef RUNNEL_TEST_TORTURE_SOAK_MODEL_H_
#define RUNNEL_TEST_TORTURE_SOAK_MODEL_H_

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runnel/consumer.h"
#include "runnel/topic_config.h"
#include "runnel/types.h"

namespace runnel::torture::soak {

// One record as sent. The value is MakeValue(seed, stream, seq, size) unless null; header
// j has key "h<j>" and value "<seq>/<j>" (null for j == 1).
struct ModelRecord {
  uint32_t stream = 0;
  uint64_t seq = 0;
  uint32_t size = 0;
  bool null_value = false;
  std::optional<std::string> key;
  uint8_t headers = 0;
  int64_t timestamp = 0;
};

std::optional<std::string> ModelValue(uint64_t seed, const ModelRecord& r);
std::vector<std::pair<std::string, std::optional<std::string>>> ModelHeaders(const ModelRecord& r);
// What differs between a record read back and the model's ("" when nothing does).
std::string CompareRecord(uint64_t seed, const ModelRecord& want, const ConsumerRecord& got);

struct PartitionModel {
  int64_t log_start = 0;
  std::deque<ModelRecord> records;  // offsets log_start, log_start + 1, ...
  // Below this every record survives any power cut: what was on disk at the last open.
  int64_t durable_end = 0;

  int64_t end() const { return log_start + static_cast<int64_t>(records.size()); }
  const ModelRecord& at(int64_t offset) const {
    return records[static_cast<size_t>(offset - log_start)];
  }
  // Retention moved the log start to `start` (<= end()).
  void TrimTo(int64_t start);
  // A power cut left the log ending at `end` (>= log_start).
  void TruncateEnd(int64_t end);
};

struct TopicModel {
  std::string name;
  TopicConfig config;
  uint32_t stream = 0;  // the payload stream of its values
  std::vector<PartitionModel> partitions;
};

std::string Name(const TopicPartition& tp);
std::string_view SyncPolicyText(SyncPolicy sync);  // "none", "interval", "always"

struct Model {
  std::map<std::string, TopicModel> topics;
  // group -> partition -> committed offset.
  std::map<std::string, std::map<TopicPartition, int64_t>> committed;

  PartitionModel& partition(const TopicPartition& tp);
  const PartitionModel& partition(const TopicPartition& tp) const;
  bool has(const TopicPartition& tp) const;
  std::vector<TopicPartition> PartitionsOf(const std::vector<std::string>& topics) const;
  std::vector<TopicPartition> AllPartitions() const;
  std::optional<int64_t> Committed(const std::string& group, const TopicPartition& tp) const;
};

// A consumer's positions as the model expects them: every assigned partition, with its
// position (nullopt: none yet; the consumer finds one on its first fetch). Listeners the
// consumer calls note here the first thing they found wrong.
struct ModelPositions {
  std::map<TopicPartition, std::optional<int64_t>> pos;
  std::string problem;
  int64_t resets = 0;

  // An offset_reset_listener call: earliest is the only reset policy the soak uses, and
  // a reset is legal only for a missing or out-of-range position.
  void OnReset(const Model& model, const TopicPartition& tp, int64_t from, int64_t to,
               std::string_view reason);
};

}  // namespace runnel::torture::soak

#endif  // RUNNEL_TEST_TORTURE_SOAK_MODEL_H_
