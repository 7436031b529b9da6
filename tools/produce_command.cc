// `runnel produce TOPIC`: one record per input line, as kafka-console-producer and
// `kcat -P` do. Lines are sent as they arrive (the input is streamed, not read to EOF
// first), and acknowledgements are reported in input order by an AckReporter.
#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <unistd.h>

#include "runnel/broker.h"
#include "runnel/producer.h"
#include "tools/ack_reporter.h"
#include "tools/commands.h"
#include "tools/output.h"
#include "tools/tool_util.h"
#include "util/formatters.h"

namespace runnel::tools {

namespace {

struct ProduceOptions {
  std::string topic;
  std::string file;
  std::string key_separator;
  int32_t partition = -1;
  std::vector<std::string> headers;
  std::string acks = "all";
  std::string sync = "none";
  int64_t sync_interval_ms = 1000;
  int64_t linger_ms = 5;
  bool print_offsets = false;
};

Acks ParseAcks(const std::string& acks) {
  if (acks == "0") return Acks::kNone;
  if (acks == "1") return Acks::kLeader;
  return Acks::kAll;
}

ToolSync ParseSync(const std::string& sync) {
  if (sync == "always") return ToolSync::kAlways;
  if (sync == "interval") return ToolSync::kInterval;
  return ToolSync::kNone;
}

// Checks the topic (and --partition) exist, so that a typo is one clear line.
absl::Status CheckTarget(Broker& broker, const ProduceOptions& opts) {
  absl::StatusOr<TopicDescription> topic = broker.DescribeTopic(opts.topic);
  if (!topic.ok()) return topic.status();
  if (opts.partition >= static_cast<int32_t>(topic->partitions.size())) {
    return absl::NotFoundError(fmt::format("topic {} has no partition {} (it has {})", opts.topic,
                                           opts.partition, topic->partitions.size()));
  }
  return absl::OkStatus();
}

// Sends each line of `in` until EOF or a failure; true if all were acknowledged.
bool SendLines(FILE* in, Producer& producer, AckReporter& reporter, const ProduceOptions& opts) {
  std::vector<std::string> header_storage;
  std::vector<Header> headers;
  header_storage.reserve(opts.headers.size() * 2);
  for (const std::string& h : opts.headers) {
    auto [key, value] = SplitKeyValue(h);
    header_storage.push_back(key);
    header_storage.push_back(value);
  }
  for (size_t i = 0; i < header_storage.size(); i += 2) {
    headers.push_back({header_storage[i], header_storage[i + 1]});
  }
  char* line = nullptr;
  size_t capacity = 0;
  ssize_t length;
  bool ok = true;
  while (!reporter.failed() && (length = ::getline(&line, &capacity, in)) >= 0) {
    std::string_view text(line, static_cast<size_t>(length));
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    ProducerRecord record{.topic = opts.topic, .value = text, .headers = headers};
    if (opts.partition >= 0) record.partition = opts.partition;
    if (!opts.key_separator.empty()) {
      size_t at = text.find(opts.key_separator);
      if (at != std::string_view::npos) {
        record.key = text.substr(0, at);
        record.value = text.substr(at + opts.key_separator.size());
      }
    }
    // A failure is also passed to the callback, which reports it.
    if (!producer.Send(record, reporter.Track()).ok()) {
      ok = false;
      break;
    }
  }
  if (ferror(in)) {
    PrintError(fmt::format("reading {}: {}", opts.file.empty() ? "standard input" : opts.file,
                           std::strerror(errno)));
    ok = false;
  }
  std::free(line);
  return ok;
}

int RunProduce(const GlobalOptions& global, const ProduceOptions& opts) {
  FILE* in = stdin;
  if (!opts.file.empty()) {
    in = std::fopen(opts.file.c_str(), "r");
    if (in == nullptr) {
      PrintError(fmt::format("cannot open {}: {}", opts.file, std::strerror(errno)));
      return kExitFailure;
    }
  }
  std::unique_ptr<FILE, int (*)(FILE*)> closer(in == stdin ? nullptr : in, &std::fclose);
  auto broker = OpenBroker(global, Access::kWrite);
  if (!broker.ok()) return Fail(broker.status());
  Broker& b = **broker;
  if (absl::Status target = CheckTarget(b, opts); !target.ok()) {
    Fail(target);
    return CloseAndExit(b, kExitFailure);
  }
  ProducerOptions producer_options;
  producer_options.acks = ParseAcks(opts.acks);
  producer_options.linger_ms = opts.linger_ms;
  producer_options.client_id = "runnel-produce";
  auto producer = Producer::Create(b, producer_options);
  if (!producer.ok()) {
    Fail(producer.status());
    return CloseAndExit(b, kExitFailure);
  }
  Output out(STDOUT_FILENO);
  AckReporter reporter(b, {ParseSync(opts.sync), opts.sync_interval_ms, opts.print_offsets}, out);
  bool ok = SendLines(in, **producer, reporter, opts);
  (void)(*producer)->Flush();  // errors reach the callbacks, hence the reporter
  ok = reporter.Finish() && ok;
  absl::Status closed = (*producer)->Close();
  if (!closed.ok()) ok = (Fail(closed), false);
  return CloseAndExit(b, ok ? kExitOk : kExitFailure);
}

}  // namespace

void AddProduceCommand(CLI::App& app, const GlobalOptions& global, int* exit_code) {
  auto opts = std::make_shared<ProduceOptions>();
  CLI::App* cmd = app.add_subcommand(
      "produce", "Send each line of standard input (or --file) to a topic as one record");
  cmd->add_option("TOPIC", opts->topic, "topic to send to")->required();
  cmd->add_option("--file,-f", opts->file, "read lines from this file instead of standard input");
  cmd->add_option("--key-separator,-K", opts->key_separator,
                  "split each line at the first SEP into key and value (a line without SEP "
                  "is a value with a null key)")
      ->type_name("SEP");
  cmd->add_option("--partition,-p", opts->partition,
                  "send every record to this partition (default: by key, or sticky)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--header,-H", opts->headers, "add this header to every record (repeatable)")
      ->type_name("KEY=VALUE")
      ->check(KeyValueValidator())
      ->take_all();
  cmd->add_option("--acks", opts->acks,
                  "0: acknowledged once written; 1 or all: once the topic's sync.policy is met")
      ->capture_default_str()
      ->check(CLI::IsMember({"0", "1", "all", "-1"}));
  cmd->add_option("--sync", opts->sync,
                  "when the tool fsyncs what it wrote, before reporting it (--print-offsets): "
                  "none: never itself (durable as the topic's sync.policy makes it; all is "
                  "fsynced when the tool exits), interval: every --sync-interval-ms, "
                  "always: before reporting each acknowledged record")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "interval", "always"}));
  cmd->add_option("--sync-interval-ms", opts->sync_interval_ms, "the interval of --sync interval")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{24} * 3600 * 1000));
  cmd->add_option("--linger-ms", opts->linger_ms,
                  "linger.ms: how long a batch waits for more lines before it is sent")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{60000}));
  cmd->add_flag("--print-offsets", opts->print_offsets,
                "print `PARTITION OFFSET` for each record once acknowledged (and fsynced per "
                "--sync), in input order, one line each, flushed at once");
  cmd->footer(
      "Each line is sent as soon as it is read. On the first record that fails, the tool\n"
      "stops reading, names the input line on standard error and exits 1.\n"
      "Example:\n"
      "  printf 'user-1:login\\nuser-2:logout\\n' | runnel produce events -K : "
      "-H source=cli --print-offsets --sync always");
  const GlobalOptions* g = &global;
  cmd->callback([=] { *exit_code = RunProduce(*g, *opts); });
}

}  // namespace runnel::tools
