#include "torture/verify_tool.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/formatters.h"

extern char** environ;

namespace runnel::torture {

VerifyRun RunVerifyTool(const std::string& dir) {
  VerifyRun run;
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) {
    run.output = fmt::format("pipe: {}", std::strerror(errno));
    return run;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[1]);
  std::string tool = RUNNEL_TOOL_PATH, dir_flag = "--dir", verify = "verify", d = dir;
  char* argv[] = {tool.data(), dir_flag.data(), d.data(), verify.data(), nullptr};
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, tool.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipe_fds[0], buf, sizeof buf)) > 0) {
    run.output.append(buf, static_cast<size_t>(n));
  }
  ::close(pipe_fds[0]);
  if (spawned != 0) {
    run.output = fmt::format("posix_spawn {}: {}", tool, std::strerror(spawned));
    return run;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      run.output += fmt::format("\nwaitpid {}: {}", tool, std::strerror(errno));
      return run;
    }
  }
  if (WIFEXITED(status)) {
    run.exit_code = WEXITSTATUS(status);
  } else {
    run.output += fmt::format("\n{} ended by signal {}", tool, WTERMSIG(status));
  }
  return run;
}

}  // namespace runnel::torture
