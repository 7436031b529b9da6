// soak: a long randomized workload checked step by step against a simple in-memory model.
//
// Pass criteria: one broker, driven from one thread by operations chosen at random (with
// weights) from the seed — produce (one record by SendSync, or a burst by Send + Flush;
// keyed records whose partition must be Kafka's murmur2 of the key, or explicit
// partitions; self-checking values from payload.h with headers and timestamps), consume
// (an Assign-ed Consumer polls, and every record must be the model's at exactly the
// expected offset: key, value, headers, timestamp; a Poll may not come back empty while
// records are due), seek (Seek within [log start, end], SeekToBeginning/End,
// OffsetsForTimes: the first record at or after the time), commit (CommitSync from outside
// a group and by group members; Committed() and GroupAdmin::DescribeGroup must then show
// exactly the model's offsets), group joins and leaves (Subscribe-d members, each polled
// in turn: no partition is ever owned by two; once settled the assignment is a partition
// of all subscribed partitions, no overlap and no gap; a member starts a partition at its
// committed offset), rolls (small segment.bytes, segment.ms, explicit Roll), retention,
// topic creation and added partitions, and crashes: a clean Close and reopen (nothing may
// change), or a power cut (FaultEnv: dead after a random number of writes during a burst
// of produces, commits and rolls, then PowerCut) after which every record acknowledged
// under sync.policy always is still there, every partition's log is a gap-free prefix of
// what was sent with at least what was on disk at the last open, and each group's
// committed offsets are those of its last acknowledged commit or of the one attempted
// after it. Retention runs when the soak calls PartitionLog::EnforceRetention (the
// broker's own check interval is a day) under a clock only the soak moves: the log start
// only moves forward, to a segment boundary, never past the end; retention.ms deletes
// exactly the segments whose newest record expired; retention.bytes deletes only while
// what stays is at least that large, and stops once one segment fewer would be less.
//
// Any difference fails the run, naming the operation's index, the operation, and the
// topic, partition and offset with the expected and actual values; the seed replays it
// (--seed; --rounds N stops after N operations). Rounds are operations. Replays are the
// same operation for operation; only where a power cut tears a file can differ, as the
// producer's sender thread may write a Flush's batches in one write or several.
#include <algorithm>
#include <filesystem>
#include <mutex>

#include "broker/broker_core.h"
#include "runnel/partitioner.h"
#include "torture/payload.h"
#include "torture/soak_harness.h"
#include "util/formatters.h"
#include "util/status_macros.h"

namespace runnel::torture::soak {
namespace {

using namespace std::chrono_literals;

absl::Status RunSoak(const Options& opts, Stats& stats) {
  Soak soak(opts, stats);
  return soak.Run();
}

// Segment base offsets of a partition directory, from its *.log file names.
std::vector<int64_t> SegmentBases(const std::string& dir) {
  std::vector<int64_t> bases;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() == 24 && name.ends_with(".log"))
      bases.push_back(std::stoll(name.substr(0, 20)));
  }
  std::sort(bases.begin(), bases.end());
  return bases;
}

}  // namespace

Soak::Soak(const Options& opts, Stats& stats)
    : opts_(opts),
      stats_(stats),
      rng_(opts.seed),
      dir_(opts.dir + "/data"),
      clock_(io::PosixEnv(), io::PosixEnv()->NowMillis()),
      env_(&clock_) {
  broker_options_.log_retention_check_interval_ms = 24 * 3600 * 1000;  // the soak runs it
  broker_options_.offsets_topic_segment_bytes = 4096;  // __consumer_offsets compacts often
  broker_options_.default_topic_config.sync_policy = SyncPolicy::kAlways;  // commits durable
  broker_options_.default_topic_config.segment_index_bytes = 4096;
}

Soak::~Soak() { DropAll(); }

absl::Status Soak::Fail(std::string_view what) const {
  return Failure(opts_, fmt::format("op {} ({}): {}", op_, op_name_, what));
}

absl::Status Soak::Check(const absl::Status& st, std::string_view doing) const {
  if (st.ok()) return st;
  return Fail(fmt::format("{} failed: {}", doing, st.ToString()));
}

std::string Soak::PartitionDir(const TopicPartition& tp) const {
  return fmt::format("{}/{}-{}", dir_, tp.topic, tp.partition);
}

std::vector<std::string> Soak::GroupTopics() const {
  return {"aged", "always", "none", "retained"};
}

std::string Soak::RandomTopic() {
  auto it = model_.topics.begin();
  std::advance(it, static_cast<long>(rng_() % model_.topics.size()));
  return it->first;
}

TopicPartition Soak::RandomPartition() {
  const std::string topic = RandomTopic();
  const size_t n = model_.topics[topic].partitions.size();
  return {topic, static_cast<int32_t>(rng_() % n)};
}

absl::Status Soak::Run() {
  auto config = [&](SyncPolicy sync, int64_t segment_bytes) {
    TopicConfig c;
    c.sync_policy = sync;
    c.segment_bytes = segment_bytes;
    c.segment_index_bytes = 4096;  // FaultEnv keeps mapping snapshots in memory
    c.index_interval_bytes = 256 + static_cast<int32_t>(rng_() % 2048);
    // Bounds what a long run keeps (and the files it holds open); small topics get less.
    c.retention_bytes = 128 * 1024;
    return c;
  };
  auto random_sync = [&] { return static_cast<SyncPolicy>(rng_() % 3); };
  std::vector<std::pair<std::string, std::pair<int32_t, TopicConfig>>> initial;
  initial.push_back({"always", {2, config(SyncPolicy::kAlways, 4096)}});
  initial.push_back({"none", {3, config(SyncPolicy::kNone, 8192)}});
  TopicConfig interval = config(SyncPolicy::kInterval, 6000);
  interval.flush_messages = 5;
  interval.segment_ms = 400;  // by the soak's clock
  initial.push_back({"interval", {1, interval}});
  TopicConfig retained = config(random_sync(), 2048);
  retained.retention_bytes = 6000;
  initial.push_back({"retained", {2, retained}});
  TopicConfig aged = config(random_sync(), 4096);
  aged.segment_ms = 500;
  aged.retention_ms = 3000;
  aged.retention_bytes = -1;  // retention.ms alone: the soak predicts its deletions exactly
  initial.push_back({"aged", {1, aged}});

  RUNNEL_RETURN_IF_ERROR(OpenBroker());
  for (auto& [name, spec] : initial) {
    RUNNEL_RETURN_IF_ERROR(Check(broker_->CreateTopic(name, spec.first, spec.second),
                                 fmt::format("CreateTopic {}", name)));
    TopicModel t;
    t.name = name;
    t.config = spec.second;
    t.stream = static_cast<uint32_t>(model_.topics.size());
    t.partitions.resize(static_cast<size_t>(spec.first));
    model_.topics[name] = std::move(t);
  }
  RUNNEL_RETURN_IF_ERROR(OpenClients());
  for (int i = 0; i < target_members_; ++i) RUNNEL_RETURN_IF_ERROR(AddMember());
  RUNNEL_RETURN_IF_ERROR(Settle());

  const auto start = Clock::now();
  const double reserve = std::min(6.0, opts_.seconds * 0.1);  // for the final check
  const auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(
                  std::chrono::duration<double>(std::max(0.5, opts_.seconds - reserve)));
  struct Op {
    int weight;
    absl::Status (Soak::*fn)();
  };
  const Op ops[] = {
      {330, &Soak::Produce},   {170, &Soak::Consume},    {70, &Soak::SeekOp},
      {120, &Soak::GroupPoll}, {30, &Soak::JoinOrLeave}, {60, &Soak::Retention},
      {40, &Soak::RollOp},     {15, &Soak::AdminOp},     {8, &Soak::CleanReopen},
      {10, &Soak::PowerCut},
  };
  // Commits take arguments (the crash burst uses them too): two slots of their own.
  const int commit_weight = 60;
  int total = 2 * commit_weight;
  for (const Op& op : ops) total += op.weight;
  while (Clock::now() < deadline && (opts_.rounds <= 0 || op_ < opts_.rounds)) {
    ++op_;
    stats_.rounds = op_;
    clock_.Advance(1 + static_cast<int64_t>(rng_() % 20));
    int pick = static_cast<int>(rng_() % static_cast<uint64_t>(total));
    absl::Status st;
    bool done = false;
    for (const Op& op : ops) {
      if (pick < op.weight) {
        st = (this->*op.fn)();
        done = true;
        break;
      }
      pick -= op.weight;
    }
    if (!done) {
      bool acked = false;
      std::map<TopicPartition, int64_t> offsets;
      st = pick < commit_weight ? SoloCommit(false, &offsets, &acked)
                                : MemberCommit(false, &offsets, &acked);
    }
    if (!st.ok()) return st;
    if (opts_.verbose && op_ % 1000 == 0) {
      fmt::print("soak: op {}, {} acked, {} verified\n", op_, stats_.acked, stats_.verified);
    }
  }
  op_name_ = "final check";
  RUNNEL_RETURN_IF_ERROR(VerifyAll());
  return CloseAll();
}

// ---- produce ---------------------------------------------------------------------------

Sent Soak::NextRecord(const std::string& topic) {
  TopicModel& t = model_.topics.at(topic);
  const int32_t n = static_cast<int32_t>(t.partitions.size());
  Sent s;
  ModelRecord& r = s.record;
  r.stream = t.stream;
  r.seq = next_seq_++;
  // A record must fit in a segment: at most half of segment.bytes.
  const size_t max = std::min<size_t>(3000, static_cast<size_t>(t.config.segment_bytes / 2));
  r.size = static_cast<uint32_t>(DrawSize(rng_, kPayloadHeaderBytes, max));
  r.null_value = rng_() % 32 == 0;
  r.headers = static_cast<uint8_t>(rng_() % 3);
  r.timestamp = clock_.NowMillis();
  s.tp.topic = topic;
  switch (rng_() % 4) {
    case 0:  // null key, explicit partition
      s.tp.partition = static_cast<int32_t>(rng_() % static_cast<uint64_t>(n));
      break;
    case 1:  // its own key, explicit partition
      r.key = MakeKey(r.stream, r.seq);
      s.tp.partition = static_cast<int32_t>(rng_() % static_cast<uint64_t>(n));
      break;
    default:  // a key shared with other records, partitioned by the key (marked by -1)
      r.key = fmt::format("k{}", rng_() % 50);
      s.tp.partition = -1 - KeyPartition(*r.key, n);
      break;
  }
  return s;
}

absl::Status Soak::Produce() {
  op_name_ = "produce";
  const std::string topic = RandomTopic();
  const bool sync = rng_() % 3 == 0;
  const int n = sync ? 1 : 1 + static_cast<int>(rng_() % 20);
  std::vector<Sent> sends;
  for (int i = 0; i < n; ++i) sends.push_back(NextRecord(topic));
  return ProduceBatch(sends, sync, nullptr, false);
}

absl::Status Soak::ProduceBatch(std::vector<Sent>& sends, bool sync, std::vector<bool>* acked,
                                bool crashing) {
  std::mutex mu;
  std::vector<std::optional<absl::StatusOr<RecordMetadata>>> results(sends.size());
  absl::Status send_error;
  for (size_t i = 0; i < sends.size(); ++i) {
    Sent& s = sends[i];
    const ModelRecord& r = s.record;
    const bool by_key = s.tp.partition < 0;
    const std::optional<std::string> value = ModelValue(opts_.seed, r);
    const auto hs = ModelHeaders(r);
    std::vector<Header> headers;
    for (const auto& [k, v] : hs) {
      headers.push_back(Header{k, v ? std::optional<std::string_view>(*v) : std::nullopt});
    }
    ProducerRecord pr;
    pr.topic = s.tp.topic;
    if (!by_key) pr.partition = s.tp.partition;
    if (r.key) pr.key = *r.key;
    if (value) pr.value = *value;
    pr.headers = headers;
    pr.timestamp = r.timestamp;
    if (by_key) s.tp.partition = -1 - s.tp.partition;
    if (sync) {
      results[i] = producer_->SendSync(pr);
      continue;
    }
    const absl::Status st =
        producer_->Send(pr, [&results, &mu, i](const absl::StatusOr<RecordMetadata>& md) {
          std::lock_guard<std::mutex> lock(mu);
          results[i] = md;
        });
    if (!st.ok() && !crashing && send_error.ok()) {
      send_error = Check(st, fmt::format("Send to {}", Name(s.tp)));
    }
  }
  if (!sync) {
    // Also after a failed Send: the callbacks point into this frame.
    const absl::Status st = producer_->Flush();
    RUNNEL_RETURN_IF_ERROR(send_error);
    if (!crashing) RUNNEL_RETURN_IF_ERROR(Check(st, "Flush"));
  }
  std::lock_guard<std::mutex> lock(mu);
  std::map<TopicPartition, int64_t> next;  // the offset each partition's next record gets
  for (size_t i = 0; i < sends.size(); ++i) {
    const Sent& s = sends[i];
    if (!results[i]) {
      return Fail(fmt::format("the callback of record {} of {} sent to {} never fired", i,
                              sends.size(), Name(s.tp)));
    }
    const absl::StatusOr<RecordMetadata>& md = *results[i];
    if (crashing) {
      acked->push_back(md.ok());
      if (md.ok()) ++stats_.acked;
      continue;
    }
    if (!md.ok()) {
      return Fail(fmt::format("sending record {} of {} to {} failed: {}", i, sends.size(),
                              Name(s.tp), md.status().ToString()));
    }
    PartitionModel& p = model_.partition(s.tp);
    auto [it, fresh] = next.emplace(s.tp, p.end());
    if (md->topic != s.tp.topic || md->partition != s.tp.partition || md->offset != it->second) {
      return Fail(fmt::format(
          "record {} of {} (key {}) landed in {}-{} at offset {}, expected {} at offset {}", i,
          sends.size(), s.record.key.value_or("null"), md->topic, md->partition, md->offset,
          Name(s.tp), it->second));
    }
    if (md->timestamp != s.record.timestamp) {
      return Fail(fmt::format("{} offset {}: acknowledged timestamp {}, sent {}", Name(s.tp),
                              md->offset, md->timestamp, s.record.timestamp));
    }
    ++it->second;
    p.records.push_back(s.record);
    ++stats_.acked;
  }
  return absl::OkStatus();
}

// ---- consume and seek ------------------------------------------------------------------

absl::Status Soak::CheckPolled(std::string_view who, ModelPositions& positions,
                               std::span<const ConsumerRecord> records, bool require_progress) {
  if (!positions.problem.empty()) return Fail(fmt::format("{}: {}", who, positions.problem));
  for (const ConsumerRecord& r : records) {
    const TopicPartition tp{std::string(r.topic), r.partition};
    auto it = positions.pos.find(tp);
    if (it == positions.pos.end()) {
      return Fail(fmt::format("{} got offset {} of partition {}, which is not assigned to it", who,
                              r.offset, Name(tp)));
    }
    if (!it->second) {
      return Fail(
          fmt::format("{} got offset {} of {} before it had a position", who, r.offset, Name(tp)));
    }
    if (r.offset != *it->second) {
      return Fail(fmt::format("{} got offset {} of {} where offset {} was due", who, r.offset,
                              Name(tp), *it->second));
    }
    const PartitionModel& p = model_.partition(tp);
    if (r.offset < p.log_start || r.offset >= p.end()) {
      ++stats_.corrupt;
      return Fail(fmt::format("{} got offset {} of {}, outside the log [{}, {}) the model holds",
                              who, r.offset, Name(tp), p.log_start, p.end()));
    }
    const std::string diff = CompareRecord(opts_.seed, p.at(r.offset), r);
    if (!diff.empty()) {
      ++stats_.corrupt;
      return Fail(fmt::format("{}: {} offset {}: {}", who, Name(tp), r.offset, diff));
    }
    it->second = r.offset + 1;
    ++stats_.verified;
  }
  if (require_progress && records.empty()) {
    for (const auto& [tp, pos] : positions.pos) {
      const PartitionModel& p = model_.partition(tp);
      const int64_t from = pos && *pos >= p.log_start && *pos <= p.end() ? *pos : p.log_start;
      if (from < p.end()) {
        return Fail(fmt::format("{}: Poll returned nothing though {} holds offsets [{}, {})", who,
                                Name(tp), from, p.end()));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Soak::Consume() {
  op_name_ = "consume";
  if (reader_positions_.pos.empty() || rng_() % 3 == 0) {
    std::vector<TopicPartition> assign;
    for (const TopicPartition& tp : model_.AllPartitions()) {
      if (rng_() % 3 == 0) assign.push_back(tp);
    }
    if (assign.empty()) assign.push_back(RandomPartition());
    RUNNEL_RETURN_IF_ERROR(Check(reader_->Assign(assign), "Assign"));
    std::map<TopicPartition, std::optional<int64_t>> next;
    for (const TopicPartition& tp : assign) {
      auto it = reader_positions_.pos.find(tp);
      next[tp] = it == reader_positions_.pos.end() ? std::nullopt : it->second;
    }
    reader_positions_.pos = std::move(next);
  }
  const int polls = 1 + static_cast<int>(rng_() % 3);
  for (int i = 0; i < polls; ++i) {
    auto polled = reader_->Poll(0ms);
    RUNNEL_RETURN_IF_ERROR(Check(polled.status(), "reader Poll"));
    RUNNEL_RETURN_IF_ERROR(CheckPolled("reader", reader_positions_, *polled, true));
  }
  return absl::OkStatus();
}

absl::Status Soak::SeekOp() {
  op_name_ = "seek";
  if (reader_positions_.pos.empty()) return Consume();
  auto it = reader_positions_.pos.begin();
  std::advance(it, static_cast<long>(rng_() % reader_positions_.pos.size()));
  const TopicPartition tp = it->first;
  const PartitionModel& p = model_.partition(tp);
  int64_t to = p.log_start;
  switch (rng_() % 4) {
    case 0:
      op_name_ = "seek: Seek";
      to = p.log_start +
           static_cast<int64_t>(rng_() % static_cast<uint64_t>(p.end() - p.log_start + 1));
      RUNNEL_RETURN_IF_ERROR(
          Check(reader_->Seek(tp, to), fmt::format("Seek({}, {})", Name(tp), to)));
      break;
    case 1:
      op_name_ = "seek: SeekToBeginning";
      RUNNEL_RETURN_IF_ERROR(Check(reader_->SeekToBeginning({tp}), "SeekToBeginning"));
      break;
    case 2:
      op_name_ = "seek: SeekToEnd";
      to = p.end();
      RUNNEL_RETURN_IF_ERROR(Check(reader_->SeekToEnd({tp}), "SeekToEnd"));
      break;
    default: {
      op_name_ = "seek: OffsetsForTimes";
      int64_t ts = clock_.NowMillis() + 1;
      if (!p.records.empty() && rng_() % 8 != 0) {
        ts = p.records[rng_() % p.records.size()].timestamp + static_cast<int64_t>(rng_() % 3) - 1;
      }
      std::optional<int64_t> want;
      for (size_t i = 0; i < p.records.size(); ++i) {
        if (p.records[i].timestamp >= ts) {
          want = p.log_start + static_cast<int64_t>(i);
          break;
        }
      }
      auto found = reader_->OffsetsForTimes({{tp, ts}});
      RUNNEL_RETURN_IF_ERROR(Check(found.status(), "OffsetsForTimes"));
      const std::optional<OffsetAndTimestamp>& got = (*found)[tp];
      if (got.has_value() != want.has_value() || (got && got->offset != *want) ||
          (got && got->timestamp != p.at(*want).timestamp)) {
        return Fail(
            fmt::format("OffsetsForTimes({}, {}) returned {}, expected offset {}", Name(tp), ts,
                        got ? fmt::format("offset {} ts {}", got->offset, got->timestamp) : "none",
                        want ? std::to_string(*want) : "none"));
      }
      to = want.value_or(p.end());
      RUNNEL_RETURN_IF_ERROR(Check(reader_->Seek(tp, to), "Seek"));
      break;
    }
  }
  it->second = to;
  auto pos = reader_->Position(tp);
  RUNNEL_RETURN_IF_ERROR(Check(pos.status(), "Position"));
  if (*pos != to)
    return Fail(fmt::format("Position({}) is {} after the seek, expected {}", Name(tp), *pos, to));
  auto begin = reader_->BeginningOffsets({tp});
  auto end = reader_->EndOffsets({tp});
  RUNNEL_RETURN_IF_ERROR(Check(begin.status(), "BeginningOffsets"));
  RUNNEL_RETURN_IF_ERROR(Check(end.status(), "EndOffsets"));
  if ((*begin)[tp] != p.log_start || (*end)[tp] != p.end()) {
    return Fail(fmt::format("{}: BeginningOffsets {} and EndOffsets {}, expected {} and {}",
                            Name(tp), (*begin)[tp], (*end)[tp], p.log_start, p.end()));
  }
  auto polled = reader_->Poll(0ms);
  RUNNEL_RETURN_IF_ERROR(Check(polled.status(), "reader Poll"));
  return CheckPolled("reader", reader_positions_, *polled, true);
}

// ---- commits ---------------------------------------------------------------------------

absl::Status Soak::CheckGroupOffsets(const std::string& group, Consumer* consumer) {
  const std::map<TopicPartition, int64_t> want = model_.committed[group];
  auto desc = admin_->DescribeGroup(group);
  std::map<TopicPartition, int64_t> got;
  if (desc.ok()) {
    for (const PartitionOffsetDescription& pd : desc->offsets) {
      if (pd.committed) got[pd.partition] = pd.committed->offset;
      if (model_.has(pd.partition) && pd.log_end_offset != model_.partition(pd.partition).end()) {
        return Fail(fmt::format("DescribeGroup({}): {} ends at {}, expected {}", group,
                                Name(pd.partition), pd.log_end_offset,
                                model_.partition(pd.partition).end()));
      }
    }
  } else if (!absl::IsNotFound(desc.status())) {
    return Check(desc.status(), fmt::format("DescribeGroup({})", group));
  }
  if (got != want) {
    std::string diff;
    for (const TopicPartition& tp : model_.AllPartitions()) {
      auto g = got.find(tp);
      auto w = want.find(tp);
      const std::string gs = g == got.end() ? "none" : std::to_string(g->second);
      const std::string ws = w == want.end() ? "none" : std::to_string(w->second);
      if (gs != ws) diff += fmt::format(" {}: {} (expected {})", Name(tp), gs, ws);
    }
    return Fail(
        fmt::format("DescribeGroup({}) shows committed offsets that differ:{}", group, diff));
  }
  if (consumer) {
    auto committed = consumer->Committed(model_.AllPartitions());
    RUNNEL_RETURN_IF_ERROR(Check(committed.status(), "Committed"));
    for (const auto& [tp, c] : *committed) {
      const std::optional<int64_t> w = model_.Committed(group, tp);
      if (c.has_value() != w.has_value() || (c && c->offset != *w)) {
        return Fail(fmt::format("Committed() of group {} for {} is {}, expected {}", group,
                                Name(tp), c ? std::to_string(c->offset) : "none",
                                w ? std::to_string(*w) : "none"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Soak::SoloCommit(bool crashing, std::map<TopicPartition, int64_t>* offsets,
                              bool* acked) {
  op_name_ = "commit (outside the group)";
  std::map<TopicPartition, OffsetAndMetadata> commit;
  const int n = 1 + static_cast<int>(rng_() % 3);
  for (int i = 0; i < n; ++i) {
    const TopicPartition tp = RandomPartition();
    const PartitionModel& p = model_.partition(tp);
    const int64_t offset =
        p.log_start +
        static_cast<int64_t>(rng_() % static_cast<uint64_t>(p.end() - p.log_start + 1));
    commit[tp] = OffsetAndMetadata{offset, fmt::format("op {}", op_)};
    (*offsets)[tp] = offset;
  }
  const absl::Status st = solo_->CommitSync(commit);
  *acked = st.ok();
  if (crashing) return absl::OkStatus();
  RUNNEL_RETURN_IF_ERROR(Check(st, "CommitSync"));
  for (const auto& [tp, offset] : *offsets) model_.committed[kSoloGroup][tp] = offset;
  return CheckGroupOffsets(kSoloGroup, solo_.get());
}

absl::Status Soak::MemberCommit(bool crashing, std::map<TopicPartition, int64_t>* offsets,
                                bool* acked) {
  op_name_ = "commit (group member)";
  *acked = false;
  if (members_.empty()) return absl::OkStatus();
  Member& m = *members_[rng_() % members_.size()];
  const std::string who = fmt::format("member {}", m.id);
  const std::vector<TopicPartition> owned = m.consumer->Assignment();
  if (owned.size() != m.positions.pos.size() ||
      !std::all_of(owned.begin(), owned.end(),
                   [&](const auto& tp) { return m.positions.pos.count(tp); })) {
    return Fail(fmt::format("{} owns {} partitions, but its listener announced {}", who,
                            owned.size(), m.positions.pos.size()));
  }
  for (const TopicPartition& tp : owned) {
    auto pos = m.consumer->Position(tp);
    RUNNEL_RETURN_IF_ERROR(Check(pos.status(), fmt::format("{} Position({})", who, Name(tp))));
    if (!m.positions.problem.empty()) return Fail(fmt::format("{}: {}", who, m.positions.problem));
    const std::optional<int64_t> want = m.positions.pos[tp];
    if (!want || *want != *pos) {
      return Fail(fmt::format("{}: Position({}) is {}, expected {}", who, Name(tp), *pos,
                              want ? std::to_string(*want) : "none"));
    }
  }
  if (owned.empty()) return absl::OkStatus();
  absl::Status st;
  if (rng_() % 2 == 0) {
    for (const auto& [tp, pos] : m.positions.pos) (*offsets)[tp] = *pos;
    st = m.consumer->CommitSync();
  } else {
    std::map<TopicPartition, OffsetAndMetadata> commit;
    for (const TopicPartition& tp : owned) {
      if (rng_() % 2 != 0) continue;
      const PartitionModel& p = model_.partition(tp);
      const int64_t offset =
          p.log_start +
          static_cast<int64_t>(rng_() % static_cast<uint64_t>(p.end() - p.log_start + 1));
      commit[tp] = OffsetAndMetadata{offset, who};
      (*offsets)[tp] = offset;
    }
    if (commit.empty()) return absl::OkStatus();
    st = m.consumer->CommitSync(commit);
  }
  *acked = st.ok();
  if (crashing) return absl::OkStatus();
  RUNNEL_RETURN_IF_ERROR(Check(st, fmt::format("{} CommitSync", who)));
  for (const auto& [tp, offset] : *offsets) model_.committed[kMembersGroup][tp] = offset;
  return CheckGroupOffsets(kMembersGroup, m.consumer.get());
}

// ---- groups ----------------------------------------------------------------------------

ConsumerOptions Soak::MemberOptions(Member& m) {
  ConsumerOptions o;
  o.client_id = fmt::format("m{}", m.id);
  o.group_id = kMembersGroup;
  o.enable_auto_commit = false;
  o.auto_offset_reset = OffsetReset::kEarliest;
  o.max_poll_records = 1 + static_cast<int32_t>(rng_() % 100);
  o.partition_assignment_strategy = {PartitionAssignor::kRange, PartitionAssignor::kRoundRobin,
                                     PartitionAssignor::kCooperativeSticky};
  std::shuffle(o.partition_assignment_strategy.begin(), o.partition_assignment_strategy.end(),
               rng_);
  o.offset_reset_listener = [this, &m](const TopicPartition& tp, int64_t from, int64_t to,
                                       std::string_view reason) {
    m.positions.OnReset(model_, tp, from, to, reason);
  };
  return o;
}

absl::Status Soak::AddMember() {
  auto m = std::make_unique<Member>();
  m->id = next_member_id_++;
  auto made = Consumer::Create(*broker_, MemberOptions(*m));
  RUNNEL_RETURN_IF_ERROR(Check(made.status(), "Consumer::Create (member)"));
  m->consumer = std::move(*made);
  Member* raw = m.get();
  RebalanceListener listener;
  listener.on_partitions_assigned = [this, raw](const std::vector<TopicPartition>& tps) {
    for (const TopicPartition& tp : tps) {
      if (raw->positions.pos.count(tp) && raw->positions.problem.empty()) {
        raw->positions.problem = fmt::format("{} assigned again without a revocation", Name(tp));
      }
      raw->positions.pos[tp] = model_.Committed(kMembersGroup, tp);
    }
  };
  listener.on_partitions_revoked = [raw](const std::vector<TopicPartition>& tps) {
    for (const TopicPartition& tp : tps) {
      if (!raw->positions.pos.erase(tp) && raw->positions.problem.empty()) {
        raw->positions.problem = fmt::format("{} revoked but never assigned", Name(tp));
      }
    }
  };
  listener.on_partitions_lost = listener.on_partitions_revoked;
  RUNNEL_RETURN_IF_ERROR(Check(m->consumer->Subscribe(GroupTopics(), listener), "Subscribe"));
  members_.push_back(std::move(m));
  return absl::OkStatus();
}

absl::Status Soak::GroupPoll() {
  op_name_ = "group poll";
  for (auto& m : members_) {
    auto polled = m->consumer->Poll(0ms);
    RUNNEL_RETURN_IF_ERROR(Check(polled.status(), fmt::format("member {} Poll", m->id)));
    RUNNEL_RETURN_IF_ERROR(
        CheckPolled(fmt::format("member {}", m->id), m->positions, *polled, true));
  }
  // No two members consume one partition at once.
  std::map<TopicPartition, int> owner;
  for (auto& m : members_) {
    for (const auto& [tp, pos] : m->positions.pos) {
      auto [it, fresh] = owner.emplace(tp, m->id);
      if (!fresh) {
        return Fail(fmt::format("members {} and {} both own {}", it->second, m->id, Name(tp)));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Soak::Settle() {
  if (members_.empty()) return absl::OkStatus();
  const std::string saved = op_name_;
  std::vector<TopicPartition> expected = model_.PartitionsOf(GroupTopics());
  std::sort(expected.begin(), expected.end());
  std::string state;
  for (int round = 0; round < 40; ++round) {
    RUNNEL_RETURN_IF_ERROR(GroupPoll());
    op_name_ = saved;
    auto desc = admin_->DescribeGroup(kMembersGroup);
    RUNNEL_RETURN_IF_ERROR(Check(desc.status(), "DescribeGroup"));
    std::vector<TopicPartition> all;
    bool match = desc->state == GroupState::kStable && desc->members.size() == members_.size();
    for (auto& m : members_) {
      std::vector<TopicPartition> mine = m->consumer->Assignment();
      std::sort(mine.begin(), mine.end());
      const std::string id = m->consumer->GroupMetadata().member_id;
      auto d = std::find_if(desc->members.begin(), desc->members.end(),
                            [&](const MemberDescription& md) { return md.member_id == id; });
      if (d == desc->members.end()) {
        match = false;
      } else {
        std::vector<TopicPartition> target = d->assignment;
        std::sort(target.begin(), target.end());
        if (target != mine) match = false;
      }
      all.insert(all.end(), mine.begin(), mine.end());
    }
    std::sort(all.begin(), all.end());
    if (std::adjacent_find(all.begin(), all.end()) != all.end()) {
      return Fail("two members were assigned the same partition");
    }
    state = fmt::format("state {}, {} members described for {}, {} of {} partitions assigned",
                        GroupStateName(desc->state), desc->members.size(), members_.size(),
                        all.size(), expected.size());
    if (match && all == expected) return absl::OkStatus();
  }
  return Fail(fmt::format("the group did not settle in 40 rounds of polls: {}", state));
}

absl::Status Soak::JoinOrLeave() {
  if (members_.empty() || (members_.size() < 4 && rng_() % 2 == 0)) {
    op_name_ = "group join";
    RUNNEL_RETURN_IF_ERROR(AddMember());
  } else {
    op_name_ = "group leave";
    const size_t i = rng_() % members_.size();
    RUNNEL_RETURN_IF_ERROR(Check(members_[i]->consumer->Close(), "member Close"));
    if (!members_[i]->positions.problem.empty()) {
      return Fail(fmt::format("member {}: {}", members_[i]->id, members_[i]->positions.problem));
    }
    members_.erase(members_.begin() + static_cast<long>(i));
  }
  target_members_ = static_cast<int>(members_.size());
  return Settle();
}

// ---- storage ---------------------------------------------------------------------------

absl::Status Soak::CheckPartitionBounds(const TopicPartition& tp) {
  auto desc = broker_->DescribeTopic(tp.topic);
  RUNNEL_RETURN_IF_ERROR(Check(desc.status(), fmt::format("DescribeTopic({})", tp.topic)));
  const PartitionModel& p = model_.partition(tp);
  if (static_cast<size_t>(tp.partition) >= desc->partitions.size()) {
    return Fail(fmt::format("DescribeTopic({}) has {} partitions, expected {}", tp.topic,
                            desc->partitions.size(), model_.topics[tp.topic].partitions.size()));
  }
  const PartitionDescription& d = desc->partitions[static_cast<size_t>(tp.partition)];
  if (d.log_start_offset != p.log_start || d.log_end_offset != p.end() ||
      d.visible_offset != p.end()) {
    return Fail(fmt::format("{}: log start {}, end {}, visible {}; expected start {} and end {}",
                            Name(tp), d.log_start_offset, d.log_end_offset, d.visible_offset,
                            p.log_start, p.end()));
  }
  return absl::OkStatus();
}

absl::Status Soak::Retention() {
  op_name_ = "retention";
  std::vector<TopicPartition> candidates;
  for (const auto& [name, t] : model_.topics) {
    if (t.config.retention_bytes < 0 && t.config.retention_ms > 24 * 3600 * 1000) continue;
    for (const TopicPartition& tp : model_.PartitionsOf({name})) candidates.push_back(tp);
  }
  if (candidates.empty()) return absl::OkStatus();
  const TopicPartition tp = candidates[rng_() % candidates.size()];
  const TopicConfig& config = model_.topics[tp.topic].config;
  PartitionModel& p = model_.partition(tp);
  RUNNEL_RETURN_IF_ERROR(CheckPartitionBounds(tp));
  const std::vector<int64_t> bases = SegmentBases(PartitionDir(tp));
  auto topic = broker_->core()->FindTopic(tp.topic);
  RUNNEL_RETURN_IF_ERROR(Check(topic.status(), "FindTopic"));
  storage::PartitionLog& log = (*topic)->partitions[static_cast<size_t>(tp.partition)]->log();
  // Under retention.ms alone, exactly the leading segments whose newest record expired go.
  std::optional<int64_t> expected;
  if (config.retention_bytes < 0) {
    const int64_t limit = clock_.NowMillis() - config.retention_ms;
    expected = p.end();
    for (size_t i = 0; i < bases.size(); ++i) {
      const int64_t last = (i + 1 < bases.size() ? bases[i + 1] : p.end()) - 1;
      if (last < bases[i] || last < p.log_start || p.at(last).timestamp >= limit) {
        expected = std::max(bases[i], p.log_start);
        break;
      }
    }
  }
  auto result = log.EnforceRetention();
  RUNNEL_RETURN_IF_ERROR(Check(result.status(), fmt::format("EnforceRetention({})", Name(tp))));
  const int64_t start = log.log_start_offset();
  const bool at_boundary = start == p.log_start || start == p.end() ||
                           std::binary_search(bases.begin(), bases.end(), start);
  if (start < p.log_start || start > p.end() || !at_boundary) {
    return Fail(
        fmt::format("retention moved the log start of {} from {} to {}: not a segment "
                    "boundary within [{}, {}] (segments at {})",
                    Name(tp), p.log_start, start, p.log_start, p.end(), fmt::join(bases, ",")));
  }
  if (expected && start != *expected) {
    return Fail(
        fmt::format("retention.ms {} at time {}: log start of {} is {}, expected {} "
                    "(segments at {})",
                    config.retention_ms, clock_.NowMillis(), Name(tp), start, *expected,
                    fmt::join(bases, ",")));
  }
  if (config.retention_bytes >= 0) {
    const uint64_t size = log.size_in_bytes();
    const uint64_t limit = static_cast<uint64_t>(config.retention_bytes);
    if (result->segments_deleted > 0 && size < limit) {
      return Fail(fmt::format("retention.bytes {}: {} deleted {} segments, leaving {} bytes", limit,
                              Name(tp), result->segments_deleted, size));
    }
    if (log.segment_count() > 1) {
      std::error_code ec;
      const uint64_t first =
          std::filesystem::file_size(fmt::format("{}/{:020}.log", PartitionDir(tp), start), ec);
      if (!ec && size - first >= limit) {
        return Fail(
            fmt::format("retention.bytes {}: {} keeps {} bytes, {} without its oldest "
                        "segment",
                        limit, Name(tp), size, size - first));
      }
    }
  }
  p.TrimTo(start);
  return CheckPartitionBounds(tp);
}

absl::Status Soak::RollOp() {
  op_name_ = "roll";
  const TopicPartition tp = RandomPartition();
  auto topic = broker_->core()->FindTopic(tp.topic);
  RUNNEL_RETURN_IF_ERROR(Check(topic.status(), "FindTopic"));
  RUNNEL_RETURN_IF_ERROR(
      Check((*topic)->partitions[static_cast<size_t>(tp.partition)]->log().Roll(),
            fmt::format("Roll({})", Name(tp))));
  return CheckPartitionBounds(tp);
}

absl::Status Soak::AdminOp() {
  if (model_.topics.size() < 8 && rng_() % 2 == 0) {
    op_name_ = "create topic";
    const std::string name = fmt::format("new{}", model_.topics.size());
    TopicConfig c;
    c.sync_policy = static_cast<SyncPolicy>(rng_() % 3);
    c.segment_bytes = 1024 + static_cast<int64_t>(rng_() % 16384);
    c.segment_index_bytes = 4096;
    c.index_interval_bytes = 256 + static_cast<int32_t>(rng_() % 4096);
    c.retention_bytes = rng_() % 2 == 0 ? 4096 + static_cast<int64_t>(rng_() % 8192) : 128 * 1024;
    const int32_t n = 1 + static_cast<int32_t>(rng_() % 3);
    RUNNEL_RETURN_IF_ERROR(
        Check(broker_->CreateTopic(name, n, c), fmt::format("CreateTopic({})", name)));
    TopicModel t;
    t.name = name;
    t.config = c;
    t.stream = static_cast<uint32_t>(model_.topics.size());
    t.partitions.resize(static_cast<size_t>(n));
    model_.topics[name] = std::move(t);
    for (const TopicPartition& tp : model_.PartitionsOf({name})) {
      RUNNEL_RETURN_IF_ERROR(CheckPartitionBounds(tp));
    }
    return absl::OkStatus();
  }
  op_name_ = "add partitions";
  const std::string name = RandomTopic();
  TopicModel& t = model_.topics[name];
  if (t.partitions.size() >= 6) return absl::OkStatus();
  const int32_t total =
      static_cast<int32_t>(t.partitions.size()) + 1 + static_cast<int32_t>(rng_() % 2);
  RUNNEL_RETURN_IF_ERROR(Check(broker_->CreatePartitions(name, total),
                               fmt::format("CreatePartitions({}, {})", name, total)));
  t.partitions.resize(static_cast<size_t>(total));
  for (const TopicPartition& tp : model_.PartitionsOf({name})) {
    RUNNEL_RETURN_IF_ERROR(CheckPartitionBounds(tp));
  }
  const auto topics = GroupTopics();
  if (std::find(topics.begin(), topics.end(), name) != topics.end()) return Settle();
  return absl::OkStatus();
}

RUNNEL_TORTURE(
    {.name = "soak",
     .criteria = "random produce/consume/seek/commit/group/retention/admin ops and "
                 "clean or power-cut reopens agree with an in-memory model at every step",
     .short_rounds = 0,
     .short_seconds = 60,
     .long_rounds = 0,
     .long_seconds = 1800,
     .fn = &RunSoak});

}  // namespace runnel::torture::soak
