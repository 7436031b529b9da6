#include "broker/broker_core.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "util/formatters.h"
#include "util/strings.h"
#include "util/status_macros.h"

namespace runnel::internal {
namespace {

constexpr std::string_view kLockFileName = ".lock";
constexpr std::string_view kDeleteSuffix = "-delete";

// "<anything>-<digits>": the shape of a partition directory.
bool LooksLikePartitionDir(std::string_view name) {
  const size_t dash = name.rfind('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == name.size()) return false;
  return std::all_of(name.begin() + static_cast<ptrdiff_t>(dash) + 1, name.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

BrokerCore::BrokerCore(io::Env* env, std::string dir, const BrokerOptions& options)
    : env_(env), dir_(std::move(dir)), options_(options) {}

absl::StatusOr<std::shared_ptr<BrokerCore>> BrokerCore::Open(io::Env* env, const std::string& dir,
                                                             const BrokerOptions& options) {
  if (options.num_partitions < 1 || options.num_partitions > kMaxPartitions) {
    return absl::InvalidArgumentError(fmt::format(
        "num.partitions = {} is invalid: must be between 1 and {}", options.num_partitions,
        kMaxPartitions));
  }
  if (options.log_retention_check_interval_ms < 1) {
    return absl::InvalidArgumentError(
        fmt::format("log.retention.check.interval.ms = {} is invalid: must be at least 1",
                    options.log_retention_check_interval_ms));
  }
  if (options.offsets_topic_segment_bytes < 1024) {
    return absl::InvalidArgumentError(
        fmt::format("offsets.topic.segment.bytes = {} is invalid: must be at least 1024",
                    options.offsets_topic_segment_bytes));
  }
  RUNNEL_RETURN_IF_ERROR(options.default_topic_config.Validate());
  if (options.read_only && options.read_only_refresh_interval_ms < 1) {
    return absl::InvalidArgumentError(
        fmt::format("read_only_refresh_interval_ms = {} is invalid: must be at least 1",
                    options.read_only_refresh_interval_ms));
  }
  std::shared_ptr<BrokerCore> core(new BrokerCore(env, dir, options));
  if (options.read_only) {
    RUNNEL_ASSIGN_OR_RETURN(core->watcher_, io::DirWatcher::Create());
  }
  RUNNEL_RETURN_IF_ERROR(core->Load());
  core->maintenance_ = std::thread([raw = core.get()] {
    if (raw->read_only()) {
      raw->FollowLoop();
    } else {
      raw->MaintenanceLoop();
    }
  });
  return core;
}

BrokerCore::~BrokerCore() { StopBackgroundThread(); }

void BrokerCore::StopBackgroundThread() {
  std::lock_guard<std::mutex> stop(stop_mu_);
  {
    std::lock_guard<std::mutex> lock(maintenance_mu_);
    stopping_ = true;
  }
  maintenance_cv_.notify_all();
  if (watcher_) watcher_->Interrupt();
  if (maintenance_.joinable()) maintenance_.join();
}

absl::Status BrokerCore::Load() {
  if (read_only()) {
    if (!env_->ListDir(dir_).ok()) {
      return absl::NotFoundError(fmt::format(
          "data directory {} does not exist (or is not a readable directory)", dir_));
    }
    return ReloadTopics();
  }
  RUNNEL_RETURN_IF_ERROR(env_->CreateDir(dir_));
  absl::StatusOr<std::unique_ptr<io::FileLock>> lock =
      env_->LockFile(io::JoinPath(dir_, std::string(kLockFileName)));
  if (!lock.ok()) {
    if (lock.status().code() == absl::StatusCode::kFailedPrecondition) {
      return absl::FailedPreconditionError(fmt::format(
          "data directory {} is already open: {}", dir_, lock.status().message()));
    }
    return lock.status();
  }
  lock_ = std::move(*lock);
  RUNNEL_ASSIGN_OR_RETURN(table_, ReadTopicTable(env_, dir_));
  RUNNEL_RETURN_IF_ERROR(RemoveOrphans(table_));
  for (const auto& [name, entry] : table_) {
    auto topic = std::make_shared<Topic>();
    topic->name = name;
    topic->config = entry.config;
    for (int32_t p = 0; p < entry.partitions; ++p) {
      RUNNEL_ASSIGN_OR_RETURN(std::shared_ptr<Partition> partition,
                              OpenPartition(name, p, entry.config));
      topic->partitions.push_back(std::move(partition));
    }
    topics_[name] = std::move(topic);
  }
  return absl::OkStatus();
}

// Partition directories that the topic table does not list are what a crash in the middle
// of CreateTopic, CreatePartitions or DeleteTopic leaves: the table is written last on
// creation and first on deletion, so such data was never, or is no longer, acknowledged.
absl::Status BrokerCore::RemoveOrphans(const TopicTable& table) {
  RUNNEL_ASSIGN_OR_RETURN(std::vector<std::string> names, env_->ListDir(dir_));
  for (const std::string& name : names) {
    const std::string path = io::JoinPath(dir_, name);
    if (EndsWith(name, ".tmp")) {
      RUNNEL_RETURN_IF_ERROR(env_->RemoveFile(path));
      continue;
    }
    bool listed = false;
    for (const auto& [topic, entry] : table) {
      for (int32_t p = 0; p < entry.partitions && !listed; ++p) {
        listed = name == fmt::format("{}-{}", topic, p);
      }
    }
    if (!listed && (EndsWith(name, kDeleteSuffix) || LooksLikePartitionDir(name)) &&
        env_->ListDir(path).ok()) {
      RUNNEL_RETURN_IF_ERROR(RemovePartitionDir(path));
    }
  }
  return absl::OkStatus();
}

absl::Status BrokerCore::RemovePartitionDir(const std::string& path) {
  RUNNEL_ASSIGN_OR_RETURN(std::vector<std::string> files, env_->ListDir(path));
  for (const std::string& f : files) RUNNEL_RETURN_IF_ERROR(env_->RemoveFile(io::JoinPath(path, f)));
  return env_->RemoveDir(path);
}

absl::StatusOr<std::shared_ptr<Partition>> BrokerCore::OpenPartition(const std::string& topic,
                                                                     int32_t p,
                                                                     const TopicConfig& config) {
  const std::string path = PartitionDir(dir_, topic, p);
  const std::string name = fmt::format("{}-{}", topic, p);
  RUNNEL_ASSIGN_OR_RETURN(
      std::unique_ptr<storage::PartitionLog> log,
      read_only() ? storage::PartitionLog::OpenReadOnly(env_, path, ToLogConfig(config), name)
                  : storage::PartitionLog::Open(env_, path, ToLogConfig(config), name));
  return std::make_shared<Partition>(TopicPartition{topic, p}, std::move(log));
}

absl::Status BrokerCore::CheckOpen() const {
  if (closed_.load()) {
    return absl::FailedPreconditionError(fmt::format("the broker of {} is closed", dir_));
  }
  return absl::OkStatus();
}

absl::Status BrokerCore::CheckWritable() const {
  RUNNEL_RETURN_IF_ERROR(CheckOpen());
  if (read_only()) {
    return absl::FailedPreconditionError(fmt::format(
        "data directory {} is open read-only: only the process that owns it can change it",
        dir_));
  }
  return absl::OkStatus();
}

void BrokerCore::Publish(std::shared_ptr<Topic> topic) {
  {
    std::lock_guard<std::mutex> lock(topics_mu_);
    auto it = topics_.find(topic->name);
    if (it != topics_.end()) it->second->stale.store(true);
    topics_[topic->name] = std::move(topic);
  }
  topics_version_.fetch_add(1, std::memory_order_acq_rel);
  // The new topic's flush.ms may be shorter than what the background thread sleeps for.
  {
    std::lock_guard<std::mutex> lock(maintenance_mu_);
    ++topics_changed_;
  }
  maintenance_cv_.notify_all();
}

absl::Status BrokerCore::CreateTopic(std::string_view name, int32_t partitions,
                                     const TopicConfig& config) {
  std::lock_guard<std::mutex> admin(admin_mu_);
  return CreateTopicLocked(name, partitions, config);
}

absl::Status BrokerCore::CreateInternalTopic(std::string_view name, int32_t partitions,
                                             const TopicConfig& config) {
  std::lock_guard<std::mutex> admin(admin_mu_);
  RUNNEL_RETURN_IF_ERROR(CheckWritable());
  if (table_.count(std::string(name)) > 0) return absl::OkStatus();
  return CreateTopicLocked(name, partitions, config, /*internal=*/true);
}

absl::Status BrokerCore::CreateTopicLocked(std::string_view name, int32_t partitions,
                                           const TopicConfig& config, bool internal) {
  RUNNEL_RETURN_IF_ERROR(CheckWritable());
  RUNNEL_RETURN_IF_ERROR(ValidateTopicName(name));
  if (!internal && IsInternalTopic(name)) {
    return absl::InvalidArgumentError(fmt::format(
        "topic name \"{}\" is reserved: runnel keeps group state there", name));
  }
  if (partitions < 1 || partitions > kMaxPartitions) {
    return absl::InvalidArgumentError(fmt::format(
        "topic \"{}\" cannot have {} partitions: must be between 1 and {}", name, partitions,
        kMaxPartitions));
  }
  RUNNEL_RETURN_IF_ERROR(config.Validate());
  const std::string topic_name(name);
  if (table_.count(topic_name) > 0) {
    return absl::AlreadyExistsError(fmt::format("topic \"{}\" already exists", name));
  }
  // Kafka's rule: '.' and '_' collide in metric names, so "a.b" and "a_b" cannot coexist.
  auto unify = [](std::string n) {
    std::replace(n.begin(), n.end(), '.', '_');
    return n;
  };
  for (const auto& [existing, entry] : table_) {
    if (unify(existing) == unify(topic_name)) {
      return absl::InvalidArgumentError(fmt::format(
          "topic \"{}\" collides with existing topic \"{}\": names that differ only in '.' "
          "and '_' are not allowed",
          name, existing));
    }
  }
  auto topic = std::make_shared<Topic>();
  topic->name = topic_name;
  topic->config = config;
  for (int32_t p = 0; p < partitions; ++p) {
    const std::string path = PartitionDir(dir_, topic_name, p);
    // Not in the table, so any files there are left from a failed admin operation.
    if (env_->ListDir(path).ok()) RUNNEL_RETURN_IF_ERROR(RemovePartitionDir(path));
    absl::StatusOr<std::shared_ptr<Partition>> partition = OpenPartition(topic_name, p, config);
    if (!partition.ok()) return partition.status();
    topic->partitions.push_back(std::move(*partition));
  }
  TopicTable table = table_;
  table[topic_name] = TopicEntry{partitions, config};
  // The table is written last: a crash before this leaves directories Open removes.
  RUNNEL_RETURN_IF_ERROR(WriteTopicTable(env_, dir_, table));
  table_ = std::move(table);
  Publish(std::move(topic));
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Topic>> BrokerCore::FindTopic(std::string_view name) const {
  RUNNEL_RETURN_IF_ERROR(CheckOpen());
  std::lock_guard<std::mutex> lock(topics_mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) {
    return absl::NotFoundError(fmt::format("unknown topic \"{}\" in {}", name, dir_));
  }
  return it->second;
}

absl::StatusOr<std::shared_ptr<Topic>> BrokerCore::FindOrCreateTopic(std::string_view name) {
  if (IsInternalTopic(name)) {
    return absl::InvalidArgumentError(fmt::format(
        "topic \"{}\" is internal: runnel's group coordinators write it, not producers", name));
  }
  absl::StatusOr<std::shared_ptr<Topic>> found = FindTopic(name);
  if (found.ok() || found.status().code() != absl::StatusCode::kNotFound ||
      !options_.auto_create_topics_enable) {
    return found;
  }
  {
    std::lock_guard<std::mutex> admin(admin_mu_);
    if (table_.count(std::string(name)) == 0) {
      RUNNEL_RETURN_IF_ERROR(
          CreateTopicLocked(name, options_.num_partitions, options_.default_topic_config));
    }
  }
  return FindTopic(name);
}

absl::StatusOr<TopicDescription> BrokerCore::DescribeTopic(std::string_view name) const {
  RUNNEL_ASSIGN_OR_RETURN(std::shared_ptr<Topic> topic, FindTopic(name));
  TopicDescription d;
  d.name = topic->name;
  d.config = topic->config;
  for (const auto& p : topic->partitions) {
    const storage::PartitionLog& log = p->log();
    // Each offset only grows: read them in the order start, visible, end, so that the
    // description keeps start <= visible <= end while appends go on.
    PartitionDescription pd;
    pd.partition = p->id().partition;
    pd.log_start_offset = log.log_start_offset();
    pd.visible_offset = log.visible_offset();
    pd.log_end_offset = log.log_end_offset();
    pd.size_bytes = log.size_in_bytes();
    d.partitions.push_back(pd);
  }
  return d;
}

std::vector<std::string> BrokerCore::ListTopics() const {
  std::lock_guard<std::mutex> lock(topics_mu_);
  std::vector<std::string> names;
  for (const auto& [name, topic] : topics_) names.push_back(name);
  return names;
}

absl::Status BrokerCore::DeleteTopic(std::string_view name) {
  std::lock_guard<std::mutex> admin(admin_mu_);
  RUNNEL_RETURN_IF_ERROR(CheckWritable());
  if (IsInternalTopic(name)) {
    return absl::InvalidArgumentError(fmt::format(
        "topic \"{}\" is internal and cannot be deleted: delete the groups instead", name));
  }
  RUNNEL_ASSIGN_OR_RETURN(std::shared_ptr<Topic> topic, FindTopic(name));
  TopicTable table = table_;
  table.erase(topic->name);
  // The table is written first: a crash after this leaves directories Open removes.
  RUNNEL_RETURN_IF_ERROR(WriteTopicTable(env_, dir_, table));
  table_ = std::move(table);
  {
    std::lock_guard<std::mutex> lock(topics_mu_);
    topics_.erase(topic->name);
  }
  topics_version_.fetch_add(1, std::memory_order_acq_rel);
  topic->deleted.store(true);
  topic->stale.store(true);
  // The topic is gone from the table: every partition refuses appends and releases its
  // waiters before any file is touched, so a failure below cannot leave one behind.
  // Abandoning the logs also stops the background thread or a producer from acting on
  // the old files (retention, a roll, a checkpoint) once a new topic of the same name
  // may own the directory.
  for (const auto& p : topic->partitions) {
    p->MarkDeleted();
    p->log().Abandon();
  }
  // Readers and producers still holding a partition keep its files open; the data goes
  // when they let go. What a failure here leaves, Open removes.
  absl::Status first;
  for (const auto& p : topic->partitions) {
    const std::string path = PartitionDir(dir_, topic->name, p->id().partition);
    const std::string doomed = fmt::format("{}.{}{}", path, ++deletions_, kDeleteSuffix);
    absl::Status st = env_->Rename(path, doomed);
    if (st.ok()) st = RemovePartitionDir(doomed);
    if (first.ok()) first = st;
  }
  if (first.ok()) first = env_->SyncDir(dir_);
  return first;
}

absl::Status BrokerCore::CreatePartitions(std::string_view name, int32_t total) {
  std::lock_guard<std::mutex> admin(admin_mu_);
  RUNNEL_RETURN_IF_ERROR(CheckWritable());
  RUNNEL_ASSIGN_OR_RETURN(std::shared_ptr<Topic> topic, FindTopic(name));
  const auto current = static_cast<int32_t>(topic->partitions.size());
  if (total <= current || total > kMaxPartitions) {
    return absl::InvalidArgumentError(fmt::format(
        "topic \"{}\" has {} partitions; the new total {} must be larger and at most {}", name,
        current, total, kMaxPartitions));
  }
  auto grown = std::make_shared<Topic>();
  grown->name = topic->name;
  grown->config = topic->config;
  grown->partitions = topic->partitions;
  for (int32_t p = current; p < total; ++p) {
    const std::string path = PartitionDir(dir_, topic->name, p);
    if (env_->ListDir(path).ok()) RUNNEL_RETURN_IF_ERROR(RemovePartitionDir(path));
    RUNNEL_ASSIGN_OR_RETURN(std::shared_ptr<Partition> partition,
                            OpenPartition(topic->name, p, topic->config));
    grown->partitions.push_back(std::move(partition));
  }
  TopicTable table = table_;
  table[topic->name].partitions = total;
  RUNNEL_RETURN_IF_ERROR(WriteTopicTable(env_, dir_, table));
  table_ = std::move(table);
  Publish(std::move(grown));
  return absl::OkStatus();
}

absl::Status BrokerCore::AlterTopicConfig(std::string_view name,
                                          const std::map<std::string, std::string>& changes) {
  std::lock_guard<std::mutex> admin(admin_mu_);
  RUNNEL_RETURN_IF_ERROR(CheckWritable());
  if (IsInternalTopic(name)) {
    return absl::InvalidArgumentError(
        fmt::format("topic \"{}\" is internal: its config follows BrokerOptions", name));
  }
  RUNNEL_ASSIGN_OR_RETURN(std::shared_ptr<Topic> topic, FindTopic(name));
  RUNNEL_ASSIGN_OR_RETURN(TopicConfig config, TopicConfig::FromMap(changes, topic->config));
  RUNNEL_RETURN_IF_ERROR(config.Validate());
  TopicTable table = table_;
  table[topic->name].config = config;
  RUNNEL_RETURN_IF_ERROR(WriteTopicTable(env_, dir_, table));
  table_ = std::move(table);
  // Open partitions keep the config they were opened with (see Broker::AlterTopicConfig);
  // descriptions show what is stored.
  auto altered = std::make_shared<Topic>();
  altered->name = topic->name;
  altered->config = config;
  altered->partitions = topic->partitions;
  Publish(std::move(altered));
  return absl::OkStatus();
}

absl::Status BrokerCore::ReloadTopics() {
  std::lock_guard<std::mutex> admin(admin_mu_);
  RUNNEL_RETURN_IF_ERROR(CheckOpen());
  RUNNEL_ASSIGN_OR_RETURN(TopicTable table, ReadTopicTable(env_, dir_));
  std::vector<std::shared_ptr<Topic>> gone;
  {
    std::lock_guard<std::mutex> lock(topics_mu_);
    for (auto it = topics_.begin(); it != topics_.end();) {
      auto listed = table.find(it->first);
      if (listed == table.end() ||
          listed->second.partitions < static_cast<int32_t>(it->second->partitions.size())) {
        gone.push_back(it->second);  // deleted (and perhaps made again, smaller)
        it = topics_.erase(it);
      } else {
        ++it;
      }
    }
  }
  if (!gone.empty()) topics_version_.fetch_add(1, std::memory_order_acq_rel);
  for (const auto& topic : gone) {
    topic->deleted.store(true);
    topic->stale.store(true);
    for (const auto& p : topic->partitions) {
      p->MarkDeleted();
      p->log().Abandon();
    }
  }
  for (const auto& [name, entry] : table) {
    std::shared_ptr<Topic> known;
    {
      std::lock_guard<std::mutex> lock(topics_mu_);
      auto it = topics_.find(name);
      if (it != topics_.end()) known = it->second;
    }
    if (known && static_cast<int32_t>(known->partitions.size()) == entry.partitions &&
        known->config == entry.config) {
      continue;
    }
    auto topic = std::make_shared<Topic>();
    topic->name = name;
    topic->config = entry.config;
    if (known) topic->partitions = known->partitions;
    bool complete = true;
    for (auto p = static_cast<int32_t>(topic->partitions.size()); p < entry.partitions; ++p) {
      absl::StatusOr<std::shared_ptr<Partition>> partition = OpenPartition(name, p, entry.config);
      if (!partition.ok()) {
        // The owner lists a topic once its directories exist, and deletes them after
        // unlisting it: a partition missing now is being deleted, or damaged. Either way
        // the topic waits for the next reload.
        if (partition.status().code() != absl::StatusCode::kNotFound) return partition.status();
        complete = false;
        break;
      }
      topic->partitions.push_back(std::move(*partition));
    }
    if (complete) Publish(std::move(topic));
  }
  table_ = std::move(table);
  return absl::OkStatus();
}

void BrokerCore::FollowLoop() {
  const auto interval = static_cast<int>(
      std::min<int64_t>(options_.read_only_refresh_interval_ms, 24 * 3600 * 1000));
  absl::StatusOr<int> dir_watch = watcher_->Watch(dir_);
  std::map<int, std::weak_ptr<Partition>> watched;
  std::map<std::string, int> watch_of;  // partition directory -> watch
  bool rescan = true;
  auto last_rescan = std::chrono::steady_clock::now();
  while (true) {
    {
      std::lock_guard<std::mutex> lock(maintenance_mu_);
      if (stopping_) break;
    }
    // Also while events keep coming: a watch that could not be added, or a partition
    // that could not be opened yet, is retried by the rescan.
    if (std::chrono::steady_clock::now() - last_rescan >= std::chrono::milliseconds(interval)) {
      rescan = true;
    }
    if (rescan) {
      rescan = false;
      last_rescan = std::chrono::steady_clock::now();
      // Errors (a topic table caught half-replaced cannot happen: it is renamed into
      // place) leave the last state; the next rescan tries again.
      ReloadTopics().IgnoreError();
      std::map<std::string, int> still;
      for (const std::string& name : ListTopics()) {
        absl::StatusOr<std::shared_ptr<Topic>> topic = FindTopic(name);
        if (!topic.ok()) continue;
        for (const auto& p : (*topic)->partitions) {
          const std::string& path = p->log().dir();
          auto known = watch_of.find(path);
          if (known != watch_of.end()) {
            still[path] = known->second;
          } else if (absl::StatusOr<int> w = watcher_->Watch(path); w.ok()) {
            still[path] = *w;
            watched[*w] = p;
          }
          p->log().Refresh(/*entries_changed=*/true).IgnoreError();
        }
      }
      for (const auto& [path, w] : watch_of) {
        if (still.count(path) == 0) {
          watcher_->Unwatch(w);
          watched.erase(w);
        }
      }
      watch_of = std::move(still);
    }
    absl::StatusOr<io::DirWatcher::Changes> changes = watcher_->Wait(interval);
    if (!changes.ok() || changes->overflow || changes->changes.empty()) {
      rescan = true;  // the interval passed, or events were lost
      continue;
    }
    for (const io::DirWatcher::Change& change : changes->changes) {
      if (dir_watch.ok() && change.watch == *dir_watch) {
        rescan = true;  // the topic table was replaced, or partition directories changed
        continue;
      }
      auto it = watched.find(change.watch);
      std::shared_ptr<Partition> partition = it == watched.end() ? nullptr : it->second.lock();
      if (partition == nullptr || partition->deleted()) {
        rescan = true;
        continue;
      }
      absl::StatusOr<bool> refreshed = partition->log().Refresh(change.entries_changed);
      if (!refreshed.ok()) rescan = true;
    }
  }
}

absl::Status BrokerCore::Close() {
  // Stopped before admin_mu_ is taken: a read-only broker's thread takes it to reload.
  StopBackgroundThread();
  absl::Status status;
  {
    std::lock_guard<std::mutex> admin(admin_mu_);
    status = CloseLocked();
  }
  // Told after admin_mu_ is released: a service may hold its own lock while it waits for
  // admin_mu_ (the coordinator creating __consumer_offsets on a first commit).
  std::vector<std::shared_ptr<BrokerService>> services;
  {
    std::lock_guard<std::mutex> lock(services_mu_);
    for (const auto& [name, service] : services_) services.push_back(service);
  }
  for (const auto& service : services) service->OnBrokerClose();
  return status;
}

absl::Status BrokerCore::CloseLocked() {
  if (closed_.exchange(true)) {
    return absl::FailedPreconditionError(fmt::format("the broker of {} is closed", dir_));
  }
  StopBackgroundThread();
  absl::Status first;
  std::map<std::string, std::shared_ptr<Topic>, std::less<>> topics;
  {
    std::lock_guard<std::mutex> lock(topics_mu_);
    topics.swap(topics_);
  }
  for (const auto& [name, topic] : topics) {
    topic->stale.store(true);
    for (const auto& p : topic->partitions) {
      p->MarkClosed();
      absl::Status st = p->log().Close();
      if (first.ok() && !st.ok()) first = st;
    }
  }
  lock_.reset();
  return first;
}

absl::StatusOr<std::shared_ptr<BrokerService>> BrokerCore::Service(
    std::string_view name,
    const std::function<absl::StatusOr<std::shared_ptr<BrokerService>>()>& make) {
  RUNNEL_RETURN_IF_ERROR(CheckOpen());
  {
    std::lock_guard<std::mutex> lock(services_mu_);
    auto it = services_.find(name);
    if (it != services_.end()) return it->second;
  }
  // Made without the lock: making one may take admin_mu_. Of two made at once, the first
  // registered wins.
  RUNNEL_ASSIGN_OR_RETURN(std::shared_ptr<BrokerService> service, make());
  std::lock_guard<std::mutex> lock(services_mu_);
  return services_.emplace(std::string(name), std::move(service)).first->second;
}

void BrokerCore::MaintenanceLoop() {
  using Clock = std::chrono::steady_clock;
  auto next_retention = Clock::now() + std::chrono::milliseconds(options_.log_retention_check_interval_ms);
  std::unique_lock<std::mutex> lock(maintenance_mu_);
  while (!stopping_) {
    // Wake for retention, and often enough for the shortest flush.ms of any topic.
    auto wake = next_retention;
    for (const std::string& name : ListTopics()) {
      absl::StatusOr<std::shared_ptr<Topic>> topic = FindTopic(name);
      if (topic.ok() && (*topic)->config.sync_policy == SyncPolicy::kInterval &&
          (*topic)->config.flush_ms < options_.log_retention_check_interval_ms) {
        wake = std::min(wake, Clock::now() + std::chrono::milliseconds(
                                                 std::max<int64_t>((*topic)->config.flush_ms, 1)));
      }
    }
    const uint64_t changes = topics_changed_;
    maintenance_cv_.wait_until(lock, wake, [&] { return stopping_ || topics_changed_ != changes; });
    if (stopping_) break;
    if (topics_changed_ != changes && Clock::now() < wake) continue;  // plan again
    lock.unlock();
    const bool retention_due = Clock::now() >= next_retention;
    if (retention_due) {
      next_retention = Clock::now() + std::chrono::milliseconds(options_.log_retention_check_interval_ms);
    }
    for (const std::string& name : ListTopics()) {
      absl::StatusOr<std::shared_ptr<Topic>> topic = FindTopic(name);
      if (!topic.ok()) continue;
      for (const auto& p : (*topic)->partitions) {
        // Errors leave the partition read-only, where appends report them.
        p->log().FlushIfDue().IgnoreError();
        if (retention_due) p->log().EnforceRetention().IgnoreError();
      }
    }
    lock.lock();
  }
}

}  // namespace runnel::internal
