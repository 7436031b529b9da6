// process-crash: a writer process SIGKILLed at a random moment, the data directory reopened.
//
// A round: a child process (fork) opens the data directory and runs a mixed workload until
// the parent SIGKILLs it, after a random number of acknowledgements or a random delay (now
// and then at once, during Open and recovery):
//  - topic "always": 2 partitions, sync.policy always, segment.bytes 16 KiB (rolls often);
//  - topic "retained": 2 partitions, sync.policy none, segment.bytes 8 KiB and
//    retention.bytes 32 KiB, with log.retention.check.interval.ms 5 so retention deletes
//    segments while the child writes;
//  - records of DrawSize sizes, keys MakeKey(stream, seq), values MakeValue (self-checking);
//  - a consumer-group member subscribed to "always" that polls and CommitSync-s what it read.
// The child streams to the parent, each as one 32-byte write(): every acknowledged record
// (topic, partition, offset, RecordDigest), and every commit, before ("attempting X") and
// after it succeeded ("committed X"). The parent then opens the directory itself and the
// round passes when:
//  1. every acknowledged record at an offset >= its partition's log start offset is there,
//     at its offset, with the digest acknowledged;
//  2. each partition holds offsets log start .. end-1, contiguous, each record a valid
//     payload that the child (or the parent's own append) really produced for that
//     partition: key and value equal MakeKey/MakeValue for the (stream, seq) it carries,
//     with seqs strictly increasing (no duplicate, no reordering);
//  3. the log start offset stays 0 on "always"; on "retained" it only grows, is the base of
//     the first segment file, was a segment boundary (a segment that existed before the
//     round, or one made during it), and leaves at least retention.bytes in the partition
//     (retention deletes only what it may: it may pass the last acknowledged offset only
//     by records written but not yet acknowledged, of which there are then more than
//     retention.bytes);
//  4. the group's committed offset of each partition is the last one acknowledged as
//     committed or the one being attempted, never anything else, and a commit of several
//     partitions is applied to all of them or to none;
//  5. appends continue: a record the parent produces lands at the end and reads back.
// The child itself checks each record its consumer returns (payload and identity). The
// same directory carries over 25 rounds (recovery runs on what earlier crashes and
// recoveries left); then `runnel verify` checks it and a fresh one starts.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/producer_testing.h"
#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/group_admin.h"
#include "runnel/producer.h"
#include "torture/crash_util.h"
#include "torture/payload.h"
#include "torture/torture.h"
#include "torture/verify_tool.h"
#include "util/formatters.h"

namespace runnel::torture {
namespace {

constexpr int kTopics = 2;
constexpr int32_t kPartitions = 2;
constexpr const char* kTopicNames[kTopics] = {"always", "retained"};
constexpr int kAlways = 0;
constexpr int kRetained = 1;
constexpr int64_t kRetentionBytes = 32 * 1024;
constexpr char kGroup[] = "crash-group";
constexpr uint64_t kPerRound = 1'000'000;  // seqs of round r: r * kPerRound + 0, 1, ...
constexpr int64_t kRoundsPerDir = 25;
constexpr uint32_t kMagic = 0x43525348;  // "CRSH"

enum Kind : uint8_t { kAck = 1, kAttempt = 2, kCommitted = 3 };

// One message from the child; 32 bytes, written with one write().
struct Msg {
  uint32_t magic = kMagic;
  uint8_t kind = 0;
  uint8_t topic = 0;
  uint16_t partition = 0;
  int64_t offset = 0;   // the record's offset, or the committed offset
  uint64_t digest = 0;  // RecordDigest of the acknowledged record
  uint64_t seq = 0;     // the record's seq, or the commit's number
};
static_assert(sizeof(Msg) == 32);

uint32_t StreamOf(int topic, int32_t partition) {
  return static_cast<uint32_t>(topic * 16 + partition);
}

TopicConfig ConfigOf(int topic) {
  TopicConfig c;
  c.segment_index_bytes = 4096;
  c.index_interval_bytes = 1024;
  if (topic == kAlways) {
    c.sync_policy = SyncPolicy::kAlways;
    c.segment_bytes = 16 * 1024;
  } else {
    c.sync_policy = SyncPolicy::kNone;
    c.segment_bytes = 8 * 1024;
    c.retention_bytes = kRetentionBytes;
  }
  return c;
}

size_t MaxRecord(int topic) { return topic == kAlways ? 2048 : 3000; }

BrokerOptions WriterBrokerOptions() {
  BrokerOptions o;
  o.log_retention_check_interval_ms = 5;
  o.offsets_topic_segment_bytes = 16 * 1024;  // commits rewrite __consumer_offsets often
  o.default_topic_config.segment_index_bytes = 4096;
  return o;
}

[[noreturn]] void Die(int code, const std::string& why) {
  std::fprintf(stderr, "process-crash child: %s\n", why.c_str());
  ::_exit(code);
}

// The child's workload; never returns.
[[noreturn]] void RunWriter(const std::string& dir, int fd, uint64_t value_seed, uint64_t round,
                            uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto broker = Broker::Open(dir, WriterBrokerOptions());
  if (!broker.ok()) Die(3, "Open: " + broker.status().ToString());
  ProducerOptions po;
  po.linger_ms = static_cast<int64_t>(rng() % 3);
  po.batch_size = rng() % 2 == 0 ? 16384 : 1024;
  auto producer = Producer::Create(**broker, po);
  if (!producer.ok()) Die(3, "Producer: " + producer.status().ToString());
  ConsumerOptions co;
  co.group_id = kGroup;
  co.enable_auto_commit = false;
  co.auto_offset_reset = OffsetReset::kEarliest;
  co.max_poll_records = 1 + static_cast<int32_t>(rng() % 100);
  auto consumer = Consumer::Create(**broker, co);
  if (!consumer.ok()) Die(3, "Consumer: " + consumer.status().ToString());
  if (absl::Status st = (*consumer)->Subscribe({kTopicNames[kAlways]}); !st.ok()) {
    Die(3, "Subscribe: " + st.ToString());
  }

  std::atomic<int64_t> outstanding{0};
  uint64_t next_seq[kTopics][kPartitions] = {};
  uint64_t commit_number = 0;
  while (true) {
    const int burst = 1 + static_cast<int>(rng() % 32);
    for (int i = 0; i < burst; ++i) {
      const int t = static_cast<int>(rng() % kTopics);
      const int32_t p = static_cast<int32_t>(rng() % kPartitions);
      if (next_seq[t][p] + 1 >= kPerRound) continue;  // the parent's seq is the last
      const uint64_t seq = round * kPerRound + next_seq[t][p]++;
      const std::string key = MakeKey(StreamOf(t, p), seq);
      const std::string value =
          MakeValue(value_seed, StreamOf(t, p), seq, DrawSize(rng, 0, MaxRecord(t)));
      const uint64_t digest = RecordDigest(key, value);
      ++outstanding;
      absl::Status st = (*producer)->Send(
          {.topic = kTopicNames[t], .partition = p, .key = key, .value = value},
          [fd, t, p, digest, seq, &outstanding](const absl::StatusOr<RecordMetadata>& md) {
            if (!md.ok()) Die(4, "send failed: " + md.status().ToString());
            if (md->partition != p) Die(4, "record landed in another partition");
            Msg m;
            m.kind = kAck;
            m.topic = static_cast<uint8_t>(t);
            m.partition = static_cast<uint16_t>(p);
            m.offset = md->offset;
            m.digest = digest;
            m.seq = seq;
            if (!WriteMessage(fd, &m, sizeof(m))) ::_exit(6);
            --outstanding;
          });
      if (!st.ok()) Die(4, "Send: " + st.ToString());
    }
    if (outstanding.load() > 200 || rng() % 8 == 0) {
      if (absl::Status st = (*producer)->Flush(); !st.ok()) Die(4, "Flush: " + st.ToString());
    }

    auto polled = (*consumer)->Poll(std::chrono::milliseconds(rng() % 3));
    if (!polled.ok()) Die(4, "Poll: " + polled.status().ToString());
    std::map<TopicPartition, OffsetAndMetadata> offsets;
    for (const ConsumerRecord& r : *polled) {
      absl::StatusOr<PayloadId> id = ParseValue(r.value.value_or(""));
      const uint32_t stream = StreamOf(kAlways, r.partition);
      if (!id.ok() || id->stream != stream ||
          r.value != MakeValue(value_seed, stream, id->seq, r.value->size()) ||
          r.key != MakeKey(stream, id->seq)) {
        Die(7, fmt::format("the group consumer returned a corrupt record at {}/{} offset {}",
                           r.topic, r.partition, r.offset));
      }
      offsets[{std::string(r.topic), r.partition}] = OffsetAndMetadata{r.offset + 1, ""};
    }
    if (offsets.empty()) continue;
    ++commit_number;
    auto report = [&](Kind kind) {
      for (const auto& [tp, om] : offsets) {
        Msg m;
        m.kind = kind;
        m.topic = kAlways;
        m.partition = static_cast<uint16_t>(tp.partition);
        m.offset = om.offset;
        m.seq = commit_number;
        if (!WriteMessage(fd, &m, sizeof(m))) ::_exit(6);
      }
    };
    report(kAttempt);
    if (absl::Status st = (*consumer)->CommitSync(offsets); !st.ok()) {
      Die(4, "CommitSync: " + st.ToString());
    }
    report(kCommitted);
  }
}

struct AckedRecord {
  uint64_t digest = 0;
  bool verified = false;
};

struct PartitionState {
  std::map<int64_t, AckedRecord> acked;  // offset -> what was acknowledged there
  int64_t log_start = 0;                 // as the parent last saw it
  int64_t end = 0;
  std::vector<int64_t> bases;  // segment base offsets as the parent last saw them
};

struct CommitState {
  std::optional<int64_t> last;       // the last offset acknowledged as committed
  std::optional<int64_t> attempted;  // an attempt not (yet) acknowledged
  uint64_t attempt_number = 0;
};

class ProcessCrash {
 public:
  ProcessCrash(const Options& opts, Stats& stats)
      : opts_(opts),
        stats_(stats),
        rng_(opts.seed),
        value_seed_(opts.seed ^ 0x5eed),
        scratch_(opts.dir, "process-crash") {}

  absl::Status Run() {
    absl::Status st = RunRounds();
    if (!st.ok()) scratch_.keep();
    return st;
  }

 private:
  absl::Status RunRounds() {
    for (int64_t round = 0; round < opts_.rounds; ++round) {
      if (round % kRoundsPerDir == 0) {
        if (absl::Status st = FreshDirectory(round / kRoundsPerDir); !st.ok()) return st;
      }
      if (absl::Status st = RunRound(static_cast<uint64_t>(round)); !st.ok()) return st;
      ++stats_.rounds;
    }
    return RetireDirectory();
  }

  absl::Status Fail(const std::string& what) {
    return Failure(opts_, fmt::format("round {} (dir {}): {}", round_, dir_, what));
  }

  absl::Status RetireDirectory() {
    if (dir_.empty()) return absl::OkStatus();
    if (const VerifyRun v = RunVerifyTool(dir_); v.exit_code != 0) {
      return Fail(fmt::format("`runnel verify {}` exited with {}: {}", dir_, v.exit_code, v.output));
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    return absl::OkStatus();
  }

  absl::Status FreshDirectory(int64_t generation) {
    if (absl::Status st = RetireDirectory(); !st.ok()) return st;
    dir_ = fmt::format("{}/gen{}", scratch_.path(), generation);
    parts_.assign(kTopics, std::vector<PartitionState>(kPartitions));
    commits_.clear();
    auto broker = Broker::Open(dir_);
    if (!broker.ok()) return Fail("Open: " + broker.status().ToString());
    for (int t = 0; t < kTopics; ++t) {
      if (absl::Status st = (*broker)->CreateTopic(kTopicNames[t], kPartitions, ConfigOf(t));
          !st.ok()) {
        return Fail("CreateTopic: " + st.ToString());
      }
    }
    return (*broker)->Close();
  }

  absl::Status RunRound(uint64_t round) {
    round_ = round;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return Fail("pipe failed");
    const uint64_t child_seed = rng_();
    ChildProcess child = ChildProcess::Start([&] {
      ::close(fds[0]);
      RunWriter(dir_, fds[1], value_seed_, round, child_seed);
    });
    ::close(fds[1]);
    if (!child.started()) {
      ::close(fds[0]);
      return Fail("fork failed");
    }
    absl::Status st = Collect(fds[0], child);
    ::close(fds[0]);
    if (!st.ok()) return st;
    return Verify();
  }

  // Reads the child's messages, kills it as planned, and reads on to the end.
  absl::Status Collect(int fd, ChildProcess& child) {
    const KillPlan plan = KillPlan::Random(rng_, /*max_acks=*/300, /*max_delay_ms=*/60);
    absl::Status recorded;
    const std::string error = RunChildToPlan(
        child, fd, sizeof(Msg), plan,
        [&](const void* data, bool* is_ack) -> std::string {
          Msg m;
          std::memcpy(&m, data, sizeof(m));
          if (m.magic != kMagic || m.topic >= kTopics || m.partition >= kPartitions) {
            return "a malformed message from the child";
          }
          *is_ack = m.kind == kAck;
          recorded = Record(m);
          return recorded.ok() ? "" : "stop";
        },
        stats_);
    if (!recorded.ok()) return recorded;
    return error.empty() ? absl::OkStatus() : Fail(error);
  }

  absl::Status Record(const Msg& m) {
    if (m.kind == kAck) {
      ++stats_.acked;
      PartitionState& ps = parts_[m.topic][m.partition];
      auto [it, inserted] = ps.acked.try_emplace(m.offset, AckedRecord{m.digest, false});
      if (!inserted) {
        return Fail(fmt::format("{}/{} offset {} acknowledged twice", kTopicNames[m.topic],
                                m.partition, m.offset));
      }
      return absl::OkStatus();
    }
    CommitState& cs = commits_[m.partition];
    if (m.kind == kAttempt) {
      cs.attempted = m.offset;
      cs.attempt_number = m.seq;
    } else if (m.kind == kCommitted) {
      if (cs.attempted != m.offset || cs.attempt_number != m.seq) {
        return Fail("a commit acknowledged that was not attempted");
      }
      cs.last = m.offset;
      cs.attempted.reset();
    } else {
      return Fail("a message of unknown kind from the child");
    }
    return absl::OkStatus();
  }

  absl::Status Verify() {
    auto broker = Broker::Open(dir_);
    if (!broker.ok()) return Fail("reopening after the kill: " + broker.status().ToString());
    for (int t = 0; t < kTopics; ++t) {
      auto described = (*broker)->DescribeTopic(kTopicNames[t]);
      if (!described.ok()) return Fail("DescribeTopic: " + described.status().ToString());
      for (int32_t p = 0; p < kPartitions; ++p) {
        if (absl::Status st = VerifyPartition(**broker, t, described->partitions[p]); !st.ok()) {
          return st;
        }
      }
    }
    if (absl::Status st = VerifyCommits(**broker); !st.ok()) return st;
    if (absl::Status st = AppendOne(**broker); !st.ok()) return st;
    if (absl::Status st = (*broker)->Close(); !st.ok()) return Fail("Close: " + st.ToString());
    return absl::OkStatus();
  }

  absl::Status VerifyPartition(Broker& broker, int t, const PartitionDescription& pd) {
    const int32_t p = pd.partition;
    PartitionState& ps = parts_[t][p];
    const std::string where = fmt::format("{}/{}", kTopicNames[t], p);
    const uint32_t stream = StreamOf(t, p);
    if (absl::Status st = VerifyLogStart(t, pd, ps, where); !st.ok()) return st;

    auto records = testing::ReadTopicPartition(broker, kTopicNames[t], p);
    if (!records.ok()) {
      ++stats_.corrupt;
      return Fail(fmt::format("reading {}: {}", where, records.status().ToString()));
    }
    int64_t expected = pd.log_start_offset;
    std::optional<uint64_t> last_seq;
    for (const testing::ReadRecord& r : *records) {
      if (r.offset != expected) {
        return Fail(fmt::format("{}: offset {} where {} was due (a gap or a duplicate)", where,
                                r.offset, expected));
      }
      ++expected;
      absl::StatusOr<PayloadId> id = ParseValue(r.value.value_or(""));
      if (!id.ok() || id->stream != stream || id->seq / kPerRound > round_ ||
          r.key != MakeKey(stream, id->seq) ||
          r.value != MakeValue(value_seed_, stream, id->seq, r.value->size())) {
        ++stats_.corrupt;
        return Fail(fmt::format("{} offset {}: not a record written to it ({})", where, r.offset,
                                id.ok() ? fmt::format("stream {} seq {}", id->stream, id->seq)
                                        : id.status().ToString()));
      }
      if (last_seq && id->seq <= *last_seq) {
        return Fail(fmt::format("{} offset {}: seq {} after seq {} (duplicated or reordered)",
                                where, r.offset, id->seq, *last_seq));
      }
      last_seq = id->seq;
      auto acked = ps.acked.find(r.offset);
      if (acked == ps.acked.end()) continue;
      if (acked->second.digest != RecordDigest(r.key, r.value)) {
        ++stats_.lost;
        return Fail(fmt::format("{} offset {}: differs from the record acknowledged there", where,
                                r.offset));
      }
      if (!acked->second.verified) {
        acked->second.verified = true;
        ++stats_.verified;
      }
    }
    if (expected != pd.log_end_offset) {
      return Fail(fmt::format("{}: records end at {} but the log end offset is {}", where, expected,
                              pd.log_end_offset));
    }
    // Acknowledged records past the end are lost; those below the log start were deleted
    // by retention (VerifyLogStart allowed that) and are forgotten.
    auto beyond = ps.acked.lower_bound(pd.log_end_offset);
    if (beyond != ps.acked.end()) {
      stats_.lost += static_cast<int64_t>(std::distance(beyond, ps.acked.end()));
      return Fail(fmt::format("{}: acknowledged offset {} lost (log end offset {})", where,
                              beyond->first, pd.log_end_offset));
    }
    ps.acked.erase(ps.acked.begin(), ps.acked.lower_bound(pd.log_start_offset));
    ps.log_start = pd.log_start_offset;
    ps.end = pd.log_end_offset;
    return absl::OkStatus();
  }

  absl::Status VerifyLogStart(int t, const PartitionDescription& pd, const PartitionState& ps,
                              const std::string& where) {
    const int64_t start = pd.log_start_offset;
    const std::vector<int64_t> bases =
        SegmentBases(fmt::format("{}/{}-{}", dir_, kTopicNames[t], pd.partition));
    if (bases.empty() || bases.front() != start) {
      return Fail(fmt::format("{}: log start offset {} is not the base of its first segment {}",
                              where, start, bases.empty() ? -1 : bases.front()));
    }
    if (start == ps.log_start) return absl::OkStatus();
    if (t != kRetained || start < ps.log_start) {
      stats_.lost +=
          static_cast<int64_t>(std::distance(ps.acked.begin(), ps.acked.lower_bound(start)));
      return Fail(
          fmt::format("{}: log start offset moved from {} to {}", where, ps.log_start, start));
    }
    const bool was_boundary =
        start >= ps.end || std::find(ps.bases.begin(), ps.bases.end(), start) != ps.bases.end();
    if (!was_boundary) {
      return Fail(fmt::format("{}: log start offset {} was inside a segment (bases were {})", where,
                              start, fmt::join(ps.bases, ",")));
    }
    // Retention deletes a segment only while what follows it holds retention.bytes, and
    // the log only grows after that: so the partition holds at least that much now. That
    // bounds the start even past the last acknowledged offset, which it may pass: the
    // producer appends every queued batch, then fsyncs, then runs the callbacks, so a
    // kill in between leaves more than retention.bytes written but unacknowledged.
    if (pd.size_bytes < static_cast<uint64_t>(kRetentionBytes) || start >= pd.log_end_offset) {
      return Fail(
          fmt::format("{}: retention moved the log start offset to {} (end {}), leaving "
                      "{} bytes, below retention.bytes {}",
                      where, start, pd.log_end_offset, pd.size_bytes, kRetentionBytes));
    }
    return absl::OkStatus();
  }

  absl::Status VerifyCommits(Broker& broker) {
    auto admin = GroupAdmin::Create(broker);
    if (!admin.ok()) return Fail("GroupAdmin: " + admin.status().ToString());
    std::map<int32_t, std::optional<int64_t>> stored;
    auto described = (*admin)->DescribeGroup(kGroup);
    if (described.ok()) {
      for (const PartitionOffsetDescription& o : described->offsets) {
        if (o.partition.topic != kTopicNames[kAlways] || !o.committed) continue;
        stored[o.partition.partition] = o.committed->offset;
      }
    } else if (!absl::IsNotFound(described.status())) {
      return Fail("DescribeGroup: " + described.status().ToString());
    }
    int applied = 0, not_applied = 0;
    for (int32_t p = 0; p < kPartitions; ++p) {
      CommitState& cs = commits_[p];
      const std::optional<int64_t> now = stored[p];
      if (now != cs.last && (!cs.attempted || now != cs.attempted)) {
        return Fail(fmt::format(
            "{}/{}: committed offset {} is neither the last committed {} nor the one attempted {}",
            kTopicNames[kAlways], p, now.value_or(-1), cs.last.value_or(-1),
            cs.attempted.value_or(-1)));
      }
      if (cs.attempted && cs.attempted != cs.last) (now == cs.attempted ? applied : not_applied)++;
      cs.last = now;
      cs.attempted.reset();
    }
    if (applied > 0 && not_applied > 0) {
      return Fail(fmt::format("a commit of several partitions was applied to {} and not to {}",
                              applied, not_applied));
    }
    return absl::OkStatus();
  }

  // Appends continue after recovery: one record lands at the end and reads back.
  absl::Status AppendOne(Broker& broker) {
    const int t = static_cast<int>(rng_() % kTopics);
    const int32_t p = static_cast<int32_t>(rng_() % kPartitions);
    PartitionState& ps = parts_[t][p];
    const uint32_t stream = StreamOf(t, p);
    const uint64_t seq = round_ * kPerRound + kPerRound - 1;
    const std::string key = MakeKey(stream, seq);
    const std::string value = MakeValue(value_seed_, stream, seq, DrawSize(rng_, 0, MaxRecord(t)));
    auto producer = Producer::Create(broker, ProducerOptions{.linger_ms = 0});
    if (!producer.ok()) return Fail("Producer: " + producer.status().ToString());
    auto md = (*producer)->SendSync(
        {.topic = kTopicNames[t], .partition = p, .key = key, .value = value});
    if (!md.ok()) return Fail("appending after recovery: " + md.status().ToString());
    ++stats_.acked;
    const std::string where = fmt::format("{}/{}", kTopicNames[t], p);
    if (md->offset != ps.end) {
      return Fail(fmt::format("{}: the parent's record went to offset {}, not the end {}", where,
                              md->offset, ps.end));
    }
    if (absl::Status st = (*producer)->Close(); !st.ok()) return Fail(st.ToString());
    auto records = testing::ReadTopicPartition(broker, kTopicNames[t], p);
    if (!records.ok() || records->empty() || records->back().offset != md->offset ||
        records->back().key != key || records->back().value != value) {
      ++stats_.lost;
      return Fail(
          fmt::format("{}: the record appended after recovery at offset {} does not "
                      "read back",
                      where, md->offset));
    }
    ++stats_.verified;
    ps.acked[md->offset] = AckedRecord{RecordDigest(key, value), true};
    ps.end = md->offset + 1;
    for (int tt = 0; tt < kTopics; ++tt) {
      for (int32_t pp = 0; pp < kPartitions; ++pp) {
        parts_[tt][pp].bases = SegmentBases(fmt::format("{}/{}-{}", dir_, kTopicNames[tt], pp));
      }
    }
    return absl::OkStatus();
  }

  const Options& opts_;
  Stats& stats_;
  std::mt19937_64 rng_;
  const uint64_t value_seed_;
  CrashDir scratch_;
  std::string dir_;
  uint64_t round_ = 0;
  std::vector<std::vector<PartitionState>> parts_;
  std::map<int32_t, CommitState> commits_;
};

absl::Status ProcessCrashTorture(const Options& opts, Stats& stats) {
  return ProcessCrash(opts, stats).Run();
}

}  // namespace

RUNNEL_TORTURE({.name = "process-crash",
                .criteria = "after SIGKILL every acknowledged record is at its offset intact, "
                            "offsets contiguous and valid, log start moves only by retention of "
                            "whole segments, committed offsets are the last or the attempted one, "
                            "appends continue",
                .short_rounds = 200,
                .short_seconds = 0,
                .long_rounds = 10000,
                .long_seconds = 0,
                .fn = &ProcessCrashTorture});

}  // namespace runnel::torture
