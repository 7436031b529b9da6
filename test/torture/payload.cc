#include "torture/payload.h"

#include <cstring>

#include "absl/status/status.h"
#include "format/crc32c.h"
#include "util/formatters.h"

namespace runnel::torture {
namespace {

constexpr uint32_t kMagic = 0x504c4e52;  // "RNLP" little-endian

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

template <typename T>
void Put(std::string& out, size_t at, T v) {
  std::memcpy(out.data() + at, &v, sizeof(v));
}
template <typename T>
T Get(std::string_view in, size_t at) {
  T v;
  std::memcpy(&v, in.data() + at, sizeof(v));
  return v;
}

uint32_t PayloadCrc(std::string_view value) {
  // Everything but the CRC field itself (bytes 20..23).
  uint32_t crc = format::Crc32cExtend(0, reinterpret_cast<const uint8_t*>(value.data()), 20);
  return format::Crc32cExtend(crc, reinterpret_cast<const uint8_t*>(value.data()) + kPayloadHeaderBytes,
                      value.size() - kPayloadHeaderBytes);
}

}  // namespace

std::string MakeValue(uint64_t seed, uint32_t stream, uint64_t seq, size_t size) {
  if (size < kPayloadHeaderBytes) size = kPayloadHeaderBytes;
  std::string out(size, '\0');
  Put<uint32_t>(out, 0, kMagic);
  Put<uint32_t>(out, 4, stream);
  Put<uint64_t>(out, 8, seq);
  Put<uint32_t>(out, 16, static_cast<uint32_t>(size));
  uint64_t state = seed ^ (uint64_t{stream} << 40) ^ (seq * 0x2545f4914f6cdd1dull);
  for (size_t i = kPayloadHeaderBytes; i < size; i += 8) {
    const uint64_t r = SplitMix64(state);
    std::memcpy(out.data() + i, &r, std::min<size_t>(8, size - i));
  }
  Put<uint32_t>(out, 20, PayloadCrc(out));
  return out;
}

std::string MakeKey(uint32_t stream, uint64_t seq) { return fmt::format("s{}-{}", stream, seq); }

absl::StatusOr<PayloadId> ParseValue(std::string_view value) {
  if (value.size() < kPayloadHeaderBytes) {
    return absl::DataLossError(fmt::format("payload of {} bytes is shorter than its {}-byte header",
                                           value.size(), kPayloadHeaderBytes));
  }
  if (Get<uint32_t>(value, 0) != kMagic) {
    return absl::DataLossError(
        fmt::format("payload magic is {:#010x}, not {:#010x}", Get<uint32_t>(value, 0), kMagic));
  }
  if (Get<uint32_t>(value, 16) != value.size()) {
    return absl::DataLossError(fmt::format("payload says it has {} bytes but has {}",
                                           Get<uint32_t>(value, 16), value.size()));
  }
  const uint32_t crc = PayloadCrc(value);
  if (Get<uint32_t>(value, 20) != crc) {
    return absl::DataLossError(fmt::format("payload CRC is {:#010x}, computed {:#010x}",
                                           Get<uint32_t>(value, 20), crc));
  }
  return PayloadId{Get<uint32_t>(value, 4), Get<uint64_t>(value, 8)};
}

uint64_t RecordDigest(const std::optional<std::string_view>& key,
                      const std::optional<std::string_view>& value) {
  // FNV-1a over a tag byte per field (absent / present) and the field's bytes.
  uint64_t h = 14695981039346656037ull;
  auto mix = [&h](uint8_t b) {
    h ^= b;
    h *= 1099511628211ull;
  };
  for (const auto* field : {&key, &value}) {
    mix(field->has_value() ? 1 : 0);
    if (!field->has_value()) continue;
    for (char c : **field) mix(static_cast<uint8_t>(c));
    mix(0xff);
  }
  return h;
}

size_t DrawSize(std::mt19937_64& rng, size_t min, size_t max) {
  if (max <= min) return min;
  if (rng() % 4 == 0) return std::uniform_int_distribution<size_t>(min, max)(rng);
  const size_t small_max = std::min(max, min + (max - min) / 16 + 1);
  return std::uniform_int_distribution<size_t>(min, small_max)(rng);
}

}  // namespace runnel::torture
