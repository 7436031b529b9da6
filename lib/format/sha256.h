// SHA-256 (FIPS 180-4), for content-addressed files: the claim-check store names each
// blob by the SHA-256 of its bytes. A plain portable implementation, a few hundred MB/s:
// enough for payloads that are written to disk anyway. Pure and thread-safe; a Sha256
// object is used from one thread at a time.
#ifndef RUNNEL_FORMAT_SHA256_H_
#define RUNNEL_FORMAT_SHA256_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace runnel::format {

using Sha256Digest = std::array<uint8_t, 32>;

// Incremental hashing: Update any number of times, then Finish once.
class Sha256 {
 public:
  Sha256();
  void Update(std::span<const uint8_t> data);
  void Update(std::string_view data) {
    Update(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
  }
  Sha256Digest Finish();

 private:
  void Compress(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

Sha256Digest Sha256Of(std::span<const uint8_t> data);
Sha256Digest Sha256Of(std::string_view data);
// 64 lowercase hex digits.
std::string ToHex(const Sha256Digest& digest);

}  // namespace runnel::format

#endif  // RUNNEL_FORMAT_SHA256_H_
