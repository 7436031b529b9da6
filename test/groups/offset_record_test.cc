// The records of __consumer_offsets (lib/groups/offset_record.h) in Kafka's own schema:
// OffsetCommitKey v1 and OffsetCommitValue v3 byte for byte, written out by hand from
// Kafka's schema (int16 version; strings as int16 length + bytes; big-endian integers),
// round trips, the older value versions Kafka wrote (v0, v1, v2), and rejection of
// truncated or unknown records. A GroupMetadataKey (version 2) is not an offset key.
#include "groups/offset_record.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "support/status_matchers.h"

namespace runnel::groups {
namespace {

std::string Bytes(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out.push_back(static_cast<char>(static_cast<uint8_t>(b)));
  return out;
}

// Big-endian helpers, for building older-version records by hand.
std::string I16(int16_t v) {
  const auto u = static_cast<uint16_t>(v);
  return Bytes({u >> 8, u & 0xff});
}
std::string I32(int32_t v) {
  const auto u = static_cast<uint32_t>(v);
  return Bytes({static_cast<int>(u >> 24), static_cast<int>((u >> 16) & 0xff),
                static_cast<int>((u >> 8) & 0xff), static_cast<int>(u & 0xff)});
}
std::string I64(int64_t v) {
  const auto u = static_cast<uint64_t>(v);
  return I32(static_cast<int32_t>(u >> 32)) + I32(static_cast<int32_t>(u & 0xffffffffu));
}
std::string Str(const std::string& s) { return I16(static_cast<int16_t>(s.size())) + s; }

// Kafka's example: group "g1", topic "orders", partition 3, offset 42, metadata "meta",
// committed at 1700000000000 ms (0x0000018BCFE56800).
const std::string kKeyBytes = Bytes({
    0x00, 0x01,                                // version 1
    0x00, 0x02, 'g', '1',                      // group
    0x00, 0x06, 'o', 'r', 'd', 'e', 'r', 's',  // topic
    0x00, 0x00, 0x00, 0x03,                    // partition
});
const std::string kValueBytes = Bytes({
    0x00, 0x03,                                      // version 3
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a,  // offset 42
    0xff, 0xff, 0xff, 0xff,                          // leader epoch -1
    0x00, 0x04, 'm', 'e', 't', 'a',                  // metadata
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,  // commit timestamp
});

TEST_CASE("offset record: OffsetCommitKey v1 is Kafka's bytes exactly", "[offset_record]") {
  const std::string key = EncodeOffsetKey({"g1", {"orders", 3}});
  CHECK(key == kKeyBytes);
  CHECK(key.size() == 18);
}

TEST_CASE("offset record: OffsetCommitValue v3 is Kafka's bytes exactly", "[offset_record]") {
  const std::string value = EncodeOffsetValue({42, "meta", 1700000000000});
  CHECK(value == kValueBytes);
  CHECK(value.size() == 28);
}

TEST_CASE("offset record: the hand-written bytes decode to the example", "[offset_record]") {
  auto key = DecodeOffsetKey(kKeyBytes);
  REQUIRE_OK(key);
  REQUIRE(key->has_value());
  CHECK((*key)->group == "g1");
  CHECK((*key)->partition == TopicPartition{"orders", 3});
  auto value = DecodeOffsetValue(kValueBytes);
  REQUIRE_OK(value);
  CHECK(value->offset == 42);
  CHECK(value->metadata == "meta");
  CHECK(value->commit_timestamp == 1700000000000);
}

TEST_CASE("offset record: keys and values round trip, edge values included", "[offset_record]") {
  const std::vector<OffsetKey> keys = {
      {"", {"t", 0}},
      {"group with spaces and ünïcödé", {"a.b_c-d", std::numeric_limits<int32_t>::max()}},
      {std::string(1000, 'g'), {std::string(249, 't'), 17}},
      {std::string("nul\0byte", 8), {"x", 1}},
  };
  for (const OffsetKey& k : keys) {
    auto decoded = DecodeOffsetKey(EncodeOffsetKey(k));
    REQUIRE_OK(decoded);
    REQUIRE(decoded->has_value());
    CHECK((*decoded)->group == k.group);
    CHECK((*decoded)->partition == k.partition);
  }
  const std::vector<OffsetValue> values = {
      {0, "", 0},
      {-1, "", -1},
      {std::numeric_limits<int64_t>::max(), std::string(4096, 'm'), std::numeric_limits<int64_t>::max()},
      {123456789012345, std::string("\x00\xff\x01", 3), 1},
  };
  for (const OffsetValue& v : values) {
    const std::string bytes = EncodeOffsetValue(v);
    CHECK(bytes.size() == 2 + 8 + 4 + 2 + v.metadata.size() + 8);
    auto decoded = DecodeOffsetValue(bytes);
    REQUIRE_OK(decoded);
    CHECK(decoded->offset == v.offset);
    CHECK(decoded->metadata == v.metadata);
    CHECK(decoded->commit_timestamp == v.commit_timestamp);
  }
}

TEST_CASE("offset record: an OffsetCommitKey v0 decodes as v1 does", "[offset_record]") {
  std::string v0 = kKeyBytes;
  v0[1] = 0x00;
  auto key = DecodeOffsetKey(v0);
  REQUIRE_OK(key);
  REQUIRE(key->has_value());
  CHECK((*key)->group == "g1");
  CHECK((*key)->partition == TopicPartition{"orders", 3});
}

TEST_CASE("offset record: older OffsetCommitValue versions decode", "[offset_record]") {
  SECTION("v0: offset, metadata, timestamp") {
    auto v = DecodeOffsetValue(I16(0) + I64(7) + Str("m0") + I64(1111));
    REQUIRE_OK(v);
    CHECK(v->offset == 7);
    CHECK(v->metadata == "m0");
    CHECK(v->commit_timestamp == 1111);
  }
  SECTION("v1: offset, metadata, commit timestamp, expire timestamp") {
    auto v = DecodeOffsetValue(I16(1) + I64(8) + Str("m1") + I64(2222) + I64(9999));
    REQUIRE_OK(v);
    CHECK(v->offset == 8);
    CHECK(v->metadata == "m1");
    CHECK(v->commit_timestamp == 2222);
  }
  SECTION("v2: offset, metadata, commit timestamp") {
    auto v = DecodeOffsetValue(I16(2) + I64(9) + Str("m2") + I64(3333));
    REQUIRE_OK(v);
    CHECK(v->offset == 9);
    CHECK(v->metadata == "m2");
    CHECK(v->commit_timestamp == 3333);
  }
  SECTION("v3 built by hand agrees with the encoder") {
    CHECK(I16(3) + I64(42) + I32(-1) + Str("meta") + I64(1700000000000) == kValueBytes);
    auto v = DecodeOffsetValue(I16(3) + I64(5) + I32(17) + Str("") + I64(4444));
    REQUIRE_OK(v);
    CHECK(v->offset == 5);
    CHECK(v->metadata.empty());
    CHECK(v->commit_timestamp == 4444);
  }
}

TEST_CASE("offset record: a v1 value missing its expire timestamp is truncated", "[offset_record]") {
  auto v = DecodeOffsetValue(I16(1) + I64(8) + Str("m1") + I64(2222));
  CHECK(v.status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("offset record: every truncation of a key or a value is rejected", "[offset_record]") {
  for (size_t n = 0; n < kKeyBytes.size(); ++n) {
    INFO("key cut to " << n << " bytes");
    auto key = DecodeOffsetKey(kKeyBytes.substr(0, n));
    CHECK(key.status().code() == absl::StatusCode::kInvalidArgument);
  }
  for (size_t n = 0; n < kValueBytes.size(); ++n) {
    INFO("value cut to " << n << " bytes");
    auto value = DecodeOffsetValue(kValueBytes.substr(0, n));
    CHECK(value.status().code() == absl::StatusCode::kInvalidArgument);
  }
  const std::string v0 = I16(0) + I64(7) + Str("m0") + I64(1111);
  for (size_t n = 0; n < v0.size(); ++n) {
    INFO("v0 value cut to " << n << " bytes");
    CHECK(DecodeOffsetValue(v0.substr(0, n)).status().code() == absl::StatusCode::kInvalidArgument);
  }
}

TEST_CASE("offset record: a string length beyond the input or negative is rejected", "[offset_record]") {
  // The group claims 200 bytes; 16 follow.
  std::string key = kKeyBytes;
  key[2] = 0x00;
  key[3] = static_cast<char>(200);
  CHECK(DecodeOffsetKey(key).status().code() == absl::StatusCode::kInvalidArgument);
  // Length -1 (a null string) where Kafka's schema has a non-null string.
  CHECK(DecodeOffsetKey(I16(1) + I16(-1) + Str("t") + I32(0)).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(DecodeOffsetValue(I16(3) + I64(1) + I32(-1) + I16(-1) + I64(0)).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("offset record: unknown versions are rejected", "[offset_record]") {
  for (int16_t version : {int16_t{3}, int16_t{4}, int16_t{-1}, int16_t{0x7fff}}) {
    INFO("key version " << version);
    std::string key = kKeyBytes;
    key.replace(0, 2, I16(version));
    CHECK(DecodeOffsetKey(key).status().code() == absl::StatusCode::kInvalidArgument);
  }
  for (int16_t version : {int16_t{4}, int16_t{5}, int16_t{-1}, int16_t{0x7fff}}) {
    INFO("value version " << version);
    std::string value = kValueBytes;
    value.replace(0, 2, I16(version));
    CHECK(DecodeOffsetValue(value).status().code() == absl::StatusCode::kInvalidArgument);
  }
}

TEST_CASE("offset record: a GroupMetadataKey (version 2) is not an offset key", "[offset_record]") {
  // Kafka's GroupMetadataKey: int16 version 2, string group.
  auto key = DecodeOffsetKey(I16(2) + Str("g1"));
  REQUIRE_OK(key);
  CHECK_FALSE(key->has_value());
  // Whatever follows the version does not matter.
  auto bare = DecodeOffsetKey(I16(2));
  REQUIRE_OK(bare);
  CHECK_FALSE(bare->has_value());
}

}  // namespace
}  // namespace runnel::groups
