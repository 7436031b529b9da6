// Fuzzes ClaimCheck::Resolve (lib/client/claim_check.cc) with a hostile reference header
// and a hostile blob file. The input is
//   byte 0       bit 0: verify_on_resolve; bit 1: the header's value is null; bit 2: no
//                header at all (an inline record)
//   bytes 1-2    the length L of the reference (big-endian, clipped to what follows)
//   next L       the runnel.claim-check header's value, "sha256:<64 hex>:<size>" when valid
//   rest         the blob file's bytes, written under the 64 characters after "sha256:"
//                when they are lowercase hex (the only names a blob has)
// Resolve must never crash; it returns the record's value for an inline record, and
// otherwise either DataLoss or a value of the size the reference gives, whose SHA-256 is
// the reference's when verification is on, read from the blob after its 16-byte header.
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "format/sha256.h"
#include "fuzz_scratch.h"
#include "io/env.h"
#include "runnel/claim_check.h"
#include "runnel/consumer.h"

namespace {

using namespace runnel;  // NOLINT: a fuzz target
using fuzz::Require;

constexpr std::string_view kPrefix = "sha256:";

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

ClaimCheck& Store(bool verify) {
  static const std::string dir = fuzz::FreshScratchDir("claim-check");
  auto open = [](bool v) {
    ClaimCheckOptions options;
    options.verify_on_resolve = v;
    absl::StatusOr<std::unique_ptr<ClaimCheck>> cc =
        internal::OpenClaimCheckOnEnv(io::PosixEnv(), io::JoinPath(dir, v ? "v" : "nv"), options);
    Require(cc.ok(), "cannot open a claim-check store");
    return std::move(*cc);
  };
  static const std::unique_ptr<ClaimCheck> verifying = open(true);
  static const std::unique_ptr<ClaimCheck> trusting = open(false);
  return verify ? *verifying : *trusting;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const uint8_t flags = data[0];
  const size_t length = std::min<size_t>((size_t{data[1]} << 8) | data[2], size - 3);
  const std::string_view reference(reinterpret_cast<const char*>(data) + 3, length);
  const uint8_t* blob = data + 3 + length;
  const size_t blob_size = size - 3 - length;

  ClaimCheck& store = Store(flags & 1);
  std::string blob_path;
  if (reference.substr(0, kPrefix.size()) == kPrefix && reference.size() >= kPrefix.size() + 64 &&
      IsLowerHex(reference.substr(kPrefix.size(), 64))) {
    blob_path = io::JoinPath(store.dir(), std::string(reference.substr(kPrefix.size(), 64)));
    fuzz::WriteBytes(blob_path, blob, blob_size);
  }

  const std::string inline_value = "inline";
  const Header header{kClaimCheckHeader, flags & 2 ? std::nullopt
                                                   : std::optional<std::string_view>(reference)};
  ConsumerRecord record;
  record.topic = "t";
  record.value = inline_value;
  if (!(flags & 4)) record.headers = std::span<const Header>(&header, 1);

  const absl::StatusOr<ClaimCheck::Payload> payload = store.Resolve(record);
  if (flags & 4) {
    Require(payload.ok() && !payload->claim_checked() && payload->value() == inline_value,
            "an inline record did not resolve to its value");
  } else if (!payload.ok()) {
    Require(absl::IsDataLoss(payload.status()), "a failed resolve is not DataLoss");
  } else {
    Require(payload->claim_checked() && payload->reference() == reference && !blob_path.empty(),
            "a resolved blob has the wrong reference");
    Require(payload->value().has_value(), "a resolved blob has a null value");
    const std::string_view value = *payload->value();
    const std::string_view size_text = reference.substr(kPrefix.size() + 65);
    uint64_t expected_size = 0;
    const auto [end, ec] =
        std::from_chars(size_text.data(), size_text.data() + size_text.size(), expected_size);
    Require(ec == std::errc() && end == size_text.data() + size_text.size() &&
                value.size() == expected_size,
            "a resolved blob's size is not the reference's");
    Require(blob_size == 16 + value.size() &&
                value == std::string_view(reinterpret_cast<const char*>(blob) + 16, value.size()),
            "a resolved value is not the blob's bytes after its header");
    if (flags & 1) {
      Require(format::ToHex(format::Sha256Of(value)) == reference.substr(kPrefix.size(), 64),
              "a verified blob does not match its hash");
    }
  }
  if (!blob_path.empty()) std::filesystem::remove(blob_path);
  return 0;
}
