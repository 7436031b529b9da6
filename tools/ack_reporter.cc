#include "tools/ack_reporter.h"

#include <chrono>
#include <set>

#include <fmt/format.h>

#include "tools/partition_sync.h"
#include "tools/tool_util.h"
#include "util/formatters.h"

namespace runnel::tools {

AckReporter::AckReporter(Broker& broker, const Options& options, Output& out)
    : broker_(broker), options_(options), out_(out), thread_([this] { Run(); }) {}

AckReporter::~AckReporter() { Finish(); }

SendCallback AckReporter::Track() {
  int64_t seq;
  {
    std::lock_guard<std::mutex> lock(mu_);
    seq = first_seq_ + static_cast<int64_t>(pending_.size());
    pending_.emplace_back();
  }
  return [this, seq](const absl::StatusOr<RecordMetadata>& result) { Complete(seq, result); };
}

void AckReporter::Complete(int64_t seq, absl::StatusOr<RecordMetadata> result) {
  std::lock_guard<std::mutex> lock(mu_);
  pending_[static_cast<size_t>(seq - first_seq_)] = std::move(result);
  cv_.notify_one();
}

bool AckReporter::Finish() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    finishing_ = true;
    cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
  return !failed_.load();
}

void AckReporter::Run() {
  using Clock = std::chrono::steady_clock;
  const auto interval = std::chrono::milliseconds(options_.interval_ms);
  auto last_sync = Clock::now();
  std::vector<Acked> acked;  // acknowledged, not yet reported
  for (;;) {
    std::vector<std::pair<int64_t, absl::StatusOr<RecordMetadata>>> ready;
    bool done;
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto wake = [this] {
        return (!pending_.empty() && pending_.front().has_value()) ||
               (finishing_ && pending_.empty());
      };
      if (options_.sync == ToolSync::kInterval && !acked.empty()) {
        cv_.wait_until(lock, last_sync + interval, wake);
      } else {
        cv_.wait(lock, wake);
      }
      while (!pending_.empty() && pending_.front().has_value()) {
        ready.emplace_back(first_seq_++, std::move(*pending_.front()));
        pending_.pop_front();
      }
      done = finishing_ && pending_.empty();
    }
    for (auto& [line, result] : ready) {
      if (result.ok()) {
        acked.push_back({line, std::move(*result)});
      } else {
        failed_ = true;
        PrintError(fmt::format("line {}: {}", line, result.status().message()));
      }
    }
    bool due = options_.sync != ToolSync::kInterval || done || Clock::now() - last_sync >= interval;
    if (due && !acked.empty()) {
      Report(acked);
      last_sync = Clock::now();
    }
    if (done) return;
  }
}

void AckReporter::Report(std::vector<Acked>& acked) {
  if (options_.sync != ToolSync::kNone) {
    std::set<TopicPartition> written;
    for (const Acked& a : acked) written.insert({a.metadata.topic, a.metadata.partition});
    for (const TopicPartition& tp : written) {
      absl::Status synced = SyncPartition(broker_, tp);
      if (!synced.ok()) {
        failed_ = true;
        PrintError(fmt::format("fsync of {}-{}: {}", tp.topic, tp.partition, synced.message()));
        acked.clear();
        return;
      }
    }
  }
  if (options_.print_offsets) {
    for (const Acked& a : acked) {
      out_.Write(fmt::format("{} {}\n", a.metadata.partition, a.metadata.offset));
    }
    if (!out_.Flush()) failed_ = true;  // the supervisor reading the offsets has gone
  }
  acked.clear();
}

}  // namespace runnel::tools
