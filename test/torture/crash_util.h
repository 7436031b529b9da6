// Helpers shared by the process-crash tortures (crash_process.cc, crash_reader.cc): child
// processes made with fork(), and fixed-size binary messages over pipes. A message is
// written with a single write() of at most PIPE_BUF bytes, so a SIGKILL leaves either the
// whole message in the pipe or none of it; a reader that finds a partial message at EOF
// reports it as torn.
#ifndef RUNNEL_TEST_TORTURE_CRASH_UTIL_H_
#define RUNNEL_TEST_TORTURE_CRASH_UTIL_H_

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "torture/torture.h"

namespace runnel::torture {

// One write() of the whole message; false if the pipe is gone or the write was short.
bool WriteMessage(int fd, const void* data, size_t size);

// Reads whole `size`-byte messages from `fd` into `buffer` (which keeps a partial message
// between calls).
enum class ReadOutcome { kMessage, kEof, kTimeout, kTorn, kError };
class MessageReader {
 public:
  MessageReader(int fd, size_t size) : fd_(fd), size_(size) {}
  // Waits up to `timeout` for the next message and copies it to `out`.
  ReadOutcome Next(void* out, std::chrono::milliseconds timeout);

 private:
  int fd_;
  size_t size_;
  std::string pending_;
};

// A forked child process: SIGKILLed and reaped on destruction if still running.
class ChildProcess {
 public:
  ChildProcess() = default;
  // Forks; the child runs `body`, which must not return (it ends with _exit). The child
  // dies with the parent (PR_SET_PDEATHSIG). -1 pid on failure.
  static ChildProcess Start(const std::function<void()>& body);
  ChildProcess(ChildProcess&& other) noexcept : pid_(other.pid_) { other.pid_ = -1; }
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }
  void Kill();
  // Waits for it to end; returns its wait status, and describes it in `how`.
  int Wait(std::string* how);
  // Non-blocking: true (and the status described in `how`) if it has ended.
  bool Ended(std::string* how);

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
};

std::string DescribeWaitStatus(int status);

// When the parent SIGKILLs a child: after a random number of acknowledgements or after a
// random delay (half the time each; 0 acknowledgements kills it at once, during Open and
// recovery), or never (the child is to exit 0 by itself).
struct KillPlan {
  bool never = false;
  bool by_acks = false;
  int64_t after_acks = 0;
  std::chrono::milliseconds after_delay{0};
  static KillPlan Random(std::mt19937_64& rng, int64_t max_acks, int64_t max_delay_ms);
};

// Handles one message from the child: empty, or what is wrong with it. Sets *is_ack when it
// counts towards KillPlan::after_acks.
using MessageHandler = std::function<std::string(const void* message, bool* is_ack)>;

// Reads `child`'s `message_size`-byte messages from `fd` to EOF, handing each to
// `on_message`, kills the child as `plan` says (counting a "sigkill" fault) and reaps it.
// Empty when all went as planned (killed by our SIGKILL, or exited 0 for plan.never);
// otherwise what went wrong. The child is killed before returning in any case.
std::string RunChildToPlan(ChildProcess& child, int fd, size_t message_size, const KillPlan& plan,
                           const MessageHandler& on_message, Stats& stats);

// Base offsets of the .log files in a partition directory, sorted.
std::vector<int64_t> SegmentBases(const std::string& partition_dir);

// A data directory for a crash torture: under /dev/shm when it exists (a process crash
// needs no disk, and fsyncs on a shared disk would make rounds 10x slower), else under
// `scratch` (also when RUNNEL_TORTURE_ON_DISK=1). Removed on destruction unless keep() was
// called (the torture failed: the directory is evidence).
class CrashDir {
 public:
  CrashDir(const std::string& scratch, const std::string& name);
  ~CrashDir();
  CrashDir(const CrashDir&) = delete;
  CrashDir& operator=(const CrashDir&) = delete;
  const std::string& path() const { return path_; }
  void keep() { keep_ = true; }

 private:
  std::string path_;
  bool keep_ = false;
};

}  // namespace runnel::torture

#endif  // RUNNEL_TEST_TORTURE_CRASH_UTIL_H_
