// ClaimCheck (include/runnel/claim_check.h) against a real Broker on a temp dir: round
// trips of inline and stored values, what the log and the blob directory hold, a missing,
// corrupted or truncated blob (DataLoss naming it), garbage collection after retention
// (unreferenced blobs go, referenced ones and young orphans stay; the clock is injected),
// a failed blob fsync (the send fails and no record is produced), and a SIGKILLed
// producer (every record's reference resolves after reopening; the orphan blob it left is
// collected once past the grace period).
#include "runnel/claim_check.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "broker/broker_core.h"
#include "format/sha256.h"
#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/producer.h"
#include "support/fault_env.h"
#include "support/log_testing.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel {
namespace {

using namespace std::chrono_literals;
using testing::FaultEnv;
using testing::FaultOp;
using testing::ManualClockEnv;
using testing::TempDir;

constexpr int64_t kGraceMs = 60'000;

TopicConfig SmallConfig() {
  TopicConfig c;
  c.segment_index_bytes = 4096;
  return c;
}

std::string Big(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 31 % 251);
  return s;
}

std::string HexOf(std::string_view value) { return format::ToHex(format::Sha256Of(value)); }

// A record read back, its value resolved through the store.
struct Resolved {
  int64_t offset = -1;
  std::optional<std::string> key;
  std::optional<std::string> raw_value;  // as the log holds it
  bool has_reference = false;
  absl::StatusOr<std::optional<std::string>> value = std::optional<std::string>();
};

// Every record of topic-partition from the start, resolved.
std::vector<Resolved> ReadResolved(Broker& broker, const ClaimCheck& store,
                                   const std::string& topic, int32_t partition = 0) {
  ConsumerOptions options;
  options.auto_offset_reset = OffsetReset::kEarliest;
  auto consumer = Consumer::Create(broker, options);
  REQUIRE_OK(consumer);
  const TopicPartition tp{topic, partition};
  REQUIRE_OK((*consumer)->Assign({tp}));
  auto ends = (*consumer)->EndOffsets({tp});
  REQUIRE_OK(ends);
  std::vector<Resolved> out;
  for (int i = 0; i < 200; ++i) {
    auto position = (*consumer)->Position(tp);
    REQUIRE_OK(position);
    if (*position >= (*ends)[tp]) break;
    auto records = (*consumer)->Poll(100ms);
    REQUIRE_OK(records);
    for (const ConsumerRecord& r : *records) {
      Resolved x;
      x.offset = r.offset;
      if (r.key) x.key = std::string(*r.key);
      if (r.value) x.raw_value = std::string(*r.value);
      for (const Header& h : r.headers) x.has_reference |= h.key == kClaimCheckHeader;
      absl::StatusOr<ClaimCheck::Payload> p = store.Resolve(r);
      if (!p.ok()) {
        x.value = p.status();
      } else if (p->value()) {
        x.value = std::optional<std::string>(std::string(*p->value()));
      }
      out.push_back(std::move(x));
    }
  }
  return out;
}

std::vector<std::string> BlobNames(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.size() == 64) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct Fixture {
  TempDir tmp;
  ManualClockEnv clock{io::PosixEnv()};
  std::unique_ptr<Broker> broker;
  std::unique_ptr<Producer> producer;
  std::unique_ptr<ClaimCheck> store;

  explicit Fixture(TopicConfig config = SmallConfig(), size_t threshold = 1000) {
    auto b = Broker::Open(tmp.Sub("data"));
    REQUIRE_OK(b);
    broker = std::move(*b);
    REQUIRE_OK(broker->CreateTopic("t", 1, config));
    ProducerOptions po;
    po.linger_ms = 0;
    auto p = Producer::Create(*broker, po);
    REQUIRE_OK(p);
    producer = std::move(*p);
    ClaimCheckOptions co;
    co.threshold_bytes = threshold;
    co.grace_period_ms = kGraceMs;
    auto s = internal::OpenClaimCheckOnEnv(&clock, tmp.Sub("blobs"), co);
    REQUIRE_OK(s);
    store = std::move(*s);
  }
  std::string BlobPath(std::string_view value) const { return tmp.Sub("blobs/" + HexOf(value)); }
  Resolved Only() {
    auto all = ReadResolved(*broker, *store, "t");
    REQUIRE(all.size() == 1);
    return all[0];
  }
};

TEST_CASE("ClaimCheck round trip: small values inline, large ones through a blob",
          "[claim_check]") {
  Fixture f;
  const std::string small = "tiny";
  const std::string at_threshold(1000, 'x');
  const std::string large = Big(200'000, 'a');
  const Header app_header{"app", "kept"};
  REQUIRE_OK(f.store->SendSync(*f.producer, {.topic = "t", .key = "k0", .value = small}));
  REQUIRE_OK(f.store->SendSync(*f.producer, {.topic = "t", .key = "k1", .value = at_threshold}));
  REQUIRE_OK(f.store->SendSync(*f.producer, {.topic = "t",
                                             .key = "k2",
                                             .value = large,
                                             .headers = std::span<const Header>(&app_header, 1)}));
  REQUIRE_OK(f.store->SendSync(*f.producer, {.topic = "t", .key = "k3"}));  // null value

  const auto records = ReadResolved(*f.broker, *f.store, "t");
  REQUIRE(records.size() == 4);
  CHECK(records[0].value.value() == small);
  CHECK_FALSE(records[0].has_reference);
  CHECK(records[1].value.value() == at_threshold);
  CHECK_FALSE(records[1].has_reference);
  // The stored record carries the reference and an empty (not null) value.
  CHECK(records[2].has_reference);
  CHECK(records[2].raw_value == std::string());
  CHECK(records[2].key == "k2");
  REQUIRE_OK(records[2].value);
  CHECK(*records[2].value == large);
  CHECK_FALSE(records[3].value.value().has_value());

  // One blob, named by the value's SHA-256, holding a 16-byte header and the value.
  CHECK(BlobNames(f.tmp.Sub("blobs")) == std::vector<std::string>{HexOf(large)});
  CHECK(std::filesystem::file_size(f.BlobPath(large)) == 16 + large.size());
}

TEST_CASE("ClaimCheck reference header and Payload accessors", "[claim_check]") {
  Fixture f;
  const std::string large = Big(5000, 'q');
  REQUIRE_OK(f.store->SendSync(*f.producer, {.topic = "t", .value = large}));
  ConsumerOptions options;
  options.auto_offset_reset = OffsetReset::kEarliest;
  auto consumer = Consumer::Create(*f.broker, options);
  REQUIRE_OK(consumer);
  REQUIRE_OK((*consumer)->Assign({{"t", 0}}));
  auto records = (*consumer)->Poll(1000ms);
  REQUIRE_OK(records);
  REQUIRE(records->size() == 1);
  const ConsumerRecord& r = (*records)[0];
  REQUIRE(r.headers.size() == 1);
  const std::string expected = "sha256:" + HexOf(large) + ":5000";
  CHECK(r.headers[0].value == expected);
  auto payload = f.store->Resolve(r);
  REQUIRE_OK(payload);
  CHECK(payload->claim_checked());
  CHECK(payload->reference() == expected);
  // The payload outlives the consumer's records.
  ClaimCheck::Payload copy = *payload;
  REQUIRE_OK((*consumer)->Close());
  CHECK(*copy.value() == large);
}

TEST_CASE("ClaimCheck: a missing blob is DataLoss naming the blob and the record",
          "[claim_check]") {
  Fixture f;
  const std::string large = Big(3000, 'm');
  REQUIRE_OK(f.store->SendSync(*f.producer, {.topic = "t", .value = large}));
  std::filesystem::remove(f.BlobPath(large));
  const Resolved r = f.Only();
  CHECK_STATUS_IS(r.value, absl::StatusCode::kDataLoss, HexOf(large), "is missing", "t-0@0");
}

TEST_CASE("ClaimCheck: a corrupted or truncated blob is DataLoss", "[claim_check]") {
  Fixture f;
  const std::string large = Big(3000, 'c');
  REQUIRE_OK(f.store->SendSync(*f.producer, {.topic = "t", .value = large}));
  const std::string path = f.BlobPath(large);

  SECTION("a flipped byte in the value") {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(16 + 1234);
    file.put('\x7f' ^ large[1234]);
    file.close();
    CHECK_STATUS_IS(f.Only().value, absl::StatusCode::kDataLoss, HexOf(large),
                    "does not match its hash");
  }
  SECTION("cut short") {
    std::filesystem::resize_file(path, 16 + 100);
    CHECK_STATUS_IS(f.Only().value, absl::StatusCode::kDataLoss, HexOf(large), "holds 116 bytes");
  }
  SECTION("a bad header") {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.put('X');
    file.close();
    CHECK_STATUS_IS(f.Only().value, absl::StatusCode::kDataLoss, "bad header");
  }
}

TEST_CASE("ClaimCheck: a malformed reference header is DataLoss", "[claim_check]") {
  Fixture f;
  const Header bogus{kClaimCheckHeader, "sha256:nothex:12"};
  REQUIRE_OK(f.producer->SendSync(
      {.topic = "t", .value = "", .headers = std::span<const Header>(&bogus, 1)}));
  CHECK_STATUS_IS(f.Only().value, absl::StatusCode::kDataLoss, "malformed", "sha256:nothex:12");
}

TEST_CASE("ClaimCheck::Send refuses a record that already carries a reference",
          "[claim_check]") {
  Fixture f;
  const Header h{kClaimCheckHeader, "sha256:x:1"};
  absl::Status from_callback;
  CHECK_STATUS_IS(f.store->Send(*f.producer,
                                {.topic = "t", .value = "v", .headers = std::span<const Header>(&h, 1)},
                                [&](const absl::StatusOr<RecordMetadata>& m) {
                                  from_callback = m.status();
                                }),
                  absl::StatusCode::kInvalidArgument, std::string(kClaimCheckHeader));
  CHECK(from_callback.code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("ClaimCheck: a failed blob fsync fails the send and produces no record",
          "[claim_check]") {
  TempDir tmp;
  auto broker = Broker::Open(tmp.Sub("data"));
  REQUIRE_OK(broker);
  REQUIRE_OK((*broker)->CreateTopic("t", 1, SmallConfig()));
  auto producer = Producer::Create(**broker);
  REQUIRE_OK(producer);
  FaultEnv faults;
  ClaimCheckOptions co;
  co.threshold_bytes = 10;
  auto store = internal::OpenClaimCheckOnEnv(&faults, tmp.Sub("blobs"), co);
  REQUIRE_OK(store);
  const std::string large = Big(500, 'f');

  SECTION("the blob's fsync") {
    faults.FailNth(FaultOp::kSync, 1, FaultEnv::IoError("blob", "fsync"), false, "blobs");
  }
  SECTION("the directory's fsync") {
    faults.FailNth(FaultOp::kSyncDir, 1, FaultEnv::IoError("blobs", "fsync"), false, "blobs");
  }
  SECTION("the write: disk full") {
    faults.FailNth(FaultOp::kWrite, 1, FaultEnv::NoSpace("blob"), false, "blobs");
  }
  int callbacks = 0;
  absl::Status sent = (*store)->Send(**producer, {.topic = "t", .value = large},
                                     [&](const absl::StatusOr<RecordMetadata>& m) {
                                       ++callbacks;
                                       CHECK_FALSE(m.ok());
                                     });
  CHECK_FALSE(sent.ok());
  CHECK_THAT(std::string(sent.message()), Catch::Contains(HexOf(large)));
  CHECK(callbacks == 1);
  CHECK_OK((*producer)->Flush());
  auto d = (*broker)->DescribeTopic("t");
  REQUIRE_OK(d);
  CHECK(d->partitions[0].log_end_offset == 0);
  // No temp file is left behind, and the next send works.
  for (const auto& e : std::filesystem::directory_iterator(tmp.Sub("blobs"))) {
    CHECK(e.path().filename().string().rfind("tmp.", 0) != 0);
  }
  CHECK_OK((*store)->SendSync(**producer, {.topic = "t", .value = large}));
}

TEST_CASE("ClaimCheck::CollectGarbage removes blobs whose records retention deleted",
          "[claim_check]") {
  TopicConfig config = SmallConfig();
  // Every batch here is 151 to 300 bytes and SendSync sends one record per batch: one
  // batch per segment.
  config.segment_bytes = 300;
  Fixture f(config, /*threshold=*/150);
  std::vector<std::string> values;
  for (int i = 0; i < 6; ++i) {
    values.push_back(Big(1000 + i, static_cast<char>('A' + i)));
    // The reference at offset 3i, two inline records after it.
    REQUIRE_OK(f.store->SendSync(*f.producer, {.topic = "t", .value = values.back()}));
    REQUIRE_OK(f.store->SendSync(*f.producer, {.topic = "t", .value = std::string(120, 'p')}));
    REQUIRE_OK(f.store->SendSync(*f.producer, {.topic = "t", .value = std::string(120, 'p')}));
  }
  // The value of record 0 is sent again much later: its blob is then referenced again.
  f.clock.Advance(kGraceMs + 1);
  REQUIRE_OK(f.store->SendSync(*f.producer, {.topic = "t", .value = values[0]}));
  CHECK(BlobNames(f.tmp.Sub("blobs")).size() == 6);

  // Retention: drop the segments holding the first three references.
  auto topic = f.broker->core()->FindTopic("t");
  REQUIRE_OK(topic);
  storage::PartitionLog& log = (*topic)->partitions[0]->log();
  REQUIRE_OK(log.DeleteSegmentsBefore(9));
  REQUIRE(log.log_start_offset() == 9);

  // An orphan stored now (its record not sent yet): young, so kept.
  const std::string orphan = Big(777, 'o');
  REQUIRE_OK(f.store->Store(orphan));

  f.clock.Advance(1);
  auto report = f.store->CollectGarbage(*f.broker, {"t"});
  REQUIRE_OK(report);
  CHECK(report->blobs == 7);
  CHECK(report->blobs_removed == 2);  // values 1 and 2; value 0 is referenced again
  CHECK(report->young_unreferenced == 1);
  CHECK(report->references == 4);    // values 3, 4, 5 and the resend of 0
  CHECK(report->bytes_removed == 16 + 1001 + 16 + 1002);
  std::vector<std::string> expected{HexOf(values[0]), HexOf(values[3]), HexOf(values[4]),
                                    HexOf(values[5]), HexOf(orphan)};
  std::sort(expected.begin(), expected.end());
  CHECK(BlobNames(f.tmp.Sub("blobs")) == expected);
  for (const Resolved& r : ReadResolved(*f.broker, *f.store, "t")) {
    INFO("offset " << r.offset);
    CHECK_OK(r.value);
  }

  // Past the grace period the orphan goes too; the referenced blobs stay.
  f.clock.Advance(kGraceMs + 1);
  report = f.store->CollectGarbage(*f.broker, {"t"});
  REQUIRE_OK(report);
  CHECK(report->blobs_removed == 1);
  CHECK(report->young_unreferenced == 0);
  CHECK(BlobNames(f.tmp.Sub("blobs")).size() == 4);

  CHECK_STATUS_IS(f.store->CollectGarbage(*f.broker, {"t", "nope"}), absl::StatusCode::kNotFound,
                  "nope");
}

TEST_CASE("ClaimCheck::CollectGarbage removes temp files a crashed write left",
          "[claim_check]") {
  Fixture f;
  const int64_t now = f.clock.NowMillis();
  const std::string old_tmp = f.tmp.Sub(fmt::format("blobs/tmp.{}.1.0", now - kGraceMs - 1));
  const std::string new_tmp = f.tmp.Sub(fmt::format("blobs/tmp.{}.1.1", now));
  std::ofstream(old_tmp) << "partial";
  std::ofstream(new_tmp) << "partial";
  auto report = f.store->CollectGarbage(*f.broker, {"t"});
  REQUIRE_OK(report);
  CHECK(report->temp_files_removed == 1);
  CHECK_FALSE(std::filesystem::exists(old_tmp));
  CHECK(std::filesystem::exists(new_tmp));
}

TEST_CASE("ClaimCheck: a second Open of the same directory is refused", "[claim_check]") {
  Fixture f;
  CHECK_STATUS_IS(ClaimCheck::Open(f.tmp.Sub("blobs")), absl::StatusCode::kFailedPrecondition);
}

// --- A producer SIGKILLed between blob writes and produces ------------------------------

[[noreturn]] void RunCrashChild(const std::string& data, const std::string& blobs, int fd,
                                uint64_t seed) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  auto broker = Broker::Open(data);
  if (!broker.ok()) ::_exit(3);
  auto producer = Producer::Create(**broker);
  ClaimCheckOptions co;
  co.threshold_bytes = 64;
  auto store = ClaimCheck::Open(blobs, co);
  if (!producer.ok() || !store.ok()) ::_exit(4);
  // The deterministic orphan: stored, and the child "dies" before producing it... here,
  // it simply never produces it.
  if (!(*store)->Store("orphan value that no record will ever name").ok()) ::_exit(6);
  std::mt19937_64 rng(seed);
  for (int64_t i = 0;; ++i) {
    const std::string value = fmt::format("{}:{}", i, std::string(64 + rng() % 4000, 'v'));
    (*store)
        ->Send(**producer, {.topic = "t", .value = value},
               [fd](const absl::StatusOr<RecordMetadata>& m) {
                 if (m.ok()) (void)!::write(fd, "a", 1);
               })
        .IgnoreError();
  }
}

TEST_CASE("ClaimCheck survives a SIGKILL between blob write and record produce",
          "[claim_check][crash]") {
  TempDir tmp;
  {
    auto broker = Broker::Open(tmp.Sub("data"));
    REQUIRE_OK(broker);
    REQUIRE_OK((*broker)->CreateTopic("t", 1, SmallConfig()));
  }
  const uint64_t seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 3; ++round) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      ::close(fds[0]);
      RunCrashChild(tmp.Sub("data"), tmp.Sub("blobs"), fds[1], seed + round);
    }
    ::close(fds[1]);
    // Let it acknowledge a random number of records, then kill it mid-flight.
    const int acks = 5 + static_cast<int>(rng() % 40);
    char c;
    int seen = 0;
    while (seen < acks && ::read(fds[0], &c, 1) == 1) ++seen;
    ::kill(child, SIGKILL);
    int wstatus = 0;
    ::waitpid(child, &wstatus, 0);
    ::close(fds[0]);
    REQUIRE(seen == acks);
  }

  ManualClockEnv clock(io::PosixEnv(), io::PosixEnv()->NowMillis());
  auto broker = Broker::Open(tmp.Sub("data"));
  REQUIRE_OK(broker);
  ClaimCheckOptions co;
  co.grace_period_ms = kGraceMs;
  auto store = internal::OpenClaimCheckOnEnv(&clock, tmp.Sub("blobs"), co);
  REQUIRE_OK(store);
  const auto records = ReadResolved(**broker, **store, "t");
  CHECK(records.size() >= 15);
  std::set<std::string> referenced;
  for (const Resolved& r : records) {
    INFO("offset " << r.offset);
    REQUIRE(r.has_reference);  // every value was over the threshold
    REQUIRE_OK(r.value);       // and every reference resolves
    referenced.insert(HexOf(**r.value));
  }
  const std::string orphan = HexOf("orphan value that no record will ever name");
  CHECK(std::filesystem::exists(tmp.Sub("blobs/" + orphan)));

  // Young: nothing referenced goes, and the orphan stays for now.
  auto report = (*store)->CollectGarbage(**broker, {"t"});
  REQUIRE_OK(report);
  CHECK(report->references == static_cast<int64_t>(records.size()));
  CHECK(std::filesystem::exists(tmp.Sub("blobs/" + orphan)));
  // Past the grace period: every unreferenced blob (the orphan, and any blob whose record
  // the kill cut off) goes; every referenced one stays.
  clock.Advance(kGraceMs + 1000);
  report = (*store)->CollectGarbage(**broker, {"t"});
  REQUIRE_OK(report);
  CHECK(report->blobs_removed >= 1);
  CHECK_FALSE(std::filesystem::exists(tmp.Sub("blobs/" + orphan)));
  std::set<std::string> left;
  for (const std::string& name : BlobNames(tmp.Sub("blobs"))) left.insert(name);
  CHECK(left == referenced);
  for (const auto& e : std::filesystem::directory_iterator(tmp.Sub("blobs"))) {
    CHECK(e.path().filename().string().rfind("tmp.", 0) != 0);
  }
  for (const Resolved& r : ReadResolved(**broker, **store, "t")) CHECK_OK(r.value);
}

}  // namespace
}  // namespace runnel
