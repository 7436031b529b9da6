// Big-endian loads and stores, the byte order of every fixed-width field Kafka writes.
// Callers check bounds; these only move bytes.
#ifndef RUNNEL_FORMAT_BYTE_ORDER_H_
#define RUNNEL_FORMAT_BYTE_ORDER_H_

#include <cstdint>
#include <cstring>

namespace runnel::format {

inline uint16_t LoadBig16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return __builtin_bswap16(v);
}
inline uint32_t LoadBig32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}
inline uint64_t LoadBig64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}
inline void StoreBig16(uint8_t* p, uint16_t v) {
  v = __builtin_bswap16(v);
  std::memcpy(p, &v, 2);
}
inline void StoreBig32(uint8_t* p, uint32_t v) {
  v = __builtin_bswap32(v);
  std::memcpy(p, &v, 4);
}
inline void StoreBig64(uint8_t* p, uint64_t v) {
  v = __builtin_bswap64(v);
  std::memcpy(p, &v, 8);
}

}  // namespace runnel::format

#endif  // RUNNEL_FORMAT_BYTE_ORDER_H_
