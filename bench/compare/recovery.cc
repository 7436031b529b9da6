#include "bench/compare/recovery.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "runnel/broker.h"
#include "tools/bench_workload.h"

namespace runnel::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kPartitions = 8;
constexpr size_t kRecoveryValueSize = 1024;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Opens `dir` (timed), checks it holds `records`, closes it cleanly.
absl::StatusOr<double> TimeOpen(const std::string& dir, int64_t records, uint64_t* disk_bytes) {
  const auto start = Clock::now();
  auto broker = Broker::Open(dir);
  const double seconds = Seconds(start);
  if (!broker.ok()) return broker.status();
  absl::StatusOr<TopicDescription> topic = (*broker)->DescribeTopic("recovery");
  if (!topic.ok()) return topic.status();
  int64_t found = 0;
  *disk_bytes = 0;
  for (const PartitionDescription& p : topic->partitions) {
    found += p.log_end_offset - p.log_start_offset;
    *disk_bytes += p.size_bytes;
  }
  if (found != records) {
    return absl::DataLossError(fmt::format("recovered {} records of the {} acknowledged", found, records));
  }
  if (absl::Status s = (*broker)->Close(); !s.ok()) return s;
  return seconds;
}

}  // namespace

uint64_t FreeBytes(const std::string& path) {
  struct statvfs st {};
  if (statvfs(path.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

int RecoveryFillMain(const std::string& dir, uint64_t bytes) {
  auto broker = Broker::Open(dir);
  if (!broker.ok()) {
    std::fprintf(stderr, "recovery fill: %s\n", broker.status().ToString().c_str());
    return 1;
  }
  if (absl::Status s = (*broker)->CreateTopic("recovery", kPartitions); !s.ok()) {
    std::fprintf(stderr, "recovery fill: %s\n", s.ToString().c_str());
    return 1;
  }
  ProduceSpec spec;
  spec.topic = "recovery";
  spec.value_size = kRecoveryValueSize;
  spec.threads = 2;
  spec.records = static_cast<int64_t>(bytes / (kKeySize + kRecoveryValueSize));
  absl::StatusOr<RunFigures> run = RunProduceWorkload(**broker, spec);
  if (!run.ok()) {
    std::fprintf(stderr, "recovery fill: %s\n", run.status().ToString().c_str());
    return 1;
  }
  // Every record is acknowledged (Flush returned); now wait for SIGKILL, mid-life.
  std::printf("filled %lld\n", static_cast<long long>(run->records));
  std::fflush(stdout);
  while (true) pause();
}

absl::StatusOr<RecoveryFigures> RunRecovery(const std::string& self, uint64_t bytes) {
  TempDir dir;
  if (!dir.status().ok()) return dir.status();
  const std::string data = dir.Sub("data");
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return absl::InternalError(fmt::format("pipe: {}", std::strerror(errno)));
  const std::string size = std::to_string(bytes);
  const char* argv[] = {self.c_str(), "--recovery-fill", data.c_str(), size.c_str(), nullptr};
  const auto start = Clock::now();
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError(fmt::format("fork: {}", std::strerror(errno)));
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    execv(argv[0], const_cast<char* const*>(argv));
    _exit(127);
  }
  close(out[1]);
  FILE* from_child = fdopen(out[0], "r");
  long long records = -1;
  const bool filled = from_child != nullptr && std::fscanf(from_child, "filled %lld", &records) == 1;
  RecoveryFigures f;
  f.fill_seconds = Seconds(start);
  kill(pid, SIGKILL);  // by its pid: the child we started
  waitpid(pid, nullptr, 0);
  if (from_child != nullptr) std::fclose(from_child);
  if (!filled) return absl::InternalError("the recovery fill child failed (see its stderr)");
  f.records = records;
  f.partitions = kPartitions;
  f.bytes = static_cast<uint64_t>(records) * (kKeySize + kRecoveryValueSize);
  absl::StatusOr<double> after_kill = TimeOpen(data, records, &f.disk_bytes);
  if (!after_kill.ok()) return after_kill.status();
  f.after_kill_seconds = *after_kill;
  absl::StatusOr<double> after_close = TimeOpen(data, records, &f.disk_bytes);
  if (!after_close.ok()) return after_close.status();
  f.after_close_seconds = *after_close;
  return f;
}

}  // namespace runnel::bench
