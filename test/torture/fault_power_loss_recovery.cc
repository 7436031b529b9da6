// power-loss-recovery: power fails while a crashed directory is being recovered.
//
// A round: the power-loss torture's workload (fault_workload.h) runs on a FaultEnv with
// KillAfter(N), N drawn at random, then PowerCut: a crashed image. It is copied twice.
// Copy A is recovered cleanly through a counting FaultEnv (open, read every partition's
// records and the group's committed offsets, close): state SA, and M_total, the file
// operations that clean recovery performs. Copy B is opened through a FaultEnv armed with
// KillAfter(M), M sweeping 0..M_total over the first rounds and random after, so power
// fails during recovery itself (Open, the reads, or Close); PowerCut; then B is recovered
// cleanly: state SB.
//
// Pass criteria, every round:
//  - SB == SA exactly: the same topics with the same partition counts and configs, the
//    same records (offset, key, value, timestamp) in every partition, the same committed
//    offsets. Recovery only truncates torn tails, rebuilds indexes and removes what an
//    unfinished admin operation left, all idempotent, so a recovery cut short and redone
//    must end where an uninterrupted one does;
//  - copy A passes the power-loss torture's checks (every sync.policy always record
//    acknowledged before the cut is there, valid prefixes, seeks, committed offsets,
//    appends, `runnel verify` 0), and so does copy B afterwards.
#include <filesystem>
#include <random>
#include <string>

#include "fault_workload.h"
#include "io/env.h"
#include "support/fault_env.h"
#include "util/formatters.h"

namespace runnel::torture::fault {
namespace {

using testing::FaultEnv;
using testing::FaultOp;

constexpr int64_t kRecords = 100;

absl::Status PowerLossRecovery(const Options& opts, Stats& stats) {
  Scratch scratch(opts);
  const std::string& base = scratch.path();
  std::mt19937_64 rng(opts.seed);
  const Plan base_plan = DrawPlan(rng, kRecords);
  const absl::StatusOr<int64_t> counted = CountWorkloadOps(base, base_plan);
  if (!counted.ok()) return Failure(opts, std::string(counted.status().message()));
  const int64_t workload_ops = *counted;
  const int64_t rounds = scratch.Rounds(opts);
  const int64_t sweep_rounds = rounds * 2 / 3;
  for (int64_t round = 0; round < rounds; ++round) {
    Plan plan = base_plan;
    plan.rng_seed = rng();
    plan.payload_seed = rng();
    // Cut late enough in the workload that there is something to recover.
    const int64_t kill_after =
        workload_ops / 4 + static_cast<int64_t>(rng() % static_cast<uint64_t>(workload_ops + 1));
    const std::string root = fmt::format("{}/r{}", base, round);
    const std::string image = root + "/image", copy_a = root + "/a", copy_b = root + "/b";
    Outcome out;
    {
      FaultEnv env;
      env.KillAfter(kill_after);
      out = RunWorkload(&env, image, plan);
      if (absl::Status s = env.PowerCut(rng()); !s.ok()) {
        return Failure(opts, fmt::format("round {}: PowerCut: {}", round, s.ToString()));
      }
    }
    stats.Fault("power-cut");
    std::error_code ec;
    for (const std::string& to : {copy_a, copy_b}) {
      std::filesystem::copy(image, to, std::filesystem::copy_options::recursive, ec);
      if (ec) return Failure(opts, fmt::format("copying {} to {}: {}", image, to, ec.message()));
    }

    // A: clean recovery, counted.
    FaultEnv counter;
    absl::StatusOr<DirState> sa = ReadState(&counter, copy_a, plan);
    const int64_t recovery_ops = counter.count(FaultOp::kAny);
    std::string where =
        fmt::format("round {} (workload cut after {} operations, {})", round, kill_after, root);
    if (!sa.ok())
      return Failure(opts, where + ": clean recovery of copy A: " + sa.status().ToString());

    // B: power fails during recovery, then recovery again.
    const int64_t m = round < sweep_rounds
                          ? round * (recovery_ops + 1) / std::max<int64_t>(sweep_rounds, 1)
                          : static_cast<int64_t>(rng() % static_cast<uint64_t>(recovery_ops + 1));
    where += fmt::format(", recovery cut after {} of {} operations", m, recovery_ops);
    {
      FaultEnv env;
      env.KillAfter(m);
      absl::StatusOr<DirState> cut = ReadState(&env, copy_b, plan);
      if (opts.verbose) {
        fmt::print("power-loss-recovery {}: interrupted recovery {}\n", where,
                   cut.ok() ? "completed" : cut.status().ToString());
      }
      if (absl::Status s = env.PowerCut(rng()); !s.ok())
        return Failure(opts, where + ": PowerCut: " + s.ToString());
    }
    stats.Fault("power-cut-in-recovery");
    absl::StatusOr<DirState> sb = ReadState(io::PosixEnv(), copy_b, plan);
    if (!sb.ok()) return Failure(opts, where + ": recovery of copy B: " + sb.status().ToString());
    if (std::string diff = DescribeDifference(*sa, *sb); !diff.empty() || !(*sa == *sb)) {
      return Failure(opts, where +
                               ": state after an interrupted recovery differs from a clean one: " +
                               (diff.empty() ? "(configs?)" : diff));
    }
    CheckOptions check;
    check.exact_seq = true;
    check.run_verify = false;  // copy B's run covers the tool; A is the same state
    if (absl::Status s = CheckDirectory(opts, where + " copy A", copy_a, plan, out, check, stats);
        !s.ok()) {
      return s;
    }
    check.run_verify = true;
    Stats b_stats;  // the same acks again: count them once
    if (absl::Status s = CheckDirectory(opts, where + " copy B", copy_b, plan, out, check, b_stats);
        !s.ok()) {
      stats.lost += b_stats.lost;
      stats.corrupt += b_stats.corrupt;
      return s;
    }
    ++stats.rounds;
    std::filesystem::remove_all(root);
  }
  scratch.Done();
  return absl::OkStatus();
}

}  // namespace

RUNNEL_TORTURE(
    {.name = "power-loss-recovery",
     .criteria = "a power cut during recovery of a power-cut image, then recovery again, "
                 "ends in exactly the state of one clean recovery (topics, configs, every "
                 "record at its offset, committed offsets); both pass power-loss's checks",
     .short_rounds = 300,
     .short_seconds = 0,
     .long_rounds = 2000,
     .long_seconds = 0,
     .fn = &PowerLossRecovery});

}  // namespace runnel::torture::fault
