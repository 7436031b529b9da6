#include "fault_workload.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <utility>

#include "broker/broker_core.h"
#include "client/producer_testing.h"
#include "payload.h"
#include "runnel/consumer.h"
#include "runnel/group_admin.h"
#include "runnel/producer.h"
#include "support/fault_env.h"
#include "torture/verify_tool.h"
#include "util/formatters.h"


namespace runnel::torture::fault {
namespace {

using internal::BrokerCore;

constexpr int64_t kBaseTimestamp = 1'700'000'000'000;

TopicConfig SmallTopic(SyncPolicy policy, int64_t segment_bytes) {
  TopicConfig c;
  c.sync_policy = policy;
  c.segment_bytes = segment_bytes;
  c.segment_index_bytes = 4096;  // FaultEnv keeps mapping snapshots in memory
  c.index_interval_bytes = 256;  // several index entries per segment
  return c;
}

std::string Name(const TopicPartition& tp) { return fmt::format("{}-{}", tp.topic, tp.partition); }

}  // namespace

uint32_t StreamOf(size_t topic_index, int32_t partition) {
  return static_cast<uint32_t>(topic_index * 64 + static_cast<size_t>(partition));
}

int64_t TimestampOf(uint64_t seq) { return kBaseTimestamp + static_cast<int64_t>(seq) * 10; }

Plan DrawPlan(std::mt19937_64& rng, int64_t records) {
  Plan plan;
  plan.topics.push_back(
      {"always-a", static_cast<int32_t>(1 + rng() % 2),
       SmallTopic(SyncPolicy::kAlways, 6144 + static_cast<int64_t>(rng() % 4096))});
  plan.topics.push_back({"none-b", 1, SmallTopic(SyncPolicy::kNone, 4096)});
  if (rng() % 2 == 0) {
    plan.topics.push_back({"always-c", 1, SmallTopic(SyncPolicy::kAlways, 1 << 20)});
  }
  plan.records = records;
  plan.commit_every = 4 + static_cast<int64_t>(rng() % 8);
  plan.grow_at = rng() % 2 == 0 ? static_cast<int64_t>(rng() % static_cast<uint64_t>(records)) : -1;
  plan.flush_every = 1 + static_cast<int64_t>(rng() % 10);
  plan.linger_ms = static_cast<int64_t>(rng() % 2);
  plan.batch_size = rng() % 2 == 0 ? 16384 : 700;
  plan.max_value = rng() % 3 == 0 ? 2500 : 600;
  plan.payload_seed = rng();
  plan.rng_seed = rng();
  plan.broker.default_topic_config = SmallTopic(SyncPolicy::kAlways, 1 << 20);
  plan.broker.offsets_topic_segment_bytes = 1024;  // rewritten every few commits
  return plan;
}

absl::StatusOr<int64_t> CountWorkloadOps(const std::string& base, const Plan& plan) {
  const std::string dir = base + "/count";
  testing::FaultEnv env;
  const Outcome out = RunWorkload(&env, dir, plan);
  if (!out.errors.empty()) {
    return absl::InternalError("fault-free run failed: " + out.errors.front());
  }
  std::filesystem::remove_all(dir);
  return env.count(testing::FaultOp::kAny);
}

Outcome RunWorkload(io::Env* env, const std::string& dir, const Plan& plan) {
  Outcome out;
  std::mutex mu;  // guards out.partitions against the sender thread's callbacks
  auto error = [&](std::string what, const absl::Status& s) {
    std::lock_guard<std::mutex> lock(mu);
    out.errors.push_back(fmt::format("{}: {}", what, s.ToString()));
  };

  absl::StatusOr<std::shared_ptr<BrokerCore>> core = BrokerCore::Open(env, dir, plan.broker);
  if (!core.ok()) {
    error("BrokerCore::Open", core.status());
    return out;
  }
  out.open_ok = true;
  std::unique_ptr<Broker> broker = internal::WrapBrokerCore(*std::move(core));

  std::vector<int32_t> partitions;  // current partition count per topic (0: not created)
  for (const TopicPlan& t : plan.topics) {
    absl::Status s = broker->CreateTopic(t.name, t.partitions, t.config);
    out.created[t.name] = s.ok();
    if (!s.ok()) error("CreateTopic " + t.name, s);
    partitions.push_back(s.ok() ? t.partitions : 0);
  }

  ProducerOptions popts;
  popts.linger_ms = plan.linger_ms;
  popts.batch_size = plan.batch_size;
  popts.retries = 0;  // nothing here is worth retrying; keeps Close from waiting
  absl::StatusOr<std::unique_ptr<Producer>> producer = Producer::Create(*broker, popts);
  if (!producer.ok()) error("Producer::Create", producer.status());
  ConsumerOptions copts;
  copts.group_id = kGroup;
  copts.enable_auto_commit = false;
  absl::StatusOr<std::unique_ptr<Consumer>> consumer = Consumer::Create(*broker, copts);
  if (!consumer.ok()) error("Consumer::Create", consumer.status());

  std::mt19937_64 rng(plan.rng_seed);
  auto commit = [&] {
    if (!consumer.ok() || partitions[0] == 0) return;
    CommitAttempt attempt;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (int32_t p = 0; p < partitions[0]; ++p) {
        const TopicPartition tp{plan.topics[0].name, p};
        // The end of what was acknowledged: grows with every commit.
        auto it = out.partitions.find(tp);
        attempt.offsets[tp] = it == out.partitions.end() || it->second.acked.empty()
                                  ? 0
                                  : it->second.acked.rbegin()->first + 1;
      }
    }
    std::map<TopicPartition, OffsetAndMetadata> offsets;
    for (const auto& [tp, o] : attempt.offsets) offsets[tp] = OffsetAndMetadata{o, ""};
    absl::Status s = (*consumer)->CommitSync(offsets);
    attempt.ok = s.ok();
    if (!s.ok()) error("CommitSync", s);
    out.commits.push_back(std::move(attempt));
  };

  for (int64_t i = 0; i < plan.records && producer.ok(); ++i) {
    if (i == plan.grow_at && partitions[0] > 0) {
      out.grow_tried = true;
      absl::Status s = broker->CreatePartitions(plan.topics[0].name, partitions[0] + 1);
      out.grow_ok = s.ok();
      if (s.ok()) {
        ++partitions[0];
      } else {
        error("CreatePartitions", s);
      }
    }
    const size_t t = static_cast<size_t>(rng() % plan.topics.size());
    const size_t size = DrawSize(rng, kPayloadHeaderBytes, plan.max_value);
    const int32_t nparts = std::max<int32_t>(partitions[t], plan.topics[t].partitions);
    const int32_t p = static_cast<int32_t>(rng() % static_cast<uint64_t>(nparts));
    const TopicPartition tp{plan.topics[t].name, p};
    uint64_t seq;
    {
      std::lock_guard<std::mutex> lock(mu);
      seq = out.partitions[tp].sent++;
    }
    const uint32_t stream = StreamOf(t, p);
    const std::string key = MakeKey(stream, seq);
    const std::string value = MakeValue(plan.payload_seed, stream, seq, size);
    absl::Status s =
        (*producer)->Send({.topic = tp.topic,
                           .partition = p,
                           .key = key,
                           .value = value,
                           .timestamp = TimestampOf(seq)},
                          [&, tp, seq](const absl::StatusOr<RecordMetadata>& md) {
                            std::lock_guard<std::mutex> lock(mu);
                            PartitionOutcome& po = out.partitions[tp];
                            po.results.emplace_back(seq, md.ok());
                            if (md.ok()) {
                              po.acked[md->offset] = seq;
                            } else {
                              out.errors.push_back(fmt::format("Send {} seq {}: {}", Name(tp), seq,
                                                               md.status().ToString()));
                            }
                          });
    (void)s;  // an immediate failure is passed to the callback too
    if ((i + 1) % plan.flush_every == 0) {
      if (absl::Status f = (*producer)->Flush(); !f.ok()) error("Flush", f);
    }
    if (plan.commit_every > 0 && (i + 1) % plan.commit_every == 0) {
      if (absl::Status f = (*producer)->Flush(); !f.ok()) error("Flush", f);
      commit();
    }
  }
  if (producer.ok()) {
    if (absl::Status s = (*producer)->Close(); !s.ok()) error("Producer::Close", s);
  }
  commit();
  if (consumer.ok()) {
    if (absl::Status s = (*consumer)->Close(); !s.ok()) error("Consumer::Close", s);
  }
  if (absl::Status s = broker->Close(); !s.ok()) error("Broker::Close", s);
  producer = absl::UnknownError("destroyed");
  consumer = absl::UnknownError("destroyed");
  broker.reset();
  return out;
}

Scratch::Scratch(const Options& opts) : path_(opts.dir) {
  if (std::getenv("RUNNEL_TORTURE_ON_DISK") == nullptr && ::access("/dev/shm", W_OK) == 0) {
    std::string tmpl = "/dev/shm/runnel-fault-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) {
      path_ = tmpl;
      own_ = true;
    }
  }
}

Scratch::~Scratch() {
  if (!own_) return;
  if (done_) {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  } else {
    fmt::print(stderr, "fault tortures: data kept in {}\n", path_);
  }
}

absl::Status RunVerify(const std::string& dir) {
  const VerifyRun run = RunVerifyTool(dir);
  if (run.exit_code == 0) return absl::OkStatus();
  return absl::DataLossError(
      fmt::format("`runnel verify {}` exited with {}: {}", dir, run.exit_code, run.output));
}

namespace {

// Checks one partition's records against what was written to it; sets *seqs to offset ->
// seq for the records found.
absl::Status CheckPartition(const Plan& plan, size_t topic_index, const TopicPartition& tp,
                            const storage::PartitionLog& log, const CheckOptions& check,
                            std::map<int64_t, uint64_t>* seqs, Stats& stats) {
  absl::StatusOr<std::vector<testing::ReadRecord>> records = testing::ReadPartition(log);
  if (!records.ok()) {
    ++stats.corrupt;
    return absl::DataLossError(
        fmt::format("{}: reading: {}", Name(tp), records.status().ToString()));
  }
  if (log.visible_offset() != log.log_end_offset()) {
    return absl::InternalError(fmt::format("{}: after reopening visible offset {} != log end {}",
                                           Name(tp), log.visible_offset(), log.log_end_offset()));
  }
  const uint32_t stream = StreamOf(topic_index, tp.partition);
  int64_t expect_offset = 0;
  std::optional<uint64_t> last_seq;
  for (const testing::ReadRecord& r : *records) {
    auto bad = [&](std::string what) {
      ++stats.corrupt;
      return absl::DataLossError(fmt::format("{} offset {}: {}", Name(tp), r.offset, what));
    };
    if (r.offset != expect_offset)
      return bad(fmt::format("expected offset {} (a gap)", expect_offset));
    ++expect_offset;
    if (!r.value) return bad("null value");
    absl::StatusOr<PayloadId> id = ParseValue(*r.value);
    if (!id.ok()) return bad("value does not parse: " + id.status().ToString());
    if (id->stream != stream)
      return bad(fmt::format("stream {} is not this partition's {}", id->stream, stream));
    if (*r.value != MakeValue(plan.payload_seed, stream, id->seq, r.value->size())) {
      return bad(fmt::format("value of seq {} differs from the one written", id->seq));
    }
    if (r.key != MakeKey(stream, id->seq)) return bad("key differs");
    if (r.timestamp != TimestampOf(id->seq)) return bad(fmt::format("timestamp {}", r.timestamp));
    if (last_seq && id->seq <= *last_seq) {
      return bad(fmt::format("seq {} after seq {}: not in send order", id->seq, *last_seq));
    }
    if (check.exact_seq && id->seq != static_cast<uint64_t>(r.offset)) {
      return bad(fmt::format("holds seq {}", id->seq));
    }
    last_seq = id->seq;
    (*seqs)[r.offset] = id->seq;
  }
  return absl::OkStatus();
}

// Seeks through a Consumer to offsets and timestamps of `seqs` and reads the records.
absl::Status CheckSeeks(Broker& broker, const TopicPartition& tp,
                        const std::map<int64_t, uint64_t>& seqs, std::mt19937_64& rng) {
  if (seqs.empty()) return absl::OkStatus();
  absl::StatusOr<std::unique_ptr<Consumer>> consumer = Consumer::Create(broker);
  if (!consumer.ok()) return consumer.status();
  if (absl::Status s = (*consumer)->Assign({tp}); !s.ok()) return s;
  std::vector<int64_t> targets = {0, static_cast<int64_t>(seqs.size()) - 1};
  for (int i = 0; i < 3; ++i) targets.push_back(static_cast<int64_t>(rng() % seqs.size()));
  for (int64_t o : targets) {
    const uint64_t seq = seqs.at(o);
    // By timestamp: exactly at it, and just before it (after the previous record's).
    for (int64_t ts : {TimestampOf(seq), TimestampOf(seq) - 5}) {
      auto found = (*consumer)->OffsetsForTimes({{tp, ts}});
      if (!found.ok()) return found.status();
      auto it = found->find(tp);
      if (it == found->end() || !it->second || it->second->offset != o) {
        return absl::DataLossError(
            fmt::format("{}: OffsetsForTimes({}) gave {}, expected offset {}", Name(tp), ts,
                        it == found->end() || !it->second ? -1 : it->second->offset, o));
      }
    }
    if (absl::Status s = (*consumer)->Seek(tp, o); !s.ok()) return s;
    std::optional<std::pair<int64_t, std::string>> first;
    for (int tries = 0; tries < 50 && !first; ++tries) {
      auto polled = (*consumer)->Poll(std::chrono::milliseconds(100));
      if (!polled.ok()) return polled.status();
      if (!polled->empty()) {
        const ConsumerRecord& r = polled->front();
        first.emplace(r.offset, r.value ? std::string(*r.value) : std::string());
      }
    }
    if (!first || first->first != o) {
      return absl::DataLossError(fmt::format("{}: Seek({}) then Poll gave offset {}", Name(tp), o,
                                             first ? first->first : -1));
    }
    absl::StatusOr<PayloadId> id = ParseValue(first->second);
    if (!id.ok() || id->seq != seq) {
      return absl::DataLossError(
          fmt::format("{}: Seek({}) then Poll gave a record other than seq {}", Name(tp), o, seq));
    }
  }
  return (*consumer)->Close();
}

bool SameConfig(const TopicConfig& a, const TopicConfig& b) {
  return a.sync_policy == b.sync_policy && a.segment_bytes == b.segment_bytes &&
         a.segment_index_bytes == b.segment_index_bytes &&
         a.index_interval_bytes == b.index_interval_bytes;
}

}  // namespace

absl::Status CheckDirectory(const Options& opts, const std::string& where, const std::string& dir,
                            const Plan& plan, const Outcome& outcome, const CheckOptions& check,
                            Stats& stats) {
  auto fail = [&](const std::string& what) { return Failure(opts, where + ": " + what); };
  absl::StatusOr<std::unique_ptr<Broker>> opened = Broker::Open(dir, plan.broker);
  if (!opened.ok()) return fail("reopening: " + opened.status().ToString());
  Broker& broker = **opened;
  std::mt19937_64 rng(plan.rng_seed ^ 0x5eed);

  // Topics: those acknowledged exist, none that was not tried, each with its config.
  std::set<std::string> planned;
  for (const TopicPlan& t : plan.topics) planned.insert(t.name);
  for (const std::string& name : broker.ListTopics()) {
    if (!planned.count(name) || !outcome.created.count(name)) {
      return fail(fmt::format("topic {} exists but was never created", name));
    }
  }
  for (size_t ti = 0; ti < plan.topics.size(); ++ti) {
    const TopicPlan& t = plan.topics[ti];
    absl::StatusOr<TopicDescription> d = broker.DescribeTopic(t.name);
    const bool acked = outcome.created.count(t.name) && outcome.created.at(t.name);
    if (!d.ok()) {
      if (acked || !absl::IsNotFound(d.status())) {
        return fail(fmt::format("topic {} (creation acknowledged: {}): {}", t.name, acked,
                                d.status().ToString()));
      }
      continue;
    }
    if (!SameConfig(d->config, t.config))
      return fail(fmt::format("topic {}: config differs", t.name));
    const int32_t n = static_cast<int32_t>(d->partitions.size());
    const bool may_be_grown = ti == 0 && outcome.grow_tried;
    const bool must_be_grown = ti == 0 && outcome.grow_ok;
    if (!(n == t.partitions && !must_be_grown) && !(n == t.partitions + 1 && may_be_grown)) {
      return fail(fmt::format(
          "topic {} has {} partitions (created with {}, growth tried {} acknowledged {})", t.name,
          n, t.partitions, may_be_grown, must_be_grown));
    }
    absl::StatusOr<std::shared_ptr<internal::Topic>> topic = broker.core()->FindTopic(t.name);
    if (!topic.ok()) return fail(topic.status().ToString());
    for (int32_t p = 0; p < n; ++p) {
      const TopicPartition tp{t.name, p};
      std::map<int64_t, uint64_t> seqs;
      if (absl::Status s =
              CheckPartition(plan, ti, tp, (*topic)->partitions[static_cast<size_t>(p)]->log(),
                             check, &seqs, stats);
          !s.ok()) {
        return fail(s.ToString());
      }
      // Acknowledged records: present at their offsets (durable ones must be).
      auto po = outcome.partitions.find(tp);
      if (po != outcome.partitions.end()) {
        const bool durable = check.all_acked_durable || t.config.sync_policy == SyncPolicy::kAlways;
        for (const auto& [offset, seq] : po->second.acked) {
          if (durable) ++stats.acked;
          auto found = seqs.find(offset);
          if (found == seqs.end()) {
            if (!durable) continue;
            ++stats.lost;
            return fail(
                fmt::format("{} offset {}: acknowledged record (seq {}) lost; log ends at {}",
                            Name(tp), offset, seq, seqs.size()));
          }
          if (found->second != seq) {
            ++stats.lost;
            return fail(fmt::format("{} offset {}: holds seq {}, acknowledged seq {}", Name(tp),
                                    offset, found->second, seq));
          }
          if (durable) ++stats.verified;
        }
        // Nothing beyond what was sent.
        if (!seqs.empty() && seqs.rbegin()->second >= po->second.sent) {
          return fail(fmt::format("{}: holds seq {} never sent", Name(tp), seqs.rbegin()->second));
        }
      } else if (!seqs.empty()) {
        return fail(fmt::format("{}: holds records though none was sent", Name(tp)));
      }
      if (absl::Status s = CheckSeeks(broker, tp, seqs, rng); !s.ok()) return fail(s.ToString());
    }
  }

  // Committed offsets: the last acknowledged commit's, or a later attempt's.
  {
    absl::StatusOr<std::unique_ptr<GroupAdmin>> admin = GroupAdmin::Create(broker);
    if (!admin.ok()) return fail(admin.status().ToString());
    std::map<TopicPartition, int64_t> committed;
    absl::StatusOr<GroupDescription> g = (*admin)->DescribeGroup(kGroup);
    if (!g.ok() && !absl::IsNotFound(g.status()))
      return fail("DescribeGroup: " + g.status().ToString());
    if (g.ok()) {
      for (const PartitionOffsetDescription& pd : g->offsets) {
        if (pd.committed) committed[pd.partition] = pd.committed->offset;
      }
    }
    std::set<TopicPartition> tps;
    for (const CommitAttempt& c : outcome.commits) {
      for (const auto& [tp, o] : c.offsets) tps.insert(tp);
    }
    for (const auto& [tp, o] : committed) {
      if (!tps.count(tp))
        return fail(fmt::format("{}: committed offset {} never committed", Name(tp), o));
    }
    for (const TopicPartition& tp : tps) {
      std::set<int64_t> allowed;
      bool none_allowed = true;
      for (const CommitAttempt& c : outcome.commits) {
        auto it = c.offsets.find(tp);
        if (c.ok) {
          allowed.clear();
          none_allowed = it == c.offsets.end();
        }
        if (it != c.offsets.end()) allowed.insert(it->second);
      }
      auto it = committed.find(tp);
      if (it == committed.end() ? !none_allowed : !allowed.count(it->second)) {
        return fail(
            fmt::format("{}: committed offset {} is neither the last acknowledged commit "
                        "nor a later attempt",
                        Name(tp), it == committed.end() ? -1 : it->second));
      }
    }
  }

  // New appends land at the end of every partition.
  {
    absl::StatusOr<std::unique_ptr<Producer>> producer = Producer::Create(broker);
    if (!producer.ok()) return fail(producer.status().ToString());
    for (const std::string& name : broker.ListTopics()) {
      absl::StatusOr<TopicDescription> d = broker.DescribeTopic(name);
      if (!d.ok()) return fail(d.status().ToString());
      for (const PartitionDescription& pd : d->partitions) {
        absl::StatusOr<RecordMetadata> md =
            (*producer)->SendSync({.topic = name, .partition = pd.partition, .value = "after"});
        if (!md.ok() || md->offset != pd.log_end_offset) {
          return fail(fmt::format(
              "{}-{}: append after reopening: {} (log end {})", name, pd.partition,
              md.ok() ? std::to_string(md->offset) : md.status().ToString(), pd.log_end_offset));
        }
      }
    }
    if (absl::Status s = (*producer)->Close(); !s.ok()) return fail(s.ToString());
  }
  if (absl::Status s = broker.Close(); !s.ok()) return fail("closing: " + s.ToString());
  opened->reset();
  if (check.run_verify) {
    if (absl::Status s = RunVerify(dir); !s.ok()) return fail(s.ToString());
  }
  return absl::OkStatus();
}

absl::StatusOr<DirState> ReadState(io::Env* env, const std::string& dir, const Plan& plan) {
  absl::StatusOr<std::shared_ptr<BrokerCore>> core = BrokerCore::Open(env, dir, plan.broker);
  if (!core.ok()) return core.status();
  std::unique_ptr<Broker> broker = internal::WrapBrokerCore(*std::move(core));
  DirState state;
  for (const std::string& name : broker->ListTopics()) {
    absl::StatusOr<TopicDescription> d = broker->DescribeTopic(name);
    if (!d.ok()) return d.status();
    state.topics[name] = {static_cast<int32_t>(d->partitions.size()), d->config};
    absl::StatusOr<std::shared_ptr<internal::Topic>> topic = broker->core()->FindTopic(name);
    if (!topic.ok()) return topic.status();
    for (size_t p = 0; p < (*topic)->partitions.size(); ++p) {
      absl::StatusOr<std::vector<testing::ReadRecord>> records =
          testing::ReadPartition((*topic)->partitions[p]->log());
      if (!records.ok()) return records.status();
      auto& out = state.records[TopicPartition{name, static_cast<int32_t>(p)}];
      for (const testing::ReadRecord& r : *records) {
        out.emplace_back(r.offset,
                         RecordDigest(r.key, r.value) ^ static_cast<uint64_t>(r.timestamp));
      }
    }
  }
  absl::StatusOr<std::unique_ptr<GroupAdmin>> admin = GroupAdmin::Create(*broker);
  if (!admin.ok()) return admin.status();
  absl::StatusOr<GroupDescription> g = (*admin)->DescribeGroup(kGroup);
  if (g.ok()) {
    for (const PartitionOffsetDescription& pd : g->offsets) {
      if (pd.committed) state.committed[pd.partition] = pd.committed->offset;
    }
  } else if (!absl::IsNotFound(g.status())) {
    return g.status();
  }
  admin->reset();
  if (absl::Status s = broker->Close(); !s.ok()) return s;
  return state;
}

std::string DescribeDifference(const DirState& a, const DirState& b) {
  for (const auto& [name, t] : a.topics) {
    auto it = b.topics.find(name);
    if (it == b.topics.end()) return fmt::format("topic {} only in the first", name);
    if (it->second.first != t.first) {
      return fmt::format("topic {}: {} vs {} partitions", name, t.first, it->second.first);
    }
    if (!(it->second.second == t.second)) return fmt::format("topic {}: configs differ", name);
  }
  for (const auto& [name, t] : b.topics) {
    if (!a.topics.count(name)) return fmt::format("topic {} only in the second", name);
  }
  for (const auto& [tp, recs] : a.records) {
    auto it = b.records.find(tp);
    const size_t other = it == b.records.end() ? 0 : it->second.size();
    for (size_t i = 0; i < std::max(recs.size(), other); ++i) {
      if (i >= recs.size() || i >= other || recs[i] != it->second[i]) {
        return fmt::format("{}: first difference at record {} ({} vs {} records)", Name(tp), i,
                           recs.size(), other);
      }
    }
  }
  for (const auto& [tp, recs] : b.records) {
    if (!a.records.count(tp)) return fmt::format("{} only in the second", Name(tp));
  }
  if (a.committed != b.committed) {
    std::string s = "committed offsets differ:";
    for (const auto& [tp, o] : a.committed) s += fmt::format(" {}={}", Name(tp), o);
    s += " vs";
    for (const auto& [tp, o] : b.committed) s += fmt::format(" {}={}", Name(tp), o);
    return s;
  }
  return "";
}

}  // namespace runnel::torture::fault
