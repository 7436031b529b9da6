// `runnel consume TOPIC`: print records as kcat -C and kafka-console-consumer do. Without
// --group it reads a read-only view of the directory (Assign, never commits), so it works
// beside the application that owns the directory and --follow tails its live log; with
// --group it joins the consumer group and commits what it printed.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <unistd.h>

#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "tools/commands.h"
#include "tools/interrupt.h"
#include "tools/output.h"
#include "tools/record_format.h"
#include "tools/tool_util.h"
#include "util/status_macros.h"

namespace runnel::tools {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct ConsumeOptions {
  std::string topic;
  std::string group;
  bool from_beginning = false;
  bool from_end = false;
  int64_t offset = 0;
  int64_t timestamp = 0;
  int32_t partition = -1;
  int64_t max_messages = -1;
  int64_t timeout_ms = -1;
  bool follow = false;
  std::string format = "%v\\n";
  // Set from the parsed command line.
  bool offset_given = false;
  bool timestamp_given = false;
};

// The partitions to read: all of the topic's, or --partition's.
absl::StatusOr<std::vector<TopicPartition>> Partitions(Broker& broker, const ConsumeOptions& opts) {
  RUNNEL_ASSIGN_OR_RETURN(TopicDescription topic, broker.DescribeTopic(opts.topic));
  std::vector<TopicPartition> partitions;
  for (const PartitionDescription& p : topic.partitions) {
    if (opts.partition < 0 || opts.partition == p.partition) {
      partitions.push_back({opts.topic, p.partition});
    }
  }
  if (partitions.empty()) {
    return absl::NotFoundError(fmt::format("topic {} has no partition {} (it has {})", opts.topic,
                                           opts.partition, topic.partitions.size()));
  }
  return partitions;
}

// Without a group: where each partition starts (the beginning unless told otherwise).
absl::Status SeekToStart(Consumer& consumer, const std::vector<TopicPartition>& partitions,
                         const ConsumeOptions& opts) {
  if (opts.from_end) return consumer.SeekToEnd(partitions);
  if (!opts.offset_given && !opts.timestamp_given) return consumer.SeekToBeginning(partitions);
  RUNNEL_ASSIGN_OR_RETURN(auto begins, consumer.BeginningOffsets(partitions));
  RUNNEL_ASSIGN_OR_RETURN(auto ends, consumer.EndOffsets(partitions));
  std::map<TopicPartition, std::optional<OffsetAndTimestamp>> times;
  if (opts.timestamp_given) {
    std::map<TopicPartition, int64_t> query;
    for (const TopicPartition& tp : partitions) query[tp] = opts.timestamp;
    RUNNEL_ASSIGN_OR_RETURN(times, consumer.OffsetsForTimes(query));
  }
  for (const TopicPartition& tp : partitions) {
    int64_t target = ends[tp];  // a timestamp later than every record: the end
    if (opts.offset_given) {
      target = opts.offset >= 0 ? opts.offset : ends[tp] + opts.offset;  // negative: from the end
    } else if (times[tp]) {
      target = times[tp]->offset;
    }
    RUNNEL_RETURN_IF_ERROR(consumer.Seek(tp, std::clamp(target, begins[tp], ends[tp])));
  }
  return absl::OkStatus();
}

// True once every assigned partition's position is at its visible end (false while a
// group consumer waits for its assignment).
absl::StatusOr<bool> AtEnd(Consumer& consumer) {
  std::vector<TopicPartition> assigned = consumer.Assignment();
  if (assigned.empty()) return false;
  RUNNEL_ASSIGN_OR_RETURN(auto ends, consumer.EndOffsets(assigned));
  for (const TopicPartition& tp : assigned) {
    RUNNEL_ASSIGN_OR_RETURN(int64_t position, consumer.Position(tp));
    if (position < ends[tp]) return false;
  }
  return true;
}

absl::StatusOr<std::unique_ptr<Consumer>> StartConsumer(Broker& broker,
                                                        const ConsumeOptions& opts) {
  RUNNEL_ASSIGN_OR_RETURN(std::vector<TopicPartition> partitions, Partitions(broker, opts));
  ConsumerOptions options;
  options.client_id = "runnel-consume";
  options.group_id = opts.group;
  options.enable_auto_commit = false;  // commits what was printed, see ConsumeLoop
  options.auto_offset_reset = opts.from_end ? OffsetReset::kLatest : OffsetReset::kEarliest;
  RUNNEL_ASSIGN_OR_RETURN(std::unique_ptr<Consumer> consumer, Consumer::Create(broker, options));
  if (!opts.group.empty()) {
    RUNNEL_RETURN_IF_ERROR(consumer->Subscribe({opts.topic}));
  } else {
    RUNNEL_RETURN_IF_ERROR(consumer->Assign(partitions));
    RUNNEL_RETURN_IF_ERROR(SeekToStart(*consumer, partitions, opts));
  }
  return consumer;
}

// Polls and prints until the end (or forever with --follow), --max-messages, --timeout-ms
// without records, an interrupt, or a reader that went away.
absl::Status ConsumeLoop(Consumer& consumer, const ConsumeOptions& opts,
                         const RecordFormat& format, const InterruptWatcher& interrupt) {
  Output out(STDOUT_FILENO);
  std::map<TopicPartition, OffsetAndMetadata> printed;  // next offsets, to commit
  int64_t count = 0;
  auto last_record = Clock::now();
  while (!interrupt.interrupted() && !out.closed()) {
    if (opts.max_messages >= 0 && count >= opts.max_messages) break;
    if (!opts.follow) {
      RUNNEL_ASSIGN_OR_RETURN(bool at_end, AtEnd(consumer));
      if (at_end) break;
    }
    milliseconds wait = opts.follow ? milliseconds(10000) : milliseconds(1000);
    if (opts.timeout_ms >= 0) {
      auto idle = std::chrono::duration_cast<milliseconds>(Clock::now() - last_record);
      if (idle.count() >= opts.timeout_ms) break;
      wait = std::min(wait, milliseconds(opts.timeout_ms) - idle);
    }
    RUNNEL_ASSIGN_OR_RETURN(std::span<const ConsumerRecord> records, consumer.Poll(wait));
    if (records.empty()) continue;
    last_record = Clock::now();
    for (const ConsumerRecord& record : records) {
      if (opts.max_messages >= 0 && count >= opts.max_messages) break;
      format.Append(record, out.buffer());
      ++count;
      printed[{std::string(record.topic), record.partition}] = {record.offset + 1, ""};
    }
    if (!out.Flush()) break;  // the reader has gone: stop quietly
    if (!opts.group.empty()) RUNNEL_RETURN_IF_ERROR(consumer.CommitSync(printed));
  }
  return absl::OkStatus();
}

int RunConsume(const GlobalOptions& global, ConsumeOptions opts) {
  absl::StatusOr<RecordFormat> format = RecordFormat::Parse(opts.format);
  if (!format.ok()) throw CLI::ValidationError("--format", std::string(format.status().message()));
  InterruptWatcher interrupt;
  interrupt.Start();  // before the broker starts its threads
  auto broker = OpenBroker(global, opts.group.empty() ? Access::kReadOnly : Access::kWrite);
  if (!broker.ok()) return Fail(broker.status());
  Broker& b = **broker;
  auto consumer = StartConsumer(b, opts);
  if (!consumer.ok()) {
    Fail(consumer.status());
    return CloseAndExit(b, kExitFailure);
  }
  interrupt.OnInterrupt([c = consumer->get()] { c->Wakeup(); });
  absl::Status consumed = ConsumeLoop(**consumer, opts, *format, interrupt);
  interrupt.Stop();
  int exit_code = consumed.ok() ? kExitOk : Fail(consumed);
  absl::Status closed = (*consumer)->Close();
  if (!closed.ok() && exit_code == kExitOk) exit_code = Fail(closed);
  return CloseAndExit(b, exit_code);
}

}  // namespace

void AddConsumeCommand(CLI::App& app, const GlobalOptions& global, int* exit_code) {
  auto opts = std::make_shared<ConsumeOptions>();
  CLI::App* cmd = app.add_subcommand("consume", "Print a topic's records");
  cmd->add_option("TOPIC", opts->topic, "topic to read")->required();
  CLI::Option* group = cmd->add_option(
      "--group,-G", opts->group,
      "consume as a member of this consumer group and commit what was printed (needs the "
      "directory's lock); without it, read-only and no commits");
  CLI::Option* beginning = cmd->add_flag(
      "--from-beginning", opts->from_beginning,
      "start at the oldest record (the default; with --group, where nothing is committed)");
  CLI::Option* end = cmd->add_flag("--from-end", opts->from_end,
                                   "start after the newest record: only new records (with "
                                   "--group, where nothing is committed)");
  CLI::Option* offset = cmd->add_option("--offset,-o", opts->offset,
                                        "start at this offset; negative: that many before the end");
  CLI::Option* timestamp = cmd->add_option(
      "--timestamp", opts->timestamp,
      "start at the first record with a timestamp >= MS (milliseconds since the epoch)");
  timestamp->type_name("MS");
  CLI::Option* partition = cmd->add_option("--partition,-p", opts->partition,
                                           "read only this partition (default: all)")
                               ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-messages,-c", opts->max_messages, "exit after printing N records")
      ->type_name("N")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--timeout-ms", opts->timeout_ms,
                  "exit after this long without a record")
      ->type_name("MS")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--follow,-F", opts->follow,
                "keep waiting for new records, as tail -f does (default: exit at the end of "
                "every partition); Ctrl-C ends it cleanly");
  cmd->add_option("--format", opts->format,
                  "output per record: %t topic, %p partition, %o offset, %T timestamp (ms), "
                  "%k key, %v value, %K/%S key/value length (-1: null), %h headers "
                  "(k=v,k2=v2), %% percent; escapes \\n \\t \\r \\\\")
      ->capture_default_str();
  beginning->excludes(end)->excludes(offset)->excludes(timestamp);
  end->excludes(offset)->excludes(timestamp);
  offset->excludes(timestamp);
  group->excludes(offset)->excludes(timestamp)->excludes(partition);
  cmd->footer(
      "Without --group, a read-only view: it works while an application owns the directory.\n"
      "Examples:\n"
      "  runnel consume orders --format '%p:%o %k=%v\\n' --max-messages 10\n"
      "  runnel --dir /var/lib/app/log consume events --from-end --follow\n"
      "  runnel consume orders --group audit   # resumes where the group left off");
  const GlobalOptions* g = &global;
  cmd->callback([=] {
    ConsumeOptions run = *opts;
    run.offset_given = offset->count() > 0;
    run.timestamp_given = timestamp->count() > 0;
    *exit_code = RunConsume(*g, run);
  });
}

}  // namespace runnel::tools
