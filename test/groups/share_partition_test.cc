// SharePartition, the state machine of one partition in one share group: acquisition
// under locks, acknowledgements, lock expiry, the delivery count limit, the in-flight
// bound, retention, and the stored form.
#include <catch2/catch.hpp>

#include <random>
#include <set>

#include "groups/share_partition.h"
#include "support/status_matchers.h"

namespace runnel::groups {
namespace {

SharePartitionLimits Limits(int64_t lock_ms = 1000, int32_t count_limit = 3, int32_t max = 100) {
  return {lock_ms, count_limit, max};
}

std::vector<int64_t> Offsets(const std::vector<AcquiredRecord>& records) {
  std::vector<int64_t> out;
  for (const auto& r : records) out.push_back(r.offset);
  return out;
}

TEST_CASE("SharePartition hands each record to one member at a time, oldest first") {
  SharePartition sp(10);
  const auto limits = Limits();
  auto a = sp.Acquire(1, 0, 3, 0, 20, limits);
  CHECK(Offsets(a) == std::vector<int64_t>{10, 11, 12});
  for (const auto& r : a) CHECK(r.delivery_count == 1);
  auto b = sp.Acquire(2, 0, 100, 0, 15, limits);
  CHECK(Offsets(b) == std::vector<int64_t>{13, 14});
  CHECK(sp.Acquire(3, 0, 100, 0, 15, limits).empty());  // nothing left below the log end
  CHECK(sp.end_offset() == 15);

  CHECK_OK(sp.Acknowledge(1, 10, ShareAck::kAccept, limits));
  CHECK(sp.start_offset() == 11);
  CHECK_OK(sp.Acknowledge(1, 12, ShareAck::kAccept, limits));
  CHECK(sp.start_offset() == 11);  // 11 is still out
  CHECK_STATUS_IS(sp.Acknowledge(2, 11, ShareAck::kAccept, limits),
                  absl::StatusCode::kFailedPrecondition);  // member 1 holds it
  CHECK_OK(sp.Acknowledge(1, 11, ShareAck::kRelease, limits));
  auto again = sp.Acquire(3, 0, 100, 0, 15, limits);
  REQUIRE(Offsets(again) == std::vector<int64_t>{11});
  CHECK(again[0].delivery_count == 2);
  CHECK_OK(sp.Acknowledge(3, 11, ShareAck::kAccept, limits));
  CHECK(sp.start_offset() == 13);
  CHECK_STATUS_IS(sp.Acknowledge(3, 11, ShareAck::kAccept, limits),
                  absl::StatusCode::kFailedPrecondition);  // done already
}

TEST_CASE("SharePartition releases expired locks, and dead-letters at the delivery limit") {
  SharePartition sp(0);
  const auto limits = Limits(/*lock_ms=*/100, /*count_limit=*/2);
  CHECK(sp.Acquire(1, 0, 1, 0, 1, limits).size() == 1);
  CHECK(sp.NextExpiry() == 100);
  CHECK(sp.Acquire(2, 99, 1, 0, 1, limits).empty());  // still locked
  auto second = sp.Acquire(2, 100, 1, 0, 1, limits);  // expired: redelivered
  REQUIRE(second.size() == 1);
  CHECK(second[0].delivery_count == 2);
  CHECK(second[0].dead_letter == DeadLetter::kNo);
  CHECK_STATUS_IS(sp.Acknowledge(1, 0, ShareAck::kAccept, limits),
                  absl::StatusCode::kFailedPrecondition);  // member 1's lock is gone
  // Its second lock expires too: the limit is reached, so it comes back as a dead letter.
  auto third = sp.Acquire(3, 300, 1, 0, 1, limits);
  REQUIRE(third.size() == 1);
  CHECK(third[0].dead_letter == DeadLetter::kDeliveryLimit);
  CHECK(third[0].delivery_count == 2);
  CHECK_STATUS_IS(sp.Acknowledge(3, 0, ShareAck::kAccept, limits),
                  absl::StatusCode::kInvalidArgument);
  CHECK_OK(sp.Acknowledge(3, 0, ShareAck::kArchive, limits));
  CHECK(sp.start_offset() == 1);
  CHECK(sp.in_flight().empty());
}

TEST_CASE("SharePartition: a rejected record becomes a dead-letter task, not a delivery") {
  SharePartition sp(0);
  const auto limits = Limits();
  sp.Acquire(1, 0, 2, 0, 2, limits);
  CHECK_OK(sp.Acknowledge(1, 0, ShareAck::kReject, limits));
  auto next = sp.Acquire(2, 0, 10, 0, 2, limits);
  REQUIRE(next.size() == 1);
  CHECK(next[0].offset == 0);
  CHECK(next[0].dead_letter == DeadLetter::kRejected);
  CHECK(next[0].delivery_count == 1);  // a dead-letter task is not a delivery
}

TEST_CASE("SharePartition: a member that leaves gives back what it holds") {
  SharePartition sp(0);
  const auto limits = Limits();
  sp.Acquire(1, 0, 3, 0, 3, limits);
  sp.ReleaseMember(1, limits);
  CHECK(sp.HasAvailable());
  CHECK(Offsets(sp.Acquire(2, 0, 10, 0, 3, limits)) == std::vector<int64_t>{0, 1, 2});
}

TEST_CASE("SharePartition bounds the records in flight, and skips what retention deleted") {
  SharePartition sp(0);
  const auto limits = Limits(1000, 3, /*max=*/4);
  CHECK(sp.Acquire(1, 0, 100, 0, 100, limits).size() == 4);
  CHECK(sp.Acquire(1, 0, 100, 0, 100, limits).empty());  // at the bound
  CHECK_OK(sp.Acknowledge(1, 0, ShareAck::kAccept, limits));
  CHECK(Offsets(sp.Acquire(1, 0, 100, 0, 100, limits)) == std::vector<int64_t>{4});
  CHECK(sp.Acquire(1, 0, 100, 0, 100, limits).empty());  // 1-4 out: at the bound again
  CHECK_OK(sp.Acknowledge(1, 3, ShareAck::kAccept, limits));  // done, though start stays at 1
  CHECK(sp.start_offset() == 1);
  bool blocked = false;
  CHECK(Offsets(sp.Acquire(1, 0, 100, 0, 100, limits, &blocked)) == std::vector<int64_t>{5});
  CHECK(blocked);
  // Retention moved the log start past everything here.
  auto after = sp.Acquire(2, 0, 2, 50, 100, limits);
  CHECK(Offsets(after) == std::vector<int64_t>{50, 51});
  CHECK(sp.start_offset() == 50);
}

TEST_CASE("SharePartition's state spans at most kMaxShareStateRecords offsets") {
  SharePartition sp(0);
  const auto limits = Limits(1000, 3, /*max=*/1 << 30);  // the in-flight bound is no help
  bool blocked = false;
  const auto got = sp.Acquire(1, 0, std::numeric_limits<int32_t>::max(), 0,
                              2 * kMaxShareStateRecords, limits, &blocked);
  CHECK(static_cast<int64_t>(got.size()) == kMaxShareStateRecords);
  CHECK(blocked);
  CHECK(sp.end_offset() - sp.start_offset() == kMaxShareStateRecords);
  std::string bytes = sp.Encode();
  REQUIRE_OK(SharePartition::Decode(bytes).status());
  // One run of every record; claiming one offset more, end and run length agree, but the
  // state is damaged: decoding would hold an entry per offset, however many it claims.
  REQUIRE(bytes.size() == 21 + 18);
  bytes[16] = static_cast<char>(bytes[16] + 1);  // the end offset's low byte
  bytes[32] = static_cast<char>(bytes[32] + 1);  // the run length's low byte
  CHECK_STATUS_IS(SharePartition::Decode(bytes).status(), absl::StatusCode::kDataLoss);
}

TEST_CASE("SharePartition's stored form keeps states and counts, not locks") {
  SharePartition sp(5);
  const auto limits = Limits();
  sp.Acquire(1, 0, 6, 0, 11, limits);              // 5..10 out with member 1
  CHECK_OK(sp.Acknowledge(1, 6, ShareAck::kAccept, limits));
  CHECK_OK(sp.Acknowledge(1, 7, ShareAck::kReject, limits));
  CHECK_OK(sp.Acknowledge(1, 8, ShareAck::kRelease, limits));
  auto decoded = SharePartition::Decode(sp.Encode());
  REQUIRE_OK(decoded.status());
  CHECK(decoded->start_offset() == 5);
  CHECK(decoded->end_offset() == 11);
  REQUIRE(decoded->in_flight().size() == 6);
  CHECK(decoded->in_flight().at(5).state == ShareRecordState::kAvailable);  // lock dropped
  CHECK(decoded->in_flight().at(5).delivery_count == 1);
  CHECK(decoded->in_flight().at(6).state == ShareRecordState::kAcknowledged);
  CHECK(decoded->in_flight().at(7).dead_letter == DeadLetter::kRejected);
  CHECK(decoded->NextExpiry() == std::numeric_limits<int64_t>::max());

  std::string bytes = sp.Encode();
  CHECK_STATUS_IS(SharePartition::Decode(bytes.substr(0, bytes.size() - 1)).status(),
                  absl::StatusCode::kDataLoss);
  bytes[0] = 9;
  CHECK_STATUS_IS(SharePartition::Decode(bytes).status(), absl::StatusCode::kDataLoss);
}

TEST_CASE("SharePartition under random acquire, acknowledge and expiry ends with every record done") {
  std::mt19937 rng(42);
  SharePartition sp(0);
  const auto limits = Limits(/*lock_ms=*/50, /*count_limit=*/4, /*max=*/30);
  constexpr int64_t kRecords = 500;
  std::map<int64_t, int> accepted;
  std::set<int64_t> dead;
  int64_t now = 0;
  std::map<uint64_t, std::vector<AcquiredRecord>> held;
  while (sp.start_offset() < kRecords) {
    now += 7;
    const uint64_t member = 1 + rng() % 3;
    for (const auto& r : sp.Acquire(member, now, 1 + static_cast<int32_t>(rng() % 8), 0, kRecords, limits)) {
      held[member].push_back(r);
    }
    auto& mine = held[member];
    for (size_t i = 0; i < mine.size();) {
      const AcquiredRecord r = mine[i];
      const int choice = static_cast<int>(rng() % 10);
      if (choice < 2) {  // forget it: the lock will expire
        mine.erase(mine.begin() + static_cast<ptrdiff_t>(i));
        continue;
      }
      ShareAck ack = choice < 7 ? ShareAck::kAccept : choice < 9 ? ShareAck::kRelease : ShareAck::kReject;
      if (r.dead_letter != DeadLetter::kNo) ack = ShareAck::kArchive;
      if (sp.Acknowledge(member, r.offset, ack, limits).ok()) {
        if (ack == ShareAck::kAccept) ++accepted[r.offset];
        if (ack == ShareAck::kArchive) dead.insert(r.offset);
        CHECK(r.delivery_count <= limits.delivery_count_limit);
      }
      mine.erase(mine.begin() + static_cast<ptrdiff_t>(i));
    }
  }
  for (int64_t o = 0; o < kRecords; ++o) {
    INFO("offset " << o);
    CHECK(accepted.count(o) + dead.count(o) == 1);  // accepted once, or dead-lettered
    if (accepted.count(o)) CHECK(accepted[o] == 1);
  }
}

}  // namespace
}  // namespace runnel::groups
