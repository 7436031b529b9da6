#include "groups/share_partition.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "format/byte_order.h"

namespace runnel::groups {
namespace {

constexpr uint8_t kEncodingVersion = 0;
constexpr size_t kHeaderBytes = 1 + 8 + 8 + 4;
constexpr size_t kRunBytes = 8 + 4 + 1 + 1 + 4;

bool Done(ShareRecordState s) {
  return s == ShareRecordState::kAcknowledged || s == ShareRecordState::kArchived;
}

}  // namespace

void SharePartition::Release(ShareRecord& r, const SharePartitionLimits& limits) {
  r.state = ShareRecordState::kAvailable;
  r.member = 0;
  r.lock_expiry_ms = 0;
  if (r.dead_letter == DeadLetter::kNo && r.delivery_count >= limits.delivery_count_limit) {
    r.dead_letter = DeadLetter::kDeliveryLimit;
  }
}

void SharePartition::AdvanceStart() {
  while (!records_.empty() && records_.begin()->first == start_ &&
         Done(records_.begin()->second.state)) {
    records_.erase(records_.begin());
    ++start_;
  }
  if (records_.empty()) start_ = end_;
}

bool SharePartition::ExpireLocks(int64_t now, const SharePartitionLimits& limits) {
  bool expired = false;
  for (auto& [offset, r] : records_) {
    if (r.state == ShareRecordState::kAcquired && r.lock_expiry_ms <= now) {
      Release(r, limits);
      expired = true;
    }
  }
  return expired;
}

int64_t SharePartition::NextExpiry() const {
  int64_t next = std::numeric_limits<int64_t>::max();
  for (const auto& [offset, r] : records_) {
    if (r.state == ShareRecordState::kAcquired) next = std::min(next, r.lock_expiry_ms);
  }
  return next;
}

size_t SharePartition::NotDone() const {
  return static_cast<size_t>(std::count_if(records_.begin(), records_.end(), [](const auto& e) {
    return !Done(e.second.state);
  }));
}

bool SharePartition::HasAvailable() const {
  return std::any_of(records_.begin(), records_.end(), [](const auto& entry) {
    return entry.second.state == ShareRecordState::kAvailable;
  });
}

std::vector<AcquiredRecord> SharePartition::Acquire(uint64_t member, int64_t now,
                                                    int32_t max_records, int64_t log_start,
                                                    int64_t log_end,
                                                    const SharePartitionLimits& limits,
                                                    bool* blocked) {
  if (blocked) *blocked = false;
  ExpireLocks(now, limits);
  if (start_ < log_start) {
    // Retention deleted these records: nothing is left to deliver.
    records_.erase(records_.begin(), records_.lower_bound(log_start));
    start_ = log_start;
    end_ = std::max(end_, log_start);
    AdvanceStart();
  }
  std::vector<AcquiredRecord> out;
  auto take = [&](int64_t offset, ShareRecord& r) {
    // Stored state has no dead-letter mark for a record whose last lock expired.
    if (r.dead_letter == DeadLetter::kNo && r.delivery_count >= limits.delivery_count_limit) {
      r.dead_letter = DeadLetter::kDeliveryLimit;
    }
    r.state = ShareRecordState::kAcquired;
    r.member = member;
    r.lock_expiry_ms = now + limits.lock_duration_ms;
    if (r.dead_letter == DeadLetter::kNo) ++r.delivery_count;
    out.push_back({offset, r.delivery_count, r.dead_letter});
  };
  for (auto& [offset, r] : records_) {
    if (static_cast<int32_t>(out.size()) >= max_records) return out;
    if (r.state == ShareRecordState::kAvailable) take(offset, r);
  }
  // Only records still to be finished count against the bound: done ones wait here just
  // until start_ passes them.
  size_t not_done = NotDone();
  while (static_cast<int32_t>(out.size()) < max_records && end_ < log_end) {
    if (not_done >= static_cast<size_t>(limits.max_in_flight) ||
        end_ - start_ >= kMaxShareStateRecords) {
      if (blocked) *blocked = true;
      break;
    }
    take(end_, records_[end_]);
    ++end_;
    ++not_done;
  }
  return out;
}

absl::Status SharePartition::Acknowledge(uint64_t member, int64_t offset, ShareAck ack,
                                         const SharePartitionLimits& limits) {
  auto it = records_.find(offset);
  if (it == records_.end() || it->second.state != ShareRecordState::kAcquired ||
      it->second.member != member) {
    return absl::FailedPreconditionError(fmt::format(
        "offset {} is not acquired by this member: its lock expired, or it was acknowledged "
        "already",
        offset));
  }
  ShareRecord& r = it->second;
  if (r.dead_letter != DeadLetter::kNo && ack != ShareAck::kArchive) {
    return absl::InvalidArgumentError(
        fmt::format("offset {} was handed out to be dead-lettered: archive it", offset));
  }
  switch (ack) {
    case ShareAck::kAccept:
      r = ShareRecord{ShareRecordState::kAcknowledged, DeadLetter::kNo, r.delivery_count};
      break;
    case ShareAck::kArchive:
      r = ShareRecord{ShareRecordState::kArchived, DeadLetter::kNo, r.delivery_count};
      break;
    case ShareAck::kRelease:
      Release(r, limits);
      break;
    case ShareAck::kReject:
      Release(r, limits);
      r.dead_letter = DeadLetter::kRejected;
      break;
  }
  AdvanceStart();
  return absl::OkStatus();
}

void SharePartition::ReleaseMember(uint64_t member, const SharePartitionLimits& limits) {
  for (auto& [offset, r] : records_) {
    if (r.state == ShareRecordState::kAcquired && r.member == member) Release(r, limits);
  }
}

std::string SharePartition::Encode() const {
  struct Run {
    int64_t first;
    uint32_t length;
    ShareRecordState state;
    DeadLetter dead_letter;
    int32_t delivery_count;
  };
  std::vector<Run> runs;
  for (const auto& [offset, r] : records_) {
    // A lock does not outlive the process: stored, an acquired record is available.
    const ShareRecordState state =
        r.state == ShareRecordState::kAcquired ? ShareRecordState::kAvailable : r.state;
    if (!runs.empty()) {
      Run& last = runs.back();
      if (last.first + last.length == offset && last.state == state &&
          last.dead_letter == r.dead_letter && last.delivery_count == r.delivery_count) {
        ++last.length;
        continue;
      }
    }
    runs.push_back({offset, 1, state, r.dead_letter, r.delivery_count});
  }
  std::string out(kHeaderBytes + runs.size() * kRunBytes, '\0');
  auto* p = reinterpret_cast<uint8_t*>(out.data());
  p[0] = kEncodingVersion;
  format::StoreBig64(p + 1, static_cast<uint64_t>(start_));
  format::StoreBig64(p + 9, static_cast<uint64_t>(end_));
  format::StoreBig32(p + 17, static_cast<uint32_t>(runs.size()));
  p += kHeaderBytes;
  for (const Run& run : runs) {
    format::StoreBig64(p, static_cast<uint64_t>(run.first));
    format::StoreBig32(p + 8, run.length);
    p[12] = static_cast<uint8_t>(run.state);
    p[13] = static_cast<uint8_t>(run.dead_letter);
    format::StoreBig32(p + 14, static_cast<uint32_t>(run.delivery_count));
    p += kRunBytes;
  }
  return out;
}

absl::StatusOr<SharePartition> SharePartition::Decode(std::string_view bytes) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  if (bytes.size() < kHeaderBytes || p[0] != kEncodingVersion) {
    return absl::DataLossError(
        fmt::format("share partition state of {} bytes is not version {} state", bytes.size(),
                    kEncodingVersion));
  }
  SharePartition sp(static_cast<int64_t>(format::LoadBig64(p + 1)));
  sp.end_ = static_cast<int64_t>(format::LoadBig64(p + 9));
  const uint32_t runs = format::LoadBig32(p + 17);
  if (sp.start_ < 0 || sp.end_ < sp.start_ || sp.end_ - sp.start_ > kMaxShareStateRecords ||
      bytes.size() != kHeaderBytes + runs * kRunBytes) {
    return absl::DataLossError(fmt::format(
        "share partition state is damaged: start {}, end {}, {} runs in {} bytes", sp.start_,
        sp.end_, runs, bytes.size()));
  }
  p += kHeaderBytes;
  uint64_t covered = 0;  // checked before anything is allocated for the runs
  for (uint32_t i = 0; i < runs; ++i) covered += format::LoadBig32(p + i * kRunBytes + 8);
  if (covered != static_cast<uint64_t>(sp.end_ - sp.start_)) {
    return absl::DataLossError(fmt::format(
        "share partition state is damaged: runs cover {} records, offsets [{}, {}) need {}",
        covered, sp.start_, sp.end_, sp.end_ - sp.start_));
  }
  for (uint32_t i = 0; i < runs; ++i, p += kRunBytes) {
    const auto first = static_cast<int64_t>(format::LoadBig64(p));
    const uint32_t length = format::LoadBig32(p + 8);
    const uint8_t state = p[12];
    if (state > static_cast<uint8_t>(ShareRecordState::kArchived) ||
        p[13] > static_cast<uint8_t>(DeadLetter::kDeliveryLimit) ||
        state == static_cast<uint8_t>(ShareRecordState::kAcquired) || first < sp.start_ ||
        length == 0 || first > sp.end_ - length ||
        static_cast<int32_t>(format::LoadBig32(p + 14)) < 0) {
      return absl::DataLossError(fmt::format(
          "share partition state is damaged: run {} (offset {}, {} records, state {}) lies "
          "outside [{}, {})",
          i, first, length, state, sp.start_, sp.end_));
    }
    ShareRecord r{static_cast<ShareRecordState>(state), static_cast<DeadLetter>(p[13]),
                  static_cast<int32_t>(format::LoadBig32(p + 14))};
    for (uint32_t k = 0; k < length; ++k) sp.records_[first + k] = r;
  }
  if (static_cast<int64_t>(sp.records_.size()) != sp.end_ - sp.start_) {
    return absl::DataLossError(fmt::format(
        "share partition state is damaged: {} records for offsets [{}, {})", sp.records_.size(),
        sp.start_, sp.end_));
  }
  return sp;
}

}  // namespace runnel::groups
