// runnel beside its peers: every system of system.h on the same workloads, in one run,
// written as JSON for report.py (bench/README.md, "runnel beside its peers").
//
//   runnel_compare [--quick] [--out FILE.json] [--systems runnel,raw,redis,nats,sqlite]
//                  [--repetitions R] [--seconds S] [--consume-records N]
//                  [--latency-seconds S] [--recovery-mib M] [--no-recovery]
//
// A progress line goes to stderr; a line per finished case to stdout.
#include <sys/utsname.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/compare/recovery.h"
#include "bench/compare/server_process.h"
#include "bench/compare/system.h"

namespace runnel::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Settings {
  bool quick = false;
  std::string out = "compare.json";
  std::vector<std::string> systems = {"runnel", "raw", "redis", "nats", "sqlite"};
  int repetitions = 3;
  double seconds = 0.6;                 // per produce run
  int64_t produce_cap_bytes = 512 * kMiB;  // ... or this much, whichever first
  int64_t consume_records = 500000;
  double latency_seconds = 1.5;
  uint64_t recovery_mib = 4096;
  bool recovery = true;
};

std::string Json(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// The live progress line (stderr, when it is a terminal) and the log of finished cases.
class Progress {
 public:
  Progress(int total) : total_(total), start_(Clock::now()), tty_(isatty(STDERR_FILENO) != 0) {
    ticker_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(mu_);
      while (!stop_) {
        Print();
        lock.unlock();
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
        lock.lock();
      }
    });
  }
  ~Progress() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    ticker_.join();
    if (tty_) std::fprintf(stderr, "\r\033[K");
  }
  std::atomic<int64_t>* Begin(const std::string& label) {
    std::lock_guard<std::mutex> lock(mu_);
    label_ = label;
    records_.store(0);
    if (!tty_) std::fprintf(stderr, "[%3d/%d %4.0fs] %s\n", done_ + 1, total_, Elapsed(), label.c_str());
    return &records_;
  }
  void End(const std::string& result) {
    std::lock_guard<std::mutex> lock(mu_);
    ++done_;
    if (tty_) std::fprintf(stderr, "\r\033[K");
    std::printf("%-58s %s\n", label_.c_str(), result.c_str());
    std::fflush(stdout);
  }

 private:
  double Elapsed() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  void Print() {
    if (!tty_ || label_.empty()) return;
    std::fprintf(stderr, "\r\033[K[%3d/%d %4.0fs] %s  %lld records", done_ + 1, total_, Elapsed(), label_.c_str(),
                 static_cast<long long>(records_.load()));
  }
  int total_;
  Clock::time_point start_;
  bool tty_;
  std::mutex mu_;
  bool stop_ = false;
  int done_ = 0;
  std::string label_;
  std::atomic<int64_t> records_{0};
  std::thread ticker_;
};

struct Named {
  std::string key;  // as --systems names it
  std::unique_ptr<System> system;
};

std::string ReadFirstLine(const std::string& path, const std::string& prefix) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) {
      const size_t colon = line.find(':');
      std::string v = colon == std::string::npos ? line : line.substr(colon + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  }
  return "";
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return fmt::format("{} {} {}", one, five, fifteen);
}

// `load_at_start`: /proc/loadavg when the run began; the end's is read now. Other work on
// the machine shows there, and in the spread of the figures.
std::string MachineJson(const std::string& load_at_start) {
  utsname u{};
  uname(&u);
  const std::string root = TempRoot();
  return fmt::format(
      "{{\"cpu\": {}, \"cores\": {}, \"memory\": {}, \"kernel\": {}, \"tmp_dir\": {}, \"tmp_fs\": {}, "
      "\"date\": {}, \"load_at_start\": {}, \"load_at_end\": {}}}",
      Json(ReadFirstLine("/proc/cpuinfo", "model name")), std::thread::hardware_concurrency(),
      Json(ReadFirstLine("/proc/meminfo", "MemTotal")), Json(fmt::format("{} {}", u.sysname, u.release)),
      Json(root), Json(FirstLineOf({"findmnt", "-n", "-o", "FSTYPE", "-T", root})),
      Json(FirstLineOf({"date", "-u", "+%Y-%m-%d %H:%M UTC"})), Json(load_at_start), Json(LoadAverage()));
}

class Runner {
 public:
  Runner(Settings s, std::vector<Named> systems) : s_(std::move(s)), systems_(std::move(systems)) {}

  int Run(const std::string& self) {
    load_at_start_ = LoadAverage();
    Progress progress(CountCases());
    progress_ = &progress;
    RunProduce();
    RunConsume();
    RunLatency();
    if (s_.recovery) RunRecoveryCase(self);
    progress_ = nullptr;
    return Write();
  }

 private:
  bool IsRaw(const Named& n) const { return n.key == "raw" || n.key == "framing"; }

  int CountCases() const {
    int produce = 0, consume = 0, latency = 0;
    for (const Named& n : systems_) {
      if (n.key == "framing") {
        produce += 2;
      } else if (n.key == "raw") {
        produce += 4;
        consume += 1;
      } else {
        produce += 16;
        consume += 1;
        latency += 3;
      }
    }
    return (produce + latency) * s_.repetitions + consume + (s_.recovery ? 1 : 0);
  }

  void Error(const std::string& what, const absl::Status& status) {
    const std::string e = fmt::format("{}: {}", what, status.ToString());
    errors_.push_back(e);
    progress_->End(fmt::format("FAILED: {}", status.ToString()));
  }

  void RunProduce() {
    for (bool durable : {false, true}) {
      for (size_t value_size : {size_t{100}, size_t{1024}}) {
        for (int threads : {1, 2}) {
          for (int partitions : {1, 8}) {
            ProduceCase c{value_size, threads, partitions, durable};
            c.max_seconds = s_.seconds;
            c.max_records = s_.produce_cap_bytes / static_cast<int64_t>(kKeySize + value_size);
            const std::string label = fmt::format("{}B {}thr {}part {}", value_size, threads, partitions,
                                                  durable ? "durable" : "no-fsync");
            for (Named& n : systems_) {
              // The raw limit is one writer whatever the case: run it once per size and mode.
              if (IsRaw(n) && (threads != 1 || partitions != 1)) continue;
              if (n.key == "framing" && durable) continue;
              std::vector<double> rps, mbps;
              for (int r = 0; r < s_.repetitions; ++r) {
                c.progress = progress_->Begin(fmt::format("produce {} {} (run {})", n.system->name(), label, r + 1));
                absl::StatusOr<RunFigures> f = n.system->Produce(c);
                if (!f.ok()) {
                  Error(fmt::format("produce {} {}", n.system->name(), label), f.status());
                  break;
                }
                rps.push_back(f->records_per_second());
                mbps.push_back(f->megabytes_per_second());
                progress_->End(fmt::format("{:>12.0f} rec/s {:>8.1f} MB/s", rps.back(), mbps.back()));
              }
              if (rps.empty()) continue;
              produce_.push_back(fmt::format(
                  "{{\"system\": {}, \"value_size\": {}, \"threads\": {}, \"partitions\": {}, \"durable\": {}, "
                  "\"records_per_second\": {:.0f}, \"mb_per_second\": {:.2f}, \"runs\": {}, \"durability\": {}}}",
                  Json(n.system->name()), value_size, threads, partitions, durable, Median(rps), Median(mbps),
                  rps.size(), Json(n.system->durability(durable))));
            }
          }
        }
      }
    }
  }

  void RunConsume() {
    for (Named& n : systems_) {
      if (n.key == "framing") continue;
      ConsumeCase c;
      c.records = s_.consume_records;
      c.progress = progress_->Begin(fmt::format("consume {} ({} records, 8 partitions)", n.system->name(), c.records));
      absl::StatusOr<ConsumeFigures> f = n.system->Consume(c);
      if (!f.ok()) {
        Error(fmt::format("consume {}", n.system->name()), f.status());
        continue;
      }
      progress_->End(fmt::format("{:>12.0f} rec/s one, {:.0f} rec/s group of two", f->one.records_per_second(),
                                 f->group.records_per_second()));
      for (auto [kind, r] : {std::pair{"one", &f->one}, std::pair{"group of two", &f->group}}) {
        consume_.push_back(fmt::format(
            "{{\"system\": {}, \"consumers\": {}, \"records\": {}, \"records_per_second\": {:.0f}, "
            "\"mb_per_second\": {:.2f}, \"durability\": {}}}",
            Json(n.system->name()), Json(kind), r->records, r->records_per_second(), r->megabytes_per_second(),
            Json(n.system->durability(false))));
      }
    }
  }

  void RunLatency() {
    for (int64_t rate : {int64_t{10000}, int64_t{100000}, int64_t{1000000}}) {
      for (Named& n : systems_) {
        if (!n.system->has_latency()) continue;
        LatencyCase c;
        c.rate = rate;
        c.burst = static_cast<int>(std::max<int64_t>(1, rate / 100000));  // a send slot at most every 10 us
        c.seconds = s_.latency_seconds;
        // Medians of each percentile over the runs; the least complete run's counts.
        std::vector<double> p50, p99, p999, mx;
        LatencyRun least;
        least.sent = INT64_MAX;
        for (int r = 0; r < s_.repetitions; ++r) {
          c.progress = progress_->Begin(fmt::format("latency {} {} records/s (run {})", n.system->name(), rate, r + 1));
          absl::StatusOr<LatencyRun> l = n.system->Latency(c);
          if (!l.ok()) {
            Error(fmt::format("latency {} {}/s", n.system->name(), rate), l.status());
            break;
          }
          progress_->End(fmt::format("p50 {:.1f} p99 {:.1f} p99.9 {:.1f} max {:.1f} us{}", l->figures.p50,
                                     l->figures.p99, l->figures.p999, l->figures.max,
                                     l->sent < l->planned ? " (could not keep up)" : ""));
          p50.push_back(l->figures.p50);
          p99.push_back(l->figures.p99);
          p999.push_back(l->figures.p999);
          mx.push_back(l->figures.max);
          if (l->sent < least.sent) least = *l;
        }
        if (p50.empty()) continue;
        latency_.push_back(fmt::format(
            "{{\"system\": {}, \"rate\": {}, \"burst\": {}, \"planned\": {}, \"sent\": {}, \"received\": {}, "
            "\"runs\": {}, \"p50\": {:.2f}, \"p99\": {:.2f}, \"p999\": {:.2f}, \"max\": {:.2f}}}",
            Json(n.system->name()), rate, c.burst, least.planned, least.sent, least.figures.records, p50.size(),
            Median(p50), Median(p99), Median(p999), Median(mx)));
      }
    }
  }

  void RunRecoveryCase(const std::string& self) {
    // Keep disk use sane: at most a quarter of what is free under the temporary root.
    const uint64_t free_bytes = FreeBytes(TempRoot());
    uint64_t bytes = s_.recovery_mib * kMiB;
    std::string capped;
    if (free_bytes > 0 && bytes > free_bytes / 4) {
      bytes = free_bytes / 4;
      capped = fmt::format("capped to a quarter of the {} MiB free", free_bytes / kMiB);
    }
    progress_->Begin(fmt::format("recovery runnel, {} MiB", bytes / kMiB));
    absl::StatusOr<RecoveryFigures> f = RunRecovery(self, bytes);
    if (!f.ok()) {
      Error("recovery runnel", f.status());
      return;
    }
    progress_->End(fmt::format("open after SIGKILL {:.3f} s, after close {:.3f} s", f->after_kill_seconds,
                               f->after_close_seconds));
    recovery_ = fmt::format(
        "{{\"bytes\": {}, \"disk_bytes\": {}, \"records\": {}, \"partitions\": {}, \"value_size\": 1024, "
        "\"fill_seconds\": {:.2f}, \"after_kill_seconds\": {:.4f}, \"after_close_seconds\": {:.4f}, \"note\": {}}}",
        f->bytes, f->disk_bytes, f->records, f->partitions, f->fill_seconds, f->after_kill_seconds,
        f->after_close_seconds, Json(capped));
  }

  static std::string List(const std::vector<std::string>& items) {
    std::string out = "[";
    for (size_t i = 0; i < items.size(); ++i) out += fmt::format("{}\n    {}", i ? "," : "", items[i]);
    return out + "]";
  }

  int Write() {
    std::vector<std::string> systems;
    for (const Named& n : systems_) {
      systems.push_back(fmt::format("{{\"key\": {}, \"name\": {}, \"version\": {}, \"durability\": {}, "
                                    "\"durability_durable\": {}}}",
                                    Json(n.key), Json(n.system->name()), Json(n.system->version()),
                                    Json(n.system->durability(false)), Json(n.system->durability(true))));
    }
    std::vector<std::string> errors;
    for (const std::string& e : errors_) errors.push_back(Json(e));
    const std::string json = fmt::format(
        "{{\n  \"machine\": {},\n  \"settings\": {{\"quick\": {}, \"repetitions\": {}, \"produce_seconds\": {}, "
        "\"produce_cap_mib\": {}, \"consume_records\": {}, \"latency_seconds\": {}}},\n  \"systems\": {},\n"
        "  \"produce\": {},\n  \"consume\": {},\n  \"latency\": {},\n  \"recovery\": {},\n  \"errors\": {}\n}}\n",
        MachineJson(load_at_start_), s_.quick, s_.repetitions, s_.seconds, s_.produce_cap_bytes / static_cast<int64_t>(kMiB),
        s_.consume_records, s_.latency_seconds, List(systems), List(produce_), List(consume_), List(latency_),
        recovery_.empty() ? "null" : recovery_, List(errors));
    std::ofstream out(s_.out);
    out << json;
    if (!out.good()) {
      std::fprintf(stderr, "cannot write %s\n", s_.out.c_str());
      return 1;
    }
    std::printf("wrote %s%s\n", s_.out.c_str(),
                errors_.empty() ? "" : fmt::format(" ({} cases failed)", errors_.size()).c_str());
    return 0;
  }

  Settings s_;
  std::vector<Named> systems_;
  Progress* progress_ = nullptr;
  std::vector<std::string> produce_, consume_, latency_, errors_;
  std::string recovery_;
  std::string load_at_start_;
};

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

int Usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--quick] [--out FILE.json] [--systems runnel,raw,redis,nats,sqlite]\n"
               "          [--repetitions R] [--seconds S] [--consume-records N] [--latency-seconds S]\n"
               "          [--recovery-mib M] [--no-recovery]\n"
               "  raw also runs the in-memory framing (the CPU ceiling); peers not built in are skipped.\n",
               argv0);
  return 2;
}

int Main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--recovery-fill") {
    return RecoveryFillMain(argv[2], std::strtoull(argv[3], nullptr, 10));
  }
  Settings s;
  // --quick first, so that explicit sizes given with it win.
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--quick") {
      s.quick = true;
      s.repetitions = 1;
      s.seconds = 0.25;
      s.produce_cap_bytes = 128 * kMiB;
      s.consume_records = 100000;
      s.latency_seconds = 0.5;
      s.recovery_mib = 512;
    }
  }
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--quick") continue;
    if (arg == "--no-recovery") {
      s.recovery = false;
    } else if (!has_value) {
      return Usage(argv[0]);
    } else if (arg == "--out") {
      s.out = argv[++i];
    } else if (arg == "--systems") {
      s.systems = Split(argv[++i]);
    } else if (arg == "--repetitions") {
      s.repetitions = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--seconds") {
      s.seconds = std::atof(argv[++i]);
    } else if (arg == "--consume-records") {
      s.consume_records = std::max<int64_t>(2, std::atoll(argv[++i]));
    } else if (arg == "--latency-seconds") {
      s.latency_seconds = std::atof(argv[++i]);
    } else if (arg == "--recovery-mib") {
      s.recovery_mib = std::max<uint64_t>(1, std::strtoull(argv[++i], nullptr, 10));
    } else {
      return Usage(argv[0]);
    }
  }
  std::vector<Named> systems;
  for (const std::string& key : s.systems) {
    std::unique_ptr<System> system;
    if (key == "runnel") system = MakeRunnelSystem();
#ifdef RUNNEL_COMPARE_REDIS
    if (key == "redis") system = MakeRedisSystem();
#endif
#ifdef RUNNEL_COMPARE_NATS
    if (key == "nats") system = MakeNatsSystem();
#endif
#ifdef RUNNEL_COMPARE_SQLITE
    if (key == "sqlite") system = MakeSqliteSystem();
#endif
    if (key == "raw") {
      systems.push_back({"raw", MakeRawSystem()});
      system = MakeFramingSystem();
    }
    if (system == nullptr && key != "raw") {
      std::fprintf(stderr, "skipping %s: not built in (its client library was not found at build time)\n",
                   key.c_str());
      continue;
    }
    systems.push_back({key == "raw" ? "framing" : key, std::move(system)});
  }
  char self[4096] = {0};
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  return Runner(std::move(s), std::move(systems)).Run(n > 0 ? std::string(self, static_cast<size_t>(n)) : argv[0]);
}

}  // namespace
}  // namespace runnel::bench

int main(int argc, char** argv) { return runnel::bench::Main(argc, argv); }
