// CRC32C: the RFC 3720 (iSCSI) test vectors on both implementations, Extend over split
// buffers, and the portable and hardware paths agreeing on random bytes at odd alignments.
#include "format/crc32c.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "support/status_matchers.h"

namespace runnel::format {
namespace {

using ExtendFn = uint32_t (*)(uint32_t, const uint8_t*, size_t);

struct Vector {
  const char* name;
  std::vector<uint8_t> bytes;
  uint32_t crc;
};

std::vector<uint8_t> Filled(size_t n, uint8_t byte) { return std::vector<uint8_t>(n, byte); }

std::vector<uint8_t> Ascending(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i);
  return v;
}

std::vector<uint8_t> Descending(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(n - 1 - i);
  return v;
}

// RFC 3720 section B.4: an iSCSI SCSI Read (10) command PDU.
std::vector<uint8_t> IscsiReadCommand() {
  return {0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
          0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
          0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
          0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
}

std::vector<uint8_t> Bytes(std::string_view s) { return std::vector<uint8_t>(s.begin(), s.end()); }

std::vector<Vector> Rfc3720Vectors() {
  return {
      {"32 zero bytes", Filled(32, 0x00), 0x8A9136AA},
      {"32 0xFF bytes", Filled(32, 0xFF), 0x62A8AB43},
      {"32 ascending bytes", Ascending(32), 0x46DD794E},
      {"32 descending bytes", Descending(32), 0x113FDB5C},
      {"iSCSI read command PDU", IscsiReadCommand(), 0xD9963A56},
      {"\"123456789\"", Bytes("123456789"), 0xE3069283},
  };
}

void CheckVectors(ExtendFn extend) {
  for (const Vector& v : Rfc3720Vectors()) {
    INFO(v.name);
    CHECK(extend(0, v.bytes.data(), v.bytes.size()) == v.crc);
  }
}

// Extend(Extend(0, a), b) == Extend(0, a ++ b) for every split of `bytes`.
void CheckEverySplit(ExtendFn extend, const std::vector<uint8_t>& bytes) {
  const uint32_t whole = extend(0, bytes.data(), bytes.size());
  for (size_t split = 0; split <= bytes.size(); ++split) {
    INFO("split at " << split << " of " << bytes.size());
    const uint32_t head = extend(0, bytes.data(), split);
    CHECK(extend(head, bytes.data() + split, bytes.size() - split) == whole);
  }
}

std::vector<uint8_t> RandomBytes(std::mt19937& rng, size_t n) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> v(n);
  for (uint8_t& b : v) b = static_cast<uint8_t>(byte(rng));
  return v;
}

TEST_CASE("Crc32cPortableMatchesRfc3720Vectors", "[crc32c]") {
  CheckVectors(&Crc32cExtendPortable);
}

TEST_CASE("Crc32cHardwareMatchesRfc3720Vectors", "[crc32c]") {
  if (!Crc32cHardwareAvailable()) {
    WARN("no SSE4.2 on this CPU: the hardware CRC32C path is not tested");
    return;
  }
  CheckVectors(&Crc32cExtendHardware);
}

TEST_CASE("Crc32cDispatchMatchesRfc3720Vectors", "[crc32c]") {
  CheckVectors(&Crc32cExtend);
  for (const Vector& v : Rfc3720Vectors()) {
    INFO(v.name);
    CHECK(Crc32c(v.bytes) == v.crc);
  }
}

TEST_CASE("Crc32cOfNothingIsZero", "[crc32c]") {
  CHECK(Crc32cExtendPortable(0, nullptr, 0) == 0);
  CHECK(Crc32c(std::span<const uint8_t>()) == 0);
  // Extending by nothing leaves any CRC as it is.
  CHECK(Crc32cExtendPortable(0xD9963A56, nullptr, 0) == 0xD9963A56);
  if (Crc32cHardwareAvailable()) CHECK(Crc32cExtendHardware(0xD9963A56, nullptr, 0) == 0xD9963A56);
}

TEST_CASE("Crc32cExtendAtEverySplitPointEqualsWhole", "[crc32c]") {
  std::mt19937 rng(3720);
  std::vector<std::vector<uint8_t>> inputs = {IscsiReadCommand(), Ascending(32),
                                              RandomBytes(rng, 67)};
  std::vector<std::pair<const char*, ExtendFn>> impls = {{"portable", &Crc32cExtendPortable},
                                                         {"dispatch", &Crc32cExtend}};
  if (Crc32cHardwareAvailable()) impls.emplace_back("hardware", &Crc32cExtendHardware);
  for (const auto& [name, extend] : impls) {
    INFO(name);
    for (const auto& input : inputs) CheckEverySplit(extend, input);
  }
}

TEST_CASE("Crc32cPortableEqualsHardwareAtOddAlignments", "[crc32c]") {
  if (!Crc32cHardwareAvailable()) {
    WARN("no SSE4.2 on this CPU: the hardware CRC32C path is not tested");
    return;
  }
  std::mt19937 rng(20220623);
  // A buffer with slack in front, so that data can start at every alignment mod 8.
  std::vector<uint8_t> storage(300 + 16);
  for (size_t length = 0; length <= 300; ++length) {
    for (size_t align : {0, 1, 3, 5, 7}) {
      INFO("length " << length << ", alignment " << align);
      const std::vector<uint8_t> bytes = RandomBytes(rng, length);
      if (length > 0) std::memcpy(storage.data() + align, bytes.data(), length);
      const uint8_t* p = storage.data() + align;
      const uint32_t seed = static_cast<uint32_t>(rng());
      REQUIRE(Crc32cExtendPortable(0, p, length) == Crc32cExtendHardware(0, p, length));
      REQUIRE(Crc32cExtendPortable(seed, p, length) == Crc32cExtendHardware(seed, p, length));
    }
  }
}

// The hardware path runs three streams over 3 KiB rounds and joins them with shift
// tables: lengths around and across round boundaries, from any starting CRC.
TEST_CASE("Crc32cThreeStreamRoundsMatchPortable", "[crc32c]") {
  if (!Crc32cHardwareAvailable()) {
    WARN("no SSE4.2 on this CPU: the hardware CRC32C path is not tested");
    return;
  }
  std::mt19937 rng(3072);
  for (size_t length : {3071, 3072, 3073, 3079, 3080, 6143, 6144, 6145, 9216, 16300, 16384,
                        100000, 1048576}) {
    INFO("length " << length);
    const std::vector<uint8_t> bytes = RandomBytes(rng, length);
    for (uint32_t seed : {0u, 0xFFFFFFFFu, static_cast<uint32_t>(rng())}) {
      CHECK(Crc32cExtendHardware(seed, bytes.data(), length) ==
            Crc32cExtendPortable(seed, bytes.data(), length));
    }
    const size_t split = length / 3 + 5;
    CHECK(Crc32cExtendHardware(Crc32cExtendHardware(0, bytes.data(), split), bytes.data() + split,
                               length - split) == Crc32cExtendPortable(0, bytes.data(), length));
  }
}

TEST_CASE("Crc32cDetectsEverySingleBitFlip", "[crc32c]") {
  std::vector<uint8_t> bytes = IscsiReadCommand();
  const uint32_t good = Crc32c(bytes);
  for (size_t i = 0; i < bytes.size() * 8; ++i) {
    bytes[i / 8] ^= static_cast<uint8_t>(1u << (i % 8));
    CHECK(Crc32c(bytes) != good);
    bytes[i / 8] ^= static_cast<uint8_t>(1u << (i % 8));
  }
  CHECK(Crc32c(bytes) == good);
}

}  // namespace
}  // namespace runnel::format
