// The broker behind runnel::Broker: the data directory's lock, the topic table, every
// partition, and a background thread for retention and time-based flushes. Shared
// (std::shared_ptr) by the Broker handle and the producers and consumers made from it, so
// none of them dangles; once closed, everything fails with FailedPrecondition.
// Thread-safe.
#ifndef RUNNEL_BROKER_BROKER_CORE_H_
#define RUNNEL_BROKER_BROKER_CORE_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "broker/partition.h"
#include "broker/topic_metadata.h"
#include "io/dir_watcher.h"
#include "io/env.h"
#include "runnel/broker.h"

namespace runnel::internal {

// A topic as of one moment. Immutable but for the flags: adding partitions publishes a
// new Topic and marks this one stale, so holders look it up again.
struct Topic {
  std::string name;
  TopicConfig config;
  std::vector<std::shared_ptr<Partition>> partitions;
  std::atomic<bool> stale{false};    // replaced or deleted
  std::atomic<bool> deleted{false};
};

// Where committed offsets live (Kafka's name). Internal: applications cannot create or
// delete it, and Broker::ListTopics leaves it out, as Kafka's listTopics does.
inline constexpr std::string_view kConsumerOffsetsTopic = "__consumer_offsets";
// Where share groups keep which records are done and how often each was delivered
// (Kafka's name).
inline constexpr std::string_view kShareGroupStateTopic = "__share_group_state";
// runnel's own topics: applications cannot create, delete, alter or produce to them.
inline bool IsInternalTopic(std::string_view name) {
  return name == kConsumerOffsetsTopic || name == kShareGroupStateTopic;
}

// Something a higher layer keeps one of per broker (the group coordinator), without the
// broker layer depending on it. Told when the broker has closed.
class BrokerService {
 public:
  virtual ~BrokerService() = default;
  virtual void OnBrokerClose() = 0;
};

class BrokerCore {
 public:
  static absl::StatusOr<std::shared_ptr<BrokerCore>> Open(io::Env* env, const std::string& dir,
                                                          const BrokerOptions& options);
  ~BrokerCore();

  absl::Status Close();
  // FailedPrecondition once closed.
  absl::Status CheckOpen() const;
  // CheckOpen, and FailedPrecondition for a broker opened read-only.
  absl::Status CheckWritable() const;
  bool read_only() const { return options_.read_only; }

  absl::Status CreateTopic(std::string_view name, int32_t partitions, const TopicConfig& config);
  // NotFound naming the topic.
  absl::StatusOr<std::shared_ptr<Topic>> FindTopic(std::string_view name) const;
  // FindTopic, creating the topic first when auto.create.topics.enable allows it: the
  // producer's lookup, so internal topics are refused with InvalidArgument.
  absl::StatusOr<std::shared_ptr<Topic>> FindOrCreateTopic(std::string_view name);
  absl::StatusOr<TopicDescription> DescribeTopic(std::string_view name) const;
  std::vector<std::string> ListTopics() const;
  absl::Status DeleteTopic(std::string_view name);
  absl::Status CreatePartitions(std::string_view name, int32_t total);
  absl::Status AlterTopicConfig(std::string_view name,
                                const std::map<std::string, std::string>& changes);
  // CreateTopic for runnel's own topics, whose names applications may not use.
  absl::Status CreateInternalTopic(std::string_view name, int32_t partitions,
                                   const TopicConfig& config);
  // Grows by one whenever a topic is created, deleted or gains partitions: a cheap way
  // to notice that topic metadata changed.
  uint64_t topics_version() const { return topics_version_.load(std::memory_order_acquire); }

  // The service registered under `name`, made by `make` on first use.
  absl::StatusOr<std::shared_ptr<BrokerService>> Service(
      std::string_view name,
      const std::function<absl::StatusOr<std::shared_ptr<BrokerService>>()>& make);

  io::Env* env() const { return env_; }
  const std::string& dir() const { return dir_; }
  const BrokerOptions& options() const { return options_; }

 private:
  BrokerCore(io::Env* env, std::string dir, const BrokerOptions& options);
  absl::Status CloseLocked();
  absl::Status Load();
  absl::Status RemoveOrphans(const TopicTable& table);
  absl::StatusOr<std::shared_ptr<Partition>> OpenPartition(const std::string& topic, int32_t p,
                                                           const TopicConfig& config);
  absl::Status RemovePartitionDir(const std::string& path);
  absl::Status CreateTopicLocked(std::string_view name, int32_t partitions,
                                 const TopicConfig& config, bool internal = false);
  void Publish(std::shared_ptr<Topic> topic);
  void MaintenanceLoop();
  // Read-only brokers: re-reads the topic table, adding and removing topics and
  // partitions as the owner did, and follows the partitions' logs.
  absl::Status ReloadTopics();
  void FollowLoop();
  // Stops and joins the background thread; once, however many threads call it.
  void StopBackgroundThread();

  io::Env* const env_;
  const std::string dir_;
  const BrokerOptions options_;
  std::unique_ptr<io::FileLock> lock_;

  // Serialises admin operations and guards table_ (what is on disk).
  std::mutex admin_mu_;
  TopicTable table_;
  uint64_t deletions_ = 0;

  mutable std::mutex topics_mu_;
  std::map<std::string, std::shared_ptr<Topic>, std::less<>> topics_;
  std::atomic<bool> closed_{false};
  std::atomic<uint64_t> topics_version_{0};

  std::mutex services_mu_;
  std::map<std::string, std::shared_ptr<BrokerService>, std::less<>> services_;

  std::mutex stop_mu_;  // serialises StopBackgroundThread
  std::mutex maintenance_mu_;
  std::condition_variable maintenance_cv_;
  bool stopping_ = false;          // guarded by maintenance_mu_
  uint64_t topics_changed_ = 0;    // guarded by maintenance_mu_
  std::thread maintenance_;         // MaintenanceLoop, or FollowLoop when read-only
  std::unique_ptr<io::DirWatcher> watcher_;  // read-only brokers
};

}  // namespace runnel::internal

#endif  // RUNNEL_BROKER_BROKER_CORE_H_
