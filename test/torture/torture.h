// The torture suite's driver interface (test/torture/). Each torture is one function in its
// own file, registered with RUNNEL_TORTURE; the driver (main.cc) runs the chosen ones with
// a seed, a round count and a time budget, then prints a table of what they did.
//
// A torture returns OK when every pass criterion held; otherwise a status that says which
// one broke, where (file, partition, offset) and with what seed it can be replayed. It adds
// what it did to its Stats: rounds, faults injected by kind, records acknowledged, records
// verified, records lost and corrupt records returned (the last two must stay 0: the
// driver fails a run where they do not, whatever the torture returned).
//
// Tortures run one after another on the driver's thread, each with a fresh scratch
// directory under Options::dir that the driver removes afterwards (kept on failure).
#ifndef RUNNEL_TEST_TORTURE_TORTURE_H_
#define RUNNEL_TEST_TORTURE_TORTURE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace runnel::torture {

struct Options {
  // Rounds to run (crash rounds, power cuts, fault positions...); what a round is, the
  // torture's first comment says. Set from --rounds, else the torture's short or long
  // default.
  int64_t rounds = 0;
  // A time budget in seconds for tortures that run for a while (soak); same defaults rule.
  double seconds = 0;
  // This torture's seed, derived from the run's: draw all randomness from it.
  uint64_t seed = 0;
  // The run's seed, as printed first and as --seed takes it to replay the run.
  uint64_t run_seed = 0;
  // A scratch directory of this torture's own, empty at the start.
  std::string dir;
  // --long: `make torture` rather than the short CI form.
  bool long_mode = false;
  bool verbose = false;
  // argv[0] as the driver was started: tortures that re-execute the driver for a child
  // process (rather than only fork) use it.
  std::string self_path;
};

struct Stats {
  int64_t rounds = 0;
  std::map<std::string, int64_t> faults;  // kind ("sigkill", "power-cut", "eio-write"...) -> count
  int64_t acked = 0;     // records whose append was acknowledged to the writer
  int64_t verified = 0;  // acknowledged records found intact after the fault
  int64_t lost = 0;      // acknowledged records missing or different after the fault
  int64_t corrupt = 0;   // records returned to a reader that were not what was written
  // Set when the torture could not run here (say, no permission to mount a filesystem):
  // the reason is printed and the torture counts as skipped, not passed.
  std::string skipped;

  void Fault(const std::string& kind, int64_t n = 1) { faults[kind] += n; }
};

using TortureFn = std::function<absl::Status(const Options&, Stats&)>;

struct TortureInfo {
  std::string name;      // the CTest name is torture/<name>
  std::string criteria;  // one line: what must hold for it to pass
  int64_t short_rounds = 0;
  double short_seconds = 0;
  int64_t long_rounds = 0;
  double long_seconds = 0;
  TortureFn fn;
};

// Registration order is link order; the driver sorts by name.
bool Register(TortureInfo info);
const std::vector<TortureInfo>& Registered();

// A status for a broken pass criterion, prefixed with the --seed that replays it:
//   Failure(opts, "partition 3 offset 17: value differs from the one acknowledged")
absl::Status Failure(const Options& opts, std::string_view what);

}  // namespace runnel::torture

#define RUNNEL_TORTURE_CONCAT_(a, b) a##b
#define RUNNEL_TORTURE_CONCAT(a, b) RUNNEL_TORTURE_CONCAT_(a, b)
// RUNNEL_TORTURE({.name = "process-crash", .criteria = "...", ...});
#define RUNNEL_TORTURE(...)                                                        \
  [[maybe_unused]] static const bool RUNNEL_TORTURE_CONCAT(torture_registered_, \
                                                           __LINE__) =            \
      ::runnel::torture::Register(::runnel::torture::TortureInfo __VA_ARGS__)

#endif  // RUNNEL_TEST_TORTURE_TORTURE_H_
