// runnel::Broker owns a data directory: its topics, their partitions (each a Kafka-format
// partition log, `<dir>/<topic>-<partition>/`) and the admin operations on them. Producers
// and consumers are created from a Broker.
//
// Ownership and lifetime: Open returns the only handle. One process at a time owns a data
// directory (an exclusive lock on `<dir>/.lock`); a second Open, in this process or
// another, fails with FailedPrecondition naming the directory and the holder's pid.
// Producers keep what they use alive, but once the Broker is closed they fail with
// FailedPrecondition. Close() flushes every partition and records a clean shutdown so the
// next Open skips recovery scans; the destructor calls Close() if it was not called.
//
// BrokerOptions::read_only opens a directory another process owns, without the lock, to
// read and follow it (as `runnel consume --follow` does).
//
// Threads: every method is thread-safe.
//
// Errors: absl::Status with runnel/status.h's codes. Admin changes to topics are atomic
// on disk (written to a temp file, fsynced, renamed, directory fsynced): a crash during
// CreateTopic, DeleteTopic or CreatePartitions leaves the old state or the new one.
#ifndef RUNNEL_BROKER_H_
#define RUNNEL_BROKER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runnel/export.h"
#include "runnel/topic_config.h"

namespace runnel {

class Broker;
namespace internal {
class BrokerCore;
// For runnel's own tests and tools: a Broker over a core opened on another io::Env.
std::unique_ptr<Broker> WrapBrokerCore(std::shared_ptr<BrokerCore> core);
}  // namespace internal

struct BrokerOptions {
  // auto.create.topics.enable: a Send to an unknown topic creates it with num.partitions
  // partitions and default_topic_config. Off by default, unlike Kafka's broker, so that a
  // misspelt topic name is an error rather than a new topic.
  bool auto_create_topics_enable = false;
  // num.partitions: partitions of an auto-created topic.
  int32_t num_partitions = 1;
  // The settings of auto-created topics, and the base that CreateTopic's config map
  // overrides when created through TopicConfig::FromMap.
  TopicConfig default_topic_config;
  // log.retention.check.interval.ms: how often a background thread applies retention.ms
  // and retention.bytes and fsyncs partitions whose flush.ms is due.
  int64_t log_retention_check_interval_ms = 5 * 60 * 1000;
  // offsets.topic.segment.bytes: the segment size of __consumer_offsets (one partition,
  // sync.policy as default_topic_config). Once it holds more than this and more than
  // twice its live commits, the live commits are rewritten into a fresh segment and the
  // older segments deleted, so commits cannot grow it without bound (runnel's stand-in
  // for Kafka's compaction of the topic).
  int32_t offsets_topic_segment_bytes = 100 * 1024 * 1024;
  // Opens the directory to read only, beside the process that owns it (or with no owner):
  // no lock is taken and nothing is ever written. Topics and partitions are read as they
  // are on disk, and new topics, partitions, segments and records are followed as the
  // owner writes them (inotify wakes the reader; a rescan every
  // read_only_refresh_interval_ms catches what it misses). A partition ends at its last
  // batch whose length and CRC check out, so a reader never sees a partial batch. Records
  // the owner has written but not yet fsynced are visible (sync.policy always hides them
  // only inside the owner). Admin operations, producers and group consumers fail with
  // FailedPrecondition; Assign-ed consumers read, and GroupAdmin lists and describes
  // groups from the committed offsets as they were when it was first used (members live
  // in the owner's process and are not seen). NotFound if `dir` does not exist.
  bool read_only = false;
  int64_t read_only_refresh_interval_ms = 1000;
};

struct PartitionDescription {
  int32_t partition = 0;
  int64_t log_start_offset = 0;  // the oldest offset still kept
  int64_t log_end_offset = 0;    // the offset the next record gets
  int64_t visible_offset = 0;    // readers see offsets below this (see SyncPolicy)
  uint64_t size_bytes = 0;
};

struct TopicDescription {
  std::string name;
  TopicConfig config;
  std::vector<PartitionDescription> partitions;
};

class RUNNEL_EXPORT Broker {
 public:
  // Creates `dir` if needed, takes its lock, and opens and recovers every partition.
  static absl::StatusOr<std::unique_ptr<Broker>> Open(const std::string& dir,
                                                      const BrokerOptions& options = {});
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Flushes every partition, marks a clean shutdown and releases the lock. Later calls,
  // and every call on this broker's producers, fail with FailedPrecondition.
  absl::Status Close();

  // Kafka's topic-name rules: 1 to 249 of [a-zA-Z0-9._-], not "." or "..".
  // AlreadyExists if the topic exists; InvalidArgument for a bad name, a partition count
  // below 1 or a bad config.
  absl::Status CreateTopic(std::string_view name, int32_t partitions,
                           const TopicConfig& config = {});
  absl::StatusOr<TopicDescription> DescribeTopic(std::string_view name) const;
  // Topic names, sorted.
  std::vector<std::string> ListTopics() const;
  // Removes the topic and its data. Sends in flight to it fail with NotFound.
  absl::Status DeleteTopic(std::string_view name);
  // Grows the topic to `total_partitions` (Kafka's createPartitions); shrinking is refused.
  absl::Status CreatePartitions(std::string_view name, int32_t total_partitions);
  // Changes some of the topic's settings (Kafka's names, as TopicConfig::FromMap reads
  // them; the others keep their values) and stores them atomically. DescribeTopic shows
  // them at once; the partitions apply them when the directory is next opened (the
  // `runnel topic alter` command opens and closes it, so for it they apply at once).
  // InvalidArgument for an unknown setting or a bad value, NotFound for an unknown topic.
  absl::Status AlterTopicConfig(std::string_view name,
                                const std::map<std::string, std::string>& changes);

  const std::string& dir() const;
  const BrokerOptions& options() const;

  // For runnel's own clients; not part of the application API.
  const std::shared_ptr<internal::BrokerCore>& core() const { return core_; }

 private:
  friend std::unique_ptr<Broker> internal::WrapBrokerCore(std::shared_ptr<internal::BrokerCore>);
  explicit Broker(std::shared_ptr<internal::BrokerCore> core);
  std::shared_ptr<internal::BrokerCore> core_;
};

}  // namespace runnel

#endif  // RUNNEL_BROKER_H_
