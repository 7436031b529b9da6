// Crash test: a child process (fork) produces to a sync.policy=always topic and reports
// every acknowledged record down a pipe from its callback; the parent SIGKILLs it after a
// random number of acknowledgements, reopens the data directory and checks that
//  - every acknowledged record is at the partition and offset its callback reported, with
//    its key and value intact;
//  - each partition's log is a contiguous valid prefix: offsets 0 .. end-1, CRCs valid,
//    and every record in it (acknowledged or not) is one the child really sent;
//  - appends continue: a Producer in the parent sends, and its record lands at the end.
// The same directory goes through every round, so recovery runs on logs that earlier
// crashes and recoveries left.
//
// RUNNEL_CRASH_ROUNDS sets the number of rounds (default 50); RUNNEL_CRASH_SEED replays a
// run (the seed is printed on stderr). The data directory is on /dev/shm when available;
// RUNNEL_CRASH_ON_DISK=1 puts it under $TMPDIR instead.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <utility>

#include "client/producer_testing.h"
#include "runnel/broker.h"
#include "runnel/partitioner.h"
#include "runnel/producer.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel {
namespace {

using testing::ReadRecord;
using testing::ReadTopicPartition;
using testing::TempDir;

constexpr int32_t kPartitions = 3;
constexpr int64_t kPerRound = 1'000'000;  // record numbers of round r start at r * kPerRound
constexpr char kTopic[] = "crash";
constexpr int64_t kRoundsPerDir = 25;

uint32_t Fnv1a(std::string_view s) {
  uint32_t h = 2166136261u;
  for (char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 16777619u;
  }
  return h;
}

std::string KeyFor(int64_t i) { return "k" + std::to_string(i); }

// "<i>:<checksum>:<padding>", of varying length.
std::string ValueFor(int64_t i) {
  const std::string pad(static_cast<size_t>(i % 97), static_cast<char>('a' + i % 26));
  return fmt::format("{}:{:08x}:{}", i, Fnv1a(KeyFor(i) + pad), pad);
}

// Parses "k<i>" as written by the child; -1 if it is not such a key.
int64_t NumberOfKey(const std::optional<std::string>& key) {
  if (!key || key->size() < 2 || (*key)[0] != 'k') return -1;
  int64_t i = 0;
  for (size_t c = 1; c < key->size(); ++c) {
    if ((*key)[c] < '0' || (*key)[c] > '9') return -1;
    i = i * 10 + ((*key)[c] - '0');
  }
  return i;
}

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

TopicConfig CrashTopicConfig() {
  TopicConfig config;
  config.sync_policy = SyncPolicy::kAlways;
  config.segment_bytes = 64 * 1024;  // many rolls, so crashes land in them too
  config.segment_index_bytes = 4096;
  config.index_interval_bytes = 512;
  return config;
}

// The child: produce until killed. Never returns; touches nothing of the parent's but the
// pipe and the data directory.
[[noreturn]] void RunChild(const std::string& dir, int fd, int64_t first, uint64_t seed) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() == 1) ::_exit(5);
  auto broker = Broker::Open(dir);
  if (!broker.ok()) {
    std::fprintf(stderr, "child: %s\n", broker.status().ToString().c_str());
    ::_exit(3);
  }
  std::mt19937_64 rng(seed);
  ProducerOptions options;
  options.acks = rng() % 2 == 0 ? Acks::kAll : Acks::kLeader;
  options.linger_ms = static_cast<int64_t>(rng() % 3);  // 0, 1 or 2
  options.batch_size = rng() % 2 == 0 ? 16384 : 600;
  auto producer = Producer::Create(**broker, options);
  if (!producer.ok()) ::_exit(3);
  for (int64_t i = first; i < first + 200'000; ++i) {
    const std::string key = KeyFor(i);
    const std::string value = ValueFor(i);
    absl::Status st = (*producer)->Send(
        {.topic = kTopic, .key = key, .value = value},
        [fd, i](const absl::StatusOr<RecordMetadata>& md) {
          if (!md.ok()) {
            std::fprintf(stderr, "child: record %lld failed: %s\n", static_cast<long long>(i),
                         md.status().ToString().c_str());
            ::_exit(4);
          }
          char line[96];
          const int n =
              std::snprintf(line, sizeof(line), "%d %lld %lld\n", md->partition,
                            static_cast<long long>(md->offset), static_cast<long long>(i));
          if (n <= 0 || !WriteAll(fd, line, static_cast<size_t>(n))) ::_exit(6);
        });
    if (!st.ok()) ::_exit(4);
  }
  (*producer)->Flush().IgnoreError();
  ::_exit(0);
}

// A fresh directory under /dev/shm, removed with its contents.
struct ShmDir {
  ShmDir() {
    std::string tmpl = "/dev/shm/runnel-crash-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp " + tmpl);
    path = tmpl;
  }
  ~ShmDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

struct Acked {
  int32_t partition;
  int64_t offset;
  int64_t number;
};

// Reads "partition offset number" lines from `fd` until `stop_after` have arrived (then
// calls `kill`) and on to EOF. False on a malformed line or if nothing comes for 60 s.
bool ReadAcks(int fd, int64_t stop_after, const std::function<void()>& kill,
              std::vector<Acked>* out, std::string* error) {
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
      *error = "no acknowledgement for 60 s";
      if (!killed) kill();
      return false;
    }
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child is gone
    pending.append(buf, static_cast<size_t>(n));
    size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      Acked a{};
      long long offset = 0, number = 0;
      if (std::sscanf(pending.c_str(), "%d %lld %lld", &a.partition, &offset, &number) != 3) {
        *error = "malformed line: " + pending.substr(0, nl);
        if (!killed) kill();
        return false;
      }
      a.offset = offset;
      a.number = number;
      out->push_back(a);
      pending.erase(0, nl + 1);
      if (!killed && static_cast<int64_t>(out->size()) >= stop_after) {
        kill();
        killed = true;
      }
    }
  }
  if (!pending.empty()) {
    *error = "a partial line: " + pending;  // write(2) of < PIPE_BUF bytes is atomic
    return false;
  }
  return true;
}

TEST_CASE("Acknowledged records survive SIGKILL of the producing process", "[producer][crash]") {
  const int64_t rounds = EnvInt("RUNNEL_CRASH_ROUNDS", 50);
  const uint64_t seed = static_cast<uint64_t>(EnvInt("RUNNEL_CRASH_SEED", std::random_device{}()));
  std::fprintf(stderr, "producer crash test: %lld rounds, RUNNEL_CRASH_SEED=%llu\n",
               static_cast<long long>(rounds), static_cast<unsigned long long>(seed));
  INFO("RUNNEL_CRASH_SEED=" << seed);
  std::mt19937 rng(static_cast<uint32_t>(seed));

  // tmpfs when there is one: a process crash loses nothing of the page cache, so the
  // disk adds only fsync time here (power loss is the storage tests' business).
  std::optional<ShmDir> shm;
  std::optional<TempDir> tmp;
  if (::access("/dev/shm", W_OK) == 0 && std::getenv("RUNNEL_CRASH_ON_DISK") == nullptr) {
    shm.emplace();
  } else {
    tmp.emplace();
  }
  const std::string base = shm ? shm->path : tmp->path();
  std::string dir;

  // What must be in the log: (partition, offset) -> the record's key and value.
  std::map<std::pair<int32_t, int64_t>, std::pair<std::string, std::string>> expected;
  int64_t total_acked = 0, kills = 0;
  for (int64_t round = 0; round < rounds; ++round) {
    INFO("round " << round);
    // A fresh data directory every kRoundsPerDir rounds keeps each round's check (which
    // reads the whole log) short however many rounds are asked for.
    if (round % kRoundsPerDir == 0) {
      if (!dir.empty()) std::filesystem::remove_all(dir);
      dir = base + "/data-" + std::to_string(round / kRoundsPerDir);
      expected.clear();
      auto broker = Broker::Open(dir);
      REQUIRE_OK(broker);
      REQUIRE_OK((*broker)->CreateTopic(kTopic, kPartitions, CrashTopicConfig()));
    }
    // Kill at once now and then (during Open and recovery), otherwise after 1..600 acks.
    const int64_t stop_after = rng() % 10 == 0 ? 0 : 1 + rng() % 600;
    const uint64_t child_seed = rng();
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    // A small pipe: the child blocks in its callback once a page of acknowledgements is
    // unread, so it runs at most that far past the kill point.
    ::fcntl(fds[1], F_SETPIPE_SZ, 4096);
    // The parent holds no threads here: every Broker and Producer of the previous round
    // is destroyed (their threads joined) before the next fork.
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(fds[0]);
      RunChild(dir, fds[1], (round + 1) * kPerRound, child_seed);
    }
    ::close(fds[1]);
    std::vector<Acked> acks;
    std::string error;
    const bool read_ok = ReadAcks(
        fds[0], stop_after, [pid] { ::kill(pid, SIGKILL); }, &acks, &error);
    ::close(fds[0]);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    INFO("stop after " << stop_after << " acks; got " << acks.size() << "; " << error);
    REQUIRE(read_ok);
    const bool was_killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    const bool finished = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    INFO("child status " << status);
    REQUIRE((was_killed || finished));
    if (was_killed) ++kills;
    total_acked += static_cast<int64_t>(acks.size());

    for (const Acked& a : acks) {
      const std::string key = KeyFor(a.number);
      REQUIRE(a.number >= (round + 1) * kPerRound);
      REQUIRE(a.partition == KeyPartition(key, kPartitions));
      // No (partition, offset) acknowledged twice, in this round or any before.
      REQUIRE(expected
                  .emplace(std::make_pair(a.partition, a.offset),
                           std::make_pair(key, ValueFor(a.number)))
                  .second);
    }

    auto broker = Broker::Open(dir);
    REQUIRE_OK(broker);
    std::vector<int64_t> ends(kPartitions);
    for (int32_t p = 0; p < kPartitions; ++p) {
      INFO("partition " << p);
      auto records = ReadTopicPartition(**broker, kTopic, p);  // DataLoss on a bad CRC
      REQUIRE_OK(records);
      auto described = (*broker)->DescribeTopic(kTopic);
      REQUIRE_OK(described);
      const PartitionDescription& d = described->partitions[static_cast<size_t>(p)];
      CHECK(d.log_start_offset == 0);
      CHECK(d.visible_offset == d.log_end_offset);
      REQUIRE(static_cast<int64_t>(records->size()) == d.log_end_offset);
      // Checked without an assertion per record (Catch2's are slow); the first problem
      // found is reported.
      std::string problem;
      for (size_t o = 0; o < records->size() && problem.empty(); ++o) {
        const ReadRecord& r = (*records)[o];
        if (r.offset != static_cast<int64_t>(o)) {  // a contiguous prefix
          problem = fmt::format("offset {} where {} belongs", r.offset, o);
          break;
        }
        auto it = expected.find({p, r.offset});
        if (it != expected.end()) {
          if (r.key != it->second.first || r.value != it->second.second) {
            problem = fmt::format("acknowledged offset {} holds key {} instead of {}", r.offset,
                                  r.key.value_or("<null>"), it->second.first);
          }
          continue;
        }
        // Unacknowledged: still a record the child really sent, intact.
        const int64_t i = NumberOfKey(r.key);
        if (i < 0 || r.value != ValueFor(i) || KeyPartition(*r.key, kPartitions) != p) {
          problem = fmt::format("offset {} holds a record never sent: key {}", r.offset,
                                r.key.value_or("<null>"));
        }
      }
      CHECK(problem == "");
      // Every acknowledged record of this partition is within the log.
      auto last = expected.lower_bound({p + 1, 0});
      if (last != expected.begin()) {
        --last;
        if (last->first.first == p) CHECK(last->first.second < d.log_end_offset);
      }
      ends[static_cast<size_t>(p)] = d.log_end_offset;
    }

    // Appends continue where the log ends.
    {
      auto producer = Producer::Create(**broker, {.linger_ms = 0});
      REQUIRE_OK(producer);
      for (int32_t p = 0; p < kPartitions; ++p) {
        // The parent's records use numbers the child never does (below round 1's).
        const int64_t number = round * kPartitions + p;
        const std::string key = KeyFor(number);
        const std::string value = ValueFor(number);
        auto md =
            (*producer)->SendSync({.topic = kTopic, .partition = p, .key = key, .value = value});
        REQUIRE_OK(md);
        CHECK(md->offset == ends[static_cast<size_t>(p)]);
        expected[{p, md->offset}] = {key, value};
        auto records = ReadTopicPartition(**broker, kTopic, p);
        REQUIRE_OK(records);
        REQUIRE(static_cast<int64_t>(records->size()) == md->offset + 1);
        CHECK(records->back().key == key);
        CHECK(records->back().value == value);
      }
      REQUIRE_OK((*producer)->Close());
    }
    REQUIRE_OK((*broker)->Close());  // clean, so the next child's Open skips the scan
  }
  std::fprintf(stderr, "producer crash test: %lld acknowledged records checked, %lld kills\n",
               static_cast<long long>(total_acked), static_cast<long long>(kills));
  CHECK(total_acked > 0);
  CHECK(kills > 0);
}

}  // namespace
}  // namespace runnel
