// The workload the FaultEnv tortures (fault_power_loss.cc, fault_power_loss_recovery.cc,
// fault_io_errors.cc) run in-process through a test::FaultEnv, and the checks they make
// on the data directory afterwards.
//
// A workload opens a broker (BrokerCore::Open on the env, WrapBrokerCore), creates the
// plan's topics, produces self-checking values (payload.h) to chosen partitions, each
// partition's records numbered 0, 1, 2... (its stream is StreamOf(topic, partition)) with
// timestamp TimestampOf(seq), commits group offsets with CommitSync now and then (so
// __consumer_offsets is written), may grow the first topic with CreatePartitions, and
// closes everything. It notes what each call returned: which topic creations, commits,
// growths and records were acknowledged. Once the env is dead (KillAfter) or failing,
// calls fail and the workload carries on to the end, as an application would.
#ifndef RUNNEL_TEST_TORTURE_FAULT_WORKLOAD_H_
#define RUNNEL_TEST_TORTURE_FAULT_WORKLOAD_H_

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "io/env.h"
#include "runnel/broker.h"
#include "runnel/topic_config.h"
#include "runnel/types.h"
#include "torture.h"

namespace runnel::torture::fault {

inline constexpr char kGroup[] = "fault-group";

struct TopicPlan {
  std::string name;
  int32_t partitions = 1;
  TopicConfig config;
};

struct Plan {
  std::vector<TopicPlan> topics;
  int64_t records = 0;       // records to send
  int64_t commit_every = 0;  // CommitSync after this many sends (0: never)
  int64_t grow_at = -1;      // CreatePartitions(topics[0], +1) before this send; -1: never
  int64_t flush_every = 8;   // Producer::Flush after this many sends
  int64_t linger_ms = 0;
  int32_t batch_size = 16384;
  size_t max_value = 1500;    // value sizes are DrawSize(rng, 24, max_value)
  uint64_t payload_seed = 0;  // for MakeValue
  uint64_t rng_seed = 0;      // partition choice and sizes
  BrokerOptions broker;
};

// A plan with two or three topics: one or two sync.policy always with small segments (so
// they roll), one sync none; __consumer_offsets synced always, at its smallest segment size.
Plan DrawPlan(std::mt19937_64& rng, int64_t records);

uint32_t StreamOf(size_t topic_index, int32_t partition);
int64_t TimestampOf(uint64_t seq);

struct PartitionOutcome {
  uint64_t sent = 0;                  // seqs 0 .. sent-1 were passed to Send
  std::map<int64_t, uint64_t> acked;  // offset -> seq, for acknowledged records
  // Callback results in the order they fired (seq, ok).
  std::vector<std::pair<uint64_t, bool>> results;
};

struct CommitAttempt {
  std::map<TopicPartition, int64_t> offsets;
  bool ok = false;
};

struct Outcome {
  bool open_ok = false;
  std::map<std::string, bool> created;  // topic -> CreateTopic returned OK (absent: not tried)
  bool grow_tried = false, grow_ok = false;
  std::map<TopicPartition, PartitionOutcome> partitions;
  std::vector<CommitAttempt> commits;
  // Every API call that returned an error, "<call>: <status>", in order.
  std::vector<std::string> errors;
};

// Where a torture's rounds put their data directories: under /dev/shm when it is writable
// (and RUNNEL_TORTURE_ON_DISK is unset), else Options::dir. FaultEnv models what a power
// cut keeps, so a real disk's fsync adds only time (seconds per round on a busy disk).
// Removed when Done() was called (on success); kept for inspection otherwise.
class Scratch {
 public:
  explicit Scratch(const Options& opts);
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  const std::string& path() const { return path_; }
  void Done() { done_ = true; }
  // The rounds to run: Options::rounds, or a quarter of them for the short form on a
  // real disk, whose fsyncs make each round ~30 times slower.
  int64_t Rounds(const Options& opts) const {
    return own_ || opts.long_mode ? opts.rounds : std::max<int64_t>(1, opts.rounds / 4);
  }

 private:
  std::string path_;
  bool own_ = false;
  bool done_ = false;
};

Outcome RunWorkload(io::Env* env, const std::string& dir, const Plan& plan);

// Runs `plan` once without faults in <base>/count (removed afterwards) and returns how many
// operations of every kind it made through the FaultEnv: the range power cuts sweep.
absl::StatusOr<int64_t> CountWorkloadOps(const std::string& base, const Plan& plan);

struct CheckOptions {
  // Each partition holds seq == offset (true when no append failed and a later one
  // succeeded: power loss; not after a single failed write).
  bool exact_seq = true;
  // Acknowledged records of sync.policy none/interval topics must survive too (no power
  // was cut).
  bool all_acked_durable = false;
  bool run_verify = true;
};

// Opens `dir` with io::PosixEnv and checks it against the plan and what the workload saw
// (see the tortures' criteria), then appends to every partition, closes and runs
// `runnel verify`. Adds acked/verified/lost/corrupt to `stats`. `where` prefixes failures.
absl::Status CheckDirectory(const Options& opts, const std::string& where, const std::string& dir,
                            const Plan& plan, const Outcome& outcome, const CheckOptions& check,
                            Stats& stats);

// Runs `runnel verify` on `dir`: OK on exit status 0, else an error with its output.
absl::Status RunVerify(const std::string& dir);

// A data directory's contents as a reader sees them: topics with partition counts and
// configs, every record (offset and digest) of every partition, committed offsets.
struct DirState {
  std::map<std::string, std::pair<int32_t, TopicConfig>> topics;
  std::map<TopicPartition, std::vector<std::pair<int64_t, uint64_t>>> records;
  std::map<TopicPartition, int64_t> committed;
  bool operator==(const DirState&) const = default;
};
// Opens `dir` on `env`, reads its state and closes it.
absl::StatusOr<DirState> ReadState(io::Env* env, const std::string& dir, const Plan& plan);
// The first difference between two states, "" when equal.
std::string DescribeDifference(const DirState& a, const DirState& b);

}  // namespace runnel::torture::fault

#endif  // RUNNEL_TEST_TORTURE_FAULT_WORKLOAD_H_
