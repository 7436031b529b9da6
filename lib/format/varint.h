// Kafka's variable-length integers: zig-zag encoded, then base-128 little-endian groups
// (ByteUtils.writeVarint / writeVarlong). A varint (int32) takes 1..5 bytes, a varlong
// (int64) 1..10. Decoding is bounds-checked and rejects over-long encodings, so a
// malformed buffer yields false, never a read past `end`.
#ifndef RUNNEL_FORMAT_VARINT_H_
#define RUNNEL_FORMAT_VARINT_H_

#include <cstddef>
#include <cstdint>

namespace runnel::format {

constexpr size_t kMaxVarintBytes = 5;
constexpr size_t kMaxVarlongBytes = 10;

inline uint64_t ZigZagEncode(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t ZigZagDecode(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

// Writes `v` at `p` (room for kMaxVarlongBytes) and returns the byte after it.
inline uint8_t* PutUnsignedVarint(uint8_t* p, uint64_t v) {
  if (v < 0x80) {  // the common case in a record: one byte
    *p = static_cast<uint8_t>(v);
    return p + 1;
  }
  while (v >= 0x80) {
    *p++ = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<uint8_t>(v);
  return p;
}
inline uint8_t* PutVarint(uint8_t* p, int32_t v) {
  return PutUnsignedVarint(p, static_cast<uint32_t>((static_cast<uint32_t>(v) << 1) ^
                                                   static_cast<uint32_t>(v >> 31)));
}
inline uint8_t* PutVarlong(uint8_t* p, int64_t v) { return PutUnsignedVarint(p, ZigZagEncode(v)); }

inline size_t UnsignedVarintSize(uint64_t v) {
  // 7 bits per byte: the number of significant bits, rounded up to sevens.
  return static_cast<size_t>(63 - __builtin_clzll(v | 1)) / 7 + 1;
}
inline size_t VarintSize(int32_t v) {
  return UnsignedVarintSize(
      static_cast<uint32_t>((static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31)));
}
inline size_t VarlongSize(int64_t v) { return UnsignedVarintSize(ZigZagEncode(v)); }

// Reads an unsigned base-128 value of at most `max_bytes` bytes from [*p, end).
// On success advances *p; on a truncated or over-long encoding returns false.
inline bool GetUnsignedVarint(const uint8_t** p, const uint8_t* end, size_t max_bytes,
                              uint64_t* out) {
  const uint8_t* q = *p;
  // Most fields of a record take one or two bytes: decode those without the loop.
  if (q < end && q[0] < 0x80) {
    *out = q[0];
    *p = q + 1;
    return true;
  }
  if (end - q >= 2 && q[1] < 0x80) {
    *out = (q[0] & 0x7Fu) | static_cast<uint64_t>(q[1]) << 7;
    *p = q + 2;
    return true;
  }
  uint64_t result = 0;
  for (size_t i = 0; i < max_bytes; ++i) {
    if (q == end) return false;
    const uint8_t b = *q++;
    result |= static_cast<uint64_t>(b & 0x7F) << (7 * i);
    if ((b & 0x80) == 0) {
      *p = q;
      *out = result;
      return true;
    }
  }
  return false;
}

inline bool GetVarint(const uint8_t** p, const uint8_t* end, int32_t* out) {
  const uint8_t* q = *p;
  uint64_t raw;
  if (!GetUnsignedVarint(&q, end, kMaxVarintBytes, &raw) || raw > 0xFFFFFFFFull) return false;
  const uint32_t u = static_cast<uint32_t>(raw);
  *out = static_cast<int32_t>((u >> 1) ^ (0u - (u & 1)));
  *p = q;
  return true;
}

inline bool GetVarlong(const uint8_t** p, const uint8_t* end, int64_t* out) {
  uint64_t raw;
  if (!GetUnsignedVarint(p, end, kMaxVarlongBytes, &raw)) return false;
  *out = ZigZagDecode(raw);
  return true;
}

}  // namespace runnel::format

#endif  // RUNNEL_FORMAT_VARINT_H_
