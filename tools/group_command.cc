// `runnel group list|describe|reset-offsets|delete`: kafka-consumer-groups for a data
// directory, over runnel::GroupAdmin.
#include <CLI/CLI.hpp>

#include <charconv>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <unistd.h>

#include "runnel/broker.h"
#include "runnel/group_admin.h"
#include "tools/commands.h"
#include "tools/output.h"
#include "tools/table.h"
#include "tools/tool_util.h"
#include "util/status_macros.h"

namespace runnel::tools {

namespace {

struct GroupOptions {
  std::string group;
  std::string to;
  std::string topic;
};

// "earliest", "latest", "offset:N", "timestamp:MS" (kafka-consumer-groups' --to-*).
std::optional<OffsetSpec> ParseOffsetSpec(const std::string& text) {
  if (text == "earliest") return OffsetSpec::Earliest();
  if (text == "latest") return OffsetSpec::Latest();
  for (auto [prefix, kind] : {std::pair{std::string_view("offset:"), OffsetSpec::Kind::kOffset},
                              std::pair{std::string_view("timestamp:"), OffsetSpec::Kind::kTimestamp}}) {
    if (!text.starts_with(prefix)) continue;
    const char* first = text.data() + prefix.size();
    const char* last = text.data() + text.size();
    int64_t value = 0;
    auto [ptr, ec] = std::from_chars(first, last, value);
    if (ec != std::errc() || ptr != last || first == last) return std::nullopt;
    return OffsetSpec{kind, value};
  }
  return std::nullopt;
}

std::string Or(std::string text, std::string_view fallback) {
  return text.empty() ? std::string(fallback) : text;
}

template <typename Fn>
int WithAdmin(const GlobalOptions& global, Access access, Fn fn) {
  auto broker = OpenBroker(global, access);
  if (!broker.ok()) return Fail(broker.status());
  auto admin = GroupAdmin::Create(**broker);
  absl::Status done = admin.ok() ? fn(**broker, **admin) : admin.status();
  if (!done.ok()) {
    Fail(done);
    return CloseAndExit(**broker, kExitFailure);
  }
  return CloseAndExit(**broker, kExitOk);
}

absl::Status List(GroupAdmin& admin) {
  RUNNEL_ASSIGN_OR_RETURN(std::vector<GroupListing> groups, admin.ListGroups());
  Output out(STDOUT_FILENO);
  Table table({"GROUP", "STATE"});
  for (const GroupListing& g : groups) table.AddRow({g.group_id, std::string(GroupStateName(g.state))});
  if (!groups.empty()) out.Write(table.Render());
  return absl::OkStatus();
}

std::string JoinPartitions(const std::vector<TopicPartition>& partitions) {
  std::string out;
  for (const TopicPartition& tp : partitions) {
    out += fmt::format("{}{}-{}", out.empty() ? "" : ",", tp.topic, tp.partition);
  }
  return Or(out, "-");
}

absl::Status Describe(GroupAdmin& admin, const GroupOptions& opts) {
  RUNNEL_ASSIGN_OR_RETURN(GroupDescription group, admin.DescribeGroup(opts.group));
  Output out(STDOUT_FILENO);
  out.Write(fmt::format("Group: {}\tState: {}\tAssignor: {}\tGeneration: {}\tMembers: {}\n\n",
                        group.group_id, GroupStateName(group.state), Or(group.assignor, "-"),
                        group.generation_id, group.members.size()));
  Table offsets({"TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID"});
  for (const PartitionOffsetDescription& p : group.offsets) {
    offsets.AddRow({p.partition.topic, fmt::format("{}", p.partition.partition),
                    p.committed ? fmt::format("{}", p.committed->offset) : "-",
                    fmt::format("{}", p.log_end_offset), fmt::format("{}", p.lag),
                    Or(p.owner, "-")});
  }
  out.Write(offsets.Render());
  if (group.members.empty()) return absl::OkStatus();
  Table members({"MEMBER-ID", "INSTANCE-ID", "CLIENT-ID", "CONNECTED", "ASSIGNMENT"});
  for (const MemberDescription& m : group.members) {
    members.AddRow({m.member_id, Or(m.group_instance_id, "-"), Or(m.client_id, "-"),
                    m.connected ? "yes" : "no", JoinPartitions(m.assignment)});
  }
  out.Write("\n" + members.Render());
  return absl::OkStatus();
}

absl::Status ResetOffsets(Broker& broker, GroupAdmin& admin, const GroupOptions& opts) {
  std::vector<TopicPartition> partitions;  // empty: every partition the group committed
  if (!opts.topic.empty()) {
    RUNNEL_ASSIGN_OR_RETURN(TopicDescription topic, broker.DescribeTopic(opts.topic));
    for (const PartitionDescription& p : topic.partitions) partitions.push_back({opts.topic, p.partition});
  }
  RUNNEL_ASSIGN_OR_RETURN(auto moved,
                          admin.ResetOffsets(opts.group, partitions, *ParseOffsetSpec(opts.to)));
  Output out(STDOUT_FILENO);
  Table table({"TOPIC", "PARTITION", "NEW-OFFSET"});
  for (const auto& [tp, offset] : moved) {
    table.AddRow({tp.topic, fmt::format("{}", tp.partition), fmt::format("{}", offset)});
  }
  out.Write(table.Render());
  return absl::OkStatus();
}

absl::Status Delete(GroupAdmin& admin, const GroupOptions& opts) {
  RUNNEL_RETURN_IF_ERROR(admin.DeleteGroup(opts.group));
  Output out(STDOUT_FILENO);
  out.Write(fmt::format("Deleted group {}.\n", opts.group));
  return absl::OkStatus();
}

}  // namespace

void AddGroupCommands(CLI::App& app, const GlobalOptions& global, int* exit_code) {
  CLI::App* group = app.add_subcommand("group", "List, describe, reset and delete consumer groups");
  group->require_subcommand(1, 1);
  group->footer("Example:\n  runnel group describe billing");
  auto opts = std::make_shared<GroupOptions>();
  const GlobalOptions* g = &global;

  CLI::App* list = group->add_subcommand("list", "Print the groups and their states (read-only)");
  list->footer("Example:\n  runnel --dir /var/lib/app/log group list");
  list->callback([=] {
    *exit_code = WithAdmin(*g, Access::kReadOnly, [](Broker&, GroupAdmin& admin) { return List(admin); });
  });

  CLI::App* describe = group->add_subcommand(
      "describe", "Show a group's members and, per partition, committed offset, end and lag "
                  "(read-only)");
  describe->add_option("GROUP", opts->group, "group id")->required();
  describe->footer(
      "CURRENT-OFFSET is the committed offset (the next record to consume; '-' if none),\n"
      "LAG the records between it and LOG-END-OFFSET. Opened read-only, the members of a\n"
      "group living in another process are not shown.\n"
      "Example:\n  runnel group describe billing");
  describe->callback([=] {
    *exit_code = WithAdmin(*g, Access::kReadOnly,
                           [&](Broker&, GroupAdmin& admin) { return Describe(admin, *opts); });
  });

  CLI::App* reset = group->add_subcommand(
      "reset-offsets", "Move a group's committed offsets (the group must have no members)");
  reset->add_option("GROUP", opts->group, "group id")->required();
  reset->add_option("--to", opts->to, "earliest, latest, offset:N or timestamp:MS")
      ->required()
      ->type_name("SPEC")
      ->check(CLI::Validator(
          [](std::string& to) -> std::string {
            return ParseOffsetSpec(to) ? "" : "expected earliest, latest, offset:N or timestamp:MS, got '" + to + "'";
          },
          "SPEC"));
  reset->add_option("--topic", opts->topic,
                    "reset every partition of this topic (default: every partition the group "
                    "has committed offsets for)");
  reset->footer("Offsets are clamped into each partition's [log start, end]. Prints the new offsets.\n"
                "Example:\n  runnel group reset-offsets billing --to timestamp:1700000000000 --topic orders");
  reset->callback([=] {
    *exit_code = WithAdmin(*g, Access::kWrite, [&](Broker& broker, GroupAdmin& admin) {
      return ResetOffsets(broker, admin, *opts);
    });
  });

  CLI::App* del = group->add_subcommand("delete", "Forget a group and its committed offsets");
  del->add_option("GROUP", opts->group, "group id")->required();
  del->footer("Example:\n  runnel group delete billing");
  del->callback([=] {
    *exit_code = WithAdmin(*g, Access::kWrite,
                           [&](Broker&, GroupAdmin& admin) { return Delete(admin, *opts); });
  });
}

}  // namespace runnel::tools
