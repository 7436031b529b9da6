// The soak's opening, closing, clean reopens and power cuts, and the checks after them
// (see soak.cc for the pass criteria).
#include <algorithm>

#include "broker/broker_core.h"
#include "torture/soak_harness.h"
#include "util/formatters.h"
#include "util/status_macros.h"

namespace runnel::torture::soak {

using namespace std::chrono_literals;

absl::Status Soak::OpenBroker() {
  auto core = internal::BrokerCore::Open(&env_, dir_, broker_options_);
  RUNNEL_RETURN_IF_ERROR(Check(core.status(), "BrokerCore::Open"));
  broker_ = internal::WrapBrokerCore(std::move(*core));
  return absl::OkStatus();
}

absl::Status Soak::OpenClients() {
  ProducerOptions po;
  po.batch_size = 512 + static_cast<int32_t>(rng_() % 16384);
  po.linger_ms = 60000;  // batches go at Flush (or SendSync): the same batches every replay
  po.retries = 0;
  auto producer = Producer::Create(*broker_, po);
  RUNNEL_RETURN_IF_ERROR(Check(producer.status(), "Producer::Create"));
  producer_ = std::move(*producer);

  ConsumerOptions ro;
  ro.client_id = "reader";
  ro.auto_offset_reset = OffsetReset::kEarliest;
  ro.max_poll_records = 1 + static_cast<int32_t>(rng_() % 200);
  ro.offset_reset_listener = [this](const TopicPartition& tp, int64_t from, int64_t to,
                                    std::string_view reason) {
    reader_positions_.OnReset(model_, tp, from, to, reason);
  };
  auto reader = Consumer::Create(*broker_, ro);
  RUNNEL_RETURN_IF_ERROR(Check(reader.status(), "Consumer::Create (reader)"));
  reader_ = std::move(*reader);
  reader_positions_ = ModelPositions{};

  ConsumerOptions so;
  so.client_id = "solo";
  so.group_id = kSoloGroup;
  so.enable_auto_commit = false;
  auto solo = Consumer::Create(*broker_, so);
  RUNNEL_RETURN_IF_ERROR(Check(solo.status(), "Consumer::Create (solo)"));
  solo_ = std::move(*solo);

  auto admin = GroupAdmin::Create(*broker_);
  RUNNEL_RETURN_IF_ERROR(Check(admin.status(), "GroupAdmin::Create"));
  admin_ = std::move(*admin);
  return absl::OkStatus();
}

absl::Status Soak::CloseAll() {
  for (auto& m : members_) {
    RUNNEL_RETURN_IF_ERROR(Check(m->consumer->Close(), fmt::format("member {} Close", m->id)));
  }
  members_.clear();
  if (reader_) RUNNEL_RETURN_IF_ERROR(Check(reader_->Close(), "reader Close"));
  if (solo_) RUNNEL_RETURN_IF_ERROR(Check(solo_->Close(), "solo Close"));
  if (producer_) RUNNEL_RETURN_IF_ERROR(Check(producer_->Close(), "Producer::Close"));
  reader_.reset();
  solo_.reset();
  admin_.reset();
  producer_.reset();
  if (broker_) RUNNEL_RETURN_IF_ERROR(Check(broker_->Close(), "Broker::Close"));
  broker_.reset();
  return absl::OkStatus();
}

void Soak::DropAll() {
  members_.clear();
  reader_.reset();
  solo_.reset();
  admin_.reset();
  producer_.reset();
  broker_.reset();
}

absl::Status Soak::ReadRange(const TopicPartition& tp, int64_t from, int64_t* start, int64_t* end,
                             const std::function<absl::Status(const ConsumerRecord&)>& visit) {
  ConsumerOptions o;
  o.client_id = "verifier";
  o.auto_offset_reset = OffsetReset::kNone;  // a reset here would be a bug
  o.max_poll_records = 5000;
  auto made = Consumer::Create(*broker_, o);
  RUNNEL_RETURN_IF_ERROR(Check(made.status(), "Consumer::Create (verifier)"));
  Consumer& c = **made;
  RUNNEL_RETURN_IF_ERROR(Check(c.Assign({tp}), fmt::format("Assign({})", Name(tp))));
  auto begin = c.BeginningOffsets({tp});
  auto stop = c.EndOffsets({tp});
  RUNNEL_RETURN_IF_ERROR(Check(begin.status(), "BeginningOffsets"));
  RUNNEL_RETURN_IF_ERROR(Check(stop.status(), "EndOffsets"));
  *start = (*begin)[tp];
  *end = (*stop)[tp];
  int64_t next = std::min(std::max(from, *start), *end);
  RUNNEL_RETURN_IF_ERROR(Check(c.Seek(tp, next), "Seek"));
  const int64_t first = next;
  while (next < *end) {
    auto polled = c.Poll(0ms);
    RUNNEL_RETURN_IF_ERROR(Check(polled.status(), fmt::format("Poll({}) at {}", Name(tp), next)));
    if (polled->empty()) {
      return Fail(
          fmt::format("reading {} stalled at offset {} below its end {}", Name(tp), next, *end));
    }
    for (const ConsumerRecord& r : *polled) {
      if (r.offset != next) {
        return Fail(fmt::format("reading {} from offset {}: offset {} follows {} (a gap)", Name(tp),
                                first, r.offset, next - 1));
      }
      RUNNEL_RETURN_IF_ERROR(visit(r));
      ++next;
    }
  }
  return Check(c.Close(), "verifier Close");
}

absl::Status Soak::VerifyPartition(const TopicPartition& tp, int64_t from) {
  const PartitionModel& p = model_.partition(tp);
  int64_t start = 0, end = 0;
  RUNNEL_RETURN_IF_ERROR(ReadRange(tp, from, &start, &end, [&](const ConsumerRecord& r) {
    if (r.offset >= p.end()) return absl::OkStatus();  // reported below
    const std::string diff = CompareRecord(opts_.seed, p.at(r.offset), r);
    if (!diff.empty()) {
      ++stats_.corrupt;
      return Fail(fmt::format("{} offset {}: {}", Name(tp), r.offset, diff));
    }
    ++stats_.verified;
    return absl::OkStatus();
  }));
  if (start != p.log_start || end != p.end()) {
    if (end < p.end()) stats_.lost += p.end() - std::max(end, p.log_start);
    return Fail(fmt::format("{} holds [{}, {}), the model [{}, {})", Name(tp), start, end,
                            p.log_start, p.end()));
  }
  return absl::OkStatus();
}

absl::Status Soak::VerifyAll() {
  for (const TopicPartition& tp : model_.AllPartitions()) {
    RUNNEL_RETURN_IF_ERROR(CheckPartitionBounds(tp));
    RUNNEL_RETURN_IF_ERROR(VerifyPartition(tp, 0));
  }
  RUNNEL_RETURN_IF_ERROR(CheckGroupOffsets(kSoloGroup, solo_.get()));
  return CheckGroupOffsets(kMembersGroup, members_.empty() ? nullptr : members_[0]->consumer.get());
}

absl::Status Soak::CleanReopen() {
  op_name_ = "clean reopen";
  stats_.Fault("clean-reopen");
  RUNNEL_RETURN_IF_ERROR(CloseAll());
  RUNNEL_RETURN_IF_ERROR(OpenBroker());
  RUNNEL_RETURN_IF_ERROR(OpenClients());
  for (const TopicPartition& tp : model_.AllPartitions()) {
    RUNNEL_RETURN_IF_ERROR(CheckPartitionBounds(tp));
    model_.partition(tp).durable_end = model_.partition(tp).end();
  }
  // Reading everything back each time would grow with the log: the tails of a few
  // partitions, and now and then one whole.
  for (int i = 0; i < 3; ++i) {
    const std::vector<TopicPartition> all = model_.AllPartitions();
    const TopicPartition tp = all[rng_() % all.size()];
    const int64_t from = i == 0 && rng_() % 4 == 0 ? 0 : model_.partition(tp).end() - 500;
    RUNNEL_RETURN_IF_ERROR(VerifyPartition(tp, from));
  }
  RUNNEL_RETURN_IF_ERROR(CheckGroupOffsets(kSoloGroup, solo_.get()));
  for (int i = 0; i < target_members_; ++i) RUNNEL_RETURN_IF_ERROR(AddMember());
  op_name_ = "clean reopen";
  RUNNEL_RETURN_IF_ERROR(Settle());
  return CheckGroupOffsets(kMembersGroup, members_.empty() ? nullptr : members_[0]->consumer.get());
}

absl::Status Soak::PowerCut() {
  op_name_ = "power cut";
  stats_.Fault("power-cut");
  const int64_t budget = static_cast<int64_t>(rng_() % 400);
  env_.KillAfter(budget);
  // A burst of produces and commits, until the first one fails.
  std::vector<Sent> attempted;
  std::vector<bool> acked;
  std::map<std::string, std::vector<std::map<TopicPartition, int64_t>>> states;
  std::map<std::string, size_t> commits_acked;
  for (const std::string group : {kSoloGroup, kMembersGroup}) {
    states[group].push_back(model_.committed[group]);
    commits_acked[group] = 0;
  }
  const int steps = 1 + static_cast<int>(rng_() % 12);
  std::string log;
  for (int s = 0; s < steps; ++s) {
    const int kind = static_cast<int>(rng_() % 10);
    bool ok = true;
    if (kind < 6) {
      const std::string topic = RandomTopic();
      const bool sync = rng_() % 4 == 0;
      const int n = sync ? 1 : 1 + static_cast<int>(rng_() % 12);
      std::vector<Sent> sends;
      for (int i = 0; i < n; ++i) sends.push_back(NextRecord(topic));
      const size_t first = acked.size();
      RUNNEL_RETURN_IF_ERROR(ProduceBatch(sends, sync, &acked, /*crashing=*/true));
      attempted.insert(attempted.end(), sends.begin(), sends.end());
      const auto n_acked = std::count(acked.begin() + static_cast<long>(first), acked.end(), true);
      ok = n_acked == static_cast<long>(sends.size());
      log += fmt::format(" produce {}x{}:{}", topic, n, n_acked);
    } else if (kind < 9) {
      const std::string group = kind < 8 ? kSoloGroup : kMembersGroup;
      std::map<TopicPartition, int64_t> offsets;
      bool commit_acked = false;
      RUNNEL_RETURN_IF_ERROR(kind < 8 ? SoloCommit(true, &offsets, &commit_acked)
                                      : MemberCommit(true, &offsets, &commit_acked));
      op_name_ = "power cut";
      if (!offsets.empty()) {
        std::map<TopicPartition, int64_t> next = states[group].back();
        for (const auto& [tp, offset] : offsets) next[tp] = offset;
        states[group].push_back(std::move(next));
        if (commit_acked) ++commits_acked[group];
        ok = commit_acked;
        log += fmt::format(" commit {}:{}", group, commit_acked ? "ok" : "failed");
      }
    } else {
      const TopicPartition tp = RandomPartition();
      auto topic = broker_->core()->FindTopic(tp.topic);
      if (topic.ok()) {
        ok = (*topic)->partitions[static_cast<size_t>(tp.partition)]->log().Roll().ok();
      }
      log += fmt::format(" roll {}:{}", Name(tp), ok ? "ok" : "failed");
    }
    if (!ok) break;
  }
  if (opts_.verbose) fmt::print("soak: op {} power cut after {} writes:{}\n", op_, budget, log);
  if (!env_.dead()) env_.KillAfter(0);
  DropAll();
  RUNNEL_RETURN_IF_ERROR(Check(env_.PowerCut(rng_()), "FaultEnv::PowerCut"));
  op_name_ = fmt::format("power cut after {} writes:{}", budget, log);
  RUNNEL_RETURN_IF_ERROR(OpenBroker());
  RUNNEL_RETURN_IF_ERROR(OpenClients());
  RUNNEL_RETURN_IF_ERROR(Reconcile(attempted, acked));
  if (rng_() % 4 == 0) {  // now and then one partition whole
    const std::vector<TopicPartition> all = model_.AllPartitions();
    RUNNEL_RETURN_IF_ERROR(VerifyPartition(all[rng_() % all.size()], 0));
  }
  for (const std::string group : {kSoloGroup, kMembersGroup}) {
    RUNNEL_RETURN_IF_ERROR(ReconcileCommits(group, states[group], commits_acked[group]));
  }
  RUNNEL_RETURN_IF_ERROR(CheckGroupOffsets(kSoloGroup, solo_.get()));
  for (int i = 0; i < target_members_; ++i) RUNNEL_RETURN_IF_ERROR(AddMember());
  const std::string saved = op_name_;
  RUNNEL_RETURN_IF_ERROR(Settle());
  op_name_ = saved;
  return CheckGroupOffsets(kMembersGroup, members_.empty() ? nullptr : members_[0]->consumer.get());
}

absl::Status Soak::Reconcile(const std::vector<Sent>& attempted, const std::vector<bool>& acked) {
  // What each partition was sent during the burst, in order, and how much of it was acked.
  std::map<TopicPartition, std::vector<const ModelRecord*>> pending;
  std::map<TopicPartition, size_t> must_keep;  // a prefix of `pending`: the last acked one
  for (size_t i = 0; i < attempted.size(); ++i) {
    auto& list = pending[attempted[i].tp];
    list.push_back(&attempted[i].record);
    if (acked[i]) must_keep[attempted[i].tp] = list.size();
  }
  for (const TopicPartition& tp : model_.AllPartitions()) {
    PartitionModel& p = model_.partition(tp);
    const std::vector<const ModelRecord*>& sent = pending[tp];
    const SyncPolicy sync = model_.topics[tp.topic].config.sync_policy;
    int64_t start = 0, end = 0;
    // Below durable_end the records were on disk at the last open and a cut cannot touch
    // them: read a little of them, and all that follows.
    RUNNEL_RETURN_IF_ERROR(
        ReadRange(tp, p.durable_end - 20, &start, &end, [&](const ConsumerRecord& r) {
          const ModelRecord* want = nullptr;
          if (r.offset < p.end()) {
            want = &p.at(r.offset);
          } else if (static_cast<size_t>(r.offset - p.end()) < sent.size()) {
            want = sent[static_cast<size_t>(r.offset - p.end())];
          } else {
            ++stats_.corrupt;
            return Fail(
                fmt::format("{} holds offset {} after the power cut, beyond the {} records "
                            "the model has and the {} attempted",
                            Name(tp), r.offset, p.end(), sent.size()));
          }
          const std::string diff = CompareRecord(opts_.seed, *want, r);
          if (!diff.empty()) {
            ++stats_.corrupt;
            return Fail(
                fmt::format("after the power cut, {} offset {} is not the record sent there "
                            "({} sync): {}",
                            Name(tp), r.offset, SyncPolicyText(sync), diff));
          }
          ++stats_.verified;
          return absl::OkStatus();
        }));
    if (start != p.log_start) {
      return Fail(fmt::format("after the power cut, {} starts at {}, expected {}", Name(tp), start,
                              p.log_start));
    }
    const int64_t keep = sync == SyncPolicy::kAlways ? p.end() + static_cast<int64_t>(must_keep[tp])
                                                     : std::max(p.durable_end, p.log_start);
    if (end < keep) {
      stats_.lost += keep - std::max(end, p.log_start);
      return Fail(fmt::format(
          "after the power cut, {} ({} sync) ends at {}: records [{}, {}) are "
          "lost ({} acknowledged in the burst; {} were on disk at the last "
          "open)",
          Name(tp), SyncPolicyText(sync), end, end, keep, must_keep[tp], p.durable_end));
    }
    if (end <= p.end()) {
      p.TruncateEnd(end);
    } else {
      const int64_t base = p.end();
      for (int64_t o = base; o < end; ++o)
        p.records.push_back(*sent[static_cast<size_t>(o - base)]);
    }
    p.durable_end = end;
    RUNNEL_RETURN_IF_ERROR(CheckPartitionBounds(tp));
  }
  return absl::OkStatus();
}

absl::Status Soak::ReconcileCommits(const std::string& group,
                                    const std::vector<std::map<TopicPartition, int64_t>>& states,
                                    size_t acked) {
  std::map<TopicPartition, int64_t> got;
  auto desc = admin_->DescribeGroup(group);
  if (desc.ok()) {
    for (const PartitionOffsetDescription& pd : desc->offsets) {
      if (pd.committed) got[pd.partition] = pd.committed->offset;
    }
  } else if (!absl::IsNotFound(desc.status())) {
    return Check(desc.status(), fmt::format("DescribeGroup({})", group));
  }
  for (size_t i = acked; i < states.size() && i <= acked + 1; ++i) {
    if (got == states[i]) {
      model_.committed[group] = got;
      return absl::OkStatus();
    }
  }
  auto show = [](const std::map<TopicPartition, int64_t>& m) {
    std::string out;
    for (const auto& [tp, o] : m) out += fmt::format(" {}={}", Name(tp), o);
    return out.empty() ? std::string(" none") : out;
  };
  std::string want = show(states[acked]);
  if (acked + 1 < states.size()) want += " or" + show(states[acked + 1]);
  return Fail(
      fmt::format("after the power cut, group {} has committed{}; expected (after {} "
                  "acknowledged commits in the burst){}",
                  group, show(got), acked, want));
}

}  // namespace runnel::torture::soak
