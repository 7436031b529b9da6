// Kafka's zig-zag varints and varlongs: round trips at the edges, encoded sizes, the exact
// bytes Kafka's ByteUtils writes, and every way a decoder can be handed bad bytes.
#include "format/varint.h"

#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "support/status_matchers.h"

namespace runnel::format {
namespace {

constexpr int32_t kInt32Min = std::numeric_limits<int32_t>::min();
constexpr int32_t kInt32Max = std::numeric_limits<int32_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

std::vector<uint8_t> EncodeVarint(int32_t v) {
  uint8_t buf[kMaxVarlongBytes];
  return std::vector<uint8_t>(buf, PutVarint(buf, v));
}

std::vector<uint8_t> EncodeVarlong(int64_t v) {
  uint8_t buf[kMaxVarlongBytes];
  return std::vector<uint8_t>(buf, PutVarlong(buf, v));
}

// Decodes exactly `bytes` as one varint; false if it fails or leaves bytes over.
bool DecodeVarint(const std::vector<uint8_t>& bytes, int32_t* out) {
  const uint8_t* p = bytes.data();
  const uint8_t* end = p + bytes.size();
  return GetVarint(&p, end, out) && p == end;
}

bool DecodeVarlong(const std::vector<uint8_t>& bytes, int64_t* out) {
  const uint8_t* p = bytes.data();
  const uint8_t* end = p + bytes.size();
  return GetVarlong(&p, end, out) && p == end;
}

// A failed decode must leave the read position where it was.
void CheckVarintFails(const std::vector<uint8_t>& bytes) {
  const uint8_t* p = bytes.data();
  int32_t out = 12345;
  CHECK_FALSE(GetVarint(&p, bytes.data() + bytes.size(), &out));
  CHECK(p == bytes.data());
  CHECK(out == 12345);
}

void CheckVarlongFails(const std::vector<uint8_t>& bytes) {
  const uint8_t* p = bytes.data();
  int64_t out = 12345;
  CHECK_FALSE(GetVarlong(&p, bytes.data() + bytes.size(), &out));
  CHECK(p == bytes.data());
  CHECK(out == 12345);
}

const std::vector<int64_t> kEdgeLongs = {
    0,     1,    -1,        63,        -64,       64,        -65,           8191,
    -8192, 8192, kInt32Max, kInt32Min, kInt64Max, kInt64Min, kInt64Max - 1, kInt64Min + 1};
const std::vector<int32_t> kEdgeInts = {
    0,     1,    -1,  63,   -64,       64,        -65,           8191,
    -8192, 8192, 300, -300, kInt32Max, kInt32Min, kInt32Max - 1, kInt32Min + 1};

TEST_CASE("ZigZagMapsSmallMagnitudesToSmallCodes", "[varint]") {
  CHECK(ZigZagEncode(0) == 0);
  CHECK(ZigZagEncode(-1) == 1);
  CHECK(ZigZagEncode(1) == 2);
  CHECK(ZigZagEncode(-2) == 3);
  CHECK(ZigZagEncode(kInt64Max) == 0xFFFFFFFFFFFFFFFEull);
  CHECK(ZigZagEncode(kInt64Min) == 0xFFFFFFFFFFFFFFFFull);
  CHECK(ZigZagEncode(kInt32Max) == 0xFFFFFFFEull);
  CHECK(ZigZagEncode(kInt32Min) == 0xFFFFFFFFull);
  for (int64_t v : kEdgeLongs) {
    INFO(v);
    CHECK(ZigZagDecode(ZigZagEncode(v)) == v);
  }
}

TEST_CASE("VarintRoundTripsAtEdges", "[varint]") {
  for (int32_t v : kEdgeInts) {
    INFO(v);
    const std::vector<uint8_t> bytes = EncodeVarint(v);
    CHECK(bytes.size() == VarintSize(v));
    int32_t out = 0;
    REQUIRE(DecodeVarint(bytes, &out));
    CHECK(out == v);
  }
}

TEST_CASE("VarlongRoundTripsAtEdges", "[varint]") {
  for (int64_t v : kEdgeLongs) {
    INFO(v);
    const std::vector<uint8_t> bytes = EncodeVarlong(v);
    CHECK(bytes.size() == VarlongSize(v));
    int64_t out = 0;
    REQUIRE(DecodeVarlong(bytes, &out));
    CHECK(out == v);
  }
}

TEST_CASE("VarintAndVarlongRoundTripRandomValues", "[varint]") {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 10000; ++i) {
    // Random magnitudes of every bit length, not just large ones.
    const int shift = static_cast<int>(rng() % 64);
    const auto v64 = static_cast<int64_t>(rng() >> shift);
    const int64_t signed64 = (rng() & 1) ? v64 : -v64;
    const auto v32 = static_cast<int32_t>(signed64);
    int64_t out64 = 0;
    int32_t out32 = 0;
    REQUIRE(DecodeVarlong(EncodeVarlong(signed64), &out64));
    REQUIRE(out64 == signed64);
    REQUIRE(DecodeVarint(EncodeVarint(v32), &out32));
    REQUIRE(out32 == v32);
    // An int32 written as a varlong has the same bytes as written as a varint.
    REQUIRE(EncodeVarlong(v32) == EncodeVarint(v32));
  }
}

TEST_CASE("EncodedSizesStepEverySevenBits", "[varint]") {
  CHECK(VarintSize(0) == 1);
  CHECK(VarintSize(63) == 1);
  CHECK(VarintSize(-64) == 1);
  CHECK(VarintSize(64) == 2);
  CHECK(VarintSize(-65) == 2);
  CHECK(VarintSize(8191) == 2);
  CHECK(VarintSize(-8192) == 2);
  CHECK(VarintSize(8192) == 3);
  CHECK(VarintSize((1 << 20) - 1) == 3);
  CHECK(VarintSize(1 << 20) == 4);
  CHECK(VarintSize((1 << 27) - 1) == 4);
  CHECK(VarintSize(1 << 27) == 5);
  CHECK(VarintSize(kInt32Max) == kMaxVarintBytes);
  CHECK(VarintSize(kInt32Min) == kMaxVarintBytes);
  CHECK(VarlongSize(0) == 1);
  CHECK(VarlongSize(kInt32Min) == 5);
  CHECK(VarlongSize(int64_t{1} << 34) == 6);
  CHECK(VarlongSize(kInt64Max) == kMaxVarlongBytes);
  CHECK(VarlongSize(kInt64Min) == kMaxVarlongBytes);
  CHECK(UnsignedVarintSize(0x7F) == 1);
  CHECK(UnsignedVarintSize(0x80) == 2);
  CHECK(UnsignedVarintSize(~uint64_t{0}) == 10);
}

TEST_CASE("VarintMatchesKafkaByteUtils", "[varint]") {
  using B = std::vector<uint8_t>;
  CHECK(EncodeVarint(0) == B{0x00});
  CHECK(EncodeVarint(-1) == B{0x01});
  CHECK(EncodeVarint(1) == B{0x02});
  CHECK(EncodeVarint(-2) == B{0x03});
  CHECK(EncodeVarint(63) == B{0x7e});
  CHECK(EncodeVarint(-64) == B{0x7f});
  CHECK(EncodeVarint(64) == B{0x80, 0x01});
  CHECK(EncodeVarint(-65) == B{0x81, 0x01});
  CHECK(EncodeVarint(300) == B{0xd8, 0x04});
  CHECK(EncodeVarint(kInt32Max) == B{0xfe, 0xff, 0xff, 0xff, 0x0f});
  CHECK(EncodeVarint(kInt32Min) == B{0xff, 0xff, 0xff, 0xff, 0x0f});
  CHECK(EncodeVarlong(kInt64Max) == B{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01});
  CHECK(EncodeVarlong(kInt64Min) == B{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01});
  uint8_t buf[kMaxVarlongBytes];
  CHECK(B(buf, PutUnsignedVarint(buf, 300)) == B{0xac, 0x02});  // protobuf's example
}

TEST_CASE("DecodeAdvancesPastExactlyOneValue", "[varint]") {
  // 300, then -1, then 64 back to back.
  const std::vector<uint8_t> bytes = {0xd8, 0x04, 0x01, 0x80, 0x01};
  const uint8_t* p = bytes.data();
  const uint8_t* end = p + bytes.size();
  int32_t a = 0, b = 0;
  int64_t c = 0;
  REQUIRE(GetVarint(&p, end, &a));
  CHECK(p == bytes.data() + 2);
  REQUIRE(GetVarint(&p, end, &b));
  REQUIRE(GetVarlong(&p, end, &c));
  CHECK(p == end);
  CHECK(a == 300);
  CHECK(b == -1);
  CHECK(c == 64);
  CheckVarintFails({});
  CheckVarlongFails({});
}

TEST_CASE("EveryTruncationOfAVarintFails", "[varint]") {
  for (int32_t v : kEdgeInts) {
    const std::vector<uint8_t> bytes = EncodeVarint(v);
    for (size_t n = 0; n < bytes.size(); ++n) {
      INFO(v << " cut to " << n << " bytes");
      CheckVarintFails(std::vector<uint8_t>(bytes.begin(), bytes.begin() + n));
    }
  }
  for (int64_t v : kEdgeLongs) {
    const std::vector<uint8_t> bytes = EncodeVarlong(v);
    for (size_t n = 0; n < bytes.size(); ++n) {
      INFO(v << " cut to " << n << " bytes");
      CheckVarlongFails(std::vector<uint8_t>(bytes.begin(), bytes.begin() + n));
    }
  }
}

TEST_CASE("SixByteVarintIsOverlong", "[varint]") {
  // Zero padded with continuation bytes: a valid value, but more than 5 bytes.
  CheckVarintFails({0x80, 0x80, 0x80, 0x80, 0x80, 0x00});
  // Five continuation bytes and nothing after them.
  CheckVarintFails({0x80, 0x80, 0x80, 0x80, 0x80});
  CheckVarintFails({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01});
  // The same 5-byte padding of zero is still within the limit.
  int32_t out = -7;
  REQUIRE(DecodeVarint({0x80, 0x80, 0x80, 0x80, 0x00}, &out));
  CHECK(out == 0);
}

TEST_CASE("ElevenByteVarlongIsOverlong", "[varint]") {
  CheckVarlongFails({0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00});
  CheckVarlongFails({0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80});
  int64_t out = -7;
  REQUIRE(DecodeVarlong({0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, &out));
  CHECK(out == 0);
}

TEST_CASE("FiveByteVarintAbove32BitsFails", "[varint]") {
  for (const std::vector<uint8_t>& bytes : {
           std::vector<uint8_t>{0x80, 0x80, 0x80, 0x80, 0x10},  // 2^32: one past 0xFFFFFFFF
           std::vector<uint8_t>{0xff, 0xff, 0xff, 0xff, 0x7f},  // all 35 bits set
       }) {
    const uint8_t* p = bytes.data();
    int32_t out = 12345;
    CHECK_FALSE(GetVarint(&p, bytes.data() + bytes.size(), &out));
    CHECK(out == 12345);
  }
  // 0xFFFFFFFF itself is INT32_MIN and fine.
  int32_t out = 0;
  REQUIRE(DecodeVarint({0xff, 0xff, 0xff, 0xff, 0x0f}, &out));
  CHECK(out == kInt32Min);
  // The same bytes are a perfectly good varlong.
  int64_t out64 = 0;
  REQUIRE(DecodeVarlong({0x80, 0x80, 0x80, 0x80, 0x10}, &out64));
  CHECK(out64 == int64_t{1} << 31);
}

// Regression: the 32-bit range check once ran after the position had moved on.
TEST_CASE("FiveByteVarintAbove32BitsLeavesPositionUnchanged", "[varint]") {
  CheckVarintFails({0x80, 0x80, 0x80, 0x80, 0x10});
  CheckVarintFails({0xff, 0xff, 0xff, 0xff, 0x7f});
}

TEST_CASE("DecodeNeverReadsPastEnd", "[varint]") {
  // A buffer of continuation bytes whose `end` is before the bytes that would finish it.
  const std::vector<uint8_t> bytes = {0x80, 0x80, 0x01};
  for (size_t n = 0; n < bytes.size(); ++n) {
    const uint8_t* p = bytes.data();
    int64_t out;
    CHECK_FALSE(GetVarlong(&p, bytes.data() + n, &out));
    CHECK(p == bytes.data());
  }
}

}  // namespace
}  // namespace runnel::format
