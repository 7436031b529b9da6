#include "format/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace runnel::format {
namespace {

constexpr uint32_t kPolynomial = 0x82F63B78;  // CRC32C, reflected

// Slicing-by-8 tables: table[k][b] is the CRC of byte b followed by k zero bytes.
using Tables = std::array<std::array<uint32_t, 256>, 8>;

constexpr Tables MakeTables() {
  Tables t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t crc = b;
    for (int i = 0; i < 8; ++i) crc = (crc >> 1) ^ (kPolynomial & (0u - (crc & 1)));
    t[0][b] = crc;
  }
  for (uint32_t b = 0; b < 256; ++b) {
    for (int k = 1; k < 8; ++k) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFF];
  }
  return t;
}

constexpr Tables kTables = MakeTables();

uint64_t LoadLittle64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;  // x86-64 and every target Debian's runnel builds for here are little-endian
}

}  // namespace

uint32_t Crc32cExtendPortable(uint32_t crc, const uint8_t* data, size_t n) {
  uint32_t c = ~crc;
  while (n >= 8) {
    const uint64_t v = LoadLittle64(data) ^ c;
    c = kTables[7][v & 0xFF] ^ kTables[6][(v >> 8) & 0xFF] ^ kTables[5][(v >> 16) & 0xFF] ^
        kTables[4][(v >> 24) & 0xFF] ^ kTables[3][(v >> 32) & 0xFF] ^
        kTables[2][(v >> 40) & 0xFF] ^ kTables[1][(v >> 48) & 0xFF] ^ kTables[0][v >> 56];
    data += 8;
    n -= 8;
  }
  while (n-- > 0) c = (c >> 8) ^ kTables[0][(c ^ *data++) & 0xFF];
  return ~c;
}

#if defined(__x86_64__)
namespace {

// The crc32 instruction has a latency of three cycles but issues one per cycle, so three
// independent streams over three adjacent blocks run three times as fast as one. The
// states are then joined: running a CRC over `n` more bytes from state s equals
// Shift(s, n) ^ (the CRC of those bytes from state 0), and Shift by a fixed block size
// is four table lookups.
constexpr size_t kStreamBlock = 1024;  // bytes per stream per round

__attribute__((target("sse4.2"))) uint32_t CrcZeros(uint32_t state, size_t n) {
  uint64_t c = state;
  for (size_t i = 0; i < n / 8; ++i) c = _mm_crc32_u64(c, 0);
  return static_cast<uint32_t>(c);
}

struct ShiftTables {
  std::array<std::array<uint32_t, 256>, 4> t;
};

const ShiftTables& BlockShift() {
  static const ShiftTables tables = [] {
    ShiftTables s;
    for (int k = 0; k < 4; ++k) {
      for (uint32_t b = 0; b < 256; ++b) s.t[static_cast<size_t>(k)][b] = CrcZeros(b << (8 * k), kStreamBlock);
    }
    return s;
  }();
  return tables;
}

uint32_t ShiftBlock(const ShiftTables& s, uint32_t state) {
  return s.t[0][state & 0xFF] ^ s.t[1][(state >> 8) & 0xFF] ^ s.t[2][(state >> 16) & 0xFF] ^
         s.t[3][state >> 24];
}

}  // namespace

__attribute__((target("sse4.2"))) uint32_t Crc32cExtendHardware(uint32_t crc,
                                                                 const uint8_t* data, size_t n) {
  uint64_t c = ~crc;
  if (n >= 3 * kStreamBlock) {
    const ShiftTables& shift = BlockShift();
    while (n >= 3 * kStreamBlock) {
      uint64_t c1 = 0;
      uint64_t c2 = 0;
      const uint8_t* p0 = data;
      const uint8_t* p1 = data + kStreamBlock;
      const uint8_t* p2 = data + 2 * kStreamBlock;
      for (size_t i = 0; i < kStreamBlock; i += 8) {
        // Fetch the next round's lines while this one computes: a batch read from the
        // page cache through a mapping is not in the CPU cache yet, and the hardware
        // prefetcher stops at every 4 KiB page.
        if (i % 64 == 0) {
          __builtin_prefetch(p0 + i + 3 * kStreamBlock);
          __builtin_prefetch(p1 + i + 3 * kStreamBlock);
          __builtin_prefetch(p2 + i + 3 * kStreamBlock);
        }
        c = _mm_crc32_u64(c, LoadLittle64(p0 + i));
        c1 = _mm_crc32_u64(c1, LoadLittle64(p1 + i));
        c2 = _mm_crc32_u64(c2, LoadLittle64(p2 + i));
      }
      uint32_t joined = ShiftBlock(shift, static_cast<uint32_t>(c)) ^ static_cast<uint32_t>(c1);
      joined = ShiftBlock(shift, joined) ^ static_cast<uint32_t>(c2);
      c = joined;
      data += 3 * kStreamBlock;
      n -= 3 * kStreamBlock;
    }
  }
  while (n >= 8) {
    c = _mm_crc32_u64(c, LoadLittle64(data));
    data += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *data++);
  return ~c32;
}

bool Crc32cHardwareAvailable() {
  static const bool available = __builtin_cpu_supports("sse4.2");
  return available;
}
#else
uint32_t Crc32cExtendHardware(uint32_t crc, const uint8_t* data, size_t n) {
  return Crc32cExtendPortable(crc, data, n);
}
bool Crc32cHardwareAvailable() { return false; }
#endif

uint32_t Crc32cExtend(uint32_t crc, const uint8_t* data, size_t n) {
  return Crc32cHardwareAvailable() ? Crc32cExtendHardware(crc, data, n)
                                   : Crc32cExtendPortable(crc, data, n);
}

}  // namespace runnel::format
