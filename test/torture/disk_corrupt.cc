// corrupt-files: damaged files in a cleanly closed data directory.
//
// Once, a pristine directory is built: topics t0 (2 partitions) and t1 (1), each partition
// several sealed segments (small segment.bytes, index.interval.bytes 512, so offset and time
// indexes have entries), the topic table, and a consumer group "g" whose committed offsets
// live in __consumer_offsets; closed cleanly. Each round copies it, picks a file kind
// (sealed segment .log, its .index or .timeindex, the active segment, the topic table, a
// __consumer_offsets segment, a partition's recovery checkpoint) and damages it: flips 1-8
// bits within 64 bytes, overwrites up to 256 bytes with garbage, zeroes up to 256 bytes, or
// truncates it. Pass criteria, each round:
//  (a) `runnel verify` on the damaged copy exits 0 or 1 (never crashes). When the damage
//      changed bytes that a CRC or a structural check covers (a batch's length, magic, CRC,
//      attributes..records; a byte of the topic table) it exits 1 with a problem naming the
//      damaged file; for a log, the first problem in that file is at the start of the first
//      batch whose checked bytes changed, or of an earlier damaged batch. Not covered by any
//      check, and so not required to be reported: a batch's partitionLeaderEpoch (runnel
//      does not use it) and its baseOffset (Kafka's CRC leaves it out; a changed one is
//      found only when offsets then go backwards or an index disagrees). A log cut inside
//      a batch must be reported at that batch, the last segment's too (every partition was
//      closed cleanly, so a torn tail is damage). Index damage is only counted, as seen or
//      unseen by verify: an index left consistent (an entry cut off at an entry boundary,
//      a sparse index with fewer entries) is not damage verify can see.
//  (b) Broker::Open either fails with a status naming the damaged file (or its partition
//      directory), or opens; then every partition read with a Consumer from the beginning
//      returns only records byte-identical (digest of key and value) to the pristine
//      copy's at the same offset (any other is a corrupt record: the key criterion). A
//      partition that yields fewer records than the pristine one must say so: a Poll error,
//      or a problem, a truncation or a set-aside in the partition's recovery report. (After
//      a clean shutdown Open trusts sealed segments without a scan, so damage there shows
//      at read time: a bad CRC, or a batch whose baseOffset no longer fits the segment,
//      fails the Poll with DataLoss; a log that ends before the offset recorded at close is
//      a recovery problem.)
//  (c) Committed offsets of group "g" are the pristine ones, or the damage is reported (a
//      group Consumer or its Committed call failing with DataLoss, or a recovery problem
//      of __consumer_offsets).
//  (d) After Close, `runnel verify` passes when the damage was to the checkpoint, and when
//      it was to an index or a time index, finds no problem in any other file. Open
//      rebuilds an index whose order, last entry or size is off; an inner entry damaged yet
//      still in order stays (checking every entry would read the whole log at each open),
//      and reads check the entry they start from instead, so it costs a scan, never a
//      skipped record (counted as index-damage-kept).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "broker/broker_core.h"
#include "broker/partition.h"
#include "client/producer_testing.h"
#include "format/byte_order.h"
#include "format/record_batch.h"
#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/producer.h"
#include "torture/disk_util.h"
#include "torture/payload.h"
#include "torture/torture.h"
#include "torture/verify_tool.h"
#include "util/formatters.h"

namespace runnel::torture {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kOffsetsTopic = "__consumer_offsets";
constexpr std::string_view kGroup = "g";

struct TopicSpec {
  std::string name;
  int32_t partitions;
};
const std::vector<TopicSpec> kTopics = {{"t0", 2}, {"t1", 1}};

using Key = std::tuple<std::string, int32_t, int64_t>;  // topic, partition, offset

struct Pristine {
  std::string dir;
  std::map<Key, uint64_t> digests;
  std::map<std::pair<std::string, int32_t>, int64_t> ends;  // record count per partition
  std::map<TopicPartition, int64_t> committed;
  // Files by kind, relative to dir.
  std::map<std::string, std::vector<std::string>> files;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

absl::Status BuildPristine(const Options& opts, Pristine& p) {
  std::mt19937_64 rng(opts.seed ^ 0x5eedc0de);
  p.dir = opts.dir + "/pristine";
  BrokerOptions bo;
  bo.offsets_topic_segment_bytes = 2048;  // commits roll __consumer_offsets, too
  auto broker = Broker::Open(p.dir, bo);
  if (!broker.ok()) return broker.status();
  TopicConfig config;
  config.segment_bytes = 8192;
  config.segment_index_bytes = 4096;
  config.index_interval_bytes = 512;
  for (const TopicSpec& t : kTopics) {
    if (absl::Status s = (*broker)->CreateTopic(t.name, t.partitions, config); !s.ok()) return s;
  }
  auto producer = Producer::Create(**broker, {.batch_size = 1024, .linger_ms = 0});
  if (!producer.ok()) return producer.status();
  auto consumer = Consumer::Create(**broker, {.group_id = std::string(kGroup),
                                              .enable_auto_commit = false});
  if (!consumer.ok()) return consumer.status();
  int64_t ts = 1'700'000'000'000;
  uint32_t stream = 0;
  for (const TopicSpec& t : kTopics) {
    for (int32_t part = 0; part < t.partitions; ++part, ++stream) {
      const TopicPartition tp{t.name, part};
      for (uint64_t seq = 0; seq < 300; ++seq) {
        const std::string key = MakeKey(stream, seq);
        const std::string value = MakeValue(opts.seed, stream, seq, DrawSize(rng, 24, 600));
        // Mostly asynchronous sends (several records per batch), some synchronous ones.
        absl::Status sent;
        if (seq % 7 == 0) {
          sent = (*producer)->SendSync({.topic = t.name, .partition = part, .key = key,
                                        .value = value, .timestamp = ts++}).status();
        } else {
          sent = (*producer)->Send({.topic = t.name, .partition = part, .key = key,
                                    .value = value, .timestamp = ts++});
        }
        if (!sent.ok()) return sent;
        if (seq % 60 == 59) {
          if (absl::Status s = (*producer)->Flush(); !s.ok()) return s;
          const int64_t commit = static_cast<int64_t>(seq) - 10;
          if (absl::Status s = (*consumer)->CommitSync({{tp, OffsetAndMetadata{commit, "m"}}});
              !s.ok()) {
            return s;
          }
          p.committed[tp] = commit;
        }
      }
    }
  }
  if (absl::Status s = (*producer)->Close(); !s.ok()) return s;
  // The pristine records, as a reader gets them.
  for (const TopicSpec& t : kTopics) {
    auto reads = disk::ReadTopic(**broker, t.name, t.partitions);
    for (const auto& [part, read] : reads) {
      if (!read.error.ok()) return read.error;
      if (read.records.size() != 300) {
        return absl::InternalError(fmt::format("pristine {}-{} holds {} records", t.name, part,
                                               read.records.size()));
      }
      for (const disk::ReadBack& r : read.records) p.digests[{t.name, part, r.offset}] = r.digest;
      p.ends[{t.name, part}] = read.end_offset;
    }
  }
  if (absl::Status s = (*consumer)->Close(); !s.ok()) return s;
  if (absl::Status s = (*broker)->Close(); !s.ok()) return s;

  // Sort the files by kind.
  for (const auto& entry : fs::recursive_directory_iterator(p.dir)) {
    if (!entry.is_regular_file() || entry.file_size() == 0) continue;
    const std::string rel = fs::relative(entry.path(), p.dir).string();
    const std::string name = entry.path().filename().string();
    const std::string parent = entry.path().parent_path().filename().string();
    const bool offsets = parent.rfind(std::string(kOffsetsTopic), 0) == 0;
    const std::string ext = entry.path().extension().string();
    if (name == "runnel-topics.meta") {
      p.files["topics-meta"].push_back(rel);
    } else if (name == "runnel-partition.checkpoint") {
      p.files["checkpoint"].push_back(rel);
    } else if (ext == ".log") {
      // The active segment is the partition's last.
      std::string last;
      for (const auto& f : fs::directory_iterator(entry.path().parent_path())) {
        if (f.path().extension() == ".log") last = std::max(last, f.path().filename().string());
      }
      p.files[offsets ? "offsets-segment" : name == last ? "active" : "segment"].push_back(rel);
    } else if (!offsets && (ext == ".index" || ext == ".timeindex")) {
      p.files[ext.substr(1)].push_back(rel);
    }
  }
  for (const char* kind : {"segment", "active", "index", "timeindex", "topics-meta",
                           "offsets-segment", "checkpoint"}) {
    if (p.files[kind].empty()) {
      return absl::InternalError(fmt::format("pristine directory has no file of kind {}", kind));
    }
  }
  return absl::OkStatus();
}

// What a damage did to a file.
struct Damage {
  std::string how;  // bitflip, garbage, zero, truncate
  uint64_t lo = 0, hi = 0;  // bytes changed: [lo, hi) (truncate: from lo on)
  std::vector<uint64_t> changed;  // every position whose byte changed (not truncate)
  uint64_t old_size = 0, new_size = 0;
};

Damage Apply(std::mt19937_64& rng, const std::string& path) {
  std::string bytes = ReadFile(path);
  const std::string before = bytes;
  Damage d;
  d.old_size = bytes.size();
  const std::vector<std::string> hows = {"bitflip", "garbage", "zero", "truncate"};
  d.how = hows[rng() % hows.size()];
  const uint64_t n = bytes.size();
  if (d.how == "truncate") {
    d.lo = rng() % n;
    bytes.resize(d.lo);
    d.hi = n;
  } else if (d.how == "bitflip") {
    const uint64_t start = rng() % n;
    const uint64_t end = std::min<uint64_t>(n, start + 64);
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < flips; ++i) {
      const uint64_t at = start + rng() % (end - start);
      bytes[at] = static_cast<char>(bytes[at] ^ (1u << (rng() % 8)));
    }
  } else {
    const uint64_t start = rng() % n;
    const uint64_t len = std::min<uint64_t>(n - start, 1 + rng() % 256);
    for (uint64_t i = start; i < start + len; ++i) {
      bytes[i] = d.how == "zero" ? 0 : static_cast<char>(rng());
    }
  }
  d.new_size = bytes.size();
  if (d.how != "truncate") {
    for (uint64_t i = 0; i < n; ++i) {
      if (bytes[i] != before[i]) d.changed.push_back(i);
    }
    if (!d.changed.empty()) {
      d.lo = d.changed.front();
      d.hi = d.changed.back() + 1;
    }
  }
  WriteFile(path, bytes);
  return d;
}

// Byte ranges of a pristine log: each batch's start, and its first byte a CRC covers.
struct BatchSpan {
  uint64_t start, end;
};
std::vector<BatchSpan> Batches(const std::string& bytes) {
  std::vector<BatchSpan> out;
  uint64_t pos = 0;
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  while (pos + format::kLogOverhead <= bytes.size()) {
    const uint64_t len = format::LoadBig32(data + pos + format::kBatchLengthPos);
    out.push_back({pos, pos + format::kLogOverhead + len});
    pos += format::kLogOverhead + len;
  }
  return out;
}

// Whether byte `at` of a batch starting at `start` is checked by verify: everything but
// the baseOffset (0..7) and the partitionLeaderEpoch (12..15).
bool Checked(uint64_t at, uint64_t start) {
  const uint64_t rel = at - start;
  return !(rel < 8 || (rel >= 12 && rel < 16));
}

struct Round {
  const Options& opts;
  Stats& stats;
  const Pristine& p;
  std::string kind, file_rel, dir;
  Damage damage;
  std::string Where() const {
    return fmt::format("{} {} of {} ({} bytes -> {}, changed [{}, {}))", damage.how, kind,
                       file_rel, damage.old_size, damage.new_size, damage.lo, damage.hi);
  }
  absl::Status Fail(const std::string& what) const {
    return Failure(opts, fmt::format("{}: {} (copy kept at {})", Where(), what, dir));
  }
};

bool IsLogKind(const std::string& kind) {
  return kind == "segment" || kind == "active" || kind == "offsets-segment";
}

// (a): what `runnel verify` says about the damaged copy.
absl::Status CheckVerifyDamaged(const Round& r) {
  const VerifyRun run = RunVerifyTool(r.dir);
  if (run.exit_code != 0 && run.exit_code != 1) {
    return r.Fail(fmt::format("runnel verify exited {}: {}", run.exit_code, run.output));
  }
  const std::string path = r.dir + "/" + r.file_rel;
  const std::vector<disk::VerifyProblem> problems = disk::VerifyProblems(run.output);
  std::optional<uint64_t> first_position;
  bool named = false;
  for (const disk::VerifyProblem& pr : problems) {
    if (pr.file != path) continue;
    if (!named) first_position = pr.position;
    named = true;
  }
  bool must_report = false;
  std::optional<std::pair<uint64_t, uint64_t>> position_range;
  if (r.kind == "topics-meta") {
    must_report = r.damage.how == "truncate" || !r.damage.changed.empty();
  } else if (IsLogKind(r.kind)) {
    const std::vector<BatchSpan> batches = Batches(ReadFile(r.p.dir + "/" + r.file_rel));
    if (r.damage.how == "truncate") {
      // Cut inside a batch: that batch is damaged (even in the last segment: a torn tail is
      // a problem in a partition closed cleanly). Cut at a boundary: the batches left are
      // whole; an index, or the end offset the clean shutdown recorded, may show it.
      for (const BatchSpan& b : batches) {
        if (r.damage.lo > b.start && r.damage.lo < b.end) {
          must_report = true;
          position_range = {b.start, b.start};
        }
      }
    } else {
      std::optional<uint64_t> first_damaged, first_checked;
      for (uint64_t at : r.damage.changed) {
        for (const BatchSpan& b : batches) {
          if (at < b.start || at >= b.end) continue;
          if (!first_damaged) first_damaged = b.start;
          if (Checked(at, b.start) && !first_checked) first_checked = b.start;
        }
      }
      if (first_checked) {
        must_report = true;
        position_range = {*first_damaged, *first_checked};
      }
    }
  } else if (r.kind == "index" || r.kind == "timeindex") {
    // Not every index damage is visible (see the criteria); reported or not, the broker
    // must cope, which (b) and (d) check.
    r.stats.Fault(named ? "verify-saw-index-damage" : "verify-index-damage-unseen");
  }
  if (must_report && (run.exit_code != 1 || !named)) {
    return r.Fail(fmt::format("runnel verify did not report the damaged file (exit {}): {}",
                              run.exit_code, run.output));
  }
  if (must_report && position_range) {
    if (!first_position || *first_position < position_range->first ||
        *first_position > position_range->second) {
      return r.Fail(fmt::format(
          "runnel verify's first problem in the file is not at the damaged batch (expected a "
          "byte position in [{}, {}]): {}",
          position_range->first, position_range->second, run.output));
    }
  }
  return absl::OkStatus();
}

// Whether the partition's recovery report says that something was lost or damaged.
bool RecoveryReported(Broker& broker, const std::string& topic, int32_t part) {
  std::shared_ptr<internal::Partition> p = testing::PartitionOf(broker, topic, part);
  if (p == nullptr) return true;
  const storage::RecoveryReport& report = p->log().recovery_report();
  return !report.problems.empty() || !report.set_aside.empty() || report.bytes_truncated > 0;
}

// (b) and (c) on an opened copy.
absl::Status CheckOpened(const Round& r, Broker& broker) {
  for (const TopicSpec& t : kTopics) {
    const auto reads = disk::ReadTopic(broker, t.name, t.partitions);
    for (const auto& [part, read] : reads) {
      for (const disk::ReadBack& rec : read.records) {
        auto it = r.p.digests.find({t.name, part, rec.offset});
        if (it == r.p.digests.end() || it->second != rec.digest) {
          ++r.stats.corrupt;
          return r.Fail(fmt::format("{}-{} offset {}: a record returned that is not the pristine "
                                    "one{}",
                                    t.name, part, rec.offset,
                                    it == r.p.digests.end() ? " (pristine has no such offset)" : ""));
        }
        ++r.stats.verified;
      }
      const int64_t want = r.p.ends.at({t.name, part});
      const bool complete = static_cast<int64_t>(read.records.size()) == want;
      if (!complete && read.error.ok() && !RecoveryReported(broker, t.name, part)) {
        ++r.stats.lost;
        return r.Fail(fmt::format("{}-{}: {} of {} records read, with no error and nothing in "
                                  "the recovery report: {}",
                                  t.name, part, read.records.size(), want,
                                  testing::PartitionOf(broker, t.name, part)
                                      ->log().recovery_report().ToString()));
      }
      if (!read.error.ok()) r.stats.Fault("read-reported-damage");
    }
  }
  auto consumer = Consumer::Create(broker, {.group_id = std::string(kGroup),
                                            .enable_auto_commit = false});
  if (!consumer.ok()) {
    // The group's state is loaded from __consumer_offsets when first used: damage there
    // may fail that, which reports it.
    if (absl::IsDataLoss(consumer.status())) {
      r.stats.Fault("committed-reported-damage");
      return absl::OkStatus();
    }
    return r.Fail(fmt::format("consumer: {}", consumer.status().ToString()));
  }
  std::vector<TopicPartition> tps;
  for (const auto& [tp, offset] : r.p.committed) tps.push_back(tp);
  auto committed = (*consumer)->Committed(tps);
  (*consumer)->Close().IgnoreError();
  if (!committed.ok()) {
    if (!absl::IsDataLoss(committed.status())) {
      return r.Fail(fmt::format("Committed: {}", committed.status().ToString()));
    }
    r.stats.Fault("committed-reported-damage");
    return absl::OkStatus();
  }
  for (const auto& [tp, offset] : r.p.committed) {
    const std::optional<OffsetAndMetadata>& got = committed->at(tp);
    if (got.has_value() && got->offset == offset) continue;
    if (RecoveryReported(broker, std::string(kOffsetsTopic), 0)) continue;
    if (got.has_value()) ++r.stats.corrupt;
    return r.Fail(fmt::format("committed offset of {}-{} is {} (pristine {}), with no damage "
                              "reported",
                              tp.topic, tp.partition, got ? got->offset : -1, offset));
  }
  return absl::OkStatus();
}

absl::Status RunRound(const Options& opts, Stats& stats, const Pristine& p, std::mt19937_64& rng,
                      int64_t round) {
  static const std::vector<std::string> kinds = {"segment", "index", "timeindex", "active",
                                                 "topics-meta", "offsets-segment",
                                                 "checkpoint"};
  Round r{opts, stats, p, kinds[rng() % kinds.size()], "", opts.dir + "/round", Damage{}};
  const std::vector<std::string>& files = p.files.at(r.kind);
  r.file_rel = files[rng() % files.size()];
  std::error_code ec;
  fs::remove_all(r.dir, ec);
  fs::copy(p.dir, r.dir, fs::copy_options::recursive, ec);
  if (ec) return Failure(opts, fmt::format("copy {} to {}: {}", p.dir, r.dir, ec.message()));
  r.damage = Apply(rng, r.dir + "/" + r.file_rel);
  stats.Fault(r.damage.how + "-" + r.kind);
  if (opts.verbose) fmt::print("round {}: {}\n", round, r.Where());
  const bool unchanged = r.damage.how != "truncate" && r.damage.changed.empty();

  if (absl::Status s = CheckVerifyDamaged(r); !s.ok()) return s;

  auto broker = Broker::Open(r.dir);
  if (!broker.ok()) {
    const std::string msg(broker.status().message());
    const std::string file = r.dir + "/" + r.file_rel;
    const std::string parent = fs::path(file).parent_path().string();
    if (unchanged || (msg.find(file) == std::string::npos &&
                      (r.kind == "topics-meta" || msg.find(parent) == std::string::npos))) {
      return r.Fail(fmt::format("Broker::Open failed without naming the damaged file: {}",
                                broker.status().ToString()));
    }
    stats.Fault("open-refused");
    return absl::OkStatus();
  }
  absl::Status checked = CheckOpened(r, **broker);
  absl::Status closed = (*broker)->Close();
  broker->reset();
  if (!checked.ok()) return checked;
  if (!closed.ok()) return r.Fail(fmt::format("Close: {}", closed.ToString()));

  if (r.kind == "index" || r.kind == "timeindex" || r.kind == "checkpoint") {
    const VerifyRun run = RunVerifyTool(r.dir);
    // An index entry damaged but still in order passes Open's check (which reads no log
    // bytes) and stays; reads check the entry they use (segment.cc CheckedStart). Only the
    // damaged file may still have problems.
    bool only_damaged = r.kind != "checkpoint";
    for (const disk::VerifyProblem& pr : disk::VerifyProblems(run.output)) {
      only_damaged &= pr.file == r.dir + "/" + r.file_rel;
    }
    if (run.exit_code != 0 && !only_damaged) {
      return r.Fail(fmt::format("after Open and Close, runnel verify exits {}: {}", run.exit_code,
                                run.output));
    }
    if (run.exit_code != 0) stats.Fault("index-damage-kept");
  }
  return absl::OkStatus();
}

absl::Status CorruptFiles(const Options& opts, Stats& stats) {
  Pristine p;
  if (absl::Status s = BuildPristine(opts, p); !s.ok()) {
    return Failure(opts, fmt::format("building the pristine directory: {}", s.ToString()));
  }
  const VerifyRun clean = RunVerifyTool(p.dir);
  if (clean.exit_code != 0) {
    return Failure(opts, fmt::format("runnel verify fails on the pristine directory: {}",
                                     clean.output));
  }
  std::mt19937_64 rng(opts.seed);
  for (int64_t round = 0; round < opts.rounds; ++round) {
    if (absl::Status s = RunRound(opts, stats, p, rng, round); !s.ok()) return s;
    ++stats.rounds;
  }
  std::error_code ec;
  fs::remove_all(opts.dir + "/round", ec);
  return absl::OkStatus();
}

}  // namespace

RUNNEL_TORTURE({.name = "corrupt-files",
                .criteria = "damaged files: runnel verify reports checked bytes at the damaged "
                            "batch; Open fails naming the file or every record read is the "
                            "pristine one, shortfalls reported; indexes rebuilt",
                .short_rounds = 200,
                .short_seconds = 90,
                .long_rounds = 5000,
                .long_seconds = 3600,
                .fn = &CorruptFiles});

}  // namespace runnel::torture
