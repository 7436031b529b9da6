// runnel::TopicConfig's Kafka names: FromMap parses each setting, refuses unknown names
// and bad values with InvalidArgument naming them, refuses compaction as Unimplemented,
// and ToMap/FromMap round-trip.
#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "broker_testing.h"
#include "runnel/topic_config.h"
#include "support/status_matchers.h"

namespace runnel {
namespace {

using broker_testing::Contains;
using broker_testing::UnusualConfig;

absl::StatusOr<TopicConfig> Parse(const std::string& key, const std::string& value) {
  return TopicConfig::FromMap({{key, value}});
}

TEST_CASE("FromMap parses every Kafka topic setting", "[config]") {
  const auto parsed = [](const std::string& key, const std::string& value) {
    absl::StatusOr<TopicConfig> c = Parse(key, value);
    INFO(key << "=" << value << ": " << c.status().ToString());
    REQUIRE_OK(c);
    return *c;
  };
  CHECK(parsed("retention.ms", "3600000").retention_ms == 3600000);
  CHECK(parsed("retention.ms", "-1").retention_ms == -1);
  CHECK(parsed("retention.bytes", "1073741824").retention_bytes == 1073741824);
  CHECK(parsed("retention.bytes", "-1").retention_bytes == -1);
  CHECK(parsed("segment.bytes", "1048576").segment_bytes == 1048576);
  CHECK(parsed("segment.bytes", "14").segment_bytes == 14);
  CHECK(parsed("segment.bytes", "2147483647").segment_bytes == 2147483647);
  CHECK(parsed("segment.ms", "60000").segment_ms == 60000);
  CHECK(parsed("max.message.bytes", "2097152").max_message_bytes == 2097152);
  CHECK(parsed("flush.messages", "1").flush_messages == 1);
  CHECK(parsed("flush.messages", "9223372036854775807").flush_messages == INT64_MAX);
  CHECK(parsed("flush.ms", "1000").flush_ms == 1000);
  CHECK(parsed("flush.ms", "0").flush_ms == 0);
  CHECK(parsed("index.interval.bytes", "8192").index_interval_bytes == 8192);
  CHECK(parsed("index.interval.bytes", "0").index_interval_bytes == 0);
  CHECK(parsed("segment.index.bytes", "4096").segment_index_bytes == 4096);
  CHECK(parsed("sync.policy", "none").sync_policy == SyncPolicy::kNone);
  CHECK(parsed("sync.policy", "interval").sync_policy == SyncPolicy::kInterval);
  CHECK(parsed("sync.policy", "always").sync_policy == SyncPolicy::kAlways);
  CHECK(parsed("message.timestamp.type", "CreateTime").message_timestamp_type ==
        TimestampType::kCreateTime);
  CHECK(parsed("message.timestamp.type", "LogAppendTime").message_timestamp_type ==
        TimestampType::kLogAppendTime);
  CHECK(parsed("cleanup.policy", "delete") == TopicConfig{});
}

TEST_CASE("FromMap changes only the named settings, on top of the base", "[config]") {
  const TopicConfig base = UnusualConfig();
  auto c = TopicConfig::FromMap({{"retention.ms", "42"}, {"sync.policy", "always"}}, base);
  REQUIRE_OK(c);
  TopicConfig expected = base;
  expected.retention_ms = 42;
  expected.sync_policy = SyncPolicy::kAlways;
  CHECK(*c == expected);

  auto empty = TopicConfig::FromMap({}, base);
  REQUIRE_OK(empty);
  CHECK(*empty == base);
  auto defaults = TopicConfig::FromMap({});
  REQUIRE_OK(defaults);
  CHECK(*defaults == TopicConfig{});
}

TEST_CASE("FromMap refuses an unknown setting with InvalidArgument naming it", "[config]") {
  for (const std::string key : {"retention.msec", "Retention.ms", "", "compression.type.x",
                                "min.insync.replicas.bogus", "retention.ms "}) {
    INFO("key: '" << key << "'");
    auto c = Parse(key, "1");
    CHECK_STATUS(c, absl::StatusCode::kInvalidArgument, "\"" + key + "\"");
  }
  // A known setting beside the unknown one does not make it acceptable.
  auto c = TopicConfig::FromMap({{"retention.ms", "1"}, {"no.such.setting", "1"}});
  CHECK_STATUS(c, absl::StatusCode::kInvalidArgument, "no.such.setting");
}

TEST_CASE("FromMap refuses a malformed number with InvalidArgument naming setting and value",
          "[config]") {
  for (const std::string key :
       {"retention.ms", "retention.bytes", "segment.bytes", "segment.ms", "max.message.bytes",
        "flush.messages", "flush.ms", "index.interval.bytes", "segment.index.bytes"}) {
    for (const std::string value : {"abc", "12x", "x12", "1.5", " 7", "7 ", "0x10", "--1", "1e6"}) {
      INFO(key << "=" << value);
      CHECK_STATUS(Parse(key, value), absl::StatusCode::kInvalidArgument, key, "\"" + value + "\"");
    }
    INFO(key << " empty");
    CHECK_STATUS(Parse(key, ""), absl::StatusCode::kInvalidArgument, key, "\"\"");
    // Too large for the field's type.
    CHECK_STATUS(Parse(key, "99999999999999999999"), absl::StatusCode::kInvalidArgument, key,
                 "99999999999999999999");
  }
  // int32 settings refuse values that fit only in 64 bits.
  CHECK_STATUS(Parse("max.message.bytes", "3000000000"), absl::StatusCode::kInvalidArgument,
               "max.message.bytes", "3000000000");
  CHECK_STATUS(Parse("segment.index.bytes", "2147483648"), absl::StatusCode::kInvalidArgument,
               "segment.index.bytes", "2147483648");
}

TEST_CASE("FromMap refuses out-of-range values with InvalidArgument naming setting and value",
          "[config]") {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"segment.bytes", "5"},          {"segment.bytes", "13"},
      {"segment.bytes", "2147483648"}, {"segment.ms", "0"},
      {"retention.bytes", "-2"},       {"retention.ms", "-5"},
      {"index.interval.bytes", "-1"},  {"segment.index.bytes", "47"},
      {"max.message.bytes", "60"},     {"flush.messages", "0"},
      {"flush.ms", "-1"},
  };
  for (const auto& [key, value] : bad) {
    INFO(key << "=" << value);
    CHECK_STATUS(Parse(key, value), absl::StatusCode::kInvalidArgument, key, value);
  }
}

TEST_CASE("FromMap refuses bad enumerated values with InvalidArgument naming setting and value",
          "[config]") {
  for (const std::string value : {"", "None", "ALWAYS", "sometimes", "always "}) {
    INFO("sync.policy=" << value);
    CHECK_STATUS(Parse("sync.policy", value), absl::StatusCode::kInvalidArgument, "sync.policy",
                 "\"" + value + "\"");
  }
  for (const std::string value : {"", "createtime", "LogAppend", "Now"}) {
    INFO("message.timestamp.type=" << value);
    CHECK_STATUS(Parse("message.timestamp.type", value), absl::StatusCode::kInvalidArgument,
                 "message.timestamp.type", "\"" + value + "\"");
  }
  for (const std::string value : {"", "remove", "Delete"}) {
    INFO("cleanup.policy=" << value);
    CHECK_STATUS(Parse("cleanup.policy", value), absl::StatusCode::kInvalidArgument,
                 "cleanup.policy", "\"" + value + "\"");
  }
}

TEST_CASE("cleanup.policy=compact is Unimplemented", "[config]") {
  for (const std::string value : {"compact", "compact,delete", "delete,compact"}) {
    INFO("cleanup.policy=" << value);
    CHECK_STATUS(Parse("cleanup.policy", value), absl::StatusCode::kUnimplemented, "compact");
  }
}

TEST_CASE("ToMap names every setting and FromMap(ToMap) round-trips", "[config]") {
  const std::map<std::string, std::string> defaults = TopicConfig{}.ToMap();
  for (const char* key :
       {"retention.ms", "retention.bytes", "segment.bytes", "segment.ms", "max.message.bytes",
        "flush.messages", "flush.ms", "index.interval.bytes", "segment.index.bytes", "sync.policy",
        "message.timestamp.type", "cleanup.policy"}) {
    INFO(key);
    CHECK(defaults.count(key) == 1);
  }
  CHECK(defaults.at("retention.ms") == "604800000");
  CHECK(defaults.at("retention.bytes") == "-1");
  CHECK(defaults.at("segment.bytes") == "1073741824");
  CHECK(defaults.at("max.message.bytes") == "1048588");
  CHECK(defaults.at("sync.policy") == "none");
  CHECK(defaults.at("message.timestamp.type") == "CreateTime");
  CHECK(defaults.at("cleanup.policy") == "delete");

  for (const TopicConfig& config : {TopicConfig{}, UnusualConfig()}) {
    auto back = TopicConfig::FromMap(config.ToMap());
    REQUIRE_OK(back);
    CHECK(*back == config);
    // From any base: ToMap names everything, so the base does not leak through.
    auto over = TopicConfig::FromMap(config.ToMap(), UnusualConfig());
    REQUIRE_OK(over);
    CHECK(*over == config);
  }
  TopicConfig always = UnusualConfig();
  always.sync_policy = SyncPolicy::kAlways;
  always.message_timestamp_type = TimestampType::kCreateTime;
  auto back = TopicConfig::FromMap(always.ToMap());
  REQUIRE_OK(back);
  CHECK(*back == always);
}

TEST_CASE("Validate accepts the defaults and names a bad setting", "[config]") {
  CHECK_OK(TopicConfig{}.Validate());
  CHECK_OK(UnusualConfig().Validate());
  TopicConfig c;
  c.segment_ms = 0;
  CHECK_STATUS(c.Validate(), absl::StatusCode::kInvalidArgument, "segment.ms", "0");
}

}  // namespace
}  // namespace runnel
