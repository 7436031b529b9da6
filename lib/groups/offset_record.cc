#include "groups/offset_record.h"

#include <fmt/format.h>


namespace runnel::groups {
namespace {

class Writer {
 public:
  void Int16(int16_t v) { Put<2>(static_cast<uint64_t>(static_cast<uint16_t>(v))); }
  void Int32(int32_t v) { Put<4>(static_cast<uint64_t>(static_cast<uint32_t>(v))); }
  void Int64(int64_t v) { Put<8>(static_cast<uint64_t>(v)); }
  void String(std::string_view s) {
    Int16(static_cast<int16_t>(s.size()));
    out_.append(s);
  }
  std::string Take() { return std::move(out_); }

 private:
  template <int N>
  void Put(uint64_t v) {
    for (int i = N - 1; i >= 0; --i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool Int16(int16_t* v) { return Get<2>(v); }
  bool Int32(int32_t* v) { return Get<4>(v); }
  bool Int64(int64_t* v) { return Get<8>(v); }
  bool String(std::string* s) {
    int16_t n;
    if (!Int16(&n) || n < 0 || static_cast<size_t>(n) > in_.size()) return false;
    s->assign(in_.substr(0, static_cast<size_t>(n)));
    in_.remove_prefix(static_cast<size_t>(n));
    return true;
  }

 private:
  template <int N, typename T>
  bool Get(T* v) {
    if (in_.size() < N) return false;
    uint64_t x = 0;
    for (int i = 0; i < N; ++i) x = (x << 8) | static_cast<uint8_t>(in_[static_cast<size_t>(i)]);
    in_.remove_prefix(N);
    *v = static_cast<T>(x);
    return true;
  }
  std::string_view in_;
};

absl::Status Malformed(std::string_view what, std::string_view why) {
  return absl::InvalidArgumentError(fmt::format("malformed {} in __consumer_offsets: {}", what, why));
}

}  // namespace

std::string EncodeOffsetKey(const OffsetKey& key) {
  Writer w;
  w.Int16(1);
  w.String(key.group);
  w.String(key.partition.topic);
  w.Int32(key.partition.partition);
  return w.Take();
}

std::string EncodeOffsetValue(const OffsetValue& value) {
  Writer w;
  w.Int16(3);
  w.Int64(value.offset);
  w.Int32(-1);  // leader epoch: runnel has no leaders
  w.String(value.metadata);
  w.Int64(value.commit_timestamp);
  return w.Take();
}

absl::StatusOr<std::optional<OffsetKey>> DecodeOffsetKey(std::string_view bytes) {
  Reader r(bytes);
  int16_t version;
  if (!r.Int16(&version)) return Malformed("key", "shorter than its version");
  if (version == 2) return std::nullopt;  // GroupMetadataKey
  if (version != 0 && version != 1) {
    return Malformed("key", fmt::format("unknown version {}", version));
  }
  OffsetKey key;
  if (!r.String(&key.group) || !r.String(&key.partition.topic) ||
      !r.Int32(&key.partition.partition)) {
    return Malformed("offset commit key", "truncated");
  }
  return key;
}

absl::StatusOr<OffsetValue> DecodeOffsetValue(std::string_view bytes) {
  Reader r(bytes);
  int16_t version;
  if (!r.Int16(&version)) return Malformed("value", "shorter than its version");
  if (version < 0 || version > 3) {
    return Malformed("offset commit value", fmt::format("unknown version {}", version));
  }
  OffsetValue v;
  int32_t leader_epoch;
  int64_t expire;
  // v0: offset, metadata, commit ts; v1 adds an expire ts; v3 adds the leader epoch.
  bool ok = r.Int64(&v.offset);
  if (ok && version >= 3) ok = r.Int32(&leader_epoch);
  if (ok) ok = r.String(&v.metadata);
  if (ok) ok = r.Int64(&v.commit_timestamp);
  if (ok && version == 1) ok = r.Int64(&expire);
  if (!ok) return Malformed("offset commit value", "truncated");
  return v;
}

}  // namespace runnel::groups
