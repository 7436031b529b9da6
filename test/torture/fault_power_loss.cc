// power-loss: power fails at every point of a workload, in-process through FaultEnv.
//
// A round: a fresh directory; the workload of fault_workload.h (two or three topics, one
// or two sync.policy always with small segments that roll, one sync none; self-checking
// values of random sizes to chosen partitions; a consumer group's CommitSync now and then,
// __consumer_offsets synced always at its smallest segment size so it is rewritten; maybe
// a CreatePartitions) runs on a FaultEnv armed with KillAfter(N): after N mutating file
// operations every later one fails ("power lost") and the workload's calls fail. N sweeps
// the workload's mutating operations (counted once by a run without faults) over the
// first rounds, then is drawn at random. Everything is torn down, FaultEnv::PowerCut
// leaves the disk as a power loss would (unsynced tails torn at random, unsynced creates
// and renames undone), and the directory is reopened with the POSIX env.
//
// Pass criteria, every round:
//  - the directory reopens;
//  - every record acknowledged under sync.policy always is at its offset, byte-identical
//    (lost == 0);
//  - every partition of every topic is a valid prefix of what was sent to it: offsets
//    0..end-1 without gaps, each record's value parses and is the one sent as that
//    partition's record number <offset> (key and timestamp too), visible offset == end
//    (corrupt == 0);
//  - indexes are consistent or rebuilt: Seek to random offsets and OffsetsForTimes to
//    record timestamps through a Consumer return the right record, and `runnel verify`
//    exits 0 after the reopened broker closes;
//  - a topic whose CreateTopic returned OK exists with its config; no topic exists that
//    was not created; the partition count is the created one, or the grown one if
//    CreatePartitions was tried (must be, if it returned OK);
//  - each committed offset is the last acknowledged CommitSync's or a later attempt's;
//  - the reopened broker appends to every partition at its log end.
//
// Data directories live under /dev/shm when it is writable (fault_workload.h's Scratch:
// FaultEnv models what a power cut keeps, so a real disk adds only fsync time); with
// RUNNEL_TORTURE_ON_DISK=1 or no /dev/shm the short form runs a quarter of the rounds.
#include <filesystem>
#include <random>
#include <string>

#include "fault_workload.h"
#include "support/fault_env.h"
#include "util/formatters.h"

namespace runnel::torture::fault {
namespace {

using testing::FaultEnv;
using testing::FaultOp;

constexpr int64_t kRecords = 120;

absl::Status PowerLoss(const Options& opts, Stats& stats) {
  Scratch scratch(opts);
  const std::string& base = scratch.path();
  std::mt19937_64 rng(opts.seed);
  const Plan base_plan = DrawPlan(rng, kRecords);
  const absl::StatusOr<int64_t> counted = CountWorkloadOps(base, base_plan);
  if (!counted.ok()) return Failure(opts, std::string(counted.status().message()));
  const int64_t total_ops = *counted;
  const int64_t rounds = scratch.Rounds(opts);
  const int64_t sweep_rounds = rounds * 2 / 3;
  for (int64_t round = 0; round < rounds; ++round) {
    Plan plan = base_plan;
    plan.rng_seed = rng();
    plan.payload_seed = rng();
    const int64_t kill_after =
        round < sweep_rounds ? round * (total_ops + 1) / std::max<int64_t>(sweep_rounds, 1)
                             : static_cast<int64_t>(rng() % static_cast<uint64_t>(total_ops + 1));
    const std::string dir = fmt::format("{}/r{}", base, round);
    const std::string where = fmt::format("round {} (power cut after {} of ~{} operations, {})",
                                          round, kill_after, total_ops, dir);
    Outcome out;
    {
      FaultEnv env;
      env.KillAfter(kill_after);
      out = RunWorkload(&env, dir, plan);
      if (absl::Status s = env.PowerCut(rng()); !s.ok()) {
        return Failure(opts, where + ": PowerCut: " + s.ToString());
      }
    }
    stats.Fault("power-cut");
    if (opts.verbose) {
      fmt::print(
          "power-loss {}: {} errors{}{}\n", where, out.errors.size(),
          out.errors.empty() ? "" : ", first: ", out.errors.empty() ? "" : out.errors.front());
    }
    CheckOptions check;
    check.exact_seq = true;
    if (absl::Status s = CheckDirectory(opts, where, dir, plan, out, check, stats); !s.ok())
      return s;
    ++stats.rounds;
    std::filesystem::remove_all(dir);
  }
  scratch.Done();
  return absl::OkStatus();
}

}  // namespace

RUNNEL_TORTURE({.name = "power-loss",
                .criteria = "after a power cut at any point of a workload (FaultEnv): reopens; "
                            "sync-always acks kept byte-identical; every partition a valid gapless "
                            "prefix; seeks by offset/time right; runnel verify 0; acked topics "
                            "exist with config; committed offsets = last acked or later attempt; "
                            "appends continue",
                .short_rounds = 400,
                .short_seconds = 0,
                .long_rounds = 5000,
                .long_seconds = 0,
                .fn = &PowerLoss});

}  // namespace runnel::torture::fault
