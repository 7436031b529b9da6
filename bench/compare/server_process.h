// A peer's server (redis-server, nats-server) run by the comparison itself: started with
// fork/exec on a free loopback port, its data in a directory the caller owns, and
// stopped by its own process id (SIGTERM, then SIGKILL if it lingers). Never by name, so
// a server someone else runs on this machine is left alone.
#ifndef RUNNEL_BENCH_COMPARE_SERVER_PROCESS_H_
#define RUNNEL_BENCH_COMPARE_SERVER_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace runnel::bench {

// A TCP port on 127.0.0.1 that nothing listens on now (the kernel's choice of an
// ephemeral port; a race with another process is possible but unlikely).
absl::StatusOr<int> FreeLoopbackPort();

// The full path of `program` on $PATH (or /usr/sbin, /usr/bin), or empty.
std::string FindProgram(const std::string& program);

// The first line a command prints on stdout (for versions), or empty.
std::string FirstLineOf(const std::vector<std::string>& argv);

class ServerProcess {
 public:
  // Starts argv (argv[0] a path) with stdout and stderr sent to `log_path`, then waits
  // up to 10 s until 127.0.0.1:`port` accepts connections.
  static absl::StatusOr<ServerProcess> Start(const std::vector<std::string>& argv, int port,
                                             const std::string& log_path);
  ServerProcess(ServerProcess&& other) noexcept : pid_(other.pid_) { other.pid_ = -1; }
  ServerProcess& operator=(ServerProcess&& other) noexcept;
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess() { Stop(); }

  pid_t pid() const { return pid_; }
  // SIGTERM to the pid, up to 5 s for it to exit, then SIGKILL; reaps it. Idempotent.
  void Stop();

 private:
  explicit ServerProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
};

}  // namespace runnel::bench

#endif  // RUNNEL_BENCH_COMPARE_SERVER_PROCESS_H_
