// Helpers shared by the broker layer's tests (test/broker/*_test.cc): status checks that
// name what they expect, small topic configs (so that a partition does not preallocate
// 20 MiB of index), directory listings, and a Catch printer for TopicConfig.
#ifndef RUNNEL_TEST_BROKER_BROKER_TESTING_H_
#define RUNNEL_TEST_BROKER_BROKER_TESTING_H_

#include <catch2/catch.hpp>
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "broker/broker_core.h"
#include "runnel/broker.h"
#include "runnel/topic_config.h"
#include "support/log_testing.h"
#include "support/status_matchers.h"

namespace Catch {
template <>
struct StringMaker<runnel::TopicConfig> {
  static std::string convert(const runnel::TopicConfig& c) {
    std::string out = "{";
    for (const auto& [key, value] : c.ToMap()) {
      out += (out.size() > 1 ? ", " : "") + key + "=" + value;
    }
    return out + "}";
  }
};
}  // namespace Catch

namespace runnel::broker_testing {

// A config whose indexes are small: every partition preallocates segment.index.bytes for
// its offset index and its time index, which at the default 10 MiB is wasteful in tests.
inline TopicConfig SmallConfig() {
  TopicConfig c;
  c.segment_index_bytes = 4096;
  return c;
}

// A config with every setting away from its default (and small indexes).
inline TopicConfig UnusualConfig() {
  TopicConfig c;
  c.retention_ms = 3'600'000;
  c.retention_bytes = 1 << 20;
  c.segment_bytes = 65536;
  c.segment_ms = 600'000;
  c.max_message_bytes = 200'000;
  c.sync_policy = SyncPolicy::kInterval;
  c.flush_messages = 1000;
  c.flush_ms = 5000;
  c.message_timestamp_type = TimestampType::kLogAppendTime;
  c.index_interval_bytes = 1024;
  c.segment_index_bytes = 8192;
  return c;
}

inline bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

inline std::string Message(const absl::Status& s) { return std::string(s.message()); }
template <typename T>
std::string Message(const absl::StatusOr<T>& s) {
  return std::string(s.status().message());
}

// The status has `code` and its message contains every one of `parts`.
#define CHECK_STATUS(expr, expected_code, ...)                                              \
  do {                                                                             \
    const ::absl::Status check_status_ = ::runnel::testing::ToStatus(expr);       \
    INFO("status: " << check_status_.ToString());                                  \
    CHECK(check_status_.code() == (expected_code));                                         \
    for (const std::string& part_ : std::vector<std::string>{__VA_ARGS__}) {       \
      INFO("expected in the message: " << part_);                                  \
      CHECK(::runnel::broker_testing::Contains(std::string(check_status_.message()), \
                                               part_));                            \
    }                                                                              \
  } while (0)

// Names in `dir`, sorted; empty if it does not exist.
inline std::vector<std::string> ListNames(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

inline void WriteWholeFile(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << bytes;
}

// Appends one batch of `count` records (keys k<first>...) to partition `p` of `topic`.
inline absl::StatusOr<storage::AppendInfo> AppendTo(internal::Topic& topic, int32_t p, int count,
                                                    int first = 0, size_t value_size = 20) {
  std::vector<uint8_t> batch = testing::MakeBatch(testing::MakeRecords(count, first, value_size));
  return topic.partitions.at(static_cast<size_t>(p))->Append(batch, {});
}

// Every topic with its partition count and config, as the broker describes them.
struct TopicState {
  int32_t partitions = 0;
  TopicConfig config;
  bool operator==(const TopicState&) const = default;
};
using BrokerState = std::map<std::string, TopicState>;

inline BrokerState StateOf(const internal::BrokerCore& core) {
  BrokerState state;
  for (const std::string& name : core.ListTopics()) {
    absl::StatusOr<TopicDescription> d = core.DescribeTopic(name);
    REQUIRE_OK(d);
    state[name] = TopicState{static_cast<int32_t>(d->partitions.size()), d->config};
  }
  return state;
}

inline std::string ToString(const BrokerState& state) {
  std::string out;
  for (const auto& [name, t] : state) {
    out += name + "[" + std::to_string(t.partitions) + "] " +
           Catch::StringMaker<TopicConfig>::convert(t.config) + "\n";
  }
  return out.empty() ? "(no topics)" : out;
}

// The names a data directory of `state` may hold: the lock, the topic table and one
// directory per partition of a listed topic; nothing else (no orphans, no temp files).
inline std::vector<std::string> ExpectedNames(const BrokerState& state) {
  std::vector<std::string> names = {".lock", "runnel-topics.meta"};
  for (const auto& [name, t] : state) {
    for (int32_t p = 0; p < t.partitions; ++p) names.push_back(name + "-" + std::to_string(p));
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace runnel::broker_testing

#endif  // RUNNEL_TEST_BROKER_BROKER_TESTING_H_
