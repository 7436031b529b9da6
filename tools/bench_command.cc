// `runnel bench produce|consume|e2e`: the end-to-end benchmarks of bench/ (the produce and
// consume drivers) as one command with knobs, on a fresh temporary data directory unless
// --dir names one. The workloads are tools/bench_workload.h, shared with the drivers. A
// live progress line goes to stderr when it is a terminal; a summary table (or, with
// --json, one JSON object) goes to stdout.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "runnel/broker.h"
#include "tools/bench_workload.h"
#include "tools/commands.h"
#include "util/formatters.h"

namespace runnel::tools {
namespace {

using bench::kMiB;

struct BenchOptions {
  std::string dir;
  size_t record_size = bench::kValueSize;
  size_t key_size = bench::kKeySize;
  int partitions = 1;
  int threads = 1;
  std::string acks = "all";
  std::string sync = "none";
  int64_t flush_ms = 1000;
  int64_t linger_ms = -1;  // -1: the producer's default (5), or 0 for e2e
  int64_t records = 0;
  double megabytes = 0;
  double duration = 0;
  int consumers = 1;
  bool group = false;
  int64_t rate = 10000;
  int burst = 1;
  bool json = false;
};

// The data directory of a run: a fresh temporary one (removed at the end) or --dir (kept).
struct RunDir {
  std::unique_ptr<bench::TempDir> temp;
  std::string path;
  std::string topic;
};

absl::StatusOr<RunDir> MakeRunDir(const BenchOptions& o, std::string_view kind) {
  RunDir d;
  if (o.dir.empty()) {
    d.temp = std::make_unique<bench::TempDir>();
    if (!d.temp->status().ok()) return d.temp->status();
    d.path = d.temp->Sub("data");
    d.topic = std::string(kind);
  } else {
    d.path = o.dir;
    // A topic of its own, so a kept directory can hold several runs.
    d.topic = fmt::format("bench-{}-{}", kind,
                          std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count());
  }
  return d;
}

TopicConfig MakeTopicConfig(const BenchOptions& o) {
  TopicConfig c;
  c.sync_policy = o.sync == "always"     ? SyncPolicy::kAlways
                  : o.sync == "interval" ? SyncPolicy::kInterval
                                         : SyncPolicy::kNone;
  if (c.sync_policy == SyncPolicy::kInterval) c.flush_ms = o.flush_ms;
  return c;
}

ProducerOptions MakeProducerOptions(const BenchOptions& o, int64_t default_linger_ms) {
  ProducerOptions p;
  p.acks = o.acks == "0" ? Acks::kNone : o.acks == "1" ? Acks::kLeader : Acks::kAll;
  p.linger_ms = o.linger_ms >= 0 ? o.linger_ms : default_linger_ms;
  return p;
}

// Records for --records or --megabytes (MiB of keys and values), else `fallback_mib`.
int64_t RecordCount(const BenchOptions& o, double fallback_mib) {
  if (o.records > 0) return o.records;
  const double mib = o.megabytes > 0 ? o.megabytes : fallback_mib;
  const auto record_bytes = static_cast<double>(std::max<size_t>(1, o.key_size + o.record_size));
  return std::max<int64_t>(1, static_cast<int64_t>(mib * static_cast<double>(kMiB) / record_bytes));
}

// "\r"-updated progress on stderr, only when stderr is a terminal.
class ProgressLine {
 public:
  ProgressLine(std::string label, const std::atomic<int64_t>* done, int64_t total)
      : label_(std::move(label)), done_(done), total_(total) {
    if (isatty(STDERR_FILENO) == 1) thread_ = std::thread([this] { Loop(); });
  }
  ~ProgressLine() { Stop(); }
  void Stop() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    fmt::print(stderr, "\r{:79}\r", "");
  }

 private:
  void Loop() {
    const auto start = std::chrono::steady_clock::now();
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(250), [this] { return stop_; })) {
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const int64_t n = done_->load(std::memory_order_relaxed);
      const std::string of = total_ > 0 ? fmt::format(" of {}", total_) : "";
      fmt::print(stderr, "\r{}: {} records{} in {:.1f} s, {:.0f} records/s   ", label_, n, of, s,
                 s > 0 ? static_cast<double>(n) / s : 0.0);
      std::fflush(stderr);
    }
  }

  std::string label_;
  const std::atomic<int64_t>* done_;
  int64_t total_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<int>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// The result of a run: rows for the table, and the same as JSON members (values already
// JSON-encoded).
struct Report {
  std::string command;
  std::vector<std::pair<std::string, std::string>> rows;  // label, text
  std::vector<std::pair<std::string, std::string>> json;  // key, JSON value

  void Add(std::string label, std::string text, std::string key, std::string json_value) {
    rows.emplace_back(std::move(label), std::move(text));
    json.emplace_back(std::move(key), std::move(json_value));
  }
  void Print(bool as_json) const {
    if (as_json) {
      std::string out = fmt::format("{{\"command\": {}", JsonString(command));
      for (const auto& [k, v] : json) out += fmt::format(", {}: {}", JsonString(k), v);
      fmt::print("{}}}\n", out);
    } else {
      fmt::print("runnel bench {}\n", command);
      for (const auto& [label, text] : rows) fmt::print("  {:<22} {:>16}\n", label, text);
    }
    std::fflush(stdout);
  }
};

void AddConfigRows(Report& r, const BenchOptions& o, const RunDir& d, bool e2e = false) {
  r.Add("data directory", o.dir.empty() ? "(temporary)" : d.path, "dir",
        o.dir.empty() ? "null" : JsonString(d.path));
  r.Add("value size (B)", fmt::format("{}", o.record_size), "record_size", fmt::format("{}", o.record_size));
  if (!e2e) {
    r.Add("key size (B)", fmt::format("{}", o.key_size), "key_size", fmt::format("{}", o.key_size));
  }
  r.Add("partitions", fmt::format("{}", o.partitions), "partitions", fmt::format("{}", o.partitions));
  r.Add("acks", o.acks, "acks", JsonString(o.acks));
  r.Add("sync.policy", o.sync, "sync", JsonString(o.sync));
}

void AddThroughputRows(Report& r, const bench::RunFigures& f) {
  r.Add("records", fmt::format("{}", f.records), "records", fmt::format("{}", f.records));
  r.Add("bytes (keys+values)", fmt::format("{}", f.bytes), "bytes", fmt::format("{}", f.bytes));
  r.Add("seconds", fmt::format("{:.3f}", f.seconds), "seconds", fmt::format("{:.6f}", f.seconds));
  r.Add("records/s", fmt::format("{:.0f}", f.records_per_second()), "records_per_second",
        fmt::format("{:.1f}", f.records_per_second()));
  r.Add("MB/s (10^6 B)", fmt::format("{:.1f}", f.megabytes_per_second()), "megabytes_per_second",
        fmt::format("{:.3f}", f.megabytes_per_second()));
}

// Opens the run's broker (and creates its topic unless the workload does).
absl::StatusOr<std::unique_ptr<Broker>> OpenBroker(const BenchOptions& o, const RunDir& d,
                                                   bool create_topic) {
  auto broker = Broker::Open(d.path);
  if (!broker.ok()) return broker.status();
  if (create_topic) {
    if (absl::Status s = (*broker)->CreateTopic(d.topic, o.partitions, MakeTopicConfig(o)); !s.ok()) {
      return s;
    }
  }
  return broker;
}

absl::StatusOr<Report> RunProduce(const BenchOptions& o) {
  absl::StatusOr<RunDir> d = MakeRunDir(o, "produce");
  if (!d.ok()) return d.status();
  absl::StatusOr<std::unique_ptr<Broker>> broker = OpenBroker(o, *d, true);
  if (!broker.ok()) return broker.status();
  std::atomic<int64_t> done{0};
  bench::ProduceSpec spec;
  spec.topic = d->topic;
  spec.value_size = o.record_size;
  spec.key_size = o.key_size;
  spec.threads = o.threads;
  spec.producer = MakeProducerOptions(o, ProducerOptions{}.linger_ms);
  spec.records = o.duration > 0 ? 0 : RecordCount(o, 64);
  spec.seconds = o.duration;
  spec.progress = &done;
  ProgressLine progress("produce", &done, spec.records);
  absl::StatusOr<bench::RunFigures> f = bench::RunProduceWorkload(**broker, spec);
  progress.Stop();
  if (!f.ok()) return f.status();
  if (absl::Status s = (*broker)->Close(); !s.ok()) return s;
  Report r;
  r.command = "produce";
  AddConfigRows(r, o, *d);
  r.Add("producer threads", fmt::format("{}", o.threads), "threads", fmt::format("{}", o.threads));
  AddThroughputRows(r, *f);
  return r;
}

absl::StatusOr<Report> RunConsume(const BenchOptions& o) {
  absl::StatusOr<RunDir> d = MakeRunDir(o, "consume");
  if (!d.ok()) return d.status();
  absl::StatusOr<std::unique_ptr<Broker>> broker = OpenBroker(o, *d, true);
  if (!broker.ok()) return broker.status();
  std::atomic<int64_t> done{0};
  bench::ProduceSpec fill;  // not timed
  fill.topic = d->topic;
  fill.value_size = o.record_size;
  fill.key_size = o.key_size;
  fill.threads = o.threads;
  fill.producer = MakeProducerOptions(o, ProducerOptions{}.linger_ms);
  fill.records = RecordCount(o, 64);
  fill.progress = &done;
  {
    ProgressLine progress("filling the topic (not timed)", &done, fill.records);
    absl::StatusOr<bench::RunFigures> filled = bench::RunProduceWorkload(**broker, fill);
    if (!filled.ok()) return filled.status();
  }
  done.store(0);
  bench::ConsumeSpec spec;
  spec.topic = d->topic;
  spec.consumers = o.consumers;
  spec.group = o.group;
  spec.progress = &done;
  ProgressLine progress("consume", &done, fill.records);
  absl::StatusOr<bench::RunFigures> f = bench::RunConsumeWorkload(**broker, spec);
  progress.Stop();
  if (!f.ok()) return f.status();
  if (absl::Status s = (*broker)->Close(); !s.ok()) return s;
  Report r;
  r.command = "consume";
  AddConfigRows(r, o, *d);
  r.Add("consumers", fmt::format("{}", o.consumers), "consumers", fmt::format("{}", o.consumers));
  r.Add("group (Subscribe)", o.group ? "yes" : "no", "group", o.group ? "true" : "false");
  AddThroughputRows(r, *f);
  return r;
}

absl::StatusOr<Report> RunE2e(const BenchOptions& o) {
  absl::StatusOr<RunDir> d = MakeRunDir(o, "e2e");
  if (!d.ok()) return d.status();
  absl::StatusOr<std::unique_ptr<Broker>> broker = OpenBroker(o, *d, false);
  if (!broker.ok()) return broker.status();
  std::atomic<int64_t> done{0};
  bench::LatencySpec spec;
  spec.topic = d->topic;
  spec.partitions = o.partitions;
  spec.topic_config = MakeTopicConfig(o);
  spec.producer = MakeProducerOptions(o, 0);
  spec.rate = o.rate;
  spec.burst = o.burst;
  spec.seconds = o.duration > 0 ? o.duration : 2;
  spec.value_size = o.record_size;
  spec.progress = &done;
  const auto total = static_cast<int64_t>(static_cast<double>(spec.rate) * spec.seconds);
  ProgressLine progress("e2e", &done, total);
  absl::StatusOr<bench::LatencyFigures> f = bench::RunLatencyWorkload(**broker, spec);
  progress.Stop();
  if (!f.ok()) return f.status();
  if (absl::Status s = (*broker)->Close(); !s.ok()) return s;
  Report r;
  r.command = "e2e";
  AddConfigRows(r, o, *d, /*e2e=*/true);
  r.Add("rate (records/s)", fmt::format("{}", o.rate), "rate", fmt::format("{}", o.rate));
  r.Add("burst", fmt::format("{}", o.burst), "burst", fmt::format("{}", o.burst));
  r.Add("records", fmt::format("{}", f->records), "records", fmt::format("{}", f->records));
  r.Add("seconds", fmt::format("{:.3f}", f->seconds), "seconds", fmt::format("{:.6f}", f->seconds));
  r.Add("latency p50 (us)", fmt::format("{:.1f}", f->p50), "latency_us",
        fmt::format("{{\"p50\": {:.1f}, \"p99\": {:.1f}, \"p99_9\": {:.1f}, \"max\": {:.1f}}}",
                    f->p50, f->p99, f->p999, f->max));
  r.rows.emplace_back("latency p99 (us)", fmt::format("{:.1f}", f->p99));
  r.rows.emplace_back("latency p99.9 (us)", fmt::format("{:.1f}", f->p999));
  r.rows.emplace_back("latency max (us)", fmt::format("{:.1f}", f->max));
  return r;
}

void AddSharedOptions(CLI::App* cmd, BenchOptions& o, bool e2e) {
  cmd->add_option("--dir", o.dir,
                  "data directory to run in, kept afterwards (default: a fresh temporary one, "
                  "removed at the end; the global --dir and $RUNNEL_DIR are not used)");
  cmd->add_option("--record-size", o.record_size, "value bytes per record")
      ->capture_default_str()
      ->check(CLI::Range(e2e ? 8 : 0, 1000000));
  if (!e2e) {
    cmd->add_option("--key-size", o.key_size, "key bytes per record (0: null keys)")
        ->capture_default_str()
        ->check(CLI::Range(0, 65536));
  }
  cmd->add_option("--partitions", o.partitions, "partitions of the topic")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--acks", o.acks, "producer acks: 0, 1 or all")
      ->capture_default_str()
      ->check(CLI::IsMember({"0", "1", "all"}));
  cmd->add_option("--sync", o.sync, "the topic's sync.policy: none, interval or always")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "interval", "always"}));
  cmd->add_option("--flush-ms", o.flush_ms, "flush.ms for --sync interval")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{86400000}));
  cmd->add_option("--linger-ms", o.linger_ms,
                  e2e ? "producer linger.ms (default 0)" : "producer linger.ms (default 5)")
      ->check(CLI::Range(int64_t{0}, int64_t{60000}));
  cmd->add_flag("--json", o.json, "print the result as one JSON object instead of a table");
}

// Runs a command's function, printing the table and mapping failures to one line.
void Run(const char* name, const BenchOptions& o,
         absl::StatusOr<Report> (*fn)(const BenchOptions&), int* exit_code) {
  try {
    absl::StatusOr<Report> r = fn(o);
    if (!r.ok()) {
      fmt::print(stderr, "runnel bench {}: {}\n", name, r.status().message());
      *exit_code = kExitFailure;
      return;
    }
    r->Print(o.json);
    *exit_code = kExitOk;
  } catch (const std::exception& e) {
    fmt::print(stderr, "runnel bench {}: {}\n", name, e.what());
    *exit_code = kExitFailure;
  }
}

}  // namespace

void AddBenchCommands(CLI::App& app, const GlobalOptions&, int* exit_code) {
  CLI::App* bench = app.add_subcommand(
      "bench", "Benchmark producing, consuming and end-to-end latency through the public API");
  bench->require_subcommand(1, 1);
  bench->footer(
      "Runs on a fresh temporary data directory, removed at the end, unless a command's --dir\n"
      "names one. Progress is shown on stderr when it is a terminal; the summary goes to\n"
      "stdout (--json for one JSON object). bench/README.md explains the workloads.\n\n"
      "Example:\n"
      "  runnel bench produce --megabytes 256 --partitions 8 --threads 2");

  auto produce = std::make_shared<BenchOptions>();
  CLI::App* p = bench->add_subcommand(
      "produce", "Send keyed records from producer threads and time them until all are acknowledged");
  AddSharedOptions(p, *produce, false);
  p->add_option("--threads", produce->threads, "producer threads, a Producer each")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  CLI::Option* records = p->add_option("--records", produce->records, "records to send")
                             ->check(CLI::PositiveNumber);
  CLI::Option* mb = p->add_option("--megabytes", produce->megabytes,
                                  "MiB of keys and values to send (default 64)")
                        ->check(CLI::PositiveNumber);
  CLI::Option* duration = p->add_option("--duration", produce->duration, "seconds to send for")
                              ->check(CLI::PositiveNumber);
  records->excludes(mb)->excludes(duration);
  mb->excludes(duration);
  p->footer(
      "Records cycle through a fixed pool (as bench/'s drivers use): keys \"key-\" and digits,\n"
      "random printable values. Times from the first Send until every producer's Flush\n"
      "returned. MB/s counts keys and values, 10^6 bytes to the MB.\n\n"
      "Example:\n"
      "  runnel bench produce --records 1000000 --threads 2 --partitions 8 --sync always\n"
      "  runnel bench produce --duration 10 --record-size 1024 --json");
  p->callback([produce, exit_code] { Run("produce", *produce, RunProduce, exit_code); });

  auto consume = std::make_shared<BenchOptions>();
  CLI::App* c = bench->add_subcommand(
      "consume", "Fill a topic (not timed), then time consumers reading it from the beginning");
  AddSharedOptions(c, *consume, false);
  c->add_option("--threads", consume->threads, "producer threads filling the topic")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  CLI::Option* crecords = c->add_option("--records", consume->records, "records to fill and read")
                              ->check(CLI::PositiveNumber);
  CLI::Option* cmb = c->add_option("--megabytes", consume->megabytes,
                                   "MiB of keys and values to fill and read (default 64)")
                         ->check(CLI::PositiveNumber);
  crecords->excludes(cmb);
  c->add_option("--consumers", consume->consumers,
                "consumer threads; partitions are split between them round-robin")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  c->add_flag("--group", consume->group,
              "consumers join a group with Subscribe (join and rebalance are timed)");
  c->footer(
      "Every key and value is touched. Reads come from the page cache, as a consumer close\n"
      "behind its producers would see them.\n\n"
      "Example:\n"
      "  runnel bench consume --megabytes 256 --partitions 8 --consumers 2 --group");
  c->callback([consume, exit_code] { Run("consume", *consume, RunConsume, exit_code); });

  auto e2e = std::make_shared<BenchOptions>();
  CLI::App* e = bench->add_subcommand(
      "e2e", "End-to-end latency at a fixed send rate: percentiles of arrival minus scheduled send");
  AddSharedOptions(e, *e2e, true);
  e->add_option("--rate", e2e->rate, "records per second")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{10000000}));
  e->add_option("--burst", e2e->burst, "records per send slot")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  e->add_option("--duration", e2e->duration, "seconds to send for (default 2)")
      ->check(CLI::PositiveNumber);
  e->footer(
      "One producer sends at --rate; each record carries the time it was scheduled to be\n"
      "sent, and a consumer in a blocking Poll takes its arrival time. Latency is arrival\n"
      "minus schedule, so a sender that falls behind is charged for every record it delayed\n"
      "(coordinated omission corrected). Percentiles p50, p99, p99.9 and max, in microseconds.\n\n"
      "Example:\n"
      "  runnel bench e2e --rate 100000 --burst 100 --duration 5");
  e->callback([e2e, exit_code] { Run("e2e", *e2e, RunE2e, exit_code); });
}

}  // namespace runnel::tools
