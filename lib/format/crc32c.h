// CRC32C (Castagnoli), the checksum of Kafka's RecordBatch v2 and of runnel's own files.
// Crc32c() picks the SSE4.2 instruction when the CPU has it (decided once, at first use)
// and a table-driven portable path otherwise; both are exposed so tests can check each.
// All functions are pure and thread-safe.
#ifndef RUNNEL_FORMAT_CRC32C_H_
#define RUNNEL_FORMAT_CRC32C_H_

#include <cstddef>
#include <cstdint>
#include <span>

namespace runnel::format {

// Extends `crc` (the CRC32C of some prefix) over `data`. Extend(0, all) == Crc32c(all).
uint32_t Crc32cExtend(uint32_t crc, const uint8_t* data, size_t n);

inline uint32_t Crc32c(std::span<const uint8_t> data) {
  return Crc32cExtend(0, data.data(), data.size());
}

// The two implementations behind Crc32cExtend, for tests and benchmarks.
uint32_t Crc32cExtendPortable(uint32_t crc, const uint8_t* data, size_t n);
uint32_t Crc32cExtendHardware(uint32_t crc, const uint8_t* data, size_t n);  // needs SSE4.2
bool Crc32cHardwareAvailable();

}  // namespace runnel::format

#endif  // RUNNEL_FORMAT_CRC32C_H_
