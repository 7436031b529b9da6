// What every command of the `runnel` tool shares: opening the data directory the way the
// command needs it, reporting an error as one line on standard error, and parsing
// KEY=VALUE arguments (--config, --header).
#ifndef RUNNEL_TOOLS_TOOL_UTIL_H_
#define RUNNEL_TOOLS_TOOL_UTIL_H_

#include <CLI/CLI.hpp>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runnel/broker.h"
#include "tools/commands.h"

namespace runnel::tools {

enum class Access {
  // BrokerOptions::read_only: no lock, works beside the process that owns the directory.
  kReadOnly,
  // Takes the directory's lock; the directory must exist.
  kWrite,
  // As kWrite, creating the directory if needed (only `topic create` does).
  kCreate,
};

// Opens --dir for `access`. No --dir (nor RUNNEL_DIR) is a usage error: throws
// CLI::RequiredError, which main() turns into exit code 2. NotFound naming the directory
// when it does not exist (for kReadOnly and kWrite); FailedPrecondition naming the
// directory and the owner's pid when kWrite or kCreate finds it locked.
absl::StatusOr<std::unique_ptr<Broker>> OpenBroker(const GlobalOptions& global, Access access);

// Prints "runnel: MESSAGE" as one line on standard error.
void PrintError(std::string_view message);
// PrintError(status.message()) and returns kExitFailure.
int Fail(const absl::Status& status);
// Closes the broker; kExitOk, or Fail(the close error).
int CloseAndExit(Broker& broker, int exit_code);

// "key=value" -> {"key", "value"}; the value may be empty and may contain '='.
std::pair<std::string, std::string> SplitKeyValue(const std::string& arg);
// A CLI11 check that an argument has the form KEY=VALUE with a non-empty KEY.
CLI::Validator KeyValueValidator();
// Repeated --config key=value arguments as a map (a later key wins).
std::map<std::string, std::string> KeyValueMap(const std::vector<std::string>& args);

}  // namespace runnel::tools

#endif  // RUNNEL_TOOLS_TOOL_UTIL_H_
