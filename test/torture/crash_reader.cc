// reader-during-crash: a read-only reader process tails the data directory while writer
// processes are SIGKILLed and recovered under it.
//
// A reader process (fork) opens the directory with BrokerOptions::read_only, assigns
// itself every partition of topic "tail" (3 partitions, sync.policy none, segment.bytes
// 64 KiB so segments roll often, no retention) from the beginning and follows it. Meanwhile
// the parent, once per round, starts a writer process that opens the directory (recovering
// what the last writer left), produces records to random partitions and is SIGKILLed after
// a random delay or number of acknowledgements. Writers number records so that each
// offset's record is known: partition p's record at offset o has stream p, seq o, key
// MakeKey(p, o) and value MakeValue(seed, p, o, size) (a writer continues from the end
// offsets it finds, and checks that each acknowledgement lands at the offset it expected).
// After the last round a final writer produces some records and closes cleanly; the parent
// reopens the directory, checks every acknowledged record is there intact (and the whole
// log is as numbered), and sends the reader the end offsets. The torture passes when:
//  - the reader saw only valid records: each payload parses and is byte-identical to the
//    one numbered for its offset (never a partial or corrupt record);
//  - per partition, the reader saw offsets 0, 1, 2, ... without a gap, duplicate or reset
//    of its position, and reached the final end offsets;
//  - the reader was never killed (say, by SIGBUS when a writer's recovery truncated or
//    rewrote a file the reader had mapped) and reports back;
//  - no acknowledged record was lost, and every writer ended only by the parent's SIGKILL
//    (the final one by exiting cleanly).
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "client/producer_testing.h"
#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/producer.h"
#include "torture/crash_util.h"
#include "torture/payload.h"
#include "torture/torture.h"
#include "util/formatters.h"

namespace runnel::torture {
namespace {

constexpr char kTopic[] = "tail";
constexpr int32_t kPartitions = 3;
constexpr uint32_t kMagic = 0x54414c52;  // "RLAT"

struct Ack {
  uint32_t magic = kMagic;
  int32_t partition = 0;
  int64_t offset = 0;
  uint64_t digest = 0;
  uint64_t pad = 0;
};
static_assert(sizeof(Ack) == 32);

// Parent -> reader: the final end offsets.
struct Ends {
  uint32_t magic = kMagic;
  uint32_t pad = 0;
  int64_t end[kPartitions] = {};
};

// Reader -> parent, once at the end.
struct Report {
  uint32_t magic = kMagic;
  uint32_t reached = 0;
  int64_t records = 0;
  int64_t problems = 0;
  int64_t corrupt = 0;
  int64_t next[kPartitions] = {};
  char first_problem[512] = {};
};
static_assert(sizeof(Report) <= PIPE_BUF);

TopicConfig TailConfig() {
  TopicConfig c;
  c.sync_policy = SyncPolicy::kNone;
  // Rolls every ~200 records, yet keeps the 1000-round form under ~2000 segments (each
  // holds three open files in the writer and in the reader).
  c.segment_bytes = 64 * 1024;
  c.segment_index_bytes = 4096;
  c.index_interval_bytes = 512;
  c.retention_ms = -1;
  c.retention_bytes = -1;
  return c;
}

[[noreturn]] void Die(const char* who, int code, const std::string& why) {
  std::fprintf(stderr, "reader-during-crash %s: %s\n", who, why.c_str());
  ::_exit(code);
}

// What offset `offset` of partition `p` must hold; empty if `key`/`value` are exactly that,
// else what is wrong.
std::string CheckRecord(uint64_t value_seed, int32_t p, int64_t offset,
                        const std::optional<std::string_view>& key,
                        const std::optional<std::string_view>& value) {
  absl::StatusOr<PayloadId> id = ParseValue(value.value_or(""));
  if (!id.ok()) return fmt::format("payload does not parse: {}", id.status().ToString());
  if (id->stream != static_cast<uint32_t>(p) || id->seq != static_cast<uint64_t>(offset)) {
    return fmt::format("holds stream {} seq {}", id->stream, id->seq);
  }
  if (key != MakeKey(id->stream, id->seq) ||
      value != MakeValue(value_seed, id->stream, id->seq, value->size())) {
    return "key or value differs from the one written";
  }
  return "";
}

// A writer: continues every partition from its end; killed by the parent, or, when
// `clean_records` > 0, produces that many records and closes cleanly.
[[noreturn]] void RunWriter(const std::string& dir, int fd, uint64_t value_seed, uint64_t seed,
                            int64_t clean_records) {
  std::mt19937_64 rng(seed);
  auto broker = Broker::Open(dir);
  if (!broker.ok()) Die("writer", 3, "Open: " + broker.status().ToString());
  auto described = (*broker)->DescribeTopic(kTopic);
  if (!described.ok()) Die("writer", 3, "DescribeTopic: " + described.status().ToString());
  std::vector<int64_t> next(kPartitions);
  for (const PartitionDescription& pd : described->partitions) {
    next[pd.partition] = pd.log_end_offset;
  }
  ProducerOptions po;
  po.linger_ms = static_cast<int64_t>(rng() % 3);
  po.batch_size = rng() % 2 == 0 ? 16384 : 1024;
  auto producer = Producer::Create(**broker, po);
  if (!producer.ok()) Die("writer", 3, "Producer: " + producer.status().ToString());
  std::atomic<int64_t> outstanding{0};
  for (int64_t n = 0; clean_records == 0 || n < clean_records; ++n) {
    const int32_t p = static_cast<int32_t>(rng() % kPartitions);
    const int64_t offset = next[p]++;
    const auto seq = static_cast<uint64_t>(offset);
    const std::string key = MakeKey(static_cast<uint32_t>(p), seq);
    const std::string value =
        MakeValue(value_seed, static_cast<uint32_t>(p), seq, DrawSize(rng, 0, 2000));
    const uint64_t digest = RecordDigest(key, value);
    ++outstanding;
    absl::Status st = (*producer)->Send(
        {.topic = kTopic, .partition = p, .key = key, .value = value},
        [fd, p, offset, digest, &outstanding](const absl::StatusOr<RecordMetadata>& md) {
          if (!md.ok()) Die("writer", 4, "send failed: " + md.status().ToString());
          if (md->partition != p || md->offset != offset) {
            Die("writer", 8,
                fmt::format("record for {}/{} offset {} landed at {}/{} offset {}", kTopic, p,
                            offset, kTopic, md->partition, md->offset));
          }
          Ack a;
          a.partition = p;
          a.offset = offset;
          a.digest = digest;
          if (!WriteMessage(fd, &a, sizeof(a))) ::_exit(6);
          --outstanding;
        });
    if (!st.ok()) Die("writer", 4, "Send: " + st.ToString());
    if (outstanding.load() > 200 || rng() % 64 == 0) {
      if (absl::Status f = (*producer)->Flush(); !f.ok()) Die("writer", 4, f.ToString());
    }
  }
  if (absl::Status st = (*producer)->Close(); !st.ok()) Die("writer", 4, st.ToString());
  if (absl::Status st = (*broker)->Close(); !st.ok()) Die("writer", 4, st.ToString());
  ::_exit(0);
}

// The reader: tails the directory read-only until told the final ends and it reached them.
[[noreturn]] void RunReader(const std::string& dir, int control_fd, int report_fd,
                            uint64_t value_seed) {
  Report report;
  auto problem = [&report](const std::string& what) {
    if (report.problems++ == 0) {
      std::snprintf(report.first_problem, sizeof(report.first_problem), "%s", what.c_str());
    }
  };
  auto send_report = [&]() {
    if (!WriteMessage(report_fd, &report, sizeof(report))) ::_exit(6);
    ::_exit(0);
  };
  BrokerOptions bo;
  bo.read_only = true;
  // Rescan every millisecond: a reader rescans a torn tail (bytes past its last valid
  // batch) on each refresh until the next writer's recovery truncates it, so this widens
  // the window in which a truncation can meet a read of the mapped tail.
  bo.read_only_refresh_interval_ms = 1;
  auto broker = Broker::Open(dir, bo);
  if (!broker.ok()) {
    problem("read-only Open: " + broker.status().ToString());
    send_report();
  }
  ConsumerOptions co;
  co.auto_offset_reset = OffsetReset::kEarliest;
  co.offset_reset_listener = [&problem](const TopicPartition& tp, int64_t from, int64_t to,
                                        std::string_view reason) {
    if (reason == "no position" && from < 0) return;  // the first position
    problem(fmt::format("{}/{}: position reset from {} to {} ({})", tp.topic, tp.partition, from,
                        to, reason));
  };
  auto consumer = Consumer::Create(**broker, co);
  if (!consumer.ok()) {
    problem("Consumer: " + consumer.status().ToString());
    send_report();
  }
  std::vector<TopicPartition> all;
  for (int32_t p = 0; p < kPartitions; ++p) all.push_back({kTopic, p});
  if (absl::Status st = (*consumer)->Assign(all); !st.ok()) {
    problem("Assign: " + st.ToString());
    send_report();
  }
  if (absl::Status st = (*consumer)->SeekToBeginning(all); !st.ok()) {
    problem("SeekToBeginning: " + st.ToString());
    send_report();
  }
  std::optional<Ends> ends;
  MessageReader control(control_fd, sizeof(Ends));
  auto deadline = std::chrono::steady_clock::time_point::max();
  while (true) {
    if (!ends) {
      Ends e;
      const ReadOutcome got = control.Next(&e, std::chrono::milliseconds(0));
      if (got == ReadOutcome::kMessage && e.magic == kMagic) {
        ends = e;
        deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      } else if (got != ReadOutcome::kTimeout) {
        problem("the parent's control message did not arrive whole");
        send_report();
      }
    }
    if (ends) {
      bool reached = true;
      for (int32_t p = 0; p < kPartitions; ++p) reached &= report.next[p] >= ends->end[p];
      if (reached) {
        report.reached = 1;
        send_report();
      }
      if (std::chrono::steady_clock::now() > deadline) send_report();
    }
    auto polled = (*consumer)->Poll(std::chrono::milliseconds(50));
    if (!polled.ok()) {
      problem("Poll: " + polled.status().ToString());
      if (absl::IsDataLoss(polled.status())) ++report.corrupt;
      send_report();
    }
    for (const ConsumerRecord& r : *polled) {
      ++report.records;
      if (r.partition < 0 || r.partition >= kPartitions) {
        problem(fmt::format("a record of partition {}", r.partition));
        continue;
      }
      int64_t& next = report.next[r.partition];
      if (r.offset != next) {
        problem(fmt::format("{}/{}: offset {} where {} was due (a gap or a duplicate)", kTopic,
                            r.partition, r.offset, next));
      }
      next = r.offset + 1;
      if (ends && r.offset >= ends->end[r.partition]) {
        problem(fmt::format("{}/{}: offset {} past the final end {}", kTopic, r.partition, r.offset,
                            ends->end[r.partition]));
      }
      if (std::string bad = CheckRecord(value_seed, r.partition, r.offset, r.key, r.value);
          !bad.empty()) {
        ++report.corrupt;
        problem(fmt::format("{}/{} offset {}: {}", kTopic, r.partition, r.offset, bad));
      }
    }
  }
}

class ReaderDuringCrash {
 public:
  ReaderDuringCrash(const Options& opts, Stats& stats)
      : opts_(opts),
        stats_(stats),
        rng_(opts.seed),
        value_seed_(opts.seed ^ 0x7a11),
        scratch_(opts.dir, "reader-during-crash"),
        dir_(scratch_.path() + "/data"),
        acked_(kPartitions) {}

  absl::Status Run() {
    absl::Status st = RunAll();
    if (!st.ok()) scratch_.keep();
    return st;
  }

 private:
  absl::Status RunAll() {
    {
      auto broker = Broker::Open(dir_);
      if (!broker.ok()) return Fail("Open: " + broker.status().ToString());
      if (absl::Status st = (*broker)->CreateTopic(kTopic, kPartitions, TailConfig()); !st.ok()) {
        return Fail("CreateTopic: " + st.ToString());
      }
      if (absl::Status st = (*broker)->Close(); !st.ok()) return Fail(st.ToString());
    }
    int control[2], report[2];
    if (::pipe2(control, O_CLOEXEC) != 0 || ::pipe2(report, O_CLOEXEC) != 0) {
      return Fail("pipe failed");
    }
    reader_ = ChildProcess::Start([&] {
      ::close(control[1]);
      ::close(report[0]);
      RunReader(dir_, control[0], report[1], value_seed_);
    });
    ::close(control[0]);
    ::close(report[1]);
    absl::Status st =
        reader_.started() ? RunWritersAndCheck(control[1], report[0]) : Fail("fork failed");
    ::close(control[1]);
    ::close(report[0]);
    return st;
  }

  absl::Status Fail(const std::string& what) {
    return Failure(opts_, fmt::format("{} (dir {})", what, dir_));
  }

  absl::Status RunWritersAndCheck(int control_fd, int report_fd) {
    for (int64_t round = 0; round < opts_.rounds; ++round) {
      if (absl::Status st = RunWriterRound(round, /*clean_records=*/0); !st.ok()) return st;
      ++stats_.rounds;
      std::string how;
      if (reader_.Ended(&how)) {
        return Fail(fmt::format("the reader died after writer {} was killed: {}", round, how));
      }
    }
    const int64_t clean_records = 50 + static_cast<int64_t>(rng_() % 250);
    if (absl::Status st = RunWriterRound(opts_.rounds, clean_records); !st.ok()) return st;
    Ends ends;
    if (absl::Status st = CheckDirectory(ends); !st.ok()) return st;
    if (!WriteMessage(control_fd, &ends, sizeof(ends))) {
      std::string how;
      reader_.Wait(&how);
      return Fail("the reader is gone: " + how);
    }
    return CheckReport(report_fd, ends);
  }

  // One writer; killed, or (clean_records > 0) left to write that many records and exit.
  absl::Status RunWriterRound(int64_t round, int64_t clean_records) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return Fail("pipe failed");
    const uint64_t seed = rng_();
    ChildProcess writer = ChildProcess::Start([&] {
      ::close(fds[0]);
      RunWriter(dir_, fds[1], value_seed_, seed, clean_records);
    });
    ::close(fds[1]);
    KillPlan plan = KillPlan::Random(rng_, /*max_acks=*/400, /*max_delay_ms=*/80);
    plan.never = clean_records > 0;
    const std::string error = RunChildToPlan(
        writer, fds[0], sizeof(Ack), plan,
        [&](const void* data, bool* is_ack) -> std::string {
          Ack a;
          std::memcpy(&a, data, sizeof(a));
          if (a.magic != kMagic || a.partition < 0 || a.partition >= kPartitions) {
            return "a malformed acknowledgement";
          }
          *is_ack = true;
          ++stats_.acked;
          acked_[a.partition][a.offset] = a.digest;
          return "";
        },
        stats_);
    ::close(fds[0]);
    if (!error.empty()) return Fail(fmt::format("writer {}: {}", round, error));
    return absl::OkStatus();
  }

  // The parent's own look at the directory once the last writer closed it.
  absl::Status CheckDirectory(Ends& ends) {
    auto broker = Broker::Open(dir_);
    if (!broker.ok()) return Fail("Open: " + broker.status().ToString());
    auto described = (*broker)->DescribeTopic(kTopic);
    if (!described.ok()) return Fail(described.status().ToString());
    for (const PartitionDescription& pd : described->partitions) {
      const int32_t p = pd.partition;
      ends.end[p] = pd.log_end_offset;
      auto records = testing::ReadTopicPartition(**broker, kTopic, p);
      if (!records.ok()) {
        ++stats_.corrupt;
        return Fail(fmt::format("reading {}/{}: {}", kTopic, p, records.status().ToString()));
      }
      int64_t expected = 0;
      for (const testing::ReadRecord& r : *records) {
        if (r.offset != expected) {
          return Fail(
              fmt::format("{}/{}: offset {} where {} was due", kTopic, p, r.offset, expected));
        }
        ++expected;
        if (std::string bad = CheckRecord(value_seed_, p, r.offset, r.key, r.value); !bad.empty()) {
          ++stats_.corrupt;
          return Fail(fmt::format("{}/{} offset {}: {}", kTopic, p, r.offset, bad));
        }
        auto acked = acked_[p].find(r.offset);
        if (acked == acked_[p].end()) continue;
        if (acked->second != RecordDigest(r.key, r.value)) {
          ++stats_.lost;
          return Fail(fmt::format("{}/{} offset {}: differs from the record acknowledged", kTopic,
                                  p, r.offset));
        }
        ++stats_.verified;
      }
      auto beyond = acked_[p].lower_bound(expected);
      if (beyond != acked_[p].end()) {
        stats_.lost += static_cast<int64_t>(std::distance(beyond, acked_[p].end()));
        return Fail(fmt::format("{}/{}: acknowledged offset {} lost (end {})", kTopic, p,
                                beyond->first, expected));
      }
    }
    if (absl::Status st = (*broker)->Close(); !st.ok()) return Fail(st.ToString());
    return absl::OkStatus();
  }

  absl::Status CheckReport(int report_fd, const Ends& ends) {
    MessageReader reader(report_fd, sizeof(Report));
    Report report;
    const ReadOutcome got = reader.Next(&report, std::chrono::seconds(120));
    std::string how;
    const int status = reader_.Wait(&how);
    if (got != ReadOutcome::kMessage || report.magic != kMagic) {
      return Fail("the reader sent no report; it " + how);
    }
    stats_.corrupt += report.corrupt;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return Fail("the reader " + how);
    if (report.problems > 0) {
      return Fail(fmt::format("the reader saw {} problems after {} records; the first: {}",
                              report.problems, report.records, report.first_problem));
    }
    if (!report.reached) {
      return Fail(fmt::format("the reader stopped at {} short of the end {}",
                              fmt::join(report.next, ","), fmt::join(ends.end, ",")));
    }
    if (opts_.verbose) {
      std::printf("reader-during-crash: the reader saw %lld records\n",
                  static_cast<long long>(report.records));
    }
    return absl::OkStatus();
  }

  const Options& opts_;
  Stats& stats_;
  std::mt19937_64 rng_;
  const uint64_t value_seed_;
  CrashDir scratch_;
  const std::string dir_;
  ChildProcess reader_;
  std::vector<std::map<int64_t, uint64_t>> acked_;  // per partition: offset -> digest
};

absl::Status ReaderDuringCrashTorture(const Options& opts, Stats& stats) {
  return ReaderDuringCrash(opts, stats).Run();
}

}  // namespace

RUNNEL_TORTURE({.name = "reader-during-crash",
                .criteria = "a read-only reader tailing while writers are SIGKILLed and recover "
                            "sees only valid records, each offset once and in order, reaches the "
                            "end and is never killed; no acknowledged record is lost",
                .short_rounds = 30,
                .short_seconds = 0,
                .long_rounds = 1000,
                .long_seconds = 0,
                .fn = &ReaderDuringCrashTorture});

}  // namespace runnel::torture
