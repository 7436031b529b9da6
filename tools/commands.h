// The subcommands of the `runnel` tool. Each Add* function registers its subcommands on
// the top-level app; a subcommand's callback runs it and stores its exit code in
// *exit_code (kExitOk, kExitFailure). Usage errors are CLI11's and main() maps them to
// kExitUsage. Errors go to standard error as one line naming the thing that is wrong.
#ifndef RUNNEL_TOOLS_COMMANDS_H_
#define RUNNEL_TOOLS_COMMANDS_H_

#include <string>

namespace CLI {
class App;
}

namespace runnel::tools {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Options every command shares: the data directory (--dir, or RUNNEL_DIR).
struct GlobalOptions {
  std::string dir;
};

void AddTopicCommands(CLI::App& app, const GlobalOptions& global, int* exit_code);
void AddProduceCommand(CLI::App& app, const GlobalOptions& global, int* exit_code);
void AddConsumeCommand(CLI::App& app, const GlobalOptions& global, int* exit_code);
void AddGroupCommands(CLI::App& app, const GlobalOptions& global, int* exit_code);
void AddDumpCommand(CLI::App& app, const GlobalOptions& global, int* exit_code);
void AddVerifyCommand(CLI::App& app, const GlobalOptions& global, int* exit_code);
void AddBenchCommands(CLI::App& app, const GlobalOptions& global, int* exit_code);

}  // namespace runnel::tools

#endif  // RUNNEL_TOOLS_COMMANDS_H_
