// runnel: look into, feed and check a runnel data directory from the shell, as kcat,
// kafka-topics, kafka-consumer-groups and kafka-dump-log do for Kafka.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <string>

#include "tools/commands.h"

int main(int argc, char** argv) {
  using namespace runnel::tools;
  CLI::App app{"runnel: topics, records, consumer groups and segment files of a runnel data "
               "directory",
               "runnel"};
  app.set_version_flag("--version", "runnel " RUNNEL_TOOL_VERSION);
  app.require_subcommand(1, 1);
  app.fallthrough();
  GlobalOptions global;
  app.add_option("--dir", global.dir, "data directory (default: $RUNNEL_DIR)")
      ->envname("RUNNEL_DIR");
  app.footer("Run `runnel COMMAND --help` for a command's options and an example.\n"
             "Exit codes: 0 success, 1 failure, 2 usage error.");
  // A usage error is one line, as every other error.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string("runnel: ") + e.what() + " (see --help)\n";
  });
  // Output to a reader that has gone (`runnel consume T | head`) fails with EPIPE, which
  // the commands handle quietly, instead of killing the process.
  std::signal(SIGPIPE, SIG_IGN);
  int exit_code = kExitOk;
  AddTopicCommands(app, global, &exit_code);
  AddProduceCommand(app, global, &exit_code);
  AddConsumeCommand(app, global, &exit_code);
  AddGroupCommands(app, global, &exit_code);
  AddDumpCommand(app, global, &exit_code);
  AddVerifyCommand(app, global, &exit_code);
  AddBenchCommands(app, global, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  return exit_code;
}
