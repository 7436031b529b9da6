// Broker::Open and Close: creating the data directory, the one-owner lock (in this
// process and from another one), options validation, closed handles, and bad data
// directories (a regular file, a read-only directory).
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <filesystem>
#include <string>
#include <vector>

#include "broker_testing.h"
#include "runnel/broker.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel {
namespace {

namespace fs = std::filesystem;
using broker_testing::Contains;
using broker_testing::Message;
using broker_testing::SmallConfig;
using testing::TempDir;

// The outcome of running `fn` in a forked child: its exit code and what it wrote to the
// pipe. The child leaves with _exit, so no Catch or static destructors run in it.
struct ChildResult {
  int exit_code = -1;
  std::string output;
};

template <typename Fn>
ChildResult RunInChild(Fn fn) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    close(fds[0]);
    std::string out;
    const int code = fn(out);
    size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = write(fds[1], out.data() + done, out.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    close(fds[1]);
    _exit(code);
  }
  close(fds[1]);
  ChildResult result;
  char buf[512];
  for (;;) {
    const ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.output.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int wstatus = 0;
  REQUIRE(waitpid(child, &wstatus, 0) == child);
  REQUIRE(WIFEXITED(wstatus));
  result.exit_code = WEXITSTATUS(wstatus);
  return result;
}

TEST_CASE("Open creates the data directory and its missing parents", "[broker][open]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("a/b/c/data");
  auto broker = Broker::Open(dir);
  REQUIRE_OK(broker);
  CHECK(fs::is_directory(dir));
  CHECK((*broker)->dir() == dir);
  CHECK((*broker)->ListTopics().empty());
  CHECK(fs::exists(dir + "/.lock"));
  REQUIRE_OK((*broker)->Close());
}

TEST_CASE("Open of an existing empty directory works and keeps it", "[broker][open]") {
  TempDir tmp;
  auto broker = Broker::Open(tmp.path());
  REQUIRE_OK(broker);
  CHECK((*broker)->ListTopics().empty());
  REQUIRE_OK((*broker)->Close());
  CHECK(fs::is_directory(tmp.path()));
}

TEST_CASE("A second Open in the same process fails with FailedPrecondition naming dir and pid",
          "[broker][open][lock]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("data");
  auto first = Broker::Open(dir);
  REQUIRE_OK(first);
  REQUIRE_OK((*first)->CreateTopic("t", 1, SmallConfig()));

  auto second = Broker::Open(dir);
  CHECK_STATUS(second, absl::StatusCode::kFailedPrecondition, dir, std::to_string(getpid()));

  // Another spelling of the same directory is the same directory.
  auto third = Broker::Open(dir + "/.");
  CHECK_STATUS(third, absl::StatusCode::kFailedPrecondition, std::to_string(getpid()));

  // The failed attempts did not disturb the owner.
  CHECK((*first)->ListTopics() == std::vector<std::string>{"t"});
  CHECK_OK((*first)->DescribeTopic("t"));
  REQUIRE_OK((*first)->Close());

  SECTION("after Close it can be opened again") {
    auto again = Broker::Open(dir);
    REQUIRE_OK(again);
    CHECK((*again)->ListTopics() == std::vector<std::string>{"t"});
  }
}

TEST_CASE("A lock file left by a process that is gone does not stop Open", "[broker][open][lock]") {
  TempDir tmp;
  broker_testing::WriteWholeFile(tmp.path() + "/.lock", "999999999\n");
  auto b = Broker::Open(tmp.path());
  REQUIRE_OK(b);
  // The lock file now names this process.
  CHECK(broker_testing::ReadWholeFile(tmp.path() + "/.lock") == std::to_string(getpid()) + "\n");
  auto second = Broker::Open(tmp.path());
  CHECK_STATUS(second, absl::StatusCode::kFailedPrecondition, std::to_string(getpid()));
}

TEST_CASE("Destroying a Broker without Close releases the directory", "[broker][open][lock]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("data");
  {
    auto first = Broker::Open(dir);
    REQUIRE_OK(first);
    REQUIRE_OK((*first)->CreateTopic("t", 2, SmallConfig()));
  }  // the destructor closes
  auto again = Broker::Open(dir);
  REQUIRE_OK(again);
  auto d = (*again)->DescribeTopic("t");
  REQUIRE_OK(d);
  CHECK(d->partitions.size() == 2);
  // The destructor's Close records a clean shutdown, so nothing needed a recovery scan.
  auto topic = (*again)->core()->FindTopic("t");
  REQUIRE_OK(topic);
  for (const auto& p : (*topic)->partitions) {
    CHECK(p->log().recovery_report().clean_shutdown);
  }
}

TEST_CASE("A second Open from another process fails with FailedPrecondition naming our pid",
          "[broker][open][lock]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("data");
  auto owner = Broker::Open(dir);
  REQUIRE_OK(owner);
  REQUIRE_OK((*owner)->CreateTopic("t", 1, SmallConfig()));

  const ChildResult child = RunInChild([&](std::string& out) {
    auto b = Broker::Open(dir);
    if (b.ok()) {
      out = "opened";
      return 100;  // no Close: leave at once
    }
    out = std::string(b.status().message());
    return static_cast<int>(b.status().code());
  });
  INFO("child: exit " << child.exit_code << ", " << child.output);
  CHECK(child.exit_code == static_cast<int>(absl::StatusCode::kFailedPrecondition));
  CHECK(Contains(child.output, dir));
  CHECK(Contains(child.output, std::to_string(getpid())));

  // Still ours, and still working.
  CHECK((*owner)->ListTopics() == std::vector<std::string>{"t"});
  REQUIRE_OK((*owner)->Close());

  SECTION("once closed, another process can open it") {
    const ChildResult after = RunInChild([&](std::string& out) {
      auto b = Broker::Open(dir);
      if (!b.ok()) {
        out = b.status().ToString();
        return 1;
      }
      const bool listed = (*b)->ListTopics() == std::vector<std::string>{"t"};
      const absl::Status closed = (*b)->Close();
      out = closed.ToString();
      return listed && closed.ok() ? 0 : 2;
    });
    INFO("child: exit " << after.exit_code << ", " << after.output);
    CHECK(after.exit_code == 0);
  }
}

TEST_CASE("Close twice, and every admin call after Close, fail with FailedPrecondition",
          "[broker][open]") {
  TempDir tmp;
  auto broker = Broker::Open(tmp.Sub("data"));
  REQUIRE_OK(broker);
  Broker& b = **broker;
  REQUIRE_OK(b.CreateTopic("t", 1, SmallConfig()));
  REQUIRE_OK(b.Close());
  CHECK_STATUS(b.Close(), absl::StatusCode::kFailedPrecondition, tmp.Sub("data"));
  CHECK_STATUS(b.CreateTopic("u", 1, SmallConfig()), absl::StatusCode::kFailedPrecondition);
  CHECK_STATUS(b.DescribeTopic("t"), absl::StatusCode::kFailedPrecondition);
  CHECK_STATUS(b.DeleteTopic("t"), absl::StatusCode::kFailedPrecondition);
  CHECK_STATUS(b.CreatePartitions("t", 2), absl::StatusCode::kFailedPrecondition);
  CHECK_STATUS(b.core()->FindTopic("t"), absl::StatusCode::kFailedPrecondition);
  CHECK_STATUS(b.core()->FindOrCreateTopic("t"), absl::StatusCode::kFailedPrecondition);
  CHECK(b.ListTopics().empty());
  broker->reset();  // the destructor after Close does nothing more

  // Nothing the refused calls asked for happened.
  auto again = Broker::Open(tmp.Sub("data"));
  REQUIRE_OK(again);
  CHECK((*again)->ListTopics() == std::vector<std::string>{"t"});
  auto d = (*again)->DescribeTopic("t");
  REQUIRE_OK(d);
  CHECK(d->partitions.size() == 1);
}

TEST_CASE("Open refuses bad options with InvalidArgument naming the setting, creating nothing",
          "[broker][open]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("data");
  {
    BrokerOptions o;
    o.num_partitions = 0;
    CHECK_STATUS(Broker::Open(dir, o), absl::StatusCode::kInvalidArgument, "num.partitions", "0");
    o.num_partitions = -3;
    CHECK_STATUS(Broker::Open(dir, o), absl::StatusCode::kInvalidArgument, "num.partitions", "-3");
  }
  {
    BrokerOptions o;
    o.log_retention_check_interval_ms = 0;
    CHECK_STATUS(Broker::Open(dir, o), absl::StatusCode::kInvalidArgument,
                 "log.retention.check.interval.ms");
  }
  {
    BrokerOptions o;
    o.default_topic_config.segment_bytes = 5;
    CHECK_STATUS(Broker::Open(dir, o), absl::StatusCode::kInvalidArgument, "segment.bytes", "5");
  }
  CHECK_FALSE(fs::exists(dir));
  BrokerOptions ok;
  ok.num_partitions = 7;
  ok.default_topic_config = SmallConfig();
  auto b = Broker::Open(dir, ok);
  REQUIRE_OK(b);
  CHECK((*b)->options().num_partitions == 7);
  CHECK((*b)->options().default_topic_config == SmallConfig());
}

TEST_CASE("Open of a path that is a regular file fails with a clear error", "[broker][open]") {
  TempDir tmp;
  const std::string file = tmp.Sub("plain-file");
  broker_testing::WriteWholeFile(file, "not a directory\n");

  auto b = Broker::Open(file);
  REQUIRE_FALSE(b.ok());
  INFO(b.status().ToString());
  CHECK((b.status().code() == absl::StatusCode::kFailedPrecondition ||
         b.status().code() == absl::StatusCode::kInvalidArgument));
  CHECK(Contains(Message(b), file));
  CHECK(broker_testing::ReadWholeFile(file) == "not a directory\n");  // left alone

  // A path below a regular file.
  auto below = Broker::Open(file + "/data");
  REQUIRE_FALSE(below.ok());
  INFO(below.status().ToString());
  CHECK(Contains(Message(below), file));

  // An empty path is an error too, not a crash (and not a lock file in the working dir).
  auto empty = Broker::Open("");
  CHECK_FALSE(empty.ok());
}

// The permission checks, run as whoever this process is. Returns what went wrong, one
// line each; empty if everything behaved. Used directly, or in a child that dropped root.
std::string PermissionProblems(const std::string& base) {
  std::string problems;
  auto expect = [&](bool ok, const std::string& what) {
    if (!ok) problems += what + "\n";
  };
  auto denied_naming = [&](const absl::Status& s, const std::string& path, const std::string& what) {
    expect(s.code() == absl::StatusCode::kPermissionDenied && Contains(Message(s), path),
           what + ": expected PermissionDenied naming " + path + ", got " + s.ToString());
  };

  // A read-only parent: the data directory cannot be made.
  const std::string ro = base + "/read-only";
  expect(mkdir(ro.c_str(), 0755) == 0, "mkdir " + ro);
  expect(chmod(ro.c_str(), 0555) == 0, "chmod " + ro);
  denied_naming(Broker::Open(ro + "/data").status(), ro + "/data", "Open below a read-only dir");
  // The read-only directory itself: not even the lock file can be made.
  denied_naming(Broker::Open(ro).status(), ro, "Open of a read-only dir");

  // A data directory that turns read-only: CreateTopic cannot make partition directories.
  const std::string rw = base + "/turns-read-only";
  {
    auto b = Broker::Open(rw);
    expect(b.ok(), "Open " + rw + ": " + b.status().ToString());
    if (b.ok()) {
      expect((*b)->CreateTopic("before", 1, SmallConfig()).ok(), "CreateTopic before chmod");
      expect(chmod(rw.c_str(), 0555) == 0, "chmod " + rw);
      denied_naming((*b)->CreateTopic("after", 2, SmallConfig()), rw, "CreateTopic in a read-only dir");
      expect((*b)->ListTopics() == std::vector<std::string>{"before"},
             "a refused CreateTopic must not be listed");
      expect((*b)->DescribeTopic("after").status().code() == absl::StatusCode::kNotFound,
             "a refused topic must not be describable");
      expect(chmod(rw.c_str(), 0755) == 0, "chmod back " + rw);
      expect((*b)->CreateTopic("after", 2, SmallConfig()).ok(), "CreateTopic once writable");
      expect((*b)->Close().ok(), "Close");
    }
  }
  chmod(ro.c_str(), 0755);
  return problems;
}

TEST_CASE("A read-only directory makes Open or CreateTopic fail with PermissionDenied naming the path",
          "[broker][open][permissions]") {
  TempDir tmp;
  if (geteuid() != 0) {
    CHECK(PermissionProblems(tmp.path()) == "");
    return;
  }
  WARN("running as root, which ignores file permissions: the in-process check is skipped; "
       "running it in a child process that drops to uid/gid 65534 instead");
  const std::string base = tmp.Sub("perm");
  REQUIRE(mkdir(base.c_str(), 0777) == 0);
  REQUIRE(chmod(base.c_str(), 0777) == 0);
  REQUIRE(chmod(tmp.path().c_str(), 0755) == 0);
  const ChildResult child = RunInChild([&](std::string& out) {
    if (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0) {
      out = "could not drop privileges";
      return 77;
    }
    out = PermissionProblems(base);
    return out.empty() ? 0 : 1;
  });
  if (child.exit_code == 77) {
    WARN("skipped: " << child.output);
    return;
  }
  INFO(child.output);
  CHECK(child.exit_code == 0);
  CHECK(child.output == "");
}

}  // namespace
}  // namespace runnel
