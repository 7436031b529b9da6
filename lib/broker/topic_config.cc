// runnel::TopicConfig (include/runnel/topic_config.h): Kafka names, parsing, validation.
#include <fmt/format.h>

#include <charconv>
#include <functional>

#include "runnel/topic_config.h"
#include "broker/topic_metadata.h"
#include "storage/log_config.h"
#include "util/formatters.h"

namespace runnel {
namespace {

absl::Status BadValue(std::string_view key, std::string_view value, std::string_view expected) {
  return absl::InvalidArgumentError(
      fmt::format("invalid value \"{}\" for topic config {}: expected {}", value, key, expected));
}

template <typename Int>
absl::Status ParseInt(std::string_view key, std::string_view value, Int* out) {
  Int v{};
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || end != value.data() + value.size() || value.empty()) {
    return BadValue(key, value, "an integer");
  }
  *out = v;
  return absl::OkStatus();
}

std::string_view SyncName(SyncPolicy p) {
  switch (p) {
    case SyncPolicy::kNone: return "none";
    case SyncPolicy::kInterval: return "interval";
    case SyncPolicy::kAlways: return "always";
  }
  return "none";
}

struct Setting {
  std::string_view key;
  std::function<absl::Status(std::string_view, TopicConfig*)> parse;
  std::function<std::string(const TopicConfig&)> print;
};

template <typename Int>
Setting IntSetting(std::string_view key, Int TopicConfig::*field) {
  return Setting{key,
                 [key, field](std::string_view v, TopicConfig* c) {
                   return ParseInt(key, v, &(c->*field));
                 },
                 [field](const TopicConfig& c) { return std::to_string(c.*field); }};
}

const std::vector<Setting>& Settings() {
  static const auto* settings = new std::vector<Setting>{
      IntSetting("retention.ms", &TopicConfig::retention_ms),
      IntSetting("retention.bytes", &TopicConfig::retention_bytes),
      IntSetting("segment.bytes", &TopicConfig::segment_bytes),
      IntSetting("segment.ms", &TopicConfig::segment_ms),
      IntSetting("max.message.bytes", &TopicConfig::max_message_bytes),
      IntSetting("flush.messages", &TopicConfig::flush_messages),
      IntSetting("flush.ms", &TopicConfig::flush_ms),
      IntSetting("index.interval.bytes", &TopicConfig::index_interval_bytes),
      IntSetting("segment.index.bytes", &TopicConfig::segment_index_bytes),
      Setting{"sync.policy",
              [](std::string_view v, TopicConfig* c) {
                for (SyncPolicy p : {SyncPolicy::kNone, SyncPolicy::kInterval, SyncPolicy::kAlways}) {
                  if (v == SyncName(p)) {
                    c->sync_policy = p;
                    return absl::OkStatus();
                  }
                }
                return BadValue("sync.policy", v, "none, interval or always");
              },
              [](const TopicConfig& c) { return std::string(SyncName(c.sync_policy)); }},
      Setting{"message.timestamp.type",
              [](std::string_view v, TopicConfig* c) {
                if (v == "CreateTime") {
                  c->message_timestamp_type = TimestampType::kCreateTime;
                } else if (v == "LogAppendTime") {
                  c->message_timestamp_type = TimestampType::kLogAppendTime;
                } else {
                  return BadValue("message.timestamp.type", v, "CreateTime or LogAppendTime");
                }
                return absl::OkStatus();
              },
              [](const TopicConfig& c) {
                return std::string(c.message_timestamp_type == TimestampType::kCreateTime
                                       ? "CreateTime"
                                       : "LogAppendTime");
              }},
      Setting{"cleanup.policy",
              [](std::string_view v, TopicConfig*) {
                if (v == "delete") return absl::OkStatus();
                if (v == "compact" || v == "compact,delete" || v == "delete,compact") {
                  return absl::UnimplementedError(
                      "cleanup.policy=compact is not supported yet: runnel has no log compaction");
                }
                return BadValue("cleanup.policy", v, "delete");
              },
              [](const TopicConfig&) { return std::string("delete"); }},
  };
  return *settings;
}

}  // namespace

absl::StatusOr<TopicConfig> TopicConfig::FromMap(
    const std::map<std::string, std::string>& settings, const TopicConfig& base) {
  TopicConfig config = base;
  for (const auto& [key, value] : settings) {
    const Setting* found = nullptr;
    for (const Setting& s : Settings()) {
      if (s.key == key) found = &s;
    }
    if (found == nullptr) {
      std::string known;
      for (const Setting& s : Settings()) known += (known.empty() ? "" : ", ") + std::string(s.key);
      return absl::InvalidArgumentError(
          fmt::format("unknown topic config \"{}\"; known: {}", key, known));
    }
    if (absl::Status st = found->parse(value, &config); !st.ok()) return st;
  }
  if (absl::Status st = config.Validate(); !st.ok()) return st;
  return config;
}

std::map<std::string, std::string> TopicConfig::ToMap() const {
  std::map<std::string, std::string> out;
  for (const Setting& s : Settings()) out[std::string(s.key)] = s.print(*this);
  return out;
}

absl::Status TopicConfig::Validate() const { return internal::ToLogConfig(*this).Validate(); }

namespace internal {

storage::LogConfig ToLogConfig(const TopicConfig& c) {
  storage::LogConfig log;
  log.segment_bytes = c.segment_bytes;
  log.segment_ms = c.segment_ms;
  log.retention_bytes = c.retention_bytes;
  log.retention_ms = c.retention_ms;
  log.index_interval_bytes = c.index_interval_bytes;
  log.segment_index_bytes = c.segment_index_bytes;
  log.max_message_bytes = c.max_message_bytes;
  log.flush_messages = c.flush_messages;
  log.flush_ms = c.flush_ms;
  log.sync = static_cast<storage::SyncPolicy>(c.sync_policy);
  log.timestamp_type = static_cast<format::TimestampType>(c.message_timestamp_type);
  return log;
}

}  // namespace internal

}  // namespace runnel
