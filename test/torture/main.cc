// runnel_torture: runs the torture suite (test/torture/) and prints what it did.
//
//   runnel_torture [--long] [--rounds N] [--seconds S] [--seed X] [--dir D] [-v] [NAME...]
//
// Without NAMEs every torture runs. --rounds and --seconds override each torture's own
// short (CI) or --long (`make torture`) defaults. The seed is printed first; passing it back
// with --seed replays the run. Exits 0 when every torture passed (or some were skipped, with
// their reasons printed), 77 when every one chosen was skipped (CTest's SKIP_RETURN_CODE),
// 1 when one failed or lost or corrupted a record, 2 for bad usage.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "torture/torture.h"
#include "util/formatters.h"

namespace runnel::torture {
namespace {

struct Args {
  bool long_mode = false;
  int64_t rounds = -1;
  double seconds = -1;
  std::optional<uint64_t> seed;
  std::string dir;
  bool verbose = false;
  bool list = false;
  std::vector<std::string> names;
};

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "runnel_torture: %s\n"
               "usage: runnel_torture [--long] [--rounds N] [--seconds S] [--seed X] [--dir D] "
               "[-v] [--list] [NAME...]\n",
               why.c_str());
  std::exit(2);
}

Args ParseArgs(int argc, char** argv) {
  Args args;
  auto value = [&](int& i) -> std::string {
    if (i + 1 >= argc) Usage(fmt::format("{} needs a value", argv[i]));
    return argv[++i];
  };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    try {
      if (a == "--long") {
        args.long_mode = true;
      } else if (a == "--rounds") {
        args.rounds = std::stoll(value(i));
        if (args.rounds < 1) Usage("--rounds must be at least 1");
      } else if (a == "--seconds") {
        args.seconds = std::stod(value(i));
        if (args.seconds <= 0) Usage("--seconds must be positive");
      } else if (a == "--seed") {
        args.seed = std::stoull(value(i), nullptr, 0);
      } else if (a == "--dir") {
        args.dir = value(i);
      } else if (a == "-v" || a == "--verbose") {
        args.verbose = true;
      } else if (a == "--list") {
        args.list = true;
      } else if (a == "-h" || a == "--help") {
        Usage("runs runnel's torture tests");
      } else if (!a.empty() && a[0] == '-') {
        Usage(fmt::format("unknown flag {}", a));
      } else {
        args.names.push_back(a);
      }
    } catch (const std::exception&) {
      Usage(fmt::format("bad value for {}", a));
    }
  }
  return args;
}

std::string FaultsText(const Stats& s) {
  std::string out;
  for (const auto& [kind, n] : s.faults) {
    out += fmt::format("{}{}={}", out.empty() ? "" : " ", kind, n);
  }
  return out.empty() ? "-" : out;
}

int Main(int argc, char** argv) {
  const Args args = ParseArgs(argc, argv);
  std::vector<TortureInfo> all = Registered();
  std::sort(all.begin(), all.end(),
            [](const TortureInfo& a, const TortureInfo& b) { return a.name < b.name; });
  if (args.list) {
    for (const auto& t : all) std::printf("%-20s %s\n", t.name.c_str(), t.criteria.c_str());
    return 0;
  }
  std::vector<const TortureInfo*> chosen;
  for (const auto& name : args.names) {
    auto it = std::find_if(all.begin(), all.end(), [&](const auto& t) { return t.name == name; });
    if (it == all.end()) Usage(fmt::format("no torture named {} (--list shows them)", name));
    chosen.push_back(&*it);
  }
  if (args.names.empty()) {
    for (const auto& t : all) chosen.push_back(&t);
  }

  const uint64_t seed = args.seed ? *args.seed : std::random_device{}() ^
                                                     (uint64_t{std::random_device{}()} << 32);
  std::printf("runnel_torture: seed %llu (replay with --seed %llu)%s\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed),
              args.long_mode ? ", long form" : "");
  std::fflush(stdout);

  std::string base = args.dir;
  if (base.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    base = fmt::format("{}/runnel-torture-{}", tmp && *tmp ? tmp : "/tmp", getpid());
  }

  struct Row {
    const TortureInfo* info;
    Stats stats;
    absl::Status status;
    double elapsed;
  };
  std::vector<Row> rows;
  bool failed = false;
  for (const TortureInfo* t : chosen) {
    Options opts;
    opts.long_mode = args.long_mode;
    opts.rounds = args.rounds > 0 ? args.rounds : (args.long_mode ? t->long_rounds : t->short_rounds);
    opts.seconds =
        args.seconds > 0 ? args.seconds : (args.long_mode ? t->long_seconds : t->short_seconds);
    // Each torture its own seed, so one replays alone with the same --seed.
    opts.seed = seed ^ std::hash<std::string>{}(t->name);
    opts.run_seed = seed;
    opts.dir = base + "/" + t->name;
    opts.verbose = args.verbose;
    opts.self_path = argv[0];
    std::error_code ec;
    std::filesystem::remove_all(opts.dir, ec);
    std::filesystem::create_directories(opts.dir, ec);
    if (ec) {
      std::fprintf(stderr, "runnel_torture: cannot create %s: %s\n", opts.dir.c_str(),
                   ec.message().c_str());
      return 1;
    }
    std::printf("== %s: %s\n", t->name.c_str(), t->criteria.c_str());
    std::fflush(stdout);
    Row row{t, {}, absl::OkStatus(), 0};
    const auto start = std::chrono::steady_clock::now();
    row.status = t->fn(opts, row.stats);
    row.elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (row.status.ok() && (row.stats.lost != 0 || row.stats.corrupt != 0)) {
      row.status = Failure(opts, fmt::format("{} records lost, {} corrupt records returned",
                                             row.stats.lost, row.stats.corrupt));
    }
    if (!row.status.ok()) {
      failed = true;
      std::printf("!! %s FAILED: %s\n   data kept in %s\n", t->name.c_str(),
                  row.status.ToString().c_str(), opts.dir.c_str());
    } else if (!row.stats.skipped.empty()) {
      std::printf("-- %s SKIPPED: %s\n", t->name.c_str(), row.stats.skipped.c_str());
      std::filesystem::remove_all(opts.dir, ec);
    } else {
      std::printf("   ok in %.1f s\n", row.elapsed);
      std::filesystem::remove_all(opts.dir, ec);
    }
    std::fflush(stdout);
    rows.push_back(std::move(row));
  }
  if (!failed) {
    std::error_code ec;
    std::filesystem::remove(base, ec);  // only if empty
  }

  std::printf("\n| torture | rounds | faults injected | acked | verified | lost | corrupt | "
              "seconds | result |\n|---|---:|---|---:|---:|---:|---:|---:|---|\n");
  Stats total;
  for (const Row& r : rows) {
    const char* result = !r.status.ok() ? "FAILED" : !r.stats.skipped.empty() ? "skipped" : "ok";
    std::printf("| %s | %lld | %s | %lld | %lld | %lld | %lld | %.1f | %s |\n",
                r.info->name.c_str(), static_cast<long long>(r.stats.rounds),
                FaultsText(r.stats).c_str(), static_cast<long long>(r.stats.acked),
                static_cast<long long>(r.stats.verified), static_cast<long long>(r.stats.lost),
                static_cast<long long>(r.stats.corrupt), r.elapsed, result);
    total.rounds += r.stats.rounds;
    for (const auto& [k, n] : r.stats.faults) total.faults[k] += n;
    total.acked += r.stats.acked;
    total.verified += r.stats.verified;
    total.lost += r.stats.lost;
    total.corrupt += r.stats.corrupt;
  }
  if (rows.size() > 1) {
    int64_t faults = 0;
    for (const auto& [k, n] : total.faults) faults += n;
    std::printf("| **total** | %lld | %lld | %lld | %lld | %lld | %lld | | %s |\n",
                static_cast<long long>(total.rounds), static_cast<long long>(faults),
                static_cast<long long>(total.acked), static_cast<long long>(total.verified),
                static_cast<long long>(total.lost), static_cast<long long>(total.corrupt),
                failed ? "FAILED" : "ok");
  }
  std::fflush(stdout);
  if (failed) return 1;
  const bool all_skipped = std::all_of(rows.begin(), rows.end(),
                                       [](const Row& r) { return !r.stats.skipped.empty(); });
  return all_skipped && !rows.empty() ? 77 : 0;
}

}  // namespace
}  // namespace runnel::torture

int main(int argc, char** argv) { return runnel::torture::Main(argc, argv); }
