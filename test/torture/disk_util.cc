#include "torture/disk_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>

#include "runnel/consumer.h"
#include "torture/payload.h"
#include "util/formatters.h"


namespace runnel::torture::disk {
namespace {

namespace fs = std::filesystem;

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "<20 digits><suffix>"
bool IsOffsetFile(const std::string& name, std::string_view suffix) {
  if (name.size() != 20 + suffix.size() || !EndsWith(name, suffix)) return false;
  for (size_t i = 0; i < 20; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
  }
  return true;
}

void ReadPartition(Consumer& consumer, const TopicPartition& tp, bool keep_values,
                   PartitionRead& out) {
  auto fail = [&](const absl::Status& s) { out.error = s; };
  if (absl::Status s = consumer.Assign({tp}); !s.ok()) return fail(s);
  auto ends = consumer.EndOffsets({tp});
  if (!ends.ok()) return fail(ends.status());
  out.end_offset = ends->at(tp);
  auto starts = consumer.BeginningOffsets({tp});
  if (!starts.ok()) return fail(starts.status());
  out.log_start = starts->at(tp);
  if (absl::Status s = consumer.SeekToBeginning({tp}); !s.ok()) return fail(s);
  int idle = 0;
  while (true) {
    absl::StatusOr<int64_t> pos = consumer.Position(tp);
    if (!pos.ok()) return fail(pos.status());
    if (*pos >= out.end_offset) return;
    absl::StatusOr<std::span<const ConsumerRecord>> polled = consumer.Poll(std::chrono::milliseconds(20));
    if (!polled.ok()) return fail(polled.status());
    if (polled->empty()) {
      // Position below the end offset and nothing comes: a reader that stalls is an error
      // too (records it cannot get past, with no status saying why).
      if (++idle > 100) {
        return fail(absl::DataLossError(fmt::format(
            "partition {}-{}: no record comes at position {} below the end offset {}", tp.topic,
            tp.partition, *pos, out.end_offset)));
      }
      continue;
    }
    idle = 0;
    for (const ConsumerRecord& r : *polled) {
      ReadBack b;
      b.offset = r.offset;
      b.digest = RecordDigest(r.key, r.value);
      if (r.value.has_value()) {
        absl::StatusOr<PayloadId> id = ParseValue(*r.value);
        if (id.ok()) {
          b.parses = true;
          b.stream = id->stream;
          b.seq = id->seq;
        }
        if (keep_values) b.value = std::string(*r.value);
      }
      out.records.push_back(std::move(b));
    }
  }
}

}  // namespace

std::map<int32_t, PartitionRead> ReadTopic(Broker& broker, const std::string& topic,
                                           int32_t partitions, bool keep_values) {
  std::map<int32_t, PartitionRead> reads;
  for (int32_t p = 0; p < partitions; ++p) {
    PartitionRead& out = reads[p];
    // A consumer per partition: an error on one leaves the next unaffected.
    auto consumer = Consumer::Create(broker, {.enable_auto_commit = false,
                                              .auto_offset_reset = OffsetReset::kNone,
                                              .fetch_max_wait_ms = 0});
    if (!consumer.ok()) {
      out.error = consumer.status();
      continue;
    }
    ReadPartition(**consumer, TopicPartition{topic, p}, keep_values, out);
    (*consumer)->Close().IgnoreError();
  }
  return reads;
}

std::vector<std::string> StrayFiles(const std::string& dir) {
  std::vector<std::string> stray;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory()) {
      for (const auto& f : fs::directory_iterator(entry.path(), ec)) {
        const std::string n = f.path().filename().string();
        const bool kept = IsOffsetFile(n, ".log") || IsOffsetFile(n, ".index") ||
                          IsOffsetFile(n, ".timeindex") || n == "runnel-partition.checkpoint";
        if (!kept || f.is_directory()) stray.push_back(name + "/" + n);
      }
    } else if (name != ".lock" && name != "runnel-topics.meta") {
      stray.push_back(name);
    }
  }
  if (ec) stray.push_back(fmt::format("(listing {} failed: {})", dir, ec.message()));
  return stray;
}

std::vector<VerifyProblem> VerifyProblems(const std::string& output) {
  std::vector<VerifyProblem> problems;
  std::istringstream in(output);
  std::string line;
  constexpr std::string_view kPrefix = "problem: ";
  while (std::getline(in, line)) {
    if (line.rfind(kPrefix, 0) != 0) continue;
    VerifyProblem p;
    p.line = line;
    const std::string rest = line.substr(kPrefix.size());
    // "FILE at byte POS: WHY" or "FILE: WHY"; FILE holds no ": " in our directories.
    const size_t at = rest.find(" at byte ");
    const size_t colon = rest.find(": ");
    if (at != std::string::npos && (colon == std::string::npos || at < colon)) {
      p.file = rest.substr(0, at);
      p.position = std::stoull(rest.substr(at + 9));
    } else {
      p.file = rest.substr(0, colon);
    }
    problems.push_back(std::move(p));
  }
  return problems;
}

}  // namespace runnel::torture::disk
