// full-disk: a real full filesystem under a producing broker.
//
// Needs root (or CAP_SYS_ADMIN): each round mounts a fresh 8 MiB tmpfs under the scratch
// directory, or, on odd rounds when mkfs.ext4 and loop mounts work here, a 16 MiB ext4
// image (ext4 allocates and fails differently: fallocate of the preallocated indexes,
// block-granular writes, a journal). Without the permission the torture is skipped.
// A round: a broker on the small filesystem; topic "fd" (2 partitions, sync.policy always,
// segment.index.bytes 4096, segment.bytes 32 KiB .. 512 KiB) and __consumer_offsets (small
// segments); a filler file leaves a random amount of free space (32 KiB .. 3 MiB), so the
// disk fills at varying places (a segment's write, a roll's index preallocation, the
// recovery checkpoint, a commit). A producer (retries 2) sends self-checking records of
// random sizes with SendSync, committing offsets every 20 records, until a send fails.
// Pass criteria:
//  - the failure is ResourceExhausted and its message names the data directory;
//  - a Consumer reads back every acknowledged record, byte-identical, at offsets 0, 1, 2...
//    in order; nothing else is visible (no partial batch; every visible value parses; no
//    record of a failed send while the disk is full). A flush that finds no space for the
//    recovery checkpoint does not fail its sends (their records are durable). A send
//    that failed after its append (ENOSPC from an fsync, which some filesystems give) may
//    have stored its record (Kafka's rule: a failed send may or may not be stored); if a
//    later acknowledged record follows it, it must be byte-identical too;
//  - the data directory holds no stray files (temp files of io::WriteFileAtomically
//    "*.tmp", "*.truncating", "*.deleted", "*.corrupt"): only segments, indexes,
//    checkpoints, the topic table and the lock;
//  - a commit made while the disk is full succeeds or fails with ResourceExhausted;
//  - once the filler is deleted, producing resumes with the SAME producer (the library's
//    contract, storage/partition_log.h: a full disk leaves the partition writable, so no
//    reopen is needed), and a record sent while the disk was full by a producer with
//    retries (delivery.timeout.ms 60 s) is acknowledged once space is back; commits resume;
//  - after Close and a reopen: a clean recovery report, the same checks of the records,
//    and the committed offsets are the last ones acknowledged.
#include <sys/mount.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "broker/partition.h"
#include "client/producer_testing.h"
#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/producer.h"
#include "runnel/status.h"
#include "torture/disk_util.h"
#include "torture/payload.h"
#include "torture/torture.h"
#include "util/formatters.h"

namespace runnel::torture {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kTopic = "fd";
constexpr int32_t kPartitions = 2;

// A mounted filesystem, unmounted when it goes (on failure paths too).
class Mount {
 public:
  Mount() = default;
  Mount(const Mount&) = delete;
  Mount& operator=(const Mount&) = delete;
  ~Mount() { Unmount().IgnoreError(); }

  absl::Status MountTmpfs(const std::string& path) {
    fs::create_directories(path);
    if (mount("tmpfs", path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=8m") != 0) {
      const int e = errno;
      return absl::PermissionDeniedError(fmt::format(
          "mount tmpfs on {}: {}{}", path, std::strerror(e),
          e == EPERM ? " (needs root or CAP_SYS_ADMIN)" : ""));
    }
    path_ = path;
    return absl::OkStatus();
  }

  // A fresh ext4 image, loop-mounted with mount(8).
  absl::Status MountExt4(const std::string& image, const std::string& path) {
    fs::create_directories(path);
    std::error_code ec;
    fs::remove(image, ec);
    {
      std::ofstream(image).close();
      fs::resize_file(image, 16 << 20, ec);
      if (ec) return absl::InternalError(fmt::format("resize {}: {}", image, ec.message()));
    }
    const std::string mkfs = fmt::format("mkfs.ext4 -q -F {} >/dev/null 2>&1", image);
    if (std::system(mkfs.c_str()) != 0) return absl::UnavailableError("mkfs.ext4 failed");
    const std::string mnt = fmt::format("mount -o loop {} {} >/dev/null 2>&1", image, path);
    if (std::system(mnt.c_str()) != 0) return absl::UnavailableError("mount -o loop failed");
    path_ = path;
    return absl::OkStatus();
  }

  absl::Status Unmount() {
    if (path_.empty()) return absl::OkStatus();
    if (umount2(path_.c_str(), 0) != 0 && umount2(path_.c_str(), MNT_DETACH) != 0) {
      return absl::InternalError(fmt::format("umount {}: {}", path_, std::strerror(errno)));
    }
    path_.clear();
    return absl::OkStatus();
  }

 private:
  std::string path_;
};

// Fills the filesystem of `dir` up to `leave` free bytes with the file `path`.
void WriteFiller(const std::string& path, uint64_t leave) {
  struct statvfs st;
  if (statvfs(fs::path(path).parent_path().c_str(), &st) != 0) return;
  const uint64_t free_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  if (free_bytes <= leave) return;
  uint64_t left = free_bytes - leave;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return;
  const std::string chunk(64 * 1024, 'f');
  while (left > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(left, chunk.size()));
    if (std::fwrite(chunk.data(), 1, n, f) != n) break;
    left -= n;
  }
  std::fclose(f);
}

// Where a full-disk status says the disk filled, for the stats.
std::string WhereFull(const absl::Status& s) {
  const std::string m(s.message());
  if (m.find("checkpoint") != std::string::npos) return "enospc-checkpoint";
  if (m.find("index") != std::string::npos || m.find("fallocate") != std::string::npos) {
    return "enospc-index";
  }
  if (m.find(".log") != std::string::npos || m.find("write") != std::string::npos) {
    return "enospc-log";
  }
  return "enospc-other";
}

// A record sent to a partition; `acked` false for one whose send failed but that the
// log holds nonetheless (found at an offset before a later acknowledged one).
struct Sent {
  uint64_t seq;
  size_t size;
  bool acked = true;
};

class FullDiskRound {
 public:
  FullDiskRound(const Options& opts, Stats& stats, int64_t round, const std::string& mnt)
      : opts_(opts),
        stats_(stats),
        round_(round),
        seed_(opts.seed + static_cast<uint64_t>(round) * 7919),
        rng_(seed_),
        mnt_(mnt),
        data_(mnt + "/data"),
        filler_(mnt + "/filler") {}

  absl::Status Run();

 private:
  absl::Status Fail(const std::string& what) const {
    return Failure(opts_, fmt::format("round {} on {}: {}", round_, mnt_, what));
  }
  std::string ValueOf(int32_t part, uint64_t seq, size_t size) const {
    return MakeValue(seed_, static_cast<uint32_t>(part), seq, size);
  }
  // Sends one record with `producer`; on success appends it to acked_.
  absl::StatusOr<RecordMetadata> SendOne(Producer& producer, int32_t part);
  absl::Status Acked(int32_t part, int64_t offset, Sent sent);
  absl::Status CheckFullStatus(const absl::Status& s, const std::string& what) const;
  absl::Status CheckRecords(Broker& broker, const std::string& when);
  absl::Status CheckStray(const std::string& when) const;
  absl::Status Commit(Consumer& consumer);
  absl::Status CheckCommitted(Broker& broker);

  const Options& opts_;
  Stats& stats_;
  int64_t round_;
  uint64_t seed_;
  std::mt19937_64 rng_;
  std::string mnt_, data_, filler_;
  std::map<int32_t, std::vector<Sent>> acked_;  // by partition, in offset order
  std::map<int32_t, std::vector<Sent>> failed_;  // sends that failed, by partition
  std::map<int32_t, uint64_t> next_seq_;
  std::map<TopicPartition, int64_t> committed_;
};

absl::StatusOr<RecordMetadata> FullDiskRound::SendOne(Producer& producer, int32_t part) {
  const uint64_t seq = next_seq_[part]++;
  const size_t size = DrawSize(rng_, 24, 16384);
  const std::string key = MakeKey(static_cast<uint32_t>(part), seq);
  const std::string value = ValueOf(part, seq, size);
  absl::StatusOr<RecordMetadata> md =
      producer.SendSync({.topic = kTopic, .partition = part, .key = key, .value = value});
  if (md.ok()) {
    if (absl::Status s = Acked(part, md->offset, {seq, size}); !s.ok()) return s;
  } else {
    failed_[part].push_back({seq, size, false});
  }
  return md;
}

absl::Status FullDiskRound::Acked(int32_t part, int64_t offset, Sent sent) {
  std::vector<Sent>& log = acked_[part];
  // A send that failed after its append (an fsync that found no space, which leaves the
  // partition read-only) may leave its record in the log: Kafka's rule, a failed send may
  // have been stored. Such a record is counted when a later acknowledged one follows it.
  const int64_t gap = offset - static_cast<int64_t>(log.size());
  std::vector<Sent>& failed = failed_[part];
  if (gap < 0 || gap > static_cast<int64_t>(failed.size())) {
    return Fail(fmt::format("{}-{}: record acknowledged at offset {}, expected {} (and {} failed "
                            "sends)",
                            kTopic, part, offset, log.size(), failed.size()));
  }
  log.insert(log.end(), failed.end() - gap, failed.end());
  failed.clear();
  if (gap > 0) stats_.Fault("failed-send-stored", gap);
  log.push_back(sent);
  ++stats_.acked;
  return absl::OkStatus();
}

absl::Status FullDiskRound::CheckFullStatus(const absl::Status& s, const std::string& what) const {
  if (s.code() != absl::StatusCode::kResourceExhausted ||
      std::string(s.message()).find(data_) == std::string::npos) {
    return Fail(fmt::format("{} on a full disk failed with {} (want ResourceExhausted naming the "
                            "data directory {})",
                            what, s.ToString(), data_));
  }
  return absl::OkStatus();
}

absl::Status FullDiskRound::CheckRecords(Broker& broker, const std::string& when) {
  const auto reads = disk::ReadTopic(broker, std::string(kTopic), kPartitions);
  for (const auto& [part, read] : reads) {
    if (!read.error.ok()) {
      return Fail(fmt::format("{}: reading {}-{}: {}", when, kTopic, part, read.error.ToString()));
    }
    const std::vector<Sent>& acked = acked_[part];
    for (size_t i = 0; i < read.records.size(); ++i) {
      const disk::ReadBack& r = read.records[i];
      if (r.offset != static_cast<int64_t>(i)) {
        return Fail(fmt::format("{}: {}-{}: offset {} where {} was expected (a gap)", when, kTopic,
                                part, r.offset, i));
      }
      if (!r.parses) {
        ++stats_.corrupt;
        return Fail(fmt::format("{}: {}-{} offset {}: value does not parse", when, kTopic, part,
                                r.offset));
      }
      if (i >= acked.size()) {
        // Records of failed sends stay unpublished until a later send succeeds.
        return Fail(fmt::format("{}: {}-{} offset {}: a record whose send failed is visible "
                                "(stream {} seq {})",
                                when, kTopic, part, r.offset, r.stream, r.seq));
      }
      const std::string key = MakeKey(static_cast<uint32_t>(part), acked[i].seq);
      const std::string value = ValueOf(part, acked[i].seq, acked[i].size);
      if (r.digest != RecordDigest(key, value)) {
        ++stats_.corrupt;
        return Fail(fmt::format("{}: {}-{} offset {}: not the record acknowledged there", when,
                                kTopic, part, r.offset));
      }
      if (acked[i].acked) ++stats_.verified;
    }
    if (read.records.size() < acked.size()) {
      stats_.lost += static_cast<int64_t>(acked.size() - read.records.size());
      return Fail(fmt::format("{}: {}-{}: {} records read, {} acknowledged", when, kTopic, part,
                              read.records.size(), acked.size()));
    }
  }
  return absl::OkStatus();
}

absl::Status FullDiskRound::CheckStray(const std::string& when) const {
  const std::vector<std::string> stray = disk::StrayFiles(data_);
  if (!stray.empty()) {
    return Fail(fmt::format("{}: stray files in the data directory: {}", when,
                            fmt::join(stray, ", ")));
  }
  return absl::OkStatus();
}

absl::Status FullDiskRound::Commit(Consumer& consumer) {
  std::map<TopicPartition, OffsetAndMetadata> offsets;
  for (int32_t p = 0; p < kPartitions; ++p) {
    offsets[{std::string(kTopic), p}] = {static_cast<int64_t>(acked_[p].size()), ""};
  }
  absl::Status s = consumer.CommitSync(offsets);
  if (s.ok()) {
    for (const auto& [tp, om] : offsets) committed_[tp] = om.offset;
  }
  return s;
}

absl::Status FullDiskRound::CheckCommitted(Broker& broker) {
  auto consumer = Consumer::Create(broker, {.group_id = "g", .enable_auto_commit = false});
  if (!consumer.ok()) return Fail(consumer.status().ToString());
  std::vector<TopicPartition> tps;
  for (const auto& [tp, offset] : committed_) tps.push_back(tp);
  auto got = (*consumer)->Committed(tps);
  (*consumer)->Close().IgnoreError();
  if (!got.ok()) return Fail(fmt::format("Committed: {}", got.status().ToString()));
  for (const auto& [tp, offset] : committed_) {
    const auto& c = got->at(tp);
    if (!c.has_value() || c->offset != offset) {
      return Fail(fmt::format("committed offset of {}-{} is {}, the last commit acknowledged {}",
                              tp.topic, tp.partition, c ? c->offset : -1, offset));
    }
  }
  return absl::OkStatus();
}

absl::Status FullDiskRound::Run() {
  BrokerOptions bo;
  bo.default_topic_config.sync_policy = SyncPolicy::kAlways;
  bo.default_topic_config.segment_index_bytes = 4096;
  bo.offsets_topic_segment_bytes = static_cast<int32_t>(4096 << (rng_() % 5));
  TopicConfig config = bo.default_topic_config;
  config.segment_bytes = static_cast<int64_t>(32 * 1024) << (rng_() % 5);  // 32 KiB .. 512 KiB
  std::unique_ptr<Broker> broker;
  {
    auto opened = Broker::Open(data_, bo);
    if (!opened.ok()) return Fail(fmt::format("Broker::Open: {}", opened.status().ToString()));
    broker = std::move(*opened);
  }
  if (absl::Status s = broker->CreateTopic(kTopic, kPartitions, config); !s.ok()) {
    return Fail(fmt::format("CreateTopic: {}", s.ToString()));
  }
  WriteFiller(filler_, (32 << 10) + rng_() % (3 << 20));

  auto producer = Producer::Create(
      *broker, {.linger_ms = 0, .retries = 2, .retry_backoff_ms = 1, .retry_backoff_max_ms = 5});
  auto retrying = Producer::Create(*broker, {.linger_ms = 0,
                                             .retry_backoff_ms = 5,
                                             .retry_backoff_max_ms = 50,
                                             .delivery_timeout_ms = 60000});
  auto consumer = Consumer::Create(*broker, {.group_id = "g", .enable_auto_commit = false});
  if (!producer.ok() || !retrying.ok() || !consumer.ok()) return Fail("creating clients");

  // Fill the disk.
  absl::Status full;
  for (int64_t i = 0; i < 100000 && full.ok(); ++i) {
    absl::StatusOr<RecordMetadata> md = SendOne(**producer, static_cast<int32_t>(i % kPartitions));
    if (!md.ok()) full = md.status();
    if (full.ok() && i % 20 == 19) {
      if (absl::Status s = Commit(**consumer); !s.ok()) {
        stats_.Fault("enospc-commit");
        if (absl::Status c = CheckFullStatus(s, "a commit"); !c.ok()) return c;
      }
    }
  }
  if (full.ok()) return Fail("100000 records fit an 8 MiB filesystem");
  stats_.Fault(WhereFull(full));
  if (opts_.verbose) fmt::print("round {}: the disk filled: {}\n", round_, full.ToString());
  if (absl::Status c = CheckFullStatus(full, "a send"); !c.ok()) return c;
  if (absl::Status s = Commit(**consumer); !s.ok()) {
    stats_.Fault("enospc-commit");
    if (absl::Status c = CheckFullStatus(s, "a commit"); !c.ok()) return c;
  }
  if (absl::Status s = CheckRecords(*broker, "with the disk full"); !s.ok()) return s;
  if (absl::Status s = CheckStray("with the disk full"); !s.ok()) return s;

  // A record sent while full by a producer that retries: acknowledged once space is back.
  const int32_t retry_part = static_cast<int32_t>(rng_() % kPartitions);
  const uint64_t retry_seq = next_seq_[retry_part]++;
  const size_t retry_size = DrawSize(rng_, 24, 16384);
  const std::string retry_key = MakeKey(static_cast<uint32_t>(retry_part), retry_seq);
  const std::string retry_value = ValueOf(retry_part, retry_seq, retry_size);
  std::promise<absl::StatusOr<RecordMetadata>> retried;
  if (absl::Status s = (*retrying)->Send(
          {.topic = kTopic, .partition = retry_part, .key = retry_key, .value = retry_value},
          [&retried](const absl::StatusOr<RecordMetadata>& md) { retried.set_value(md); });
      !s.ok()) {
    return Fail(fmt::format("Send while full: {}", s.ToString()));
  }

  // Free the space.
  std::error_code ec;
  fs::remove(filler_, ec);
  absl::StatusOr<RecordMetadata> retried_md = retried.get_future().get();
  if (!retried_md.ok()) {
    return Fail(fmt::format("a record sent while full by a retrying producer failed after space "
                            "was freed: {}",
                            retried_md.status().ToString()));
  } else {
    if (absl::Status s = Acked(retry_part, retried_md->offset, {retry_seq, retry_size});
        !s.ok()) {
      return s;
    }
    stats_.Fault("retried-send");
  }

  // The same producer resumes: no reopen is needed after ResourceExhausted.
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<RecordMetadata> md = SendOne(**producer, static_cast<int32_t>(i % kPartitions));
    if (!md.ok()) {
      return Fail(fmt::format("after space was freed the same producer cannot send: {} (health "
                              "{})",
                              md.status().ToString(),
                              testing::PartitionOf(*broker, kTopic, i % kPartitions)
                                  ->log().health().ToString()));
    }
  }
  if (absl::Status s = Commit(**consumer); !s.ok()) {
    return Fail(fmt::format("commit after space was freed: {}", s.ToString()));
  }
  if (absl::Status s = CheckRecords(*broker, "after space was freed"); !s.ok()) return s;
  if (absl::Status s = CheckCommitted(*broker); !s.ok()) return s;

  if (absl::Status s = (*producer)->Close(); !s.ok()) return Fail(s.ToString());
  if (absl::Status s = (*retrying)->Close(); !s.ok()) return Fail(s.ToString());
  if (absl::Status s = (*consumer)->Close(); !s.ok()) return Fail(s.ToString());
  if (absl::Status s = broker->Close(); !s.ok()) return Fail(fmt::format("Close: {}", s.ToString()));
  broker.reset();
  if (absl::Status s = CheckStray("after Close"); !s.ok()) return s;

  // Reopen and check everything again.
  {
    auto opened = Broker::Open(data_, bo);
    if (!opened.ok()) return Fail(fmt::format("reopen: {}", opened.status().ToString()));
    broker = std::move(*opened);
  }
  for (int32_t p = 0; p < kPartitions; ++p) {
    const storage::RecoveryReport& report =
        testing::PartitionOf(*broker, kTopic, p)->log().recovery_report();
    if (!report.problems.empty() || !report.set_aside.empty() || report.bytes_truncated > 0) {
      return Fail(fmt::format("reopen of {}-{}: {}", kTopic, p, report.ToString()));
    }
  }
  if (absl::Status s = CheckRecords(*broker, "after a reopen"); !s.ok()) return s;
  if (absl::Status s = CheckCommitted(*broker); !s.ok()) return s;
  if (absl::Status s = broker->Close(); !s.ok()) return Fail(fmt::format("Close: {}", s.ToString()));
  return CheckStray("after the reopen");
}

absl::Status FullDisk(const Options& opts, Stats& stats) {
  const bool have_mkfs = std::system("command -v mkfs.ext4 >/dev/null 2>&1") == 0;
  bool ext4_works = have_mkfs;
  for (int64_t round = 0; round < opts.rounds; ++round) {
    const std::string mnt = fmt::format("{}/mnt{}", opts.dir, round);
    Mount m;
    bool ext4 = false;
    if (round % 2 == 1 && ext4_works) {
      absl::Status s = m.MountExt4(opts.dir + "/ext4.img", mnt);
      ext4 = s.ok();
      if (!s.ok()) {
        ext4_works = false;  // tmpfs from now on
        stats.Fault("ext4-unavailable");
        if (opts.verbose) fmt::print("ext4: {}\n", s.ToString());
      }
    }
    if (!ext4) {
      absl::Status s = m.MountTmpfs(mnt);
      if (!s.ok()) {
        if (round == 0) {
          stats.skipped = std::string(s.message());
          return absl::OkStatus();
        }
        return Failure(opts, fmt::format("round {}: {}", round, s.ToString()));
      }
    }
    stats.Fault(ext4 ? "ext4-full" : "tmpfs-full");
    absl::Status result = FullDiskRound(opts, stats, round, mnt).Run();
    absl::Status unmounted = m.Unmount();
    if (!result.ok()) return result;
    if (!unmounted.ok()) return Failure(opts, unmounted.ToString());
    std::error_code ec;
    fs::remove(mnt, ec);
    ++stats.rounds;
  }
  std::error_code ec;
  fs::remove(opts.dir + "/ext4.img", ec);
  return absl::OkStatus();
}

}  // namespace

RUNNEL_TORTURE({.name = "full-disk",
                .criteria = "real full tmpfs/ext4: a failed send is ResourceExhausted naming "
                            "the directory; exactly the acked records readable, no stray files; "
                            "the same producer resumes once space is freed; same after reopen",
                .short_rounds = 3,
                .short_seconds = 60,
                .long_rounds = 50,
                .long_seconds = 1800,
                .fn = &FullDisk});

}  // namespace runnel::torture
