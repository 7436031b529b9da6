// io-errors: one file operation fails with EIO, once or from then on, at every position.
//
// For each operation kind (write, fsync/msync, open, rename, map, truncate/allocate,
// directory fsync, remove) the workload of fault_workload.h (open a broker, create topics,
// produce with sync.policy always and none, commit group offsets, maybe CreatePartitions,
// close; 40 records, 150 in the long form)
// is run once without faults on a FaultEnv to count that kind's operations, K. Then for
// N = 1 .. K (short form: K capped at 400; past it, the first 200 and 200 spread over the
// rest) it runs on a fresh directory with the N-th operation of that kind failing with
// FaultEnv::IoError: once, and separately persistently (every later one fails too).
//
// Pass criteria, for every case:
//  - the failure surfaces: when the N-th operation was attempted, some API call returned
//    an error (BrokerCore::Open, CreateTopic, CreatePartitions, a Send callback,
//    CommitSync, Flush, a Close). One exception, by design and harmless: the rewrite of
//    __consumer_offsets (OffsetStore::MaybeCompact) runs after the commit is stored and
//    swallows its own failure; when it fails creating its fresh segment (open, allocate
//    or map there), RollLocked leaves the old segment active, nothing is lost, and the
//    rewrite is tried again after a later commit. (A FailureTrace in front of the
//    FaultEnv tells which file each failed operation was on.)
//  - after a write or fsync error, no record of the failing partition is acked later in
//    the same session: the partition stays failed until reopened (an fsync is never
//    retried into success). Not asked of open/map/truncate errors: a segment that could
//    not be created leaves the old one active (as a full disk does), so a smaller record
//    that still fits there may succeed after a larger one failed;
//  - reopening without faults finds an intact directory: every acknowledged record (all
//    sync policies: no power was cut) at its offset, byte-identical; every partition a
//    gapless valid prefix of what was sent to it, in send order; acknowledged topics
//    with their config; committed offsets the last acknowledged commit or a later
//    attempt; seeks by offset and time right; appends continue; `runnel verify` exits 0.
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "fault_workload.h"
#include "io/env.h"
#include "support/fault_env.h"
#include "util/formatters.h"

namespace runnel::torture::fault {
namespace {

using testing::FaultEnv;
using testing::FaultOp;

const std::vector<std::pair<FaultOp, std::string>> kKinds = {
    {FaultOp::kWrite, "write"},      {FaultOp::kSync, "sync"},     {FaultOp::kOpen, "open"},
    {FaultOp::kRename, "rename"},    {FaultOp::kMap, "map"},       {FaultOp::kTruncate, "truncate"},
    {FaultOp::kSyncDir, "sync-dir"}, {FaultOp::kRemove, "remove"},
};

// Sits in front of the FaultEnv and notes every operation that failed with the injected
// error (its message holds kMarker), as "<operation> <path>": which file the fault hit.
constexpr char kMarker[] = "injected";

class FailureTrace : public io::EnvWrapper {
 public:
  using io::EnvWrapper::EnvWrapper;

  std::vector<std::string> failed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return failed_;
  }

  absl::Status Note(std::string_view what, const std::string& path, absl::Status s) {
    if (!s.ok() && s.message().find(kMarker) != std::string_view::npos) {
      std::lock_guard<std::mutex> lock(mu_);
      failed_.push_back(fmt::format("{} {}", what, path));
    }
    return s;
  }

  absl::StatusOr<std::unique_ptr<io::File>> OpenFile(const std::string& path,
                                                     io::OpenMode mode) override {
    absl::StatusOr<std::unique_ptr<io::File>> f = target()->OpenFile(path, mode);
    if (!f.ok()) return Note("open", path, f.status());
    return std::unique_ptr<io::File>(std::make_unique<TracedFile>(this, *std::move(f)));
  }
  absl::Status Rename(const std::string& from, const std::string& to) override {
    return Note("rename", from, target()->Rename(from, to));
  }
  absl::Status SyncDir(const std::string& path) override {
    return Note("sync-dir", path, target()->SyncDir(path));
  }
  absl::Status RemoveFile(const std::string& path) override {
    return Note("remove", path, target()->RemoveFile(path));
  }
  absl::Status RemoveDir(const std::string& path) override {
    return Note("remove", path, target()->RemoveDir(path));
  }

 private:
  class TracedRegion : public io::MappedRegion {
   public:
    TracedRegion(FailureTrace* trace, std::shared_ptr<io::MappedRegion> target, std::string path)
        : MappedRegion(target->data(), target->size()),
          trace_(trace),
          target_(std::move(target)),
          path_(std::move(path)) {}
    absl::Status Sync(size_t offset, size_t length) override {
      return trace_->Note("sync", path_, target_->Sync(offset, length));
    }

   private:
    FailureTrace* trace_;
    std::shared_ptr<io::MappedRegion> target_;
    std::string path_;
  };

  class TracedFile : public io::File {
   public:
    TracedFile(FailureTrace* trace, std::unique_ptr<io::File> target)
        : File(target->path()), trace_(trace), target_(std::move(target)) {}
    absl::Status Write(uint64_t offset, std::span<const uint8_t> data) override {
      return trace_->Note("write", path(), target_->Write(offset, data));
    }
    absl::StatusOr<size_t> Read(uint64_t offset, std::span<uint8_t> out) const override {
      return target_->Read(offset, out);
    }
    absl::Status Sync() override { return trace_->Note("sync", path(), target_->Sync()); }
    absl::Status Truncate(uint64_t size) override {
      return trace_->Note("truncate", path(), target_->Truncate(size));
    }
    absl::Status Allocate(uint64_t size) override {
      return trace_->Note("truncate", path(), target_->Allocate(size));
    }
    absl::StatusOr<uint64_t> Size() const override { return target_->Size(); }
    absl::StatusOr<std::shared_ptr<io::MappedRegion>> Map(size_t length, bool writable) override {
      absl::StatusOr<std::shared_ptr<io::MappedRegion>> r = target_->Map(length, writable);
      if (!r.ok()) return trace_->Note("map", path(), r.status());
      return std::shared_ptr<io::MappedRegion>(
          std::make_shared<TracedRegion>(trace_, *std::move(r), path()));
    }

   private:
    FailureTrace* trace_;
    std::unique_ptr<io::File> target_;
  };

  mutable std::mutex mu_;
  std::vector<std::string> failed_;
};

// Whether every failed operation is one the offsets store may swallow: creating the fresh
// segment of a __consumer_offsets rewrite (open, allocate or map of its files).
// RollLocked then leaves the old segment active, nothing is lost, and OffsetStore::
// MaybeCompact tries again after a later commit (groups/offset_store.cc), by design.
bool OnlyOffsetsRollFailed(const std::vector<std::string>& failed) {
  for (const std::string& f : failed) {
    const bool roll_op =
        f.starts_with("open ") || f.starts_with("map ") || f.starts_with("truncate ");
    if (!roll_op || f.find("/__consumer_offsets-0/") == std::string::npos) return false;
  }
  return true;
}

// A record of a partition acked after an earlier one of it failed: "" if none.
std::string AckedAfterFailure(const Outcome& out) {
  for (const auto& [tp, po] : out.partitions) {
    std::optional<uint64_t> failed;
    for (const auto& [seq, ok] : po.results) {
      if (!ok && !failed) failed = seq;
      if (ok && failed) {
        return fmt::format("{}-{}: seq {} acknowledged after seq {} failed", tp.topic, tp.partition,
                           seq, *failed);
      }
    }
  }
  return "";
}

// 1..k when k <= cap; else the first cap/2 and cap/2 more spread evenly over the rest.
std::vector<int64_t> Positions(int64_t k, int64_t cap) {
  std::vector<int64_t> out;
  const int64_t head = k <= cap ? k : cap / 2;
  for (int64_t n = 1; n <= head; ++n) out.push_back(n);
  if (k > cap) {
    const int64_t rest = cap - head;
    for (int64_t i = 1; i <= rest; ++i) out.push_back(head + i * (k - head) / rest);
  }
  return out;
}

absl::Status IoErrors(const Options& opts, Stats& stats) {
  Scratch scratch(opts);
  const std::string& base = scratch.path();
  std::mt19937_64 rng(opts.seed);
  Plan plan = DrawPlan(rng, opts.long_mode ? 150 : 40);
  plan.commit_every = 6;
  // On a real disk (no /dev/shm) the short form sweeps fewer positions.
  const int64_t cap = opts.long_mode ? 100000 : scratch.Rounds(opts) == opts.rounds ? 400 : 16;
  std::map<FaultOp, int64_t> counts;
  {
    const std::string dir = base + "/count";
    FaultEnv env;
    const Outcome out = RunWorkload(&env, dir, plan);
    if (!out.errors.empty()) return Failure(opts, "fault-free run failed: " + out.errors.front());
    for (const auto& [op, name] : kKinds) counts[op] = env.count(op);
    std::filesystem::remove_all(dir);
  }
  int64_t case_number = 0;
  for (const auto& [op, name] : kKinds) {
    for (int64_t n : Positions(counts[op], cap)) {
      for (bool persistent : {false, true}) {
        if (stats.rounds >= opts.rounds) break;
        const std::string kind = fmt::format("eio-{}{}", name, persistent ? "-persistent" : "");
        const std::string dir = fmt::format("{}/c{}", base, case_number++);
        const std::string where =
            fmt::format("{} at {} operation {} of {} ({})", kind, name, n, counts[op], dir);
        Outcome out;
        bool fired = false;
        std::vector<std::string> failed;
        {
          FaultEnv env;
          env.FailNth(op, n, FaultEnv::IoError(dir, fmt::format("{} {}", kMarker, name)),
                      persistent);
          FailureTrace trace(&env);
          out = RunWorkload(&trace, dir, plan);
          fired = env.count(op) >= n;
          failed = trace.failed();
        }
        if (fired && failed.empty()) {
          return Failure(opts, where + ": the fault fired but no failed operation was traced");
        }
        if (fired) stats.Fault(kind);
        if (opts.verbose) {
          fmt::print(
              "io-errors {}: failed {} ({} times), {} errors{}{}\n", where,
              failed.empty() ? "nothing" : failed.front(), failed.size(), out.errors.size(),
              out.errors.empty() ? "" : ", first: ", out.errors.empty() ? "" : out.errors.front());
        }
        if (fired && out.errors.empty() && !OnlyOffsetsRollFailed(failed)) {
          return Failure(opts, fmt::format("{}: {} failed but no API call returned an error", where,
                                           failed.front()));
        }
        if (op == FaultOp::kWrite || op == FaultOp::kSync) {
          if (std::string bad = AckedAfterFailure(out); !bad.empty()) {
            return Failure(opts, fmt::format("{} ({} failed): {}", where,
                                             failed.empty() ? "?" : failed.front(), bad));
          }
        }
        CheckOptions check;
        check.exact_seq = false;
        check.all_acked_durable = true;
        if (out.open_ok || std::filesystem::exists(dir)) {
          if (absl::Status s = CheckDirectory(opts, where, dir, plan, out, check, stats); !s.ok())
            return s;
        }
        ++stats.rounds;
        std::filesystem::remove_all(dir);
      }
    }
  }
  scratch.Done();
  return absl::OkStatus();
}

}  // namespace

RUNNEL_TORTURE(
    {.name = "io-errors",
     .criteria = "EIO on the Nth write/sync/open/rename/map/truncate/syncdir/remove (once "
                 "or persistent) surfaces through some API call (but a failed offsets-rewrite "
                 "roll); a partition failed by write/fsync acks "
                 "nothing more until reopened; reopening finds every ack, valid prefixes, "
                 "acked topics and commits, verify 0",
     .short_rounds = 2000,  // cases; the sweep ends sooner
     .short_seconds = 0,
     .long_rounds = 1000000,
     .long_seconds = 0,
     .fn = &IoErrors});

}  // namespace runnel::torture::fault
