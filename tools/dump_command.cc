// `runnel dump FILE...`: Kafka's kafka-dump-log for runnel's segment files. A .log is
// printed batch by batch (and record by record with --print-data); a .index or .timeindex
// is printed entry by entry and checked against the .log beside it. Damage is printed
// where it is found, with the file and byte position; exit 1 if there was any.
// Read-only: files are opened and mapped for reading and nothing is ever written.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "storage/file_names.h"
#include "tools/commands.h"
#include "tools/segment_checker.h"
#include "util/formatters.h"

namespace runnel::tools {
namespace {

struct DumpOptions {
  std::vector<std::string> files;
  bool print_data = false;
};

// Bytes as text, with anything unprintable (and backslash) escaped as \xNN.
std::string Printable(std::optional<std::string_view> bytes) {
  if (!bytes.has_value()) return "null";
  std::string out;
  out.reserve(bytes->size());
  for (char c : *bytes) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '\\') {
      out += c;
    } else {
      out += fmt::format("\\x{:02x}", u);
    }
  }
  return out;
}

void PrintBatch(const WalkedBatch& b) {
  const format::BatchHeader& h = b.header;
  fmt::print(
      "baseOffset: {} lastOffset: {} count: {} position: {} size: {} crcValid: {} crc: {} "
      "compression: {} timestampType: {} isTransactional: {} isControl: {} producerId: {} "
      "producerEpoch: {} baseSequence: {} partitionLeaderEpoch: {} firstTimestamp: {} "
      "maxTimestamp: {}\n",
      h.base_offset, h.last_offset(), h.record_count, b.position, h.size_in_bytes(), b.crc_valid,
      h.crc, format::CompressionName(h.compression()),
      h.timestamp_type() == format::TimestampType::kCreateTime ? "CreateTime" : "LogAppendTime",
      h.is_transactional(), h.is_control(), h.producer_id, h.producer_epoch, h.base_sequence,
      h.partition_leader_epoch, h.base_timestamp, h.max_timestamp);
}

void PrintRecords(const std::string& path, const WalkedBatch& b, Findings& findings) {
  format::RecordIterator it(b.bytes, b.header);
  format::Record r;
  while (it.Next(&r)) {
    std::string headers;
    for (const format::RecordHeader& h : r.headers) {
      if (!headers.empty()) headers += ", ";
      headers += fmt::format("{}={}", Printable(h.key), Printable(h.value));
    }
    fmt::print("| offset: {} timestamp: {} key: {} value: {} headers: [{}]\n", r.offset,
               r.timestamp, Printable(r.key), Printable(r.value), headers);
  }
  if (it.status().code() == absl::StatusCode::kUnimplemented) {
    fmt::print("| (records not shown: {})\n", it.status().message());
  } else if (!it.status().ok()) {
    findings.Problem(path, b.position, fmt::format("{}", it.status().message()));
  }
}

// Whether `base` is the last segment of the partition directory holding `path`.
bool IsLastSegment(const std::string& path, int64_t base) {
  absl::StatusOr<std::vector<int64_t>> bases = ListLogSegments(io::DirName(path));
  return !bases.ok() || bases->empty() || bases->back() <= base;
}

// Walks the .log beside an index (after the index was read: a live writer publishes log
// bytes before the index entries that point at them). nullopt if there is no such log.
std::optional<SegmentScan> ScanLogBeside(const std::string& index_path, int64_t base,
                                         Findings& findings) {
  const std::string log_path = storage::LogFileName(io::DirName(index_path), base);
  absl::StatusOr<std::unique_ptr<LogFile>> log = LogFile::Open(log_path);
  if (!log.ok()) {
    findings.Problem(index_path, std::nullopt,
                     fmt::format("cannot check the entries against {}: {}", log_path,
                                 log.status().message()));
    return std::nullopt;
  }
  Findings quiet([](const Finding&) {});  // the log's own damage is dump's job for the .log
  return WalkLog(**log, IsLastSegment(log_path, base), quiet);
}

void DumpLog(const std::string& path, int64_t base, const DumpOptions& options,
             Findings& findings) {
  absl::StatusOr<std::unique_ptr<LogFile>> log = LogFile::Open(path);
  if (!log.ok()) {
    findings.Problem(path, std::nullopt, fmt::format("{}", log.status().message()));
    return;
  }
  const SegmentScan scan = WalkLog(**log, IsLastSegment(path, base), findings,
                                   [&](const WalkedBatch& b) {
                                     PrintBatch(b);
                                     if (options.print_data) PrintRecords(path, b, findings);
                                   });
  fmt::print("{}: {} batches ({} valid), {} bytes\n", path, scan.batches.size(),
             scan.valid_batches, (*log)->bytes().size());
}

void DumpOffsetIndex(const std::string& path, int64_t base, Findings& findings) {
  absl::StatusOr<IndexContents<OffsetIndexEntry>> index = ReadOffsetIndex(path, base);
  if (!index.ok()) {
    findings.Problem(path, std::nullopt, fmt::format("{}", index.status().message()));
    return;
  }
  for (const OffsetIndexEntry& e : index->entries) {
    fmt::print("offset: {} position: {}\n", e.offset, e.position);
  }
  if (std::optional<SegmentScan> scan = ScanLogBeside(path, base, findings)) {
    CheckOffsetIndex(path, *index, *scan, findings);
  }
  fmt::print("{}: {} entries, {} unused preallocated slots\n", path, index->entries.size(),
             index->unused_slots);
}

void DumpTimeIndex(const std::string& path, int64_t base, Findings& findings) {
  absl::StatusOr<IndexContents<TimeIndexEntry>> index = ReadTimeIndex(path, base);
  if (!index.ok()) {
    findings.Problem(path, std::nullopt, fmt::format("{}", index.status().message()));
    return;
  }
  for (const TimeIndexEntry& e : index->entries) {
    fmt::print("timestamp: {} offset: {}\n", e.timestamp, e.offset);
  }
  if (std::optional<SegmentScan> scan = ScanLogBeside(path, base, findings)) {
    CheckTimeIndex(path, *index, *scan, findings);
  }
  fmt::print("{}: {} entries, {} unused preallocated slots\n", path, index->entries.size(),
             index->unused_slots);
}

// One line on stderr and false for a file that is missing or not named like a segment file.
bool CheckArgument(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    fmt::print(stderr, "runnel dump: {}: {}\n", path,
               std::filesystem::exists(path, ec) ? "not a regular file" : "no such file");
    return false;
  }
  if (!ParseSegmentFileName(std::filesystem::path(path).filename().string()).has_value()) {
    fmt::print(stderr,
               "runnel dump: {}: not a segment file name (want <20 digits>.log, .index or "
               ".timeindex)\n",
               path);
    return false;
  }
  return true;
}

int RunDump(const DumpOptions& options) {
  for (const std::string& path : options.files) {
    if (!CheckArgument(path)) return kExitUsage;
  }
  Findings findings([](const Finding& f) { fmt::print("{}\n", FormatFinding(f)); });
  for (const std::string& path : options.files) {
    const SegmentFile file = *ParseSegmentFileName(std::filesystem::path(path).filename().string());
    fmt::print("Dumping {}\n", path);
    switch (file.kind) {
      case SegmentFile::Kind::kLog:
        DumpLog(path, file.base_offset, options, findings);
        break;
      case SegmentFile::Kind::kIndex:
        DumpOffsetIndex(path, file.base_offset, findings);
        break;
      case SegmentFile::Kind::kTimeIndex:
        DumpTimeIndex(path, file.base_offset, findings);
        break;
    }
  }
  std::fflush(stdout);
  return findings.problems() > 0 ? kExitFailure : kExitOk;
}

}  // namespace

void AddDumpCommand(CLI::App& app, const GlobalOptions&, int* exit_code) {
  auto options = std::make_shared<DumpOptions>();
  CLI::App* cmd = app.add_subcommand(
      "dump", "Print the batches of segment .log files, or the entries of .index and "
              ".timeindex files checked against their .log (as kafka-dump-log does)");
  cmd->add_option("files", options->files, "segment files: <20 digits>.log, .index, .timeindex")
      ->required();
  cmd->add_flag("--print-data", options->print_data,
                "also print every record: offset, timestamp, key, value and headers");
  cmd->footer(
      "Damage is printed as \"problem: FILE at byte POS: WHY\"; dump goes on from the next valid\n"
      "batch, if there is one. A torn batch at the end of a partition's last segment (what a\n"
      "live writer or a crash leaves) is a note, not a problem. Unprintable bytes of keys and\n"
      "values are shown as \\xNN. Exit 1 if any problem was found. Reads only.\n\n"
      "Example:\n"
      "  runnel dump --print-data data/orders-0/00000000000000000000.log\n"
      "  runnel dump data/orders-0/00000000000000000000.index");
  cmd->callback([options, exit_code] {
    try {
      *exit_code = RunDump(*options);
    } catch (const std::exception& e) {
      fmt::print(stderr, "runnel dump: {}\n", e.what());
      *exit_code = kExitFailure;
    }
  });
}

}  // namespace runnel::tools
