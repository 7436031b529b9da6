// `runnel topic create|list|describe|alter|delete`: kafka-topics for a data directory.
#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <unistd.h>

#include "runnel/broker.h"
#include "runnel/topic_config.h"
#include "tools/commands.h"
#include "tools/output.h"
#include "tools/table.h"
#include "tools/tool_util.h"

namespace runnel::tools {

namespace {

struct TopicOptions {
  std::string name;
  int32_t partitions = 1;
  std::vector<std::string> configs;
  bool if_not_exists = false;
  bool all_configs = false;
};

int RunCreate(const GlobalOptions& global, const TopicOptions& opts) {
  absl::StatusOr<TopicConfig> config = TopicConfig::FromMap(KeyValueMap(opts.configs));
  if (!config.ok()) return Fail(config.status());
  auto broker = OpenBroker(global, Access::kCreate);
  if (!broker.ok()) return Fail(broker.status());
  absl::Status created = (*broker)->CreateTopic(opts.name, opts.partitions, *config);
  if (absl::IsAlreadyExists(created) && opts.if_not_exists) created = absl::OkStatus();
  if (!created.ok()) {
    Fail(created);
    return CloseAndExit(**broker, kExitFailure);
  }
  Output out(STDOUT_FILENO);
  out.Write(fmt::format("Created topic {}.\n", opts.name));
  return CloseAndExit(**broker, kExitOk);
}

int RunList(const GlobalOptions& global) {
  auto broker = OpenBroker(global, Access::kReadOnly);
  if (!broker.ok()) return Fail(broker.status());
  Output out(STDOUT_FILENO);
  for (const std::string& name : (*broker)->ListTopics()) out.Write(name + "\n");
  out.Flush();
  return CloseAndExit(**broker, kExitOk);
}

// "retention.ms=3600000,sync.policy=always": the settings that differ from the defaults,
// as kafka-topics --describe shows them.
std::string ConfigOverrides(const TopicConfig& config) {
  std::map<std::string, std::string> defaults = TopicConfig{}.ToMap();
  std::string out;
  for (const auto& [key, value] : config.ToMap()) {
    auto it = defaults.find(key);
    if (it != defaults.end() && it->second == value) continue;
    if (!out.empty()) out += ',';
    out += fmt::format("{}={}", key, value);
  }
  return out;
}

void Describe(const TopicDescription& topic, bool all_configs, Output& out) {
  out.Write(fmt::format("Topic: {}\tPartitionCount: {}\tConfigs: {}\n", topic.name,
                        topic.partitions.size(), ConfigOverrides(topic.config)));
  if (all_configs) {
    for (const auto& [key, value] : topic.config.ToMap()) {
      out.Write(fmt::format("\t{}={}\n", key, value));
    }
  }
  Table table({"PARTITION", "LOG-START-OFFSET", "LOG-END-OFFSET", "VISIBLE-OFFSET", "SIZE-BYTES"});
  for (const PartitionDescription& p : topic.partitions) {
    table.AddRow({fmt::format("{}", p.partition), fmt::format("{}", p.log_start_offset),
                  fmt::format("{}", p.log_end_offset), fmt::format("{}", p.visible_offset),
                  fmt::format("{}", p.size_bytes)});
  }
  out.Write(table.Render());
}

int RunDescribe(const GlobalOptions& global, const TopicOptions& opts) {
  auto broker = OpenBroker(global, Access::kReadOnly);
  if (!broker.ok()) return Fail(broker.status());
  std::vector<std::string> names = {opts.name};
  if (opts.name.empty()) names = (*broker)->ListTopics();
  Output out(STDOUT_FILENO);
  for (size_t i = 0; i < names.size(); ++i) {
    absl::StatusOr<TopicDescription> topic = (*broker)->DescribeTopic(names[i]);
    if (!topic.ok()) {
      Fail(topic.status());
      return CloseAndExit(**broker, kExitFailure);
    }
    if (i > 0) out.Write("\n");
    Describe(*topic, opts.all_configs, out);
  }
  out.Flush();
  return CloseAndExit(**broker, kExitOk);
}

int RunAlter(const GlobalOptions& global, const TopicOptions& opts, bool partitions_given) {
  if (!partitions_given && opts.configs.empty()) {
    throw CLI::ValidationError("topic alter", "nothing to change: give --partitions or --config");
  }
  auto broker = OpenBroker(global, Access::kWrite);
  if (!broker.ok()) return Fail(broker.status());
  Broker& b = **broker;
  Output out(STDOUT_FILENO);
  if (partitions_given) {
    absl::Status grown = b.CreatePartitions(opts.name, opts.partitions);
    if (!grown.ok()) {
      Fail(grown);
      return CloseAndExit(b, kExitFailure);
    }
    out.Write(fmt::format("Topic {} now has {} partitions.\n", opts.name, opts.partitions));
  }
  if (!opts.configs.empty()) {
    absl::Status altered = b.AlterTopicConfig(opts.name, KeyValueMap(opts.configs));
    if (!altered.ok()) {
      Fail(altered);
      return CloseAndExit(b, kExitFailure);
    }
    out.Write(fmt::format("Altered the config of topic {}.\n", opts.name));
  }
  return CloseAndExit(b, kExitOk);
}

int RunDelete(const GlobalOptions& global, const TopicOptions& opts) {
  auto broker = OpenBroker(global, Access::kWrite);
  if (!broker.ok()) return Fail(broker.status());
  absl::Status deleted = (*broker)->DeleteTopic(opts.name);
  if (!deleted.ok()) {
    Fail(deleted);
    return CloseAndExit(**broker, kExitFailure);
  }
  Output out(STDOUT_FILENO);
  out.Write(fmt::format("Deleted topic {}.\n", opts.name));
  return CloseAndExit(**broker, kExitOk);
}

CLI::Option* AddConfigOption(CLI::App* cmd, TopicOptions* opts, const char* what) {
  return cmd->add_option("--config", opts->configs, what)
      ->type_name("KEY=VALUE")
      ->check(KeyValueValidator())
      ->take_all();
}

}  // namespace

void AddTopicCommands(CLI::App& app, const GlobalOptions& global, int* exit_code) {
  CLI::App* topic = app.add_subcommand("topic", "Create, list, describe, alter and delete topics");
  topic->require_subcommand(1, 1);
  topic->footer("Example:\n  runnel --dir /var/lib/app/log topic create orders --partitions 3\n"
                "  runnel topic describe orders");
  auto opts = std::make_shared<TopicOptions>();
  const GlobalOptions* g = &global;

  CLI::App* create = topic->add_subcommand("create", "Create a topic (and the data directory)");
  create->add_option("NAME", opts->name, "topic name: 1-249 of [a-zA-Z0-9._-]")->required();
  create->add_option("--partitions,-p", opts->partitions, "number of partitions")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  AddConfigOption(create, opts.get(),
                  "a topic setting by its Kafka name (repeatable), e.g. retention.ms=86400000, "
                  "segment.bytes, sync.policy=none|interval|always, flush.messages, flush.ms, "
                  "message.timestamp.type, max.message.bytes");
  create->add_flag("--if-not-exists", opts->if_not_exists, "succeed if the topic exists");
  create->footer("Example:\n  runnel topic create orders --partitions 3 "
                 "--config retention.ms=86400000 --config sync.policy=always");
  create->callback([=] { *exit_code = RunCreate(*g, *opts); });

  CLI::App* list = topic->add_subcommand("list", "Print the topic names, one per line (read-only)");
  list->footer("Example:\n  runnel --dir /var/lib/app/log topic list");
  list->callback([=] { *exit_code = RunList(*g); });

  CLI::App* describe = topic->add_subcommand(
      "describe", "Show a topic's (or every topic's) partitions and settings (read-only)");
  describe->add_option("NAME", opts->name, "topic (default: every topic)");
  describe->add_flag("--all-configs", opts->all_configs,
                     "list every setting, not only those that differ from the defaults");
  describe->footer(
      "Partitions show LOG-START-OFFSET (oldest kept), LOG-END-OFFSET (next offset),\n"
      "VISIBLE-OFFSET (readers see offsets below it; under sync.policy=always, what is fsynced)\n"
      "and SIZE-BYTES. Configs lists the settings that differ from the defaults.\n"
      "Example:\n  runnel topic describe orders --all-configs");
  describe->callback([=] { *exit_code = RunDescribe(*g, *opts); });

  CLI::App* alter = topic->add_subcommand("alter", "Add partitions to a topic or change its settings");
  alter->add_option("NAME", opts->name, "topic")->required();
  CLI::Option* partitions =
      alter->add_option("--partitions,-p", opts->partitions, "new total partition count (grow only)")
          ->check(CLI::Range(1, 1 << 20));
  AddConfigOption(alter, opts.get(), "a topic setting to change, by its Kafka name (repeatable)");
  alter->footer("Settings are stored atomically and apply from the next open of the directory\n"
                "(at once for the tools, which open it per command).\n"
                "Example:\n  runnel topic alter orders --partitions 6 --config retention.ms=3600000");
  alter->callback([=] { *exit_code = RunAlter(*g, *opts, partitions->count() > 0); });

  CLI::App* del = topic->add_subcommand("delete", "Delete a topic and its data");
  del->add_option("NAME", opts->name, "topic")->required();
  del->footer("Example:\n  runnel topic delete orders");
  del->callback([=] { *exit_code = RunDelete(*g, *opts); });
}

}  // namespace runnel::tools
