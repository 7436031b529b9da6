// Committed offsets and crashes.
//
// Crash test: a child process (fork) produces to a topic, consumes it as the member of a
// consumer group, and commits what it consumed with CommitSync; after each CommitSync
// that returned OK it writes the committed offsets down a pipe. The parent SIGKILLs it
// after a random number of acknowledged commits (now and then at once, during Open and
// recovery), reopens the data directory and checks that
//  - each partition's committed offset (GroupAdmin::DescribeGroup and Consumer::Committed
//    agree on it) is at least the last acknowledged one and at most the log end: no
//    acknowledged commit is lost;
//  - a new member of the group resumes each partition at exactly its committed offset and
//    reads every record from there to the end, as the log holds them.
// The child checks itself too: a member it makes anew resumes at the offsets it committed.
// Variants: sync.policy none with offsets.topic.segment.bytes at its minimum (the live
// commits are rewritten into a fresh segment every few commits, so kills land in that
// too), and sync.policy always for the topic and __consumer_offsets.
//
// RUNNEL_GROUP_CRASH_ROUNDS sets the rounds per variant (default 20); RUNNEL_CRASH_SEED
// replays a run (the seed is printed on stderr). The data directory is on /dev/shm when
// available; RUNNEL_CRASH_ON_DISK=1 puts it under $TMPDIR instead.
//
// Also: closing members and the broker, then reopening, keeps every committed offset.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "client/producer_testing.h"
#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/group_admin.h"
#include "runnel/producer.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel {
namespace {

using namespace std::chrono_literals;
using testing::ReadRecord;
using testing::ReadTopicPartition;
using testing::TempDir;
using Clock = std::chrono::steady_clock;

constexpr char kTopic[] = "orders";
constexpr char kGroup[] = "billing";
constexpr int32_t kPartitions = 3;
constexpr int64_t kPerRound = 1'000'000;  // record numbers of round r start at r * kPerRound
constexpr int64_t kRoundsPerDir = 10;

int64_t EnvInt(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoll(v, nullptr, 10) : fallback;
}

bool WriteAll(int fd, const char* data, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

std::string KeyFor(int64_t i) { return "k" + std::to_string(i); }
std::string ValueFor(int64_t i) {
  return fmt::format("{}:{}", i, std::string(static_cast<size_t>(i % 41), 'v'));
}

std::vector<TopicPartition> AllPartitions() {
  std::vector<TopicPartition> out;
  for (int32_t p = 0; p < kPartitions; ++p) out.push_back({kTopic, p});
  return out;
}

struct Variant {
  std::string name;
  BrokerOptions broker;
  TopicConfig topic;
};

Variant MakeVariant(const std::string& name) {
  Variant v;
  v.name = name;
  v.topic.segment_bytes = 32 * 1024;
  v.topic.segment_index_bytes = 4096;
  v.topic.index_interval_bytes = 512;
  // __consumer_offsets takes default_topic_config: small index files keep its rolls cheap.
  v.broker.default_topic_config.segment_index_bytes = 4096;
  if (name == "sync always") {
    v.broker.default_topic_config.sync_policy = SyncPolicy::kAlways;  // __consumer_offsets
    v.topic.sync_policy = SyncPolicy::kAlways;
  } else {
    v.broker.offsets_topic_segment_bytes = 1024;  // the minimum: rewritten every few commits
  }
  return v;
}

[[noreturn]] void Die(int code, const std::string& why) {
  std::fprintf(stderr, "child: %s\n", why.c_str());
  ::_exit(code);
}

// The child: produce, consume as the group's member, commit, report each acknowledged
// commit as one line "p:offset p:offset ...". Never returns.
[[noreturn]] void RunChild(const std::string& dir, const Variant& variant, int fd, int64_t first,
                           uint64_t seed) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() == 1) ::_exit(5);
  auto broker = Broker::Open(dir, variant.broker);
  if (!broker.ok()) Die(3, "Open: " + broker.status().ToString());
  std::mt19937_64 rng(seed);
  auto producer = Producer::Create(**broker, {.linger_ms = static_cast<int64_t>(rng() % 3)});
  if (!producer.ok()) Die(3, "Producer: " + producer.status().ToString());
  std::atomic<int> send_errors{0};

  ConsumerOptions options;
  options.group_id = kGroup;
  options.enable_auto_commit = false;
  options.auto_offset_reset = OffsetReset::kEarliest;
  options.partition_assignment_strategy = {rng() % 2 == 0 ? PartitionAssignor::kRange
                                                          : PartitionAssignor::kCooperativeSticky};
  std::unique_ptr<Consumer> consumer;
  // What this process knows to be committed: read once, then its own acknowledged commits.
  std::map<int32_t, int64_t> committed;
  std::map<int32_t, int64_t> next;  // per partition, the offset the member must return next
  auto join = [&] {
    options.max_poll_records = 1 + static_cast<int32_t>(rng() % 64);
    auto made = Consumer::Create(**broker, options);
    if (!made.ok()) Die(3, "Consumer: " + made.status().ToString());
    consumer = std::move(*made);
    const absl::Status st = consumer->Subscribe({kTopic});
    if (!st.ok()) Die(3, "Subscribe: " + st.ToString());
    next = committed;  // a new member resumes at the committed offsets
  };
  {
    join();
    auto read = consumer->Committed(AllPartitions());
    if (!read.ok()) Die(3, "Committed: " + read.status().ToString());
    for (const auto& [tp, c] : *read) committed[tp.partition] = c ? c->offset : 0;
    next = committed;
  }
  int64_t number = first;
  for (int iteration = 0; iteration < 20000; ++iteration) {
    const int records = static_cast<int>(rng() % 9);
    for (int i = 0; i < records; ++i, ++number) {
      const std::string key = KeyFor(number);
      const std::string value = ValueFor(number);
      const absl::Status st = (*producer)->Send(
          {.topic = kTopic, .key = key, .value = value},
          [&send_errors](const absl::StatusOr<RecordMetadata>& md) {
            if (!md.ok()) ++send_errors;
          });
      if (!st.ok()) Die(4, "Send: " + st.ToString());
    }
    if (send_errors.load() > 0) Die(4, "a send failed");
    auto polled = consumer->Poll(std::chrono::milliseconds(rng() % 10));
    if (!polled.ok()) Die(4, "Poll: " + polled.status().ToString());
    if (polled->empty()) continue;
    std::map<TopicPartition, OffsetAndMetadata> offsets;
    for (const ConsumerRecord& r : *polled) {
      auto n = next.find(r.partition);
      const int64_t expected = n == next.end() ? 0 : n->second;
      if (r.offset != expected) {
        Die(7, fmt::format("partition {} returned offset {} where {} was due (committed {})",
                           r.partition, r.offset, expected, committed[r.partition]));
      }
      next[r.partition] = r.offset + 1;
      offsets[{kTopic, r.partition}] = OffsetAndMetadata{r.offset + 1, "by child"};
    }
    // Either the offsets processed, or everything the consumer returned (the same here).
    absl::Status st;
    if (rng() % 2 == 0) {
      st = consumer->CommitSync(offsets);
    } else {
      offsets.clear();
      for (const TopicPartition& tp : consumer->Assignment()) {
        auto position = consumer->Position(tp);
        if (!position.ok()) Die(4, "Position: " + position.status().ToString());
        offsets[tp] = OffsetAndMetadata{*position, ""};
      }
      st = consumer->CommitSync();
    }
    // The only member of the group owns what it was given: a refusal is a bug.
    if (!st.ok()) Die(4, "CommitSync: " + st.ToString());
    std::string line;
    for (const auto& [tp, om] : offsets) {
      committed[tp.partition] = om.offset;
      line += fmt::format("{}{}:{}", line.empty() ? "" : " ", tp.partition, om.offset);
    }
    line += '\n';
    if (!WriteAll(fd, line.data(), line.size())) ::_exit(6);
    if (rng() % 40 == 0) {
      // Now and then the member leaves and a new one joins.
      const absl::Status closed = consumer->Close();
      if (!closed.ok()) Die(4, "Close: " + closed.ToString());
      consumer.reset();
      join();
    }
  }
  ::_exit(0);
}

// A fresh directory under /dev/shm, removed with its contents.
struct ShmDir {
  ShmDir() {
    std::string tmpl = "/dev/shm/runnel-group-crash-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp " + tmpl);
    path = tmpl;
  }
  ~ShmDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

// Reads commit lines from `fd` until `stop_after` have arrived (then calls `kill`) and on
// to EOF; each line is one acknowledged commit. False on a malformed line or if nothing
// comes for 60 s.
bool ReadCommits(int fd, int64_t stop_after, const std::function<void()>& kill,
                 std::vector<std::map<int32_t, int64_t>>* out, std::string* error) {
  std::string pending;
  bool killed = false;
  if (stop_after == 0) {
    kill();
    killed = true;
  }
  char buf[4096];
  while (true) {
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, 60'000);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      *error = "no commit for 60 s";
      if (!killed) kill();
      return false;
    }
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child is gone
    pending.append(buf, static_cast<size_t>(n));
    size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::map<int32_t, int64_t> commit;
      std::istringstream in(pending.substr(0, nl));
      std::string pair;
      while (in >> pair) {
        int partition = -1;
        long long offset = -1;
        if (std::sscanf(pair.c_str(), "%d:%lld", &partition, &offset) != 2) {
          *error = "malformed line: " + pending.substr(0, nl);
          if (!killed) kill();
          return false;
        }
        commit[partition] = offset;
      }
      out->push_back(std::move(commit));
      pending.erase(0, nl + 1);
      if (!killed && static_cast<int64_t>(out->size()) >= stop_after) {
        kill();
        killed = true;
      }
    }
  }
  if (!pending.empty()) {
    *error = "a partial line: " + pending;  // a write(2) of < PIPE_BUF bytes is atomic
    return false;
  }
  return true;
}

std::map<int32_t, std::optional<int64_t>> CommittedByAdmin(Broker& broker) {
  auto admin = GroupAdmin::Create(broker);
  REQUIRE_OK(admin);
  std::map<int32_t, std::optional<int64_t>> out;
  for (int32_t p = 0; p < kPartitions; ++p) out[p] = std::nullopt;
  auto described = (*admin)->DescribeGroup(kGroup);
  if (absl::IsNotFound(described.status())) return out;  // nothing committed yet
  REQUIRE_OK(described);
  CHECK(described->members.empty());  // the killed member is gone with its process
  CHECK(described->state == GroupState::kEmpty);
  for (const PartitionOffsetDescription& pd : described->offsets) {
    if (pd.partition.topic != kTopic) continue;
    if (pd.committed) out[pd.partition.partition] = pd.committed->offset;
  }
  return out;
}

// A new member of the group reads from the committed offsets to the end; checks that it
// starts at each committed offset and returns every record after it, as the log holds
// them. Commits the end when `commit_end`.
void ResumeAndCheck(Broker& broker, const std::map<int32_t, std::optional<int64_t>>& committed,
                    const std::vector<int64_t>& ends, bool commit_end) {
  ConsumerOptions options;
  options.group_id = kGroup;
  options.enable_auto_commit = false;
  options.auto_offset_reset = OffsetReset::kEarliest;
  options.max_poll_records = 1000;
  auto consumer = Consumer::Create(broker, options);
  REQUIRE_OK(consumer);
  {
    // Consumer::Committed agrees with the group's description.
    auto read = (*consumer)->Committed(AllPartitions());
    REQUIRE_OK(read);
    for (const auto& [tp, c] : *read) {
      INFO("partition " << tp.partition);
      const std::optional<int64_t> got = c ? std::optional<int64_t>(c->offset) : std::nullopt;
      CHECK(got == committed.at(tp.partition));
    }
  }
  REQUIRE_OK((*consumer)->Subscribe({kTopic}));
  std::map<int32_t, std::vector<std::pair<int64_t, std::pair<std::optional<std::string>,
                                                              std::optional<std::string>>>>>
      got;
  auto done = [&] {
    if ((*consumer)->Assignment().size() != static_cast<size_t>(kPartitions)) return false;
    for (int32_t p = 0; p < kPartitions; ++p) {
      auto position = (*consumer)->Position({kTopic, p});
      if (!position.ok() || *position < ends[static_cast<size_t>(p)]) return false;
    }
    return true;
  };
  const Clock::time_point give_up = Clock::now() + 60s;
  while (!done() && Clock::now() < give_up) {
    auto polled = (*consumer)->Poll(20ms);
    REQUIRE_OK(polled);
    for (const ConsumerRecord& r : *polled) {
      got[r.partition].push_back(
          {r.offset, {testing::Copy(r.key), testing::Copy(r.value)}});
    }
  }
  REQUIRE(done());
  for (int32_t p = 0; p < kPartitions; ++p) {
    INFO("partition " << p);
    const int64_t from = committed.at(p).value_or(0);
    auto log = ReadTopicPartition(broker, kTopic, p);
    REQUIRE_OK(log);
    REQUIRE(static_cast<int64_t>(log->size()) == ends[static_cast<size_t>(p)]);
    const auto& mine = got[p];
    REQUIRE(static_cast<int64_t>(mine.size()) == ends[static_cast<size_t>(p)] - from);
    std::string problem;
    for (size_t i = 0; i < mine.size() && problem.empty(); ++i) {
      const int64_t offset = from + static_cast<int64_t>(i);
      const ReadRecord& expected = (*log)[static_cast<size_t>(offset)];
      if (mine[i].first != offset) {
        problem = fmt::format("offset {} where {} belongs", mine[i].first, offset);
      } else if (mine[i].second.first != expected.key || mine[i].second.second != expected.value) {
        problem = fmt::format("offset {} differs from the log", offset);
      }
    }
    CHECK(problem == "");
  }
  if (commit_end) REQUIRE_OK((*consumer)->CommitSync());
  REQUIRE_OK((*consumer)->Close());
}

TEST_CASE("Acknowledged commits survive SIGKILL of the consuming process, and a new member "
          "resumes at them",
          "[group][crash]") {
  const std::string which = GENERATE("sync none, offsets rewritten often", "sync always");
  const Variant variant = MakeVariant(which);
  const int64_t rounds = EnvInt("RUNNEL_GROUP_CRASH_ROUNDS", 20);
  const uint64_t seed = static_cast<uint64_t>(EnvInt("RUNNEL_CRASH_SEED", std::random_device{}()));
  std::fprintf(stderr, "group crash test (%s): %lld rounds, RUNNEL_CRASH_SEED=%llu\n",
               which.c_str(), static_cast<long long>(rounds),
               static_cast<unsigned long long>(seed));
  INFO(which << ", RUNNEL_CRASH_SEED=" << seed);
  std::mt19937 rng(static_cast<uint32_t>(seed));

  std::optional<ShmDir> shm;
  std::optional<TempDir> tmp;
  if (::access("/dev/shm", W_OK) == 0 && std::getenv("RUNNEL_CRASH_ON_DISK") == nullptr) {
    shm.emplace();
  } else {
    tmp.emplace();
  }
  const std::string base = shm ? shm->path : tmp->path();
  std::string dir;
  int64_t total_commits = 0, kills = 0, rewrites_seen = 0;
  // The largest acknowledged commit per partition, over every round of this directory.
  std::map<int32_t, int64_t> acked;
  for (int64_t round = 0; round < rounds; ++round) {
    INFO("round " << round);
    if (round % kRoundsPerDir == 0) {
      if (!dir.empty()) std::filesystem::remove_all(dir);
      dir = base + "/data-" + std::to_string(round / kRoundsPerDir);
      acked.clear();
      auto broker = Broker::Open(dir, variant.broker);
      REQUIRE_OK(broker);
      REQUIRE_OK((*broker)->CreateTopic(kTopic, kPartitions, variant.topic));
    }
    const int64_t stop_after = rng() % 10 == 0 ? 0 : 1 + rng() % 300;
    const uint64_t child_seed = rng();
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    // A small pipe: the child blocks once a page of commits is unread, so it runs at most
    // that far past the kill point.
    ::fcntl(fds[1], F_SETPIPE_SZ, 4096);
    // No threads run in this process here: every Broker, Producer and Consumer of the last
    // round is destroyed before the next fork.
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(fds[0]);
      RunChild(dir, variant, fds[1], (round + 1) * kPerRound, child_seed);
    }
    ::close(fds[1]);
    std::vector<std::map<int32_t, int64_t>> commits;
    std::string error;
    const bool read_ok = ReadCommits(
        fds[0], stop_after, [pid] { ::kill(pid, SIGKILL); }, &commits, &error);
    ::close(fds[0]);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    INFO("stop after " << stop_after << " commits; got " << commits.size() << "; " << error);
    REQUIRE(read_ok);
    const bool was_killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    const bool finished = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    INFO("child status " << status << " (exit code " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1)
                         << "; see the child's message on stderr)");
    REQUIRE((was_killed || finished));
    if (was_killed) ++kills;
    total_commits += static_cast<int64_t>(commits.size());
    // A member's commits never go backwards.
    for (const auto& commit : commits) {
      for (const auto& [p, offset] : commit) {
        INFO("partition " << p);
        auto it = acked.find(p);
        if (it != acked.end()) CHECK(offset >= it->second);
        acked[p] = offset;
      }
    }

    auto broker = Broker::Open(dir, variant.broker);
    REQUIRE_OK(broker);
    auto described = (*broker)->DescribeTopic(kTopic);
    REQUIRE_OK(described);
    std::vector<int64_t> ends;
    for (const PartitionDescription& pd : described->partitions) {
      CHECK(pd.visible_offset == pd.log_end_offset);
      ends.push_back(pd.log_end_offset);
    }
    const std::map<int32_t, std::optional<int64_t>> committed = CommittedByAdmin(**broker);
    for (int32_t p = 0; p < kPartitions; ++p) {
      INFO("partition " << p);
      const std::optional<int64_t> c = committed.at(p);
      auto a = acked.find(p);
      if (a != acked.end()) {
        REQUIRE(c.has_value());  // an acknowledged commit is never lost
        CHECK(*c >= a->second);
      }
      if (c) {
        CHECK(*c >= 0);
        CHECK(*c <= ends[static_cast<size_t>(p)]);
        // The parent's own commits (below) count as acknowledged too.
        acked[p] = std::max(acked[p], *c);
      }
    }
    // Half the time the parent commits the end, so the next child starts there.
    const bool commit_end = rng() % 2 == 0;
    ResumeAndCheck(**broker, committed, ends, commit_end);
    if (commit_end) {
      for (int32_t p = 0; p < kPartitions; ++p) acked[p] = ends[static_cast<size_t>(p)];
    }
    // Reopened once more, cleanly: nothing moved.
    REQUIRE_OK((*broker)->Close());
    broker = Broker::Open(dir, variant.broker);
    REQUIRE_OK(broker);
    const std::map<int32_t, std::optional<int64_t>> again = CommittedByAdmin(**broker);
    for (int32_t p = 0; p < kPartitions; ++p) {
      INFO("partition " << p);
      if (commit_end) {
        CHECK(again.at(p) == std::optional<int64_t>(ends[static_cast<size_t>(p)]));
      } else {
        CHECK(again.at(p) == committed.at(p));
      }
    }
    // The first segment of __consumer_offsets gone: its commits were rewritten.
    const std::string offsets_dir = dir + "/__consumer_offsets-0";
    if (std::filesystem::exists(offsets_dir) &&
        !std::filesystem::exists(offsets_dir + "/00000000000000000000.log")) {
      ++rewrites_seen;
    }
    REQUIRE_OK((*broker)->Close());
  }
  std::fprintf(stderr, "group crash test (%s): %lld acknowledged commits checked, %lld kills\n",
               which.c_str(), static_cast<long long>(total_commits), static_cast<long long>(kills));
  CHECK(total_commits > 0);
  CHECK(kills > 0);
  // The variant meant to crash while commits are rewritten did rewrite them.
  if (variant.broker.offsets_topic_segment_bytes == 1024 && rounds >= 5) CHECK(rewrites_seen > 0);
}

// ---------------------------------------------------------------------------------------

void Produce(Broker& broker, int32_t partitions, int per_partition) {
  auto producer = Producer::Create(broker, {.linger_ms = 0});
  REQUIRE_OK(producer);
  for (int i = 0; i < per_partition; ++i) {
    for (int32_t p = 0; p < partitions; ++p) {
      const std::string value = fmt::format("p{}-{}", p, i);
      REQUIRE_OK((*producer)->Send({.topic = kTopic, .partition = p, .value = value}));
    }
  }
  REQUIRE_OK((*producer)->Close());
}

std::map<int32_t, int64_t> CommittedOf(Broker& broker, const std::string& group) {
  auto admin = GroupAdmin::Create(broker);
  REQUIRE_OK(admin);
  auto described = (*admin)->DescribeGroup(group);
  REQUIRE_OK(described);
  std::map<int32_t, int64_t> out;
  for (const PartitionOffsetDescription& pd : described->offsets) {
    if (pd.committed) out[pd.partition.partition] = pd.committed->offset;
  }
  return out;
}

ConsumerOptions Options(const std::string& group, bool auto_commit) {
  ConsumerOptions o;
  o.group_id = group;
  o.enable_auto_commit = auto_commit;
  o.auto_commit_interval_ms = 3600 * 1000;  // only on revoke and Close
  o.auto_offset_reset = OffsetReset::kEarliest;
  o.max_poll_records = 7;
  o.partition_assignment_strategy = {PartitionAssignor::kRange};
  return o;
}

// Polls both until each has `each` partitions (bounded).
void Settle(Consumer& a, Consumer& b, size_t each) {
  const Clock::time_point give_up = Clock::now() + 30s;
  while ((a.Assignment().size() != each || b.Assignment().size() != each) &&
         Clock::now() < give_up) {
    REQUIRE_OK(a.Poll(0ms));
    REQUIRE_OK(b.Poll(0ms));
  }
  REQUIRE(a.Assignment().size() == each);
  REQUIRE(b.Assignment().size() == each);
}

std::map<int32_t, int64_t> PositionsOf(Consumer& c) {
  std::map<int32_t, int64_t> out;
  for (const TopicPartition& tp : c.Assignment()) {
    auto position = c.Position(tp);
    REQUIRE_OK(position);
    out[tp.partition] = *position;
  }
  return out;
}

// Reads the group's partitions with a new member to the end; returns per partition the
// first offset it returned and how many records.
std::map<int32_t, std::pair<int64_t, int64_t>> Resume(Broker& broker, const std::string& group,
                                                      int64_t per_partition) {
  auto consumer = Consumer::Create(broker, Options(group, /*auto_commit=*/false));
  REQUIRE_OK(consumer);
  REQUIRE_OK((*consumer)->Subscribe({kTopic}));
  std::map<int32_t, std::pair<int64_t, int64_t>> out;
  std::map<int32_t, int64_t> last;
  auto done = [&] {
    if ((*consumer)->Assignment().size() != 4) return false;
    for (const TopicPartition& tp : (*consumer)->Assignment()) {
      auto position = (*consumer)->Position(tp);
      if (!position.ok() || *position < per_partition) return false;
    }
    return true;
  };
  const Clock::time_point give_up = Clock::now() + 30s;
  while (!done() && Clock::now() < give_up) {
    auto polled = (*consumer)->Poll(10ms);
    REQUIRE_OK(polled);
    for (const ConsumerRecord& r : *polled) {
      auto [it, fresh] = out.try_emplace(r.partition, r.offset, 0);
      ++it->second.second;
      if (!fresh) CHECK(r.offset == last[r.partition] + 1);
      last[r.partition] = r.offset;
    }
  }
  REQUIRE(done());
  REQUIRE_OK((*consumer)->Close());
  return out;
}

TEST_CASE("Committed offsets of closed members survive closing and reopening the broker",
          "[group][crash]") {
  const std::string which = GENERATE("sync none", "sync always");
  INFO(which);
  BrokerOptions broker_options;
  TopicConfig config;
  if (which == "sync always") {
    broker_options.default_topic_config.sync_policy = SyncPolicy::kAlways;
    config.sync_policy = SyncPolicy::kAlways;
  }
  constexpr int kPerPartition = 50;
  TempDir tmp;
  const std::string dir = tmp.Sub("data");
  std::map<int32_t, int64_t> expected;  // "keep"'s committed offsets
  std::map<int32_t, int64_t> static_expected;
  {
    auto broker = Broker::Open(dir, broker_options);
    REQUIRE_OK(broker);
    REQUIRE_OK((*broker)->CreateTopic(kTopic, 4, config));
    Produce(**broker, 4, kPerPartition);

    // a auto-commits (on Close); b commits by hand, then reads on without committing.
    auto a = Consumer::Create(**broker, Options("keep", /*auto_commit=*/true));
    REQUIRE_OK(a);
    auto b = Consumer::Create(**broker, Options("keep", /*auto_commit=*/false));
    REQUIRE_OK(b);
    REQUIRE_OK((*a)->Subscribe({kTopic}));
    REQUIRE_OK((*b)->Subscribe({kTopic}));
    Settle(**a, **b, 2);
    for (int i = 0; i < 5; ++i) {
      REQUIRE_OK((*a)->Poll(10ms));
      REQUIRE_OK((*b)->Poll(10ms));
    }
    REQUIRE_OK((*b)->CommitSync());
    const std::map<int32_t, int64_t> b_committed = PositionsOf(**b);
    for (int i = 0; i < 3; ++i) REQUIRE_OK((*b)->Poll(10ms));  // read, never committed
    const std::map<int32_t, int64_t> a_positions = PositionsOf(**a);
    for (const auto& [p, o] : a_positions) CHECK(o > 0);
    for (const auto& [p, o] : b_committed) CHECK(o > 0);
    REQUIRE_OK((*a)->Close());  // commits a's positions, leaves; b may rebalance later
    REQUIRE_OK((*b)->Close());
    expected = a_positions;
    expected.insert(b_committed.begin(), b_committed.end());
    REQUIRE(expected.size() == 4);
    CHECK(CommittedOf(**broker, "keep") == expected);

    // A static member commits, then closes: it stays in its group until
    // session.timeout.ms, disconnected, when the broker closes.
    ConsumerOptions static_options = Options("static", /*auto_commit=*/false);
    static_options.group_instance_id = "instance-1";
    auto s = Consumer::Create(**broker, static_options);
    REQUIRE_OK(s);
    REQUIRE_OK((*s)->Subscribe({kTopic}));
    const Clock::time_point give_up = Clock::now() + 30s;
    while ((*s)->Assignment().size() != 4 && Clock::now() < give_up) REQUIRE_OK((*s)->Poll(0ms));
    REQUIRE((*s)->Assignment().size() == 4);
    for (int i = 0; i < 4; ++i) REQUIRE_OK((*s)->Poll(10ms));
    REQUIRE_OK((*s)->CommitSync());
    static_expected = PositionsOf(**s);
    REQUIRE_OK((*s)->Close());
    CHECK(CommittedOf(**broker, "static") == static_expected);
    REQUIRE_OK((*broker)->Close());
  }
  {
    auto broker = Broker::Open(dir, broker_options);
    REQUIRE_OK(broker);
    auto admin = GroupAdmin::Create(**broker);
    REQUIRE_OK(admin);
    auto groups = (*admin)->ListGroups();
    REQUIRE_OK(groups);
    std::vector<std::string> names;
    for (const GroupListing& g : *groups) {
      names.push_back(g.group_id);
      CHECK(g.state == GroupState::kEmpty);
    }
    CHECK(names == std::vector<std::string>{"keep", "static"});
    CHECK(CommittedOf(**broker, "keep") == expected);
    CHECK(CommittedOf(**broker, "static") == static_expected);
    auto described = (*admin)->DescribeGroup("keep");
    REQUIRE_OK(described);
    CHECK(described->members.empty());
    for (const PartitionOffsetDescription& pd : described->offsets) {
      INFO("partition " << pd.partition.partition);
      CHECK(pd.log_end_offset == kPerPartition);
      CHECK(pd.lag == kPerPartition - expected[pd.partition.partition]);
    }
    // A new member resumes exactly there and reads the rest.
    const auto resumed = Resume(**broker, "keep", kPerPartition);
    for (int32_t p = 0; p < 4; ++p) {
      INFO("partition " << p);
      auto it = resumed.find(p);
      REQUIRE(it != resumed.end());
      CHECK(it->second.first == expected[p]);
      CHECK(it->second.second == kPerPartition - expected[p]);
    }
    // It closed without committing: nothing moved.
    CHECK(CommittedOf(**broker, "keep") == expected);
    REQUIRE_OK((*broker)->Close());
  }
  {
    auto broker = Broker::Open(dir, broker_options);
    REQUIRE_OK(broker);
    CHECK(CommittedOf(**broker, "keep") == expected);
    CHECK(CommittedOf(**broker, "static") == static_expected);
    REQUIRE_OK((*broker)->Close());
  }
}

TEST_CASE("Committed offsets survive the broker closing under members still open",
          "[group][crash]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("data");
  constexpr int kPerPartition = 30;
  std::map<int32_t, int64_t> expected;
  {
    auto broker = Broker::Open(dir);
    REQUIRE_OK(broker);
    REQUIRE_OK((*broker)->CreateTopic(kTopic, 4, TopicConfig{}));
    Produce(**broker, 4, kPerPartition);
    auto a = Consumer::Create(**broker, Options("open", /*auto_commit=*/true));
    REQUIRE_OK(a);
    auto b = Consumer::Create(**broker, Options("open", /*auto_commit=*/false));
    REQUIRE_OK(b);
    REQUIRE_OK((*a)->Subscribe({kTopic}));
    REQUIRE_OK((*b)->Subscribe({kTopic}));
    Settle(**a, **b, 2);
    for (int i = 0; i < 4; ++i) {
      REQUIRE_OK((*a)->Poll(10ms));
      REQUIRE_OK((*b)->Poll(10ms));
    }
    REQUIRE_OK((*a)->CommitSync());
    REQUIRE_OK((*b)->CommitSync());
    expected = PositionsOf(**a);
    const auto b_positions = PositionsOf(**b);
    expected.insert(b_positions.begin(), b_positions.end());
    REQUIRE(expected.size() == 4);
    REQUIRE_OK((*a)->Poll(10ms));  // read on, not committed
    REQUIRE_OK((*broker)->Close());
    // The members find the broker closed; closing them commits nothing more.
    CHECK(absl::IsFailedPrecondition((*a)->Poll(0ms).status()));
    CHECK(absl::IsFailedPrecondition((*b)->CommitSync()));
    (void)(*a)->Close();
    (void)(*b)->Close();
  }
  auto broker = Broker::Open(dir);
  REQUIRE_OK(broker);
  CHECK(CommittedOf(**broker, "open") == expected);
  const auto resumed = Resume(**broker, "open", kPerPartition);
  for (int32_t p = 0; p < 4; ++p) {
    INFO("partition " << p);
    auto it = resumed.find(p);
    REQUIRE(it != resumed.end());
    CHECK(it->second.first == expected[p]);
    CHECK(it->second.second == kPerPartition - expected[p]);
  }
  REQUIRE_OK((*broker)->Close());
}

}  // namespace
}  // namespace runnel
