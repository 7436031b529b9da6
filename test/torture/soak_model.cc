#include "torture/soak_model.h"

#include "torture/payload.h"
#include "util/formatters.h"

namespace runnel::torture::soak {

std::optional<std::string> ModelValue(uint64_t seed, const ModelRecord& r) {
  if (r.null_value) return std::nullopt;
  return MakeValue(seed, r.stream, r.seq, r.size);
}

std::vector<std::pair<std::string, std::optional<std::string>>> ModelHeaders(const ModelRecord& r) {
  std::vector<std::pair<std::string, std::optional<std::string>>> out;
  for (int j = 0; j < r.headers; ++j) {
    out.emplace_back(
        fmt::format("h{}", j),
        j == 1 ? std::nullopt : std::optional<std::string>(fmt::format("{}/{}", r.seq, j)));
  }
  return out;
}

namespace {

std::string Show(const std::optional<std::string_view>& s) {
  if (!s) return "null";
  if (s->size() > 40) return fmt::format("{} bytes", s->size());
  return fmt::format("\"{}\"", *s);
}

}  // namespace

std::string CompareRecord(uint64_t seed, const ModelRecord& want, const ConsumerRecord& got) {
  std::optional<std::string_view> want_key;
  if (want.key) want_key = *want.key;
  if (got.key != want_key) {
    return fmt::format("key is {}, expected {}", Show(got.key), Show(want_key));
  }
  const std::optional<std::string> value = ModelValue(seed, want);
  std::optional<std::string_view> want_value;
  if (value) want_value = *value;
  if (got.value != want_value) {
    std::string what = fmt::format("value is {}, expected {} (stream {} seq {})", Show(got.value),
                                   Show(want_value), want.stream, want.seq);
    if (got.value) {
      auto id = ParseValue(*got.value);
      what += id.ok() ? fmt::format("; the value read is stream {} seq {}", id->stream, id->seq)
                      : fmt::format("; the value read is damaged: {}", id.status().message());
    }
    return what;
  }
  if (got.timestamp != want.timestamp) {
    return fmt::format("timestamp is {}, expected {}", got.timestamp, want.timestamp);
  }
  const auto headers = ModelHeaders(want);
  if (got.headers.size() != headers.size()) {
    return fmt::format("{} headers, expected {}", got.headers.size(), headers.size());
  }
  for (size_t j = 0; j < headers.size(); ++j) {
    std::optional<std::string_view> hv;
    if (headers[j].second) hv = *headers[j].second;
    if (got.headers[j].key != headers[j].first || got.headers[j].value != hv) {
      return fmt::format("header {} is {}={}, expected {}={}", j, got.headers[j].key,
                         Show(got.headers[j].value), headers[j].first, Show(hv));
    }
  }
  return "";
}

void PartitionModel::TrimTo(int64_t start) {
  while (log_start < start && !records.empty()) {
    records.pop_front();
    ++log_start;
  }
  log_start = start;
  durable_end = std::max(durable_end, start);
}

void PartitionModel::TruncateEnd(int64_t end) {
  while (this->end() > end) records.pop_back();
  durable_end = std::min(durable_end, end);
}

std::string_view SyncPolicyText(SyncPolicy sync) {
  switch (sync) {
    case SyncPolicy::kNone:
      return "none";
    case SyncPolicy::kInterval:
      return "interval";
    case SyncPolicy::kAlways:
      return "always";
  }
  return "?";
}

std::string Name(const TopicPartition& tp) { return fmt::format("{}-{}", tp.topic, tp.partition); }

PartitionModel& Model::partition(const TopicPartition& tp) {
  return topics.at(tp.topic).partitions.at(static_cast<size_t>(tp.partition));
}

const PartitionModel& Model::partition(const TopicPartition& tp) const {
  return topics.at(tp.topic).partitions.at(static_cast<size_t>(tp.partition));
}

bool Model::has(const TopicPartition& tp) const {
  auto it = topics.find(tp.topic);
  return it != topics.end() && tp.partition >= 0 &&
         static_cast<size_t>(tp.partition) < it->second.partitions.size();
}

std::vector<TopicPartition> Model::PartitionsOf(const std::vector<std::string>& names) const {
  std::vector<TopicPartition> out;
  for (const std::string& name : names) {
    auto it = topics.find(name);
    if (it == topics.end()) continue;
    for (size_t p = 0; p < it->second.partitions.size(); ++p) {
      out.push_back({name, static_cast<int32_t>(p)});
    }
  }
  return out;
}

std::vector<TopicPartition> Model::AllPartitions() const {
  std::vector<std::string> names;
  for (const auto& [name, t] : topics) names.push_back(name);
  return PartitionsOf(names);
}

std::optional<int64_t> Model::Committed(const std::string& group, const TopicPartition& tp) const {
  auto g = committed.find(group);
  if (g == committed.end()) return std::nullopt;
  auto it = g->second.find(tp);
  if (it == g->second.end()) return std::nullopt;
  return it->second;
}

void ModelPositions::OnReset(const Model& model, const TopicPartition& tp, int64_t from, int64_t to,
                             std::string_view reason) {
  ++resets;
  if (!problem.empty()) return;
  auto it = pos.find(tp);
  if (it == pos.end()) {
    problem = fmt::format("reset of partition {} ({}), which is not assigned", Name(tp), reason);
    return;
  }
  const PartitionModel& p = model.partition(tp);
  const int64_t expected_from = it->second.value_or(-1);
  if (from != expected_from) {
    problem = fmt::format("partition {} reset from position {}, expected from {} ({})", Name(tp),
                          from, expected_from, reason);
  } else if (it->second && *it->second >= p.log_start && *it->second <= p.end()) {
    problem = fmt::format("partition {} reset from position {}, inside the log [{}, {}] ({})",
                          Name(tp), from, p.log_start, p.end(), reason);
  } else if (to != p.log_start) {
    problem = fmt::format("partition {} reset to {}, expected the log start {} ({})", Name(tp), to,
                          p.log_start, reason);
  }
  it->second = to;
}

}  // namespace runnel::torture::soak
