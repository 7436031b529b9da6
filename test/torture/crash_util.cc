#include "torture/crash_util.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "util/formatters.h"

namespace runnel::torture {

bool WriteMessage(int fd, const void* data, size_t size) {
  while (true) {
    const ssize_t w = ::write(fd, data, size);
    if (w < 0 && errno == EINTR) continue;
    return w == static_cast<ssize_t>(size);
  }
}

ReadOutcome MessageReader::Next(void* out, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  while (pending_.size() < size_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return ReadOutcome::kError;
    if (ready == 0) return ReadOutcome::kTimeout;
    const ssize_t n = ::read(fd_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ReadOutcome::kError;
    if (n == 0) return pending_.empty() ? ReadOutcome::kEof : ReadOutcome::kTorn;
    pending_.append(buf, static_cast<size_t>(n));
  }
  std::memcpy(out, pending_.data(), size_);
  pending_.erase(0, size_);
  return ReadOutcome::kMessage;
}

ChildProcess ChildProcess::Start(const std::function<void()>& body) {
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(120);
    body();
    ::_exit(121);  // body must not return; this is a bug in the torture
  }
  return ChildProcess(pid);
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0) {
      Kill();
      Wait(nullptr);
    }
    pid_ = other.pid_;
    other.pid_ = -1;
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    Kill();
    Wait(nullptr);
  }
}

void ChildProcess::Kill() {
  if (pid_ > 0) ::kill(pid_, SIGKILL);
}

int ChildProcess::Wait(std::string* how) {
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  if (how != nullptr) *how = DescribeWaitStatus(status);
  return status;
}

bool ChildProcess::Ended(std::string* how) {
  if (pid_ <= 0) return true;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r != pid_) return false;
  pid_ = -1;
  if (how != nullptr) *how = DescribeWaitStatus(status);
  return true;
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return fmt::format("killed by signal {} ({})", WTERMSIG(status), ::strsignal(WTERMSIG(status)));
  }
  return fmt::format("wait status {:#x}", status);
}

KillPlan KillPlan::Random(std::mt19937_64& rng, int64_t max_acks, int64_t max_delay_ms) {
  KillPlan plan;
  plan.by_acks = rng() % 2 == 0;
  plan.after_acks = static_cast<int64_t>(rng() % static_cast<uint64_t>(max_acks));
  plan.after_delay = std::chrono::milliseconds(rng() % static_cast<uint64_t>(max_delay_ms));
  return plan;
}

std::string RunChildToPlan(ChildProcess& child, int fd, size_t message_size, const KillPlan& plan,
                           const MessageHandler& on_message, Stats& stats) {
  using std::chrono::milliseconds;
  const auto kill_at = std::chrono::steady_clock::now() + plan.after_delay;
  const bool by_delay = !plan.never && !plan.by_acks;
  bool killed = false;
  auto kill = [&] {
    if (killed || plan.never) return;
    child.Kill();
    killed = true;
    stats.Fault("sigkill");
  };
  if (plan.by_acks && plan.after_acks == 0) kill();
  MessageReader reader(fd, message_size);
  std::string message(message_size, '\0');
  std::string error;
  int64_t acks = 0;
  while (error.empty()) {
    auto timeout = milliseconds(60'000);
    if (by_delay && !killed) {
      timeout = std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(
                                              kill_at - std::chrono::steady_clock::now()));
    }
    const ReadOutcome got = reader.Next(message.data(), timeout);
    if (got == ReadOutcome::kEof) break;
    if (got == ReadOutcome::kTimeout && by_delay && !killed) {
      kill();
    } else if (got == ReadOutcome::kMessage) {
      bool is_ack = false;
      error = on_message(message.data(), &is_ack);
      if (is_ack && ++acks >= plan.after_acks && plan.by_acks) kill();
    } else {
      error = got == ReadOutcome::kTorn      ? "a torn message from the child"
              : got == ReadOutcome::kTimeout ? "no message from the child for 60 s"
                                             : "reading the child's pipe failed";
    }
  }
  if (!error.empty()) {
    child.Kill();
    child.Wait(nullptr);
    return error;
  }
  std::string how;
  const int status = child.Wait(&how);
  const bool expected = plan.never ? WIFEXITED(status) && WEXITSTATUS(status) == 0
                                   : killed && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  if (!expected) return "the child " + how + " (see its message above)";
  return "";
}

std::vector<int64_t> SegmentBases(const std::string& partition_dir) {
  std::vector<int64_t> bases;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(partition_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() != 24 || !name.ends_with(".log")) continue;
    bases.push_back(std::strtoll(name.c_str(), nullptr, 10));
  }
  std::sort(bases.begin(), bases.end());
  return bases;
}

CrashDir::CrashDir(const std::string& scratch, const std::string& name) {
  const char* on_disk = std::getenv("RUNNEL_TORTURE_ON_DISK");
  std::error_code ec;
  const bool shm = std::filesystem::is_directory("/dev/shm", ec) &&
                   ::access("/dev/shm", W_OK) == 0 && !(on_disk && std::string(on_disk) == "1");
  path_ = shm ? fmt::format("/dev/shm/runnel-torture-{}-{}", ::getpid(), name)
              : fmt::format("{}/{}", scratch, name);
  std::filesystem::remove_all(path_, ec);
  std::filesystem::create_directories(path_, ec);
}

CrashDir::~CrashDir() {
  if (keep_) {
    std::fprintf(stderr, "kept the data directory %s\n", path_.c_str());
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace runnel::torture
