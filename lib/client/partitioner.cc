#include "runnel/partitioner.h"

#include <cstring>

namespace runnel {

int32_t Murmur2(std::string_view data) {
  // Kafka's Utils.murmur2, with Java's wrapping int arithmetic done in uint32_t.
  constexpr uint32_t kSeed = 0x9747b28c;
  constexpr uint32_t kM = 0x5bd1e995;
  constexpr int kR = 24;
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  const size_t length = data.size();
  uint32_t h = kSeed ^ static_cast<uint32_t>(length);
  const size_t blocks = length / 4;
  for (size_t i = 0; i < blocks; ++i) {
    const uint8_t* b = p + i * 4;
    uint32_t k = static_cast<uint32_t>(b[0]) | static_cast<uint32_t>(b[1]) << 8 |
                 static_cast<uint32_t>(b[2]) << 16 | static_cast<uint32_t>(b[3]) << 24;
    k *= kM;
    k ^= k >> kR;
    k *= kM;
    h *= kM;
    h ^= k;
  }
  const uint8_t* tail = p + blocks * 4;
  switch (length % 4) {
    case 3:
      h ^= static_cast<uint32_t>(tail[2]) << 16;
      [[fallthrough]];
    case 2:
      h ^= static_cast<uint32_t>(tail[1]) << 8;
      [[fallthrough]];
    case 1:
      h ^= tail[0];
      h *= kM;
  }
  h ^= h >> 13;
  h *= kM;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

int32_t KeyPartition(std::string_view key, int32_t num_partitions) {
  const auto positive = static_cast<int32_t>(static_cast<uint32_t>(Murmur2(key)) & 0x7fffffffu);
  return positive % num_partitions;
}

int32_t DefaultPartitioner::Partition(std::string_view /*topic*/,
                                      std::optional<std::string_view> key,
                                      int32_t num_partitions) {
  return key ? KeyPartition(*key, num_partitions) : kStickyPartition;
}

}  // namespace runnel
