#include "tools/tool_util.h"

#include <unistd.h>

#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "util/formatters.h"

namespace runnel::tools {

absl::StatusOr<std::unique_ptr<Broker>> OpenBroker(const GlobalOptions& global, Access access) {
  if (global.dir.empty()) throw CLI::RequiredError("--dir (or the RUNNEL_DIR variable)");
  if (access != Access::kCreate) {
    std::error_code ec;
    if (!std::filesystem::exists(global.dir, ec)) {
      return absl::NotFoundError(
          fmt::format("data directory {} does not exist (topic create makes it)", global.dir));
    }
    if (!std::filesystem::is_directory(global.dir, ec)) {
      return absl::FailedPreconditionError(
          fmt::format("data directory {} is not a directory", global.dir));
    }
  }
  BrokerOptions options;
  options.read_only = access == Access::kReadOnly;
  return Broker::Open(global.dir, options);
}

void PrintError(std::string_view message) {
  std::string line = fmt::format("runnel: {}\n", message);
  // Best effort: there is nowhere left to report a failure to write to stderr.
  std::string_view rest = line;
  while (!rest.empty()) {
    ssize_t n = ::write(STDERR_FILENO, rest.data(), rest.size());
    if (n <= 0) return;
    rest.remove_prefix(static_cast<size_t>(n));
  }
}

int Fail(const absl::Status& status) {
  PrintError(std::string_view(status.message().data(), status.message().size()));
  return kExitFailure;
}

int CloseAndExit(Broker& broker, int exit_code) {
  absl::Status closed = broker.Close();
  if (!closed.ok()) return Fail(closed);
  return exit_code;
}

std::pair<std::string, std::string> SplitKeyValue(const std::string& arg) {
  size_t eq = arg.find('=');
  if (eq == std::string::npos) return {arg, ""};
  return {arg.substr(0, eq), arg.substr(eq + 1)};
}

CLI::Validator KeyValueValidator() {
  return CLI::Validator(
      [](std::string& arg) -> std::string {
        size_t eq = arg.find('=');
        if (eq == std::string::npos || eq == 0) return "expected KEY=VALUE, got '" + arg + "'";
        return "";
      },
      "KEY=VALUE");
}

std::map<std::string, std::string> KeyValueMap(const std::vector<std::string>& args) {
  std::map<std::string, std::string> map;
  for (const std::string& arg : args) {
    auto [key, value] = SplitKeyValue(arg);
    map[key] = value;
  }
  return map;
}

}  // namespace runnel::tools
