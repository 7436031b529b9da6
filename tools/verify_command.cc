// `runnel verify`: checks every batch (length, magic, CRC32C) and every index of every
// partition of a data directory, __consumer_offsets included, and the topic table. Each
// problem is one line naming the file and byte position; a summary line ends the output.
// Read-only and lock-free, so it can run beside the process that owns the directory.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "broker/topic_metadata.h"
#include "storage/checkpoint.h"
#include "storage/file_names.h"
#include "tools/commands.h"
#include "tools/segment_checker.h"
#include "util/formatters.h"

namespace runnel::tools {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kConsumerOffsetsTopic = "__consumer_offsets";

struct Totals {
  int partitions = 0;
  int segments = 0;
  int64_t batches = 0;
};

// "<topic>-<digits>", the shape of a partition directory's name.
bool IsPartitionDirName(const std::string& name) {
  const size_t dash = name.rfind('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == name.size()) return false;
  return std::all_of(name.begin() + static_cast<ptrdiff_t>(dash) + 1, name.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

// Reads the segment's indexes first, then its log: a live writer publishes log bytes
// before the index entries that point at them, so every entry read points at bytes the
// log snapshot holds.
// `last`: the partition's last segment, whose torn tail is a note. `closed_end`: the log
// end a clean shutdown recorded in the partition's checkpoint, if it did; then nothing
// may be torn, and the last segment must end there.
void VerifySegment(const std::string& dir, int64_t base, bool last,
                   std::optional<int64_t> closed_end, Findings& findings, Totals& totals) {
  const std::string index_path = storage::IndexFileName(dir, base);
  const std::string time_path = storage::TimeIndexFileName(dir, base);
  absl::StatusOr<IndexContents<OffsetIndexEntry>> index = ReadOffsetIndex(index_path, base);
  absl::StatusOr<IndexContents<TimeIndexEntry>> times = ReadTimeIndex(time_path, base);
  const std::string log_path = storage::LogFileName(dir, base);
  absl::StatusOr<std::unique_ptr<LogFile>> log = LogFile::Open(log_path);
  if (!log.ok()) {
    if (absl::IsNotFound(log.status())) {
      findings.Note(log_path, std::nullopt, "removed while verifying (retention?)");
    } else {
      findings.Problem(log_path, std::nullopt, fmt::format("{}", log.status().message()));
    }
    return;
  }
  ++totals.segments;
  const SegmentScan scan = WalkLog(**log, last && !closed_end, findings);
  totals.batches += static_cast<int64_t>(scan.batches.size());
  if (last && closed_end) {
    const int64_t end = scan.batches.empty() ? base : scan.batches.back().header.next_offset();
    if (end < *closed_end) {
      findings.Problem(log_path, (*log)->bytes().size(),
                       fmt::format("the log ends at offset {}, but it ended at {} when it was "
                                   "closed cleanly (runnel-partition.checkpoint): its end is "
                                   "missing",
                                   end, *closed_end));
    }
  }
  auto unreadable = [&](const std::string& path, const absl::Status& s) {
    if (absl::IsNotFound(s)) {
      findings.Note(path, std::nullopt, "missing (derived data: the owner rebuilds it on open)");
    } else {
      findings.Problem(path, std::nullopt, fmt::format("{}", s.message()));
    }
  };
  if (index.ok()) {
    CheckOffsetIndex(index_path, *index, scan, findings);
  } else {
    unreadable(index_path, index.status());
  }
  if (times.ok()) {
    CheckTimeIndex(time_path, *times, scan, findings);
  } else {
    unreadable(time_path, times.status());
  }
}

void VerifyPartition(const std::string& dir, Findings& findings, Totals& totals) {
  absl::StatusOr<std::vector<std::string>> names = io::PosixEnv()->ListDir(dir);
  if (!names.ok()) {
    findings.Problem(dir, std::nullopt, fmt::format("{}", names.status().message()));
    return;
  }
  ++totals.partitions;
  std::set<int64_t> logs, indexes;
  for (const std::string& name : *names) {
    if (std::optional<SegmentFile> f = ParseSegmentFileName(name)) {
      (f->kind == SegmentFile::Kind::kLog ? logs : indexes).insert(f->base_offset);
    } else if (name.ends_with(storage::kCorruptSuffix)) {
      findings.Note(io::JoinPath(dir, name), std::nullopt,
                    "a damaged segment file recovery moved aside; not checked");
    }
  }
  for (int64_t base : indexes) {
    if (!logs.contains(base)) {
      findings.Note(dir, std::nullopt,
                    fmt::format("index files of segment {} but no .log (left by a removal?)",
                                storage::OffsetFileStem(base)));
    }
  }
  // A partition closed cleanly has no torn tail: a live owner or a crash leaves the
  // checkpoint saying unclean. A damaged checkpoint is not checked here: recovery only
  // scans more when it is.
  std::optional<int64_t> closed_end;
  absl::StatusOr<storage::PartitionCheckpoint> cp = storage::ReadCheckpoint(io::PosixEnv(), dir);
  if (cp.ok() && cp->clean_shutdown) closed_end = cp->recovery_point;
  for (auto it = logs.begin(); it != logs.end(); ++it) {
    VerifySegment(dir, *it, std::next(it) == logs.end(), closed_end, findings, totals);
  }
}

// The topic table, and partitions it lists without a directory (and the reverse).
void CheckTopicTable(const std::string& dir, const std::vector<std::string>& partition_dirs,
                     Findings& findings) {
  const std::string path = io::JoinPath(dir, std::string(internal::kTopicsFileName));
  absl::StatusOr<internal::TopicTable> table = internal::ReadTopicTable(io::PosixEnv(), dir);
  if (!table.ok()) {
    findings.Problem(path, std::nullopt, fmt::format("{}", table.status().message()));
    return;
  }
  std::set<std::string> listed;
  for (const auto& [topic, entry] : *table) {
    for (int32_t p = 0; p < entry.partitions; ++p) listed.insert(fmt::format("{}-{}", topic, p));
  }
  const std::set<std::string> present(partition_dirs.begin(), partition_dirs.end());
  for (const std::string& name : listed) {
    if (!present.contains(name)) {
      findings.Problem(io::JoinPath(dir, name), std::nullopt,
                       fmt::format("the topic table lists this partition but its directory is "
                                   "missing"));
    }
  }
  for (const std::string& name : present) {
    if (!listed.contains(name) && !name.starts_with(std::string(kConsumerOffsetsTopic) + "-")) {
      findings.Note(io::JoinPath(dir, name), std::nullopt,
                    "not in the topic table (a topic being created or deleted?); checked anyway");
    }
  }
}

int RunVerify(const std::string& dir) {
  if (dir.empty()) {
    fmt::print(stderr, "runnel verify: no data directory: give --dir or set RUNNEL_DIR\n");
    return kExitUsage;
  }
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    fmt::print(stderr, "runnel verify: data directory {}: {}\n", dir,
               fs::exists(dir, ec) ? "not a directory" : "no such directory");
    return kExitUsage;
  }
  absl::StatusOr<std::vector<std::string>> names = io::PosixEnv()->ListDir(dir);
  if (!names.ok()) {
    fmt::print(stderr, "runnel verify: {}\n", names.status().message());
    return kExitFailure;
  }
  std::vector<std::string> partition_dirs;
  for (const std::string& name : *names) {
    if (IsPartitionDirName(name) && fs::is_directory(io::JoinPath(dir, name), ec)) {
      partition_dirs.push_back(name);
    }
  }
  std::sort(partition_dirs.begin(), partition_dirs.end());
  Findings findings([](const Finding& f) {
    fmt::print("{}\n", FormatFinding(f));
    std::fflush(stdout);
  });
  CheckTopicTable(dir, partition_dirs, findings);
  Totals totals;
  for (const std::string& name : partition_dirs) {
    VerifyPartition(io::JoinPath(dir, name), findings, totals);
  }
  fmt::print("verified {}: {} partitions, {} segments, {} batches checked: {} problems, {} notes\n",
             dir, totals.partitions, totals.segments, totals.batches, findings.problems(),
             findings.notes());
  std::fflush(stdout);
  return findings.problems() > 0 ? kExitFailure : kExitOk;
}

}  // namespace

void AddVerifyCommand(CLI::App& app, const GlobalOptions& global, int* exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "verify", "Check every batch CRC and every index of every partition of the data directory");
  cmd->footer(
      "The data directory is the global --dir (or $RUNNEL_DIR). Checks the topic table, then\n"
      "in every partition directory (__consumer_offsets too) each segment:\n"
      "every batch's length, magic and CRC32C, and the .index and .timeindex entries\n"
      "against the batches they name. Each problem is one line, \"problem: FILE at byte POS:\n"
      "WHY\"; a summary line ends the output. Exit 1 if there was any problem, else 0.\n\n"
      "A torn (incomplete) batch at the very end of a partition's last segment is what a live\n"
      "writer or a crash leaves: it is reported as a note, not a problem, and does not fail\n"
      "the run; unless the partition's checkpoint says it was closed cleanly: then a torn\n"
      "tail, or a log that ends before the offset recorded at close, is a problem. verify only\n"
      "reads: it takes no lock and writes nothing, so it can run while another process owns\n"
      "the directory.\n\n"
      "Example:\n"
      "  runnel --dir /var/lib/myapp/log verify");
  cmd->callback([&global, exit_code] {
    try {
      *exit_code = RunVerify(global.dir);
    } catch (const std::exception& e) {
      fmt::print(stderr, "runnel verify: {}\n", e.what());
      *exit_code = kExitFailure;
    }
  });
}

}  // namespace runnel::tools
