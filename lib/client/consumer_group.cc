// runnel::Consumer's group side: Subscribe, the reconciliation of the assignment with the
// group coordinator that runs inside Poll, the rebalance listener, and commits.
#include <fmt/format.h>

#include <algorithm>

#include "broker/topic_metadata.h"
#include "client/consumer_impl.h"
#include "util/formatters.h"
#include "util/status_macros.h"

namespace runnel {

absl::Status Consumer::Impl::CheckGroup(std::string_view what) const {
  RUNNEL_RETURN_IF_ERROR(CheckOpen());
  if (!coordinator_) {
    return absl::FailedPreconditionError(fmt::format(
        "{} needs a group.id: set ConsumerOptions::group_id to {}", name_, what));
  }
  return absl::OkStatus();
}

absl::Status Consumer::Impl::Subscribe(std::vector<std::string> topics,
                                       std::optional<std::regex> pattern,
                                       RebalanceListener listener) {
  RUNNEL_RETURN_IF_ERROR(CheckOpen());
  if (!coordinator_) {
    return absl::InvalidArgumentError(fmt::format(
        "{} cannot subscribe without a group.id: set ConsumerOptions::group_id, or use Assign",
        name_));
  }
  // Members and commits live in the owner's process.
  RUNNEL_RETURN_IF_ERROR(broker_->CheckWritable());
  if (mode_ == Mode::kAssign) {
    return absl::FailedPreconditionError(fmt::format(
        "{} has assigned partitions: Subscribe and Assign exclude each other; Assign({}) first",
        name_, "{}"));
  }
  for (const std::string& topic : topics) RUNNEL_RETURN_IF_ERROR(internal::ValidateTopicName(topic));
  if (topics.empty() && !pattern) return Unsubscribe();  // as Kafka's subscribe(empty)
  std::sort(topics.begin(), topics.end());
  topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
  if (member_id_.empty()) {
    std::swap(topics_, topics);
    absl::Status joined = JoinGroup();
    if (!joined.ok()) {  // a refused Subscribe changes nothing
      std::swap(topics_, topics);
      return joined;
    }
  } else {
    RUNNEL_RETURN_IF_ERROR(coordinator_->UpdateSubscription(options_.group_id, member_id_, topics));
    topics_ = std::move(topics);
  }
  listener_ = std::move(listener);
  pattern_ = std::move(pattern);
  pattern_topics_version_ = broker_->topics_version();
  mode_ = Mode::kSubscribe;
  return absl::OkStatus();
}

absl::Status Consumer::Impl::SubscribePattern(std::string_view pattern,
                                              RebalanceListener listener) {
  RUNNEL_RETURN_IF_ERROR(CheckOpen());
  std::regex re;
  try {
    re = std::regex(pattern.begin(), pattern.end(), std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return absl::InvalidArgumentError(
        fmt::format("topic pattern \"{}\" is not a valid regular expression: {}", pattern, e.what()));
  }
  std::vector<std::string> matched;
  for (const std::string& topic : broker_->ListTopics()) {
    if (!internal::IsInternalTopic(topic) && std::regex_match(topic, re)) {
      matched.push_back(topic);
    }
  }
  return Subscribe(std::move(matched), std::move(re), std::move(listener));
}

absl::Status Consumer::Impl::UpdatePatternSubscription() {
  const uint64_t version = broker_->topics_version();
  if (!pattern_ || version == pattern_topics_version_) return absl::OkStatus();
  pattern_topics_version_ = version;
  std::vector<std::string> matched;
  for (const std::string& topic : broker_->ListTopics()) {
    if (!internal::IsInternalTopic(topic) && std::regex_match(topic, *pattern_)) {
      matched.push_back(topic);
    }
  }
  if (matched == topics_) return absl::OkStatus();
  topics_ = std::move(matched);
  if (member_id_.empty()) return absl::OkStatus();
  return coordinator_->UpdateSubscription(options_.group_id, member_id_, topics_);
}

absl::Status Consumer::Impl::JoinGroup() {
  groups::JoinRequest request;
  request.client_id = options_.client_id;
  request.instance_id = options_.group_instance_id;
  request.topics = topics_;
  request.protocols = options_.partition_assignment_strategy;
  request.session_timeout_ms = options_.session_timeout_ms;
  request.max_poll_interval_ms = options_.max_poll_interval_ms;
  request.waker = &waker_;
  RUNNEL_ASSIGN_OR_RETURN(member_id_, coordinator_->Join(options_.group_id, request));
  seen_changes_ = 0;
  generation_ = -1;
  return absl::OkStatus();
}

void Consumer::Impl::LeaveGroup(bool detach_static) {
  if (member_id_.empty()) return;
  coordinator_->Leave(options_.group_id, member_id_, detach_static);
  member_id_.clear();
  generation_ = -1;
  seen_changes_ = 0;
}

absl::Status Consumer::Impl::Unsubscribe() {
  RUNNEL_RETURN_IF_ERROR(CheckOpen());
  absl::Status status;
  if (mode_ == Mode::kSubscribe) {
    const std::vector<TopicPartition> owned = Assignment();
    if (!owned.empty() && !member_id_.empty()) status = Revoke(owned, /*lost=*/Removed());
    LeaveGroup(/*detach_static=*/false);
  }
  assigned_.clear();
  topics_.clear();
  pattern_.reset();
  mode_ = Mode::kNone;
  return status;
}

bool Consumer::Impl::Removed() {
  return !member_id_.empty() &&
         absl::IsFailedPrecondition(
             coordinator_->Heartbeat(options_.group_id, member_id_, seen_changes_, false).status());
}

void Consumer::Impl::PollReturned() {
  if (!member_id_.empty()) coordinator_->PollReturned(options_.group_id, member_id_);
}

absl::Status Consumer::Impl::SyncGroup() {
  RUNNEL_RETURN_IF_ERROR(fenced_);
  RUNNEL_RETURN_IF_ERROR(UpdatePatternSubscription());
  // Each round either finds nothing to do or acts and looks again; a rebalance that keeps
  // moving is picked up by the next Poll round rather than looping here.
  for (int round = 0; round < 4; ++round) {
    if (member_id_.empty()) RUNNEL_RETURN_IF_ERROR(JoinGroup());
    // Every call comes from inside Poll, a rejoin included: a member is never removed for
    // not polling while a Poll runs.
    absl::StatusOr<groups::MemberView> view =
        coordinator_->Heartbeat(options_.group_id, member_id_, seen_changes_, /*in_poll=*/true);
    if (!view.ok()) {
      if (!absl::IsFailedPrecondition(view.status()) || !broker_->CheckOpen().ok()) {
        return view.status();
      }
      // A static member whose group.instance.id another consumer took over is fenced for
      // good (Kafka's FencedInstanceIdException): joining again would fence the other.
      if (!options_.group_instance_id.empty() &&
          coordinator_->InstanceTaken(options_.group_id, options_.group_instance_id)) {
        fenced_ = view.status();
        const std::vector<TopicPartition> lost = Assignment();
        member_id_.clear();
        generation_ = -1;
        if (!lost.empty()) Revoke(lost, /*lost=*/true).IgnoreError();
        return fenced_;
      }
      // Removed from the group: what it held may be another member's now.
      const std::vector<TopicPartition> lost = Assignment();
      member_id_.clear();
      generation_ = -1;
      if (!lost.empty()) RUNNEL_RETURN_IF_ERROR(Revoke(lost, /*lost=*/true));
      continue;
    }
    next_group_check_ = view->next_check;
    if (view->changes == seen_changes_) return absl::OkStatus();
    if (view->rejoin) {
      std::vector<TopicPartition> released;
      if (view->eager) {
        released = Assignment();
        if (!released.empty()) RUNNEL_RETURN_IF_ERROR(Revoke(released, /*lost=*/false));
      }
      RUNNEL_RETURN_IF_ERROR(coordinator_->Rejoin(options_.group_id, member_id_, released));
      seen_changes_ = 0;  // look again: the rebalance may have completed
      continue;
    }
    seen_changes_ = view->changes;
    generation_ = view->generation;
    std::vector<TopicPartition> revoke;
    std::vector<TopicPartition> gone;  // ours no more, as far as the coordinator knows
    for (const auto& a : assigned_) {
      if (!view->owned.count(a->tp)) {
        gone.push_back(a->tp);
      } else if (!view->target.count(a->tp)) {
        revoke.push_back(a->tp);
      }
    }
    if (!gone.empty()) RUNNEL_RETURN_IF_ERROR(Revoke(gone, /*lost=*/true));
    if (!revoke.empty()) RUNNEL_RETURN_IF_ERROR(Revoke(revoke, /*lost=*/false));
    std::vector<TopicPartition> wanted;
    for (const TopicPartition& tp : view->target) {
      if (!view->owned.count(tp)) wanted.push_back(tp);
    }
    if (!wanted.empty()) RUNNEL_RETURN_IF_ERROR(AcquireAndAssign(wanted));
    return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::Status Consumer::Impl::Revoke(const std::vector<TopicPartition>& partitions, bool lost) {
  absl::Status status;
  if (!lost && options_.enable_auto_commit) {
    // Best effort, as Kafka's: a failure here is reported by Poll's caller's next commit.
    status = CommitNow(Positions(&partitions));
  }
  if (lost && listener_.on_partitions_lost) {
    listener_.on_partitions_lost(partitions);
  } else if (listener_.on_partitions_revoked) {
    listener_.on_partitions_revoked(partitions);
  }
  std::erase_if(assigned_, [&](const std::unique_ptr<Assigned>& a) {
    return std::find(partitions.begin(), partitions.end(), a->tp) != partitions.end();
  });
  next_partition_ = 0;
  if (!lost && !member_id_.empty()) {
    // FailedPrecondition: the member was removed meanwhile, and its partitions with it.
    absl::Status released = coordinator_->Release(options_.group_id, member_id_, partitions);
    if (!released.ok() && !absl::IsFailedPrecondition(released)) return released;
  }
  return absl::IsFailedPrecondition(status) ? absl::OkStatus() : status;
}

absl::Status Consumer::Impl::AcquireAndAssign(const std::vector<TopicPartition>& wanted) {
  // Resolve before acquiring, so a partition is not taken that cannot be consumed.
  std::vector<std::unique_ptr<Assigned>> fresh;
  std::vector<TopicPartition> resolvable;
  for (const TopicPartition& tp : wanted) {
    auto resolved = Resolve(tp);
    if (!resolved.ok()) continue;  // deleted meanwhile: the next rebalance drops it
    fresh.push_back(MakeAssigned(tp, std::move(resolved->first), std::move(resolved->second)));
    resolvable.push_back(tp);
  }
  if (resolvable.empty()) return absl::OkStatus();
  RUNNEL_ASSIGN_OR_RETURN(std::vector<TopicPartition> got,
                          coordinator_->Acquire(options_.group_id, member_id_, resolvable));
  if (got.empty()) return absl::OkStatus();
  RUNNEL_ASSIGN_OR_RETURN(auto committed, coordinator_->Committed(options_.group_id, got));
  for (auto& a : fresh) {
    if (std::find(got.begin(), got.end(), a->tp) == got.end()) continue;
    if (const auto& c = committed[a->tp]) a->position = c->offset;
    assigned_.push_back(std::move(a));
  }
  std::sort(assigned_.begin(), assigned_.end(),
            [](const auto& x, const auto& y) { return x->tp < y->tp; });
  next_partition_ = 0;
  if (listener_.on_partitions_assigned) listener_.on_partitions_assigned(got);
  return absl::OkStatus();
}

std::map<TopicPartition, OffsetAndMetadata> Consumer::Impl::Positions(
    const std::vector<TopicPartition>* only) const {
  std::map<TopicPartition, OffsetAndMetadata> out;
  for (const auto& a : assigned_) {
    if (!a->position) continue;
    if (only && std::find(only->begin(), only->end(), a->tp) == only->end()) continue;
    out[a->tp] = OffsetAndMetadata{*a->position, ""};
  }
  return out;
}

absl::Status Consumer::Impl::CommitNow(const std::map<TopicPartition, OffsetAndMetadata>& offsets) {
  if (offsets.empty() || !coordinator_) return absl::OkStatus();
  if (mode_ == Mode::kSubscribe && member_id_.empty()) {
    return absl::FailedPreconditionError(fmt::format(
        "commit refused: {} is not a member of group \"{}\" now (it was removed; its next Poll "
        "joins again)",
        name_, options_.group_id));
  }
  groups::GroupOffsets stored;
  const int64_t now = broker_->env()->NowMillis();
  for (const auto& [tp, om] : offsets) stored[tp] = groups::OffsetValue{om.offset, om.metadata, now};
  const std::string member = mode_ == Mode::kSubscribe ? member_id_ : std::string();
  return coordinator_->Commit(options_.group_id, member, generation_, stored);
}

void Consumer::Impl::MaybeAutoCommit(Clock::time_point now) {
  if (!coordinator_ || !options_.enable_auto_commit || now < next_auto_commit_) return;
  next_auto_commit_ = now + std::chrono::milliseconds(options_.auto_commit_interval_ms);
  // Best effort, as in Kafka: a member that lost its partitions finds out in SyncGroup.
  CommitNow(Positions(nullptr)).IgnoreError();
}

absl::Status Consumer::Impl::CommitSync(
    std::optional<std::map<TopicPartition, OffsetAndMetadata>> offsets) {
  RUNNEL_RETURN_IF_ERROR(CheckGroup("commit"));
  RunCommitCallbacks();
  return CommitNow(offsets ? *offsets : Positions(nullptr));
}

void Consumer::Impl::CommitAsync(std::optional<std::map<TopicPartition, OffsetAndMetadata>> offsets,
                                 OffsetCommitCallback callback) {
  PendingCallback pending;
  pending.offsets = offsets ? std::move(*offsets) : Positions(nullptr);
  pending.status = CheckGroup("commit");
  if (pending.status.ok()) pending.status = CommitNow(pending.offsets);
  pending.callback = std::move(callback);
  if (pending.callback) callbacks_.push_back(std::move(pending));
}

void Consumer::Impl::RunCommitCallbacks() {
  std::vector<PendingCallback> due;
  due.swap(callbacks_);
  for (PendingCallback& p : due) p.callback(p.offsets, p.status);
}

absl::StatusOr<std::map<TopicPartition, std::optional<OffsetAndMetadata>>>
Consumer::Impl::Committed(const std::vector<TopicPartition>& partitions) const {
  RUNNEL_RETURN_IF_ERROR(CheckGroup("read committed offsets"));
  return coordinator_->Committed(options_.group_id, partitions);
}

ConsumerGroupMetadata Consumer::Impl::GroupMetadata() const {
  return ConsumerGroupMetadata{options_.group_id, generation_, member_id_,
                               options_.group_instance_id};
}

}  // namespace runnel
