// Fuzzes the decoders of the records runnel keeps in its internal topics, as replay feeds
// them from the log. Byte 0 (modulo 4) picks the decoder; the rest is the key or value:
//   0  __consumer_offsets key (DecodeOffsetKey, lib/groups/offset_record.cc)
//   1  __consumer_offsets value (DecodeOffsetValue)
//   2  __share_group_state key (DecodeShareStateKey, lib/groups/share_coordinator.cc)
//   3  __share_group_state value (SharePartition::Decode, lib/groups/share_partition.cc)
// Each must return an error for what it cannot read, never crash, and never allocate in
// proportion to a length field rather than to the input. What decodes must survive
// encoding: decode(encode(x)) == x, and the encoding of a decoded record is the input
// itself (share keys; offset keys up to trailing bytes and the version) or canonical
// (share state, whose runs the encoder may merge).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "fuzz_scratch.h"
#include "groups/offset_record.h"
#include "groups/share_coordinator.h"
#include "groups/share_partition.h"

namespace {

using namespace runnel;          // NOLINT: a fuzz target
using namespace runnel::groups;  // NOLINT: a fuzz target
using fuzz::Require;

void FuzzOffsetKey(std::string_view bytes) {
  const absl::StatusOr<std::optional<OffsetKey>> key = DecodeOffsetKey(bytes);
  if (!key.ok()) {
    Require(absl::IsInvalidArgument(key.status()), "a bad offset key is not InvalidArgument");
    return;
  }
  if (!key->has_value()) return;  // a group metadata key, which the store skips
  const std::string encoded = EncodeOffsetKey(**key);
  // Version 0 and 1 keys have the same fields; the encoder writes version 1.
  Require(encoded.size() <= bytes.size() && encoded.substr(2) == bytes.substr(2, encoded.size() - 2),
          "an offset key does not encode back to its bytes");
  const absl::StatusOr<std::optional<OffsetKey>> again = DecodeOffsetKey(encoded);
  Require(again.ok() && again->has_value() && (*again)->group == (*key)->group &&
              (*again)->partition.topic == (*key)->partition.topic &&
              (*again)->partition.partition == (*key)->partition.partition,
          "an offset key does not survive encoding");
}

void FuzzOffsetValue(std::string_view bytes) {
  const absl::StatusOr<OffsetValue> value = DecodeOffsetValue(bytes);
  if (!value.ok()) {
    Require(absl::IsInvalidArgument(value.status()), "a bad offset value is not InvalidArgument");
    return;
  }
  const absl::StatusOr<OffsetValue> again = DecodeOffsetValue(EncodeOffsetValue(*value));
  Require(again.ok() && again->offset == value->offset && again->metadata == value->metadata &&
              again->commit_timestamp == value->commit_timestamp,
          "an offset value does not survive encoding");
}

void FuzzShareKey(std::string_view bytes) {
  const auto key = DecodeShareStateKey(bytes);
  if (!key.ok()) {
    Require(absl::IsDataLoss(key.status()), "a bad share state key is not DataLoss");
    return;
  }
  Require(EncodeShareStateKey(key->first, key->second) == bytes,
          "a share state key does not encode back to its bytes");
}

void FuzzShareValue(std::string_view bytes) {
  const absl::StatusOr<SharePartition> state = SharePartition::Decode(bytes);
  if (!state.ok()) {
    Require(absl::IsDataLoss(state.status()), "a bad share state is not DataLoss");
    return;
  }
  Require(state->start_offset() >= 0 && state->end_offset() >= state->start_offset() &&
              state->end_offset() - state->start_offset() <= kMaxShareStateRecords,
          "a decoded share state has a bad range");
  Require(static_cast<int64_t>(state->in_flight().size()) ==
              state->end_offset() - state->start_offset(),
          "a decoded share state does not cover its range");
  for (const auto& [offset, record] : state->in_flight()) {
    Require(offset >= state->start_offset() && offset < state->end_offset(),
            "a decoded share record lies outside the range");
    Require(record.state != ShareRecordState::kAcquired && record.delivery_count >= 0,
            "a decoded share record has a state that is never stored");
  }
  const std::string encoded = state->Encode();
  const absl::StatusOr<SharePartition> again = SharePartition::Decode(encoded);
  Require(again.ok() && again->start_offset() == state->start_offset() &&
              again->end_offset() == state->end_offset() &&
              again->in_flight() == state->in_flight(),
          "a share state does not survive encoding");
  Require(again->Encode() == encoded, "a share state's encoding is not canonical");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: FuzzOffsetKey(bytes); break;
    case 1: FuzzOffsetValue(bytes); break;
    case 2: FuzzShareKey(bytes); break;
    case 3: FuzzShareValue(bytes); break;
  }
  return 0;
}
