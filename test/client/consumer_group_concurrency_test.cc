// Consumer groups with threads about: members joining, leaving, closing and "crashing"
// (no longer polling) while a producer thread writes; ownership of partitions while the
// group rebalances again and again; Wakeup and Broker::Close ending a group member's
// blocking Poll. Also run under ThreadSanitizer (make tsan).
//
// Each consumer is used from one thread (its own), as include/runnel/consumer.h asks;
// only Wakeup is called from others. Assertions are about what consumers returned,
// committed and were told by their rebalance listeners, never about how long anything
// took: every wait is bounded, and a wait that runs out is reported as a failure of the
// behaviour waited for. Catch2 assertions run on the test thread only; other threads
// collect what they saw, and the test thread checks it after joining them.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "broker/broker_core.h"
#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/group_admin.h"
#include "runnel/producer.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;
using Clock = std::chrono::steady_clock;

#if defined(__SANITIZE_THREAD__)
constexpr bool kUnderTsan = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr bool kUnderTsan = true;
#else
constexpr bool kUnderTsan = false;
#endif
#else
constexpr bool kUnderTsan = false;
#endif

constexpr char kTopic[] = "events";
constexpr int32_t kPartitions = 6;
constexpr uint32_t kAllPartitions = (1u << kPartitions) - 1;

TopicConfig SmallConfig() {
  TopicConfig c;
  c.segment_index_bytes = 4096;
  c.segment_bytes = 64 * 1024;  // rolls while consumers read
  return c;
}

std::vector<TopicPartition> AllPartitions() {
  std::vector<TopicPartition> out;
  for (int32_t p = 0; p < kPartitions; ++p) out.push_back({kTopic, p});
  return out;
}

uint32_t MaskOf(const std::vector<TopicPartition>& partitions) {
  uint32_t mask = 0;
  for (const TopicPartition& tp : partitions) mask |= 1u << tp.partition;
  return mask;
}

// Polls `done` every few milliseconds until it holds or `limit` passes; says which.
bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const Clock::time_point give_up = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() >= give_up) return done();
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// Runs `rescue` on its own thread if not disarmed within `after`.
class Watchdog {
 public:
  Watchdog(std::chrono::milliseconds after, std::function<void()> rescue)
      : rescue_(std::move(rescue)), thread_([this, after] {
          std::unique_lock<std::mutex> lock(mu_);
          if (!cv_.wait_for(lock, after, [&] { return disarmed_; })) {
            fired_ = true;
            lock.unlock();
            rescue_();
          }
        }) {}
  ~Watchdog() {
    Disarm();
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void Disarm() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      disarmed_ = true;
    }
    cv_.notify_all();
  }
  bool fired() {
    std::lock_guard<std::mutex> lock(mu_);
    return fired_;
  }

 private:
  std::function<void()> rescue_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool disarmed_ = false;
  bool fired_ = false;
  std::thread thread_;  // last: starts once the rest is built
};

// Joins the threads it was given when it goes, after running `stop`: a REQUIRE that
// throws on the test thread never leaves a joinable std::thread behind.
class ThreadGroup {
 public:
  explicit ThreadGroup(std::function<void()> stop) : stop_(std::move(stop)) {}
  ~ThreadGroup() { JoinAll(); }
  void Add(std::thread t) { threads_.push_back(std::move(t)); }
  void JoinAll() {
    if (stop_) stop_();
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
    threads_.clear();
  }

 private:
  std::function<void()> stop_;
  std::vector<std::thread> threads_;
};

std::unique_ptr<Broker> OpenBroker(const std::string& dir) {
  auto opened = Broker::Open(dir);
  REQUIRE_OK(opened);
  return std::move(*opened);
}

// Creates __consumer_offsets as the group coordinator would on the first commit, so that
// the tests below do not take the path of the first commit, which takes the broker's
// admin lock inside the coordinator's lock, while Broker::Close takes them the other way
// round (a lock-order inversion ThreadSanitizer reports; the last test of this file
// covers it). Without this, every test here that commits would report it under TSan, and
// hide whatever else TSan might find.
void PrepareOffsetsTopic(Broker& broker) {
  TopicConfig config = broker.options().default_topic_config;
  config.retention_ms = -1;
  config.retention_bytes = -1;
  config.segment_bytes = broker.options().offsets_topic_segment_bytes;
  config.segment_ms = std::numeric_limits<int64_t>::max() / 2;
  config.max_message_bytes = std::numeric_limits<int32_t>::max();
  config.message_timestamp_type = TimestampType::kCreateTime;
  REQUIRE_OK(broker.core()->CreateInternalTopic(internal::kConsumerOffsetsTopic, 1, config));
}

// ---------------------------------------------------------------------------------------
// 1. Rebalances under load lose nothing.

std::string KeyOf(int64_t number) { return "key-" + std::to_string(number % 97); }

int64_t ParseNumber(const std::optional<std::string_view>& value) {
  if (!value || value->empty()) return -1;
  int64_t n = 0;
  for (char c : *value) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

// What one consumer thread saw, in its order.
struct Event {
  enum class Kind : uint8_t { kAssigned, kRevoked, kLost, kRecord };
  Kind kind = Kind::kRecord;
  int32_t partition = -1;
  int64_t offset = -1;
  int64_t number = -1;  // the record's value
  bool key_ok = true;   // the record's key is KeyOf(number)
  int64_t seq = -1;     // position in the order of every thread's events (Shared::seq)
  size_t member = 0;    // index into the consumer's member ids
};

// A CommitSync that returned OK, with the offsets it committed.
struct CommitRecord {
  int64_t start_seq = -1;  // taken before CommitSync was called
  int64_t end_seq = -1;    // taken after it returned
  std::string member;
  std::map<int32_t, int64_t> offsets;
};

struct Shared {
  // One order over the threads: an event that happens before another (through the
  // coordinator's hand-over of a partition, say) takes a smaller number.
  std::atomic<int64_t> seq{0};
  std::atomic<int64_t> processed{0};
  std::mutex mu;
  std::vector<CommitRecord> commits;
  std::vector<std::string> failed_commits;
  std::vector<std::string> errors;

  void Error(std::string what) {
    std::lock_guard<std::mutex> lock(mu);
    errors.push_back(std::move(what));
  }
};

// One consumer of the group, used from one thread at a time.
class Member {
 public:
  enum class Command : uint8_t { kRun, kClose, kCrash, kDestroy };

  Member(Shared& shared, std::string name) : shared_(shared), name_(std::move(name)) {}

  void Start(Broker& broker, ConsumerOptions options) {
    options.client_id = name_;
    auto created = Consumer::Create(broker, options);
    REQUIRE_OK(created);
    consumer_ = std::move(*created);
    raw_ = consumer_.get();
    RebalanceListener listener;
    listener.on_partitions_assigned = [this](const std::vector<TopicPartition>& parts) {
      OnListener(Event::Kind::kAssigned, parts);
      held_.fetch_or(MaskOf(parts));
    };
    listener.on_partitions_revoked = [this](const std::vector<TopicPartition>& parts) {
      OnListener(Event::Kind::kRevoked, parts);
      held_.fetch_and(~MaskOf(parts));
    };
    listener.on_partitions_lost = [this](const std::vector<TopicPartition>& parts) {
      OnListener(Event::Kind::kLost, parts);
      held_.fetch_and(~MaskOf(parts));
    };
    REQUIRE_OK(consumer_->Subscribe({kTopic}, listener));
    CurrentMember();
  }

  // Polls once; commits what it returned unless told not to.
  void PollOnce(std::chrono::milliseconds timeout, bool commit) {
    auto polled = consumer_->Poll(timeout);
    if (!polled.ok()) {
      shared_.Error(name_ + ": Poll: " + polled.status().ToString());
      return;
    }
    const int64_t seq = shared_.seq.fetch_add(1);
    const size_t member = CurrentMember();
    for (const ConsumerRecord& r : *polled) {
      Event e;
      e.kind = Event::Kind::kRecord;
      e.partition = r.partition;
      e.offset = r.offset;
      e.number = ParseNumber(r.value);
      e.key_ok = r.key.has_value() && *r.key == KeyOf(e.number);
      e.seq = seq;
      e.member = member;
      events_.push_back(e);
    }
    records_ += static_cast<int64_t>(polled->size());
    shared_.processed.fetch_add(static_cast<int64_t>(polled->size()));
    if (!commit || polled->empty()) return;
    // What CommitSync() commits: the position of every assigned partition.
    std::map<int32_t, int64_t> positions;
    for (const TopicPartition& tp : consumer_->Assignment()) {
      auto position = consumer_->Position(tp);
      if (!position.ok()) {
        shared_.Error(name_ + ": Position: " + position.status().ToString());
        return;
      }
      positions[tp.partition] = *position;
    }
    const int64_t start = shared_.seq.fetch_add(1);
    const absl::Status committed = consumer_->CommitSync();
    const int64_t end = shared_.seq.fetch_add(1);
    std::lock_guard<std::mutex> lock(shared_.mu);
    if (committed.ok()) {
      shared_.commits.push_back({start, end, members_[member], std::move(positions)});
    } else {
      shared_.failed_commits.push_back(name_ + ": " + committed.ToString());
    }
  }

  // The thread's body: polls (and commits) until told otherwise.
  void Run() {
    while (true) {
      switch (command_.load()) {
        case Command::kRun:
          PollOnce(100ms, /*commit=*/true);
          break;
        case Command::kClose: {
          const absl::Status closed = consumer_->Close();
          if (!closed.ok()) shared_.Error(name_ + ": Close: " + closed.ToString());
          finished_ = true;
          return;
        }
        case Command::kCrash:
          // Processes one more Poll's records but never commits them, then stops polling
          // while the consumer stays open, as a hung process would.
          PollOnce(100ms, /*commit=*/false);
          crashed_ = true;
          if (!WaitUntil([&] { return command_.load() != Command::kCrash; }, 120s)) {
            shared_.Error(name_ + ": never told to go after its crash");
          }
          consumer_.reset();  // the destructor closes it
          finished_ = true;
          return;
        case Command::kDestroy:
          consumer_.reset();
          finished_ = true;
          return;
      }
    }
  }

  void Tell(Command c) { command_.store(c); }
  bool crashed() const { return crashed_.load(); }
  bool finished() const { return finished_.load(); }
  uint32_t held() const { return held_.load(); }
  int64_t records() const { return records_.load(); }
  Consumer& consumer() { return *consumer_; }
  const std::string& name() const { return name_; }
  // Read once the thread is joined.
  const std::vector<Event>& events() const { return events_; }
  const std::vector<std::string>& members() const { return members_; }

 private:
  // The index of the member id the consumer has now. Inside on_partitions_lost the
  // consumer is no longer in the group (no member id): the partitions were the last id's.
  size_t CurrentMember() {
    // raw_: the listener runs also while the destructor closes the consumer, when
    // consumer_ (being reset) is null already.
    std::string id = raw_->GroupMetadata().member_id;
    if (!id.empty() && (members_.empty() || members_.back() != id)) members_.push_back(id);
    if (members_.empty()) members_.push_back("<none>");
    return members_.size() - 1;
  }

  void OnListener(Event::Kind kind, const std::vector<TopicPartition>& parts) {
    const int64_t seq = shared_.seq.fetch_add(1);
    const size_t member = CurrentMember();
    for (const TopicPartition& tp : parts) {
      Event e;
      e.kind = kind;
      e.partition = tp.partition;
      e.seq = seq;
      e.member = member;
      events_.push_back(e);
    }
  }

  Shared& shared_;
  const std::string name_;
  std::unique_ptr<Consumer> consumer_;
  Consumer* raw_ = nullptr;
  std::vector<Event> events_;
  std::vector<std::string> members_;
  std::atomic<Command> command_{Command::kRun};
  std::atomic<bool> crashed_{false};
  std::atomic<bool> finished_{false};
  std::atomic<uint32_t> held_{0};
  std::atomic<int64_t> records_{0};
};

// Checks what the members saw against what the log holds (`ends`) and what was committed.
// Returns the problems found (empty when all is well); counts duplicates.
std::vector<std::string> CheckHistory(const std::vector<const Member*>& members,
                                      const std::vector<CommitRecord>& commits,
                                      const std::vector<int64_t>& ends, int64_t* duplicates) {
  std::vector<std::string> problems;
  auto problem = [&](std::string p) {
    if (problems.size() < 20) problems.push_back(std::move(p));
  };
  // Per partition, the committed offset as of an event: at least the largest commit that
  // had returned before it, at most the largest that had begun.
  auto committed_between = [&](int32_t p, int64_t seq) {
    int64_t lo = 0, hi = 0;  // nothing committed: auto.offset.reset earliest, offset 0
    for (const CommitRecord& c : commits) {
      auto it = c.offsets.find(p);
      if (it == c.offsets.end()) continue;
      if (c.end_seq < seq) lo = std::max(lo, it->second);
      if (c.start_seq < seq) hi = std::max(hi, it->second);
    }
    return std::make_pair(lo, hi);
  };
  std::map<std::pair<std::string, int32_t>, int64_t> committed_by;  // (member, p) -> max
  for (const CommitRecord& c : commits) {
    for (const auto& [p, offset] : c.offsets) {
      int64_t& m = committed_by[{c.member, p}];
      m = std::max(m, offset);
    }
  }
  struct Processing {
    int64_t seq;
    std::string member;
  };
  std::map<std::pair<int32_t, int64_t>, std::vector<Processing>> processed;
  for (const Member* m : members) {
    struct State {
      bool held = false;
      bool first = false;  // no record yet since the assignment
      int64_t assigned_seq = -1;
      int64_t last = -1;
    };
    std::map<std::pair<size_t, int32_t>, State> states;
    std::map<std::pair<size_t, std::string>, int64_t> last_number_of_key;
    for (const Event& e : m->events()) {
      const std::string& member = m->members()[e.member];
      State& s = states[{e.member, e.partition}];
      switch (e.kind) {
        case Event::Kind::kAssigned:
          if (s.held) problem(fmt::format("{} ({}): partition {} assigned twice", m->name(), member, e.partition));
          s.held = true;
          s.first = true;
          s.assigned_seq = e.seq;
          break;
        case Event::Kind::kRevoked:
        case Event::Kind::kLost:
          if (!s.held) {
            problem(fmt::format("{} ({}): partition {} {} but not assigned", m->name(), member,
                                e.partition, e.kind == Event::Kind::kLost ? "lost" : "revoked"));
          }
          s.held = false;
          break;
        case Event::Kind::kRecord: {
          if (!s.held) {
            problem(fmt::format("{} ({}): offset {} of partition {} returned outside its assignment",
                                m->name(), member, e.offset, e.partition));
          }
          if (e.number < 0 || !e.key_ok) {
            problem(fmt::format("{}: offset {} of partition {} has a key or value never sent",
                                m->name(), e.offset, e.partition));
          }
          if (s.first) {
            // A partition taken over resumes at the committed offset.
            const auto [lo, hi] = committed_between(e.partition, s.assigned_seq);
            if (e.offset < lo || e.offset > hi) {
              problem(fmt::format(
                  "{} ({}): after taking partition {} its first record is offset {}, but the "
                  "committed offset then was in [{}, {}]",
                  m->name(), member, e.partition, e.offset, lo, hi));
            }
            s.first = false;
          } else if (e.offset != s.last + 1) {
            problem(fmt::format("{} ({}): partition {} offset {} follows offset {}", m->name(),
                                member, e.partition, e.offset, s.last));
          }
          s.last = e.offset;
          // Per-key order in the member's view.
          if (e.number >= 0) {
            int64_t& last = last_number_of_key[{e.member, KeyOf(e.number)}];
            if (last != 0 && e.number <= last - 1) {
              problem(fmt::format("{} ({}): key {} went from record {} back to {}", m->name(),
                                  member, KeyOf(e.number), last - 1, e.number));
            }
            last = e.number + 1;
          }
          processed[{e.partition, e.offset}].push_back({e.seq, member});
          break;
        }
      }
    }
  }
  // Every record processed at least once.
  for (int32_t p = 0; p < kPartitions; ++p) {
    int64_t missing = 0, first_missing = -1;
    for (int64_t o = 0; o < ends[static_cast<size_t>(p)]; ++o) {
      if (!processed.count({p, o})) {
        if (missing++ == 0) first_missing = o;
      }
    }
    if (missing > 0) {
      problem(fmt::format("partition {}: {} records never processed, the first at offset {}", p,
                          missing, first_missing));
    }
  }
  // A record comes again only from another member, and only if the member that had it
  // before never committed past it.
  *duplicates = 0;
  for (auto& [where, list] : processed) {
    if (list.size() < 2) continue;
    *duplicates += static_cast<int64_t>(list.size() - 1);
    std::sort(list.begin(), list.end(),
              [](const Processing& a, const Processing& b) { return a.seq < b.seq; });
    for (size_t i = 1; i < list.size(); ++i) {
      const Processing& before = list[i - 1];
      if (before.member == list[i].member) {
        problem(fmt::format("member {} processed offset {} of partition {} twice", before.member,
                            where.second, where.first));
      }
      auto c = committed_by.find({before.member, where.first});
      if (c != committed_by.end() && c->second > where.second) {
        problem(fmt::format(
            "offset {} of partition {} came again to {} although {} had committed up to {}",
            where.second, where.first, list[i].member, before.member, c->second));
      }
    }
  }
  return problems;
}

void RebalanceUnderLoad(PartitionAssignor assignor) {
  const int64_t kRecords = kUnderTsan ? 4000 : 20000;
  TempDir tmp;
  auto broker = OpenBroker(tmp.Sub("data"));
  REQUIRE_OK(broker->CreateTopic(kTopic, kPartitions, SmallConfig()));
  PrepareOffsetsTopic(*broker);
  auto admin = GroupAdmin::Create(*broker);
  REQUIRE_OK(admin);

  ConsumerOptions options;
  options.group_id = "load";
  options.enable_auto_commit = false;
  options.auto_offset_reset = OffsetReset::kEarliest;
  options.max_poll_records = 97;
  options.partition_assignment_strategy = {assignor};
  ConsumerOptions crashing = options;
  crashing.max_poll_interval_ms = 300;

  auto producer = Producer::Create(*broker, {.linger_ms = 1});
  REQUIRE_OK(producer);
  Shared shared;
  Member a(shared, "a"), b(shared, "b"), c(shared, "c"), d(shared, "d");
  std::atomic<bool> abort_producer{false};
  std::atomic<int64_t> sent{0};
  std::atomic<int64_t> send_errors{0};
  std::atomic<bool> producer_done{false};
  std::vector<Member*> started;
  ThreadGroup threads([&] {
    abort_producer = true;
    for (Member* m : started) {
      m->Tell(m->crashed() ? Member::Command::kDestroy : Member::Command::kClose);
    }
  });

  threads.Add(std::thread([&] {
    const int64_t window = kRecords / 5;  // stays at most this far ahead of the consumers
    for (int64_t i = 0; i < kRecords && !abort_producer; ++i) {
      if (i % 100 == 0) {
        WaitUntil([&] { return abort_producer || shared.processed.load() >= i - window; }, 10s);
      }
      const std::string key = KeyOf(i);
      const std::string value = std::to_string(i);
      const absl::Status st =
          (*producer)->Send({.topic = kTopic, .key = key, .value = value},
                            [&](const absl::StatusOr<RecordMetadata>& md) {
                              if (!md.ok()) ++send_errors;
                            });
      if (!st.ok()) ++send_errors;
      ++sent;
    }
    if (!(*producer)->Flush().ok()) ++send_errors;
    producer_done = true;
  }));
  auto start = [&](Member& m, const ConsumerOptions& o) {
    m.Start(*broker, o);
    started.push_back(&m);
    threads.Add(std::thread([&m] { m.Run(); }));
  };
  std::vector<std::string> stalls;  // waits that ran out
  auto wait = [&](const char* what, const std::function<bool()>& done) {
    if (!WaitUntil(done, 60s)) stalls.push_back(what);
  };

  start(a, options);
  wait("a processed a sixth", [&] { return shared.processed.load() >= kRecords / 6; });
  start(b, options);
  start(c, crashing);
  wait("b and c processed records, a third done",
       [&] { return b.records() > 0 && c.records() > 0 && shared.processed.load() >= kRecords / 3; });
  b.Tell(Member::Command::kClose);
  wait("b closed", [&] { return b.finished(); });
  wait("half processed", [&] { return shared.processed.load() >= kRecords / 2; });
  c.Tell(Member::Command::kCrash);
  wait("c crashed", [&] { return c.crashed(); });
  // c stopped polling: after max.poll.interval.ms the group takes its partitions from it.
  wait("a took every partition", [&] { return a.held() == kAllPartitions; });
  c.Tell(Member::Command::kDestroy);
  wait("c destroyed", [&] { return c.finished(); });
  wait("two thirds processed", [&] { return shared.processed.load() >= 2 * kRecords / 3; });
  start(d, options);
  wait("d processed records", [&] { return d.records() > 0 || producer_done.load(); });
  wait("the producer finished", [&] { return producer_done.load(); });
  a.Tell(Member::Command::kClose);
  d.Tell(Member::Command::kClose);
  threads.JoinAll();
  INFO("waits that ran out: " << fmt::format("{}", fmt::join(stalls, "; ")));
  REQUIRE(stalls.empty());
  REQUIRE_OK((*producer)->Close());
  CHECK(send_errors.load() == 0);

  // A last member drains what the others left.
  Member last(shared, "last");
  last.Start(*broker, options);
  std::vector<int64_t> ends(kPartitions);
  {
    auto end_offsets = last.consumer().EndOffsets(AllPartitions());
    REQUIRE_OK(end_offsets);
    int64_t total = 0;
    for (const auto& [tp, end] : *end_offsets) {
      ends[static_cast<size_t>(tp.partition)] = end;
      total += end;
    }
    REQUIRE(total == kRecords);
  }
  auto drained = [&] {
    if (last.held() != kAllPartitions) return false;
    for (int32_t p = 0; p < kPartitions; ++p) {
      auto position = last.consumer().Position({kTopic, p});
      if (!position.ok() || *position < ends[static_cast<size_t>(p)]) return false;
    }
    return true;
  };
  const Clock::time_point give_up = Clock::now() + 60s;
  while (!drained() && Clock::now() < give_up) last.PollOnce(100ms, /*commit=*/true);
  REQUIRE(drained());
  REQUIRE_OK(last.consumer().Close());

  {
    std::lock_guard<std::mutex> lock(shared.mu);
    INFO(fmt::format("errors: {}", fmt::join(shared.errors, "; ")));
    CHECK(shared.errors.empty());
    // Every member polled and committed between rebalances: no commit may be refused,
    // except c's (it may have been too slow once; its records then came again).
    std::vector<std::string> refused;
    for (const std::string& f : shared.failed_commits) {
      if (f.rfind("c:", 0) != 0) refused.push_back(f);
    }
    INFO(fmt::format("refused commits: {}", fmt::join(refused, "; ")));
    CHECK(refused.empty());
  }
  int64_t duplicates = 0;
  const std::vector<std::string> problems =
      CheckHistory({&a, &b, &c, &d, &last}, shared.commits, ends, &duplicates);
  INFO(fmt::format("problems:\n{}", fmt::join(problems, "\n")));
  CHECK(problems.empty());
  // Only what c processed after its last commit can have come twice.
  CHECK(duplicates <= c.records());
  std::fprintf(stderr, "group rebalance under load (%s): %lld records processed, %lld again, %zu commits\n",
               assignor == PartitionAssignor::kRange ? "range" : "cooperative-sticky",
               static_cast<long long>(shared.processed.load()), static_cast<long long>(duplicates),
               shared.commits.size());

  // The group ends empty, with everything committed.
  auto described = (*admin)->DescribeGroup("load");
  REQUIRE_OK(described);
  CHECK(described->state == GroupState::kEmpty);
  CHECK(described->members.empty());
  for (const PartitionOffsetDescription& pd : described->offsets) {
    INFO("partition " << pd.partition.partition);
    REQUIRE(pd.committed.has_value());
    CHECK(pd.committed->offset == ends[static_cast<size_t>(pd.partition.partition)]);
    CHECK(pd.lag == 0);
  }
  CHECK(described->offsets.size() == static_cast<size_t>(kPartitions));
}

TEST_CASE(
    "group: Members joining, closing and crashing under load (cooperative-sticky) lose no "
    "record, and only uncommitted records come again, to another member",
    "[group][concurrency]") {
  RebalanceUnderLoad(PartitionAssignor::kCooperativeSticky);
}

TEST_CASE(
    "group: Members joining, closing and crashing under load (range) lose no record, and only "
    "uncommitted records come again, to another member",
    "[group][concurrency]") {
  RebalanceUnderLoad(PartitionAssignor::kRange);
}

// ---------------------------------------------------------------------------------------
// 2. Never two owners.

// Which consumer holds which partition, as the rebalance listeners tell it. A consumer
// holds a partition from on_partitions_assigned until on_partitions_revoked or _lost.
class OwnershipRegistry {
 public:
  int NewConsumer() {
    std::lock_guard<std::mutex> lock(mu_);
    return next_uid_++;
  }
  void Assigned(int uid, const std::vector<TopicPartition>& parts) {
    std::lock_guard<std::mutex> lock(mu_);
    ++assignments_;
    for (const TopicPartition& tp : parts) {
      auto it = holder_.find(tp.partition);
      if (it != holder_.end() && it->second != uid) {
        Problem(fmt::format("partition {} assigned to consumer {} while consumer {} holds it",
                            tp.partition, uid, it->second));
      }
      holder_[tp.partition] = uid;
    }
  }
  void Released(int uid, const std::vector<TopicPartition>& parts) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const TopicPartition& tp : parts) {
      auto it = holder_.find(tp.partition);
      if (it != holder_.end() && it->second == uid) holder_.erase(it);
    }
  }
  // A consumer that stops polling returns no more records: it holds nothing from now on.
  void Forget(int uid) {
    std::lock_guard<std::mutex> lock(mu_);
    std::erase_if(holder_, [&](const auto& entry) { return entry.second == uid; });
  }
  void Returned(int uid, std::span<const ConsumerRecord> records) {
    std::lock_guard<std::mutex> lock(mu_);
    records_ += static_cast<int64_t>(records.size());
    std::set<int32_t> partitions;
    for (const ConsumerRecord& r : records) partitions.insert(r.partition);
    for (int32_t p : partitions) {
      auto it = holder_.find(p);
      if (it == holder_.end() || it->second != uid) {
        Problem(fmt::format("consumer {} returned records of partition {}, held by {}", uid, p,
                            it == holder_.end() ? std::string("no one")
                                                : std::to_string(it->second)));
      }
    }
  }
  void Problem(std::string what) {
    if (problems_.size() < 20) problems_.push_back(std::move(what));
  }
  void ReportProblem(std::string what) {
    std::lock_guard<std::mutex> lock(mu_);
    Problem(std::move(what));
  }
  std::vector<std::string> problems() {
    std::lock_guard<std::mutex> lock(mu_);
    return problems_;
  }
  int64_t assignments() {
    std::lock_guard<std::mutex> lock(mu_);
    return assignments_;
  }
  int64_t records() {
    std::lock_guard<std::mutex> lock(mu_);
    return records_;
  }

 private:
  std::mutex mu_;
  int next_uid_ = 0;
  std::map<int32_t, int> holder_;
  std::vector<std::string> problems_;
  int64_t assignments_ = 0;
  int64_t records_ = 0;
};

// One thread's life: consumers made, polled a little and ended, one after another.
void Churn(Broker& broker, GroupAdmin& admin, OwnershipRegistry& registry, int thread,
           const std::string& variant, uint32_t seed, int cycles) {
  std::mt19937 rng(seed);
  for (int cycle = 0; cycle < cycles; ++cycle) {
    const int uid = registry.NewConsumer();
    const std::string name = fmt::format("t{}-c{}-uid{}", thread, cycle, uid);
    // How it goes: 0 Close, 1 destroyed, 2 Unsubscribe and Subscribe again then Close,
    // 3 stops polling ("crash") until the group drops it, then destroyed.
    const int how = static_cast<int>(rng() % 4);
    ConsumerOptions options;
    options.group_id = "owners";
    options.client_id = name;
    options.auto_offset_reset = OffsetReset::kEarliest;
    options.enable_auto_commit = rng() % 2 == 0;
    options.auto_commit_interval_ms = 5;
    options.max_poll_records = 1 + static_cast<int32_t>(rng() % 50);
    if (how == 3) options.max_poll_interval_ms = 300;
    if (variant == "cooperative-sticky") {
      options.partition_assignment_strategy = {PartitionAssignor::kCooperativeSticky};
    } else if (variant == "range") {
      options.partition_assignment_strategy = {PartitionAssignor::kRange};
    } else {
      // Mixed preferences: the group's assignor changes with its first member.
      switch (rng() % 3) {
        case 0:
          options.partition_assignment_strategy = {PartitionAssignor::kCooperativeSticky,
                                                   PartitionAssignor::kRange};
          break;
        case 1:
          options.partition_assignment_strategy = {PartitionAssignor::kRange,
                                                   PartitionAssignor::kCooperativeSticky};
          break;
        default:
          options.partition_assignment_strategy = {PartitionAssignor::kRoundRobin,
                                                   PartitionAssignor::kRange,
                                                   PartitionAssignor::kCooperativeSticky};
      }
    }
    auto created = Consumer::Create(broker, options);
    if (!created.ok()) {
      registry.ReportProblem(name + ": Create: " + created.status().ToString());
      return;
    }
    std::unique_ptr<Consumer> consumer = std::move(*created);
    RebalanceListener listener;
    listener.on_partitions_assigned = [&, uid](const std::vector<TopicPartition>& parts) {
      registry.Assigned(uid, parts);
    };
    listener.on_partitions_revoked = [&, uid](const std::vector<TopicPartition>& parts) {
      registry.Released(uid, parts);
    };
    listener.on_partitions_lost = [&, uid](const std::vector<TopicPartition>& parts) {
      registry.Released(uid, parts);
    };
    auto poll_some = [&](int polls) {
      for (int i = 0; i < polls; ++i) {
        auto polled = consumer->Poll(std::chrono::milliseconds(rng() % 20));
        if (!polled.ok()) {
          registry.ReportProblem(name + ": Poll: " + polled.status().ToString());
          return false;
        }
        registry.Returned(uid, *polled);
        if (!polled->empty() && rng() % 2 == 0) {
          // Between Polls the member owns what it was assigned: the commit must pass.
          const absl::Status committed = consumer->CommitSync();
          if (!committed.ok()) registry.ReportProblem(name + ": CommitSync: " + committed.ToString());
        }
      }
      return true;
    };
    absl::Status st = consumer->Subscribe({kTopic}, listener);
    if (!st.ok()) {
      registry.ReportProblem(name + ": Subscribe: " + st.ToString());
      return;
    }
    if (!poll_some(3 + static_cast<int>(rng() % 12))) return;
    switch (how) {
      case 0:
        st = consumer->Close();
        if (!st.ok()) registry.ReportProblem(name + ": Close: " + st.ToString());
        break;
      case 1:
        consumer.reset();
        break;
      case 2:
        st = consumer->Unsubscribe();
        if (!st.ok()) registry.ReportProblem(name + ": Unsubscribe: " + st.ToString());
        if (!consumer->Assignment().empty()) {
          registry.ReportProblem(name + ": still has an assignment after Unsubscribe");
        }
        st = consumer->Subscribe({kTopic}, listener);
        if (!st.ok()) registry.ReportProblem(name + ": Subscribe again: " + st.ToString());
        if (!poll_some(2 + static_cast<int>(rng() % 6))) return;
        st = consumer->Close();
        if (!st.ok()) registry.ReportProblem(name + ": Close: " + st.ToString());
        break;
      case 3: {
        registry.Forget(uid);
        const std::string member = consumer->GroupMetadata().member_id;
        const bool dropped = WaitUntil(
            [&] {
              auto d = admin.DescribeGroup("owners");
              if (!d.ok()) return absl::IsNotFound(d.status());
              return std::none_of(d->members.begin(), d->members.end(),
                                  [&](const MemberDescription& m) { return m.member_id == member; });
            },
            30s);
        if (!dropped) registry.ReportProblem(name + ": still in the group long after it stopped polling");
        consumer.reset();
        break;
      }
    }
  }
}

TEST_CASE(
    "group: While members join, leave, unsubscribe and crash on several threads, no partition "
    "is ever assigned to two consumers at once, nor returned by one that does not hold it",
    "[group][concurrency]") {
  const std::string variant = GENERATE("cooperative-sticky", "range", "mixed");
  INFO("assignors: " << variant);
  TempDir tmp;
  auto broker = OpenBroker(tmp.Sub("data"));
  REQUIRE_OK(broker->CreateTopic(kTopic, kPartitions, SmallConfig()));
  PrepareOffsetsTopic(*broker);
  auto admin = GroupAdmin::Create(*broker);
  REQUIRE_OK(admin);
  auto producer = Producer::Create(*broker, {.linger_ms = 0});
  REQUIRE_OK(producer);

  OwnershipRegistry registry;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> send_errors{0};
  ThreadGroup threads([&] { stop = true; });
  threads.Add(std::thread([&] {
    for (int64_t i = 0; !stop.load(); ++i) {
      const std::string value = std::to_string(i);
      if (!(*producer)
               ->Send({.topic = kTopic, .partition = static_cast<int32_t>(i % kPartitions),
                       .value = value})
               .ok()) {
        ++send_errors;
      }
      if (i % 20 == 19) std::this_thread::sleep_for(1ms);
    }
  }));
  const int kThreads = 4;
  const int cycles = kUnderTsan ? 3 : 5;
  const uint32_t seed = std::random_device{}();
  INFO("seed " << seed);
  std::vector<std::thread> churners;
  for (int t = 0; t < kThreads; ++t) {
    churners.emplace_back([&, t] {
      Churn(*broker, **admin, registry, t, variant, seed + static_cast<uint32_t>(t), cycles);
    });
  }
  for (std::thread& t : churners) t.join();
  threads.JoinAll();
  REQUIRE_OK((*producer)->Close());
  CHECK(send_errors.load() == 0);

  const std::vector<std::string> problems = registry.problems();
  INFO(fmt::format("problems:\n{}", fmt::join(problems, "\n")));
  CHECK(problems.empty());
  CHECK(registry.assignments() > 0);
  CHECK(registry.records() > 0);
  auto described = (*admin)->DescribeGroup("owners");
  if (described.ok()) {  // NotFound is fine too: no commit and no member
    CHECK(described->members.empty());
    CHECK(described->state == GroupState::kEmpty);
  } else {
    CHECK(absl::IsNotFound(described.status()));
  }
}

// ---------------------------------------------------------------------------------------
// 3. Wakeup and Broker::Close end a group member's blocking Poll.

// Polls `consumer` until it holds every partition of the topic (bounded).
void PollUntilAssigned(Consumer& consumer, size_t partitions) {
  const Clock::time_point give_up = Clock::now() + 30s;
  while (consumer.Assignment().size() < partitions && Clock::now() < give_up) {
    REQUIRE_OK(consumer.Poll(10ms));
  }
  REQUIRE(consumer.Assignment().size() == partitions);
}

ConsumerOptions GroupOptions(std::string group, PartitionAssignor assignor) {
  ConsumerOptions o;
  o.group_id = std::move(group);
  o.auto_offset_reset = OffsetReset::kEarliest;
  o.enable_auto_commit = false;
  o.partition_assignment_strategy = {assignor};
  return o;
}

TEST_CASE("group: Wakeup from another thread makes a group member's blocked Poll(60s) return empty",
          "[group][concurrency]") {
  TempDir tmp;
  auto broker = OpenBroker(tmp.Sub("data"));
  REQUIRE_OK(broker->CreateTopic(kTopic, 2, SmallConfig()));
  auto created = Consumer::Create(*broker, GroupOptions("wake", PartitionAssignor::kCooperativeSticky));
  REQUIRE_OK(created);
  Consumer& consumer = **created;
  REQUIRE_OK(consumer.Subscribe({kTopic}));
  PollUntilAssigned(consumer, 2);
  auto producer = Producer::Create(*broker, {.linger_ms = 0});
  REQUIRE_OK(producer);
  std::mt19937 rng(11);
  for (int round = 0; round < 8; ++round) {
    INFO("round " << round);
    const auto delay = std::chrono::microseconds(rng() % 20000);
    std::thread waker([&] {
      std::this_thread::sleep_for(delay);
      consumer.Wakeup();
    });
    // Were the Wakeup lost, a record arrives instead, which the Poll would return.
    Watchdog watchdog(10s, [&] {
      (void)(*producer)->SendSync({.topic = kTopic, .partition = 0, .value = "watchdog"});
    });
    auto polled = consumer.Poll(60s);
    watchdog.Disarm();
    waker.join();
    REQUIRE_OK(polled);
    CHECK(polled->empty());
    CHECK_FALSE(watchdog.fired());
    if (watchdog.fired()) (void)consumer.Poll(0ms);
  }
  CHECK(consumer.Assignment().size() == 2);  // a wakeup does not cost the membership
  REQUIRE_OK(consumer.Close());
}

TEST_CASE(
    "group: Wakeup ends a Poll that waits for a rebalance which another member holds up, and "
    "the member still gets its partitions once the rebalance completes",
    "[group][concurrency]") {
  const PartitionAssignor assignor =
      GENERATE(PartitionAssignor::kRange, PartitionAssignor::kCooperativeSticky);
  INFO("assignor " << static_cast<int>(assignor));
  TempDir tmp;
  auto broker = OpenBroker(tmp.Sub("data"));
  REQUIRE_OK(broker->CreateTopic(kTopic, 4, SmallConfig()));
  auto a = Consumer::Create(*broker, GroupOptions("slow", assignor));
  REQUIRE_OK(a);
  REQUIRE_OK((*a)->Subscribe({kTopic}));
  PollUntilAssigned(**a, 4);
  // b joins, so the group rebalances, but b does not poll: the rebalance waits for it (up
  // to its max.poll.interval.ms, 300 s by default).
  auto b = Consumer::Create(*broker, GroupOptions("slow", assignor));
  REQUIRE_OK(b);
  REQUIRE_OK((*b)->Subscribe({kTopic}));
  for (int round = 0; round < 3; ++round) {
    INFO("round " << round);
    std::thread waker([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20 + 10 * round));
      (*a)->Wakeup();
    });
    Watchdog watchdog(10s, [&] { (*a)->Wakeup(); });
    auto polled = (*a)->Poll(60s);
    watchdog.Disarm();
    waker.join();
    REQUIRE_OK(polled);
    CHECK(polled->empty());
    CHECK_FALSE(watchdog.fired());
    if (watchdog.fired()) (void)(*a)->Poll(0ms);
  }
  // Once b polls, the rebalance completes and the two split the partitions.
  const Clock::time_point give_up = Clock::now() + 30s;
  while (((*a)->Assignment().size() != 2 || (*b)->Assignment().size() != 2) &&
         Clock::now() < give_up) {
    REQUIRE_OK((*a)->Poll(5ms));
    REQUIRE_OK((*b)->Poll(5ms));
  }
  CHECK((*a)->Assignment().size() == 2);
  CHECK((*b)->Assignment().size() == 2);
  REQUIRE_OK((*a)->Close());
  REQUIRE_OK((*b)->Close());
}

TEST_CASE(
    "group: Broker Close while a group member's Poll waits for a rebalance makes that Poll "
    "return (an error or empty) instead of waiting out its timeout",
    "[group][concurrency]") {
  const std::string situation = GENERATE("waiting for a rebalance", "stable, no data");
  INFO(situation);
  TempDir tmp;
  auto broker = OpenBroker(tmp.Sub("data"));
  REQUIRE_OK(broker->CreateTopic(kTopic, 4, SmallConfig()));
  auto a = Consumer::Create(*broker, GroupOptions("closing", PartitionAssignor::kRange));
  REQUIRE_OK(a);
  REQUIRE_OK((*a)->Subscribe({kTopic}));
  PollUntilAssigned(**a, 4);
  std::unique_ptr<Consumer> b;
  if (situation == "waiting for a rebalance") {
    auto made = Consumer::Create(*broker, GroupOptions("closing", PartitionAssignor::kRange));
    REQUIRE_OK(made);
    b = std::move(*made);
    REQUIRE_OK(b->Subscribe({kTopic}));  // and never polls
  }
  std::promise<absl::Status> result;
  std::future<absl::Status> done = result.get_future();
  std::thread poller([&] {
    auto polled = (*a)->Poll(std::chrono::hours(1));
    if (!polled.ok()) {
      result.set_value(polled.status());
    } else if (!polled->empty()) {
      result.set_value(absl::InternalError("Poll returned records from an empty topic"));
    } else {
      result.set_value(absl::OkStatus());
    }
  });
  std::this_thread::sleep_for(50ms);  // most likely asleep in Poll by now; either way is valid
  const absl::Status closed = broker->Close();
  const bool returned = done.wait_for(20s) == std::future_status::ready;
  if (!returned) (*a)->Wakeup();  // so that the thread can be joined
  poller.join();
  REQUIRE_OK(closed);
  CHECK(returned);
  const absl::Status status = done.get();
  INFO("Poll returned " << status.ToString());
  CHECK((status.ok() || absl::IsFailedPrecondition(status)));
  CHECK(absl::IsFailedPrecondition((*a)->Poll(0ms).status()));
  CHECK(absl::IsFailedPrecondition((*a)->CommitSync()));
  (void)(*a)->Close();
  if (b) (void)b->Close();
}

// ---------------------------------------------------------------------------------------
// Members that stop polling.

struct ListenerLog {
  std::mutex mu;
  std::vector<std::string> calls;  // "assigned 0,1", "revoked 2", "lost 3"
  std::set<std::string> assigned_as;  // member ids seen in on_partitions_assigned
  int lost = 0, revoked = 0;
};

RebalanceListener Logging(ListenerLog& log, Consumer** self) {
  auto record = [&log](const char* what, const std::vector<TopicPartition>& parts) {
    std::vector<int32_t> ps;
    for (const auto& tp : parts) ps.push_back(tp.partition);
    std::lock_guard<std::mutex> lock(log.mu);
    log.calls.push_back(fmt::format("{} {}", what, fmt::join(ps, ",")));
  };
  RebalanceListener l;
  l.on_partitions_assigned = [&log, self, record](const std::vector<TopicPartition>& parts) {
    record("assigned", parts);
    std::lock_guard<std::mutex> lock(log.mu);
    log.assigned_as.insert((*self)->GroupMetadata().member_id);
  };
  l.on_partitions_revoked = [&log, record](const std::vector<TopicPartition>& parts) {
    record("revoked", parts);
    std::lock_guard<std::mutex> lock(log.mu);
    ++log.revoked;
  };
  l.on_partitions_lost = [&log, record](const std::vector<TopicPartition>& parts) {
    record("lost", parts);
    std::lock_guard<std::mutex> lock(log.mu);
    ++log.lost;
  };
  return l;
}

std::map<int32_t, int64_t> Offsets(
    const std::map<TopicPartition, std::optional<OffsetAndMetadata>>& committed) {
  std::map<int32_t, int64_t> out;
  for (const auto& [tp, c] : committed) out[tp.partition] = c ? c->offset : -1;
  return out;
}

// Polls `a` (on this thread) until it holds all `n` partitions, `c` having stopped.
void PollUntilHolds(Consumer& a, size_t n) {
  const Clock::time_point give_up = Clock::now() + 30s;
  while (a.Assignment().size() < n && Clock::now() < give_up) REQUIRE_OK(a.Poll(20ms));
  REQUIRE(a.Assignment().size() == n);
}

TEST_CASE(
    "group: A member dropped for not polling is refused its stale commit, and Close then "
    "reports its partitions lost, not revoked",
    "[group][concurrency][crash]") {
  TempDir tmp;
  auto broker = OpenBroker(tmp.Sub("data"));
  REQUIRE_OK(broker->CreateTopic(kTopic, 4, SmallConfig()));
  auto producer = Producer::Create(*broker, {.linger_ms = 0});
  REQUIRE_OK(producer);
  for (int i = 0; i < 40; ++i) {
    const std::string v = std::to_string(i);
    REQUIRE_OK((*producer)->SendSync({.topic = kTopic, .partition = i % 4, .value = v}));
  }
  auto a = Consumer::Create(*broker, GroupOptions("hung", PartitionAssignor::kRange));
  REQUIRE_OK(a);
  ConsumerOptions hung_options = GroupOptions("hung", PartitionAssignor::kRange);
  hung_options.max_poll_interval_ms = 300;
  auto c = Consumer::Create(*broker, hung_options);
  REQUIRE_OK(c);
  Consumer* c_ptr = c->get();
  ListenerLog log;
  REQUIRE_OK((*a)->Subscribe({kTopic}));
  REQUIRE_OK((*c)->Subscribe({kTopic}, Logging(log, &c_ptr)));
  const Clock::time_point give_up = Clock::now() + 30s;
  while (((*a)->Assignment().size() != 2 || (*c)->Assignment().size() != 2) &&
         Clock::now() < give_up) {
    REQUIRE_OK((*a)->Poll(5ms));
    REQUIRE_OK((*c)->Poll(5ms));
  }
  REQUIRE((*c)->Assignment().size() == 2);
  const std::vector<TopicPartition> cs = (*c)->Assignment();
  // c reads (but does not commit) what it has.
  for (int i = 0; i < 5; ++i) REQUIRE_OK((*c)->Poll(5ms));
  auto before = (*a)->Committed(cs);
  REQUIRE_OK(before);
  // c stops polling; a, polling on, is given c's partitions.
  PollUntilHolds(**a, 4);
  std::map<TopicPartition, OffsetAndMetadata> stale;
  for (const TopicPartition& tp : cs) stale[tp] = OffsetAndMetadata{7, ""};
  const absl::Status refused = (*c)->CommitSync(stale);
  INFO("stale commit: " << refused.ToString());
  CHECK(absl::IsFailedPrecondition(refused));
  auto after = (*a)->Committed(cs);
  REQUIRE_OK(after);
  CHECK(Offsets(*after) == Offsets(*before));
  {
    std::lock_guard<std::mutex> lock(log.mu);
    log.calls.clear();
    log.lost = log.revoked = 0;
  }
  const absl::Status closed = (*c)->Close();
  INFO("c's Close returned " << closed.ToString());
  {
    std::lock_guard<std::mutex> lock(log.mu);
    INFO(fmt::format("c's listener calls during Close: {}", fmt::join(log.calls, "; ")));
    // Kafka's consumer, closed after its poll timeout expired, calls onPartitionsLost:
    // the partitions are another member's already, and a commit from
    // on_partitions_revoked would be refused.
    CHECK(log.revoked == 0);
    CHECK(log.lost == 1);
  }
  CHECK((*a)->Assignment().size() == 4);
  REQUIRE_OK((*a)->Close());
}

TEST_CASE(
    "group: A member dropped for not polling that polls again rejoins, is told its partitions "
    "were lost before any record, and keeps its new membership while that long Poll waits",
    "[group][concurrency][crash]") {
  TempDir tmp;
  auto broker = OpenBroker(tmp.Sub("data"));
  REQUIRE_OK(broker->CreateTopic(kTopic, 4, SmallConfig()));
  ConsumerOptions a_options = GroupOptions("back", PartitionAssignor::kCooperativeSticky);
  auto a = Consumer::Create(*broker, a_options);
  REQUIRE_OK(a);
  ConsumerOptions c_options = a_options;
  c_options.max_poll_interval_ms = 300;
  auto c = Consumer::Create(*broker, c_options);
  REQUIRE_OK(c);
  Consumer* c_ptr = c->get();
  ListenerLog log;
  REQUIRE_OK((*a)->Subscribe({kTopic}));
  REQUIRE_OK((*c)->Subscribe({kTopic}, Logging(log, &c_ptr)));
  const Clock::time_point give_up = Clock::now() + 30s;
  while (((*a)->Assignment().size() != 2 || (*c)->Assignment().size() != 2) &&
         Clock::now() < give_up) {
    REQUIRE_OK((*a)->Poll(5ms));
    REQUIRE_OK((*c)->Poll(5ms));
  }
  REQUIRE((*c)->Assignment().size() == 2);
  const std::string first_member = (*c)->GroupMetadata().member_id;
  PollUntilHolds(**a, 4);  // c has stopped: a gets everything
  {
    std::lock_guard<std::mutex> lock(log.mu);
    log.calls.clear();
    log.assigned_as.clear();
    log.lost = log.revoked = 0;
  }
  // a keeps polling on its thread; c comes back with a Poll far longer than its
  // max.poll.interval.ms. A member inside Poll is not one that stopped polling.
  std::atomic<bool> stop{false};
  std::atomic<int> a_errors{0};
  std::thread a_thread([&] {
    while (!stop.load()) {
      if (!(*a)->Poll(10ms).ok()) ++a_errors;
    }
  });
  auto polled = (*c)->Poll(kUnderTsan ? 3000ms : 1500ms);
  stop = true;
  a_thread.join();
  CHECK(a_errors.load() == 0);
  REQUIRE_OK(polled);
  CHECK(polled->empty());  // nothing was produced
  {
    std::lock_guard<std::mutex> lock(log.mu);
    INFO(fmt::format("c's listener calls: {}", fmt::join(log.calls, "; ")));
    INFO(fmt::format("c's member ids when assigned: {}", fmt::join(log.assigned_as, ", ")));
    REQUIRE_FALSE(log.calls.empty());
    CHECK(log.calls.front().rfind("lost", 0) == 0);
    CHECK(log.lost == 1);
    CHECK(log.assigned_as.size() == 1);
    const std::string now_member = (*c)->GroupMetadata().member_id;
    CHECK(now_member != first_member);
    CHECK(log.assigned_as.count(now_member) == 1);
    CHECK((*c)->Assignment().size() == 2);
  }
  REQUIRE_OK((*c)->Close());
  REQUIRE_OK((*a)->Close());
}

// ---------------------------------------------------------------------------------------
// The first commit of a broker against Broker::Close.

// Spins (rather than sleeps) for about `ns`, for delays of microseconds.
void SpinFor(int64_t ns) {
  const Clock::time_point until = Clock::now() + std::chrono::nanoseconds(ns);
  while (Clock::now() < until) {
  }
}

TEST_CASE(
    "group: The first commit on a broker, made while another thread closes the broker, ends "
    "(OK or FailedPrecondition) and does not deadlock",
    "[group][concurrency]") {
  // The first commit creates __consumer_offsets: GroupCoordinator::Commit holds the
  // coordinator's mutex and OffsetStore::Topic calls BrokerCore::CreateInternalTopic,
  // which takes the broker's admin mutex. BrokerCore::Close holds the admin mutex and
  // calls GroupCoordinator::OnBrokerClose, which takes the coordinator's. The two threads
  // are started together with a varying offset so that, now and then, Close takes the
  // admin mutex just after the commit passed its open-broker check.
  // As many rounds as fit in a few seconds: the race is narrow, each round makes a broker.
  const int kIterations = kUnderTsan ? 100 : 2000;
  const Clock::time_point budget = Clock::now() + 5s;
  std::mt19937 rng(5);
  int committed_ok = 0, refused = 0;
  for (int i = 0; i < kIterations && Clock::now() < budget; ++i) {
    // Leaked if the two deadlock: their threads must not outlive what they use.
    auto* tmp = new TempDir;
    auto opened = Broker::Open(tmp->Sub("data"));
    REQUIRE_OK(opened);
    Broker* broker = opened->release();
    ConsumerOptions options;
    options.group_id = "first";
    auto created = Consumer::Create(*broker, options);
    REQUIRE_OK(created);
    Consumer* consumer = created->release();
    const int64_t commit_delay = static_cast<int64_t>(rng() % 20000);
    const int64_t close_delay = 3000 + static_cast<int64_t>(rng() % 20000);
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    auto commit_status = std::make_shared<std::promise<absl::Status>>();
    auto close_status = std::make_shared<std::promise<absl::Status>>();
    std::future<absl::Status> commit_done = commit_status->get_future();
    std::future<absl::Status> close_done = close_status->get_future();
    std::thread committer([&ready, &go, consumer, commit_delay, commit_status] {
      ++ready;
      while (!go.load()) {
      }
      SpinFor(commit_delay);
      std::map<TopicPartition, OffsetAndMetadata> offsets{{{"t", 0}, OffsetAndMetadata{1, ""}}};
      commit_status->set_value(consumer->CommitSync(offsets));
    });
    std::thread closer([&ready, &go, broker, close_delay, close_status] {
      ++ready;
      while (!go.load()) {
      }
      SpinFor(close_delay);
      close_status->set_value(broker->Close());
    });
    while (ready.load() < 2) {
    }
    go = true;
    // Each takes milliseconds at most; a deadlock never ends.
    const Clock::time_point give_up = Clock::now() + 5s;
    const bool ended = commit_done.wait_until(give_up) == std::future_status::ready &&
                       close_done.wait_until(give_up) == std::future_status::ready;
    if (!ended) {
      committer.detach();
      closer.detach();
      FAIL("iteration " << i << ": CommitSync and Broker::Close deadlocked (commit delay "
                        << commit_delay << " ns, close delay " << close_delay << " ns)");
    }
    committer.join();
    closer.join();
    const absl::Status commit = commit_done.get();
    INFO("iteration " << i << ": commit " << commit.ToString());
    CHECK((commit.ok() || absl::IsFailedPrecondition(commit)));
    CHECK_OK(close_done.get());
    (commit.ok() ? committed_ok : refused)++;
    delete consumer;
    delete broker;
    delete tmp;
  }
  std::fprintf(stderr, "first commit against Close: %d committed, %d refused\n", committed_ok,
               refused);
}

}  // namespace
}  // namespace runnel
