// The soak torture's driver (soak.cc, soak_crash.cc): one broker on a FaultEnv over a
// clock the soak moves itself, its producer and consumers, the model they are checked
// against, and one method per operation. Single-threaded: every operation is driven from
// the torture's thread, so a seed replays the same operations.
#ifndef RUNNEL_TEST_TORTURE_SOAK_HARNESS_H_
#define RUNNEL_TEST_TORTURE_SOAK_HARNESS_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "io/env.h"
#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/group_admin.h"
#include "runnel/producer.h"
#include "support/fault_env.h"
#include "torture/soak_model.h"
#include "torture/torture.h"

namespace runnel::torture::soak {

inline constexpr char kMembersGroup[] = "members";  // Subscribe-d consumers
inline constexpr char kSoloGroup[] = "solo";        // commits from outside the group

// The wall clock the broker sees: moved only by the soak, so segment.ms rolls and
// retention.ms deletions happen at the same operation in every replay.
class ManualClock : public io::EnvWrapper {
 public:
  ManualClock(io::Env* target, int64_t now) : io::EnvWrapper(target), now_(now) {}
  int64_t NowMillis() override { return now_.load(); }
  void Advance(int64_t ms) { now_ += ms; }

 private:
  std::atomic<int64_t> now_;
};

// A Subscribe-d member of kMembersGroup.
struct Member {
  int id = 0;
  ModelPositions positions;  // before consumer: its Close (in the destructor) calls listeners
  std::unique_ptr<Consumer> consumer;
};

// Records a produce sent, in send order per partition.
struct Sent {
  TopicPartition tp;
  ModelRecord record;
};

class Soak {
 public:
  Soak(const Options& opts, Stats& stats);
  ~Soak();
  absl::Status Run();

 private:
  using Clock = std::chrono::steady_clock;

  // A failed criterion, naming the operation it broke in.
  absl::Status Fail(std::string_view what) const;
  absl::Status Check(const absl::Status& st, std::string_view doing) const;

  // Setup and teardown (soak_crash.cc).
  absl::Status OpenBroker();
  absl::Status OpenClients();
  absl::Status CloseAll();
  void DropAll();  // without closing anything cleanly: a crash
  absl::Status AddMember();
  absl::Status CleanReopen();
  absl::Status PowerCut();
  // After a power cut: each partition's log against the model and what was attempted.
  absl::Status Reconcile(const std::vector<Sent>& attempted, const std::vector<bool>& acked);
  absl::Status ReconcileCommits(const std::string& group,
                                const std::vector<std::map<TopicPartition, int64_t>>& states,
                                size_t acked);
  // Reads the partition from `from` (clamped to its log start) to its visible end with a
  // fresh consumer; says where the log starts and ends.
  absl::Status ReadRange(const TopicPartition& tp, int64_t from, int64_t* start, int64_t* end,
                         const std::function<absl::Status(const ConsumerRecord&)>& visit);
  absl::Status VerifyAll();
  // Reads [from, end) back (all of it when `from` is the log start) against the model.
  absl::Status VerifyPartition(const TopicPartition& tp, int64_t from);

  // Operations (soak.cc).
  absl::Status Produce();
  absl::Status ProduceBatch(std::vector<Sent>& sends, bool sync, std::vector<bool>* acked,
                            bool crashing);
  Sent NextRecord(const std::string& topic);
  absl::Status Consume();
  absl::Status SeekOp();
  // Commit offsets (returned in `offsets`); when `crashing`, a failure is only noted.
  absl::Status SoloCommit(bool crashing, std::map<TopicPartition, int64_t>* offsets, bool* acked);
  absl::Status MemberCommit(bool crashing, std::map<TopicPartition, int64_t>* offsets, bool* acked);
  absl::Status GroupPoll();
  absl::Status JoinOrLeave();
  absl::Status Settle();
  absl::Status Retention();
  absl::Status RollOp();
  absl::Status AdminOp();
  absl::Status CheckPolled(std::string_view who, ModelPositions& positions,
                           std::span<const ConsumerRecord> records, bool require_progress);
  absl::Status CheckGroupOffsets(const std::string& group, Consumer* consumer);
  absl::Status CheckPartitionBounds(const TopicPartition& tp);
  std::string RandomTopic();
  TopicPartition RandomPartition();
  std::vector<std::string> GroupTopics() const;
  std::string PartitionDir(const TopicPartition& tp) const;
  ConsumerOptions MemberOptions(Member& m);

  const Options& opts_;
  Stats& stats_;
  std::mt19937_64 rng_;
  const std::string dir_;
  ManualClock clock_;
  testing::FaultEnv env_;
  BrokerOptions broker_options_;

  std::unique_ptr<Broker> broker_;
  std::unique_ptr<Producer> producer_;
  std::unique_ptr<Consumer> reader_;  // Assign-ed, no group
  ModelPositions reader_positions_;
  std::unique_ptr<Consumer> solo_;  // commits for kSoloGroup, never polls
  std::unique_ptr<GroupAdmin> admin_;
  std::vector<std::unique_ptr<Member>> members_;
  int next_member_id_ = 0;
  int target_members_ = 2;

  Model model_;
  uint64_t next_seq_ = 0;
  int64_t op_ = 0;
  std::string op_name_ = "setup";
};

}  // namespace runnel::torture::soak

#endif  // RUNNEL_TEST_TORTURE_SOAK_HARNESS_H_
