// A one-partition internal topic used as a changelog of keyed records, where the latest
// record of a key is what counts (a null value deletes the key): __consumer_offsets and
// __share_group_state. Created on the first append; replayed from the start; kept from
// growing without bound by rewriting what is live (runnel's stand-in for Kafka's log
// compaction of these topics).
//
// Compaction: once the topic is larger than its segment size and than twice what is
// live, the live records are written again into a fresh segment, made durable, and the
// segments before it deleted. A crash part way leaves the old segments, whose replay
// gives the same state.
//
// Not thread-safe: its owner serialises every call.
#ifndef RUNNEL_GROUPS_INTERNAL_TOPIC_H_
#define RUNNEL_GROUPS_INTERNAL_TOPIC_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "broker/broker_core.h"

namespace runnel::groups {

using KeyedRecords = std::vector<std::pair<std::string, std::optional<std::string>>>;

class InternalTopic {
 public:
  InternalTopic(internal::BrokerCore* core, std::string_view name) : core_(core), name_(name) {}

  // Calls `apply` for every record with a key, in offset order, if the topic exists.
  // DataLoss naming the topic and offset for a batch that does not check out, or when
  // `apply` fails.
  absl::Status Replay(
      const std::function<absl::Status(std::string_view key,
                                       std::optional<std::string_view> value)>& apply);
  // Appends the records as one batch (all or none), creating the topic first if needed,
  // and fsyncs when the topic's sync policy (or `force_sync`) asks.
  absl::Status Append(const KeyedRecords& records, bool force_sync = false);
  // Compacts when due (see above): `live_bytes` estimates what `live()` returns, the
  // latest record of every key. Failures leave the topic as it was.
  absl::Status MaybeCompact(size_t live_bytes, const std::function<KeyedRecords()>& live);

  int compactions() const { return compactions_; }

 private:
  absl::StatusOr<internal::Partition*> Partition(bool create);

  internal::BrokerCore* const core_;
  const std::string name_;
  std::shared_ptr<internal::Topic> topic_;  // null until the topic exists
  int compactions_ = 0;
};

// Bytes per record beyond key and value in a batch: the record's own framing, roughly.
inline constexpr size_t kKeyedRecordOverhead = 16;

}  // namespace runnel::groups

#endif  // RUNNEL_GROUPS_INTERNAL_TOPIC_H_
