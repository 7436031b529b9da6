#include "tools/partition_sync.h"

#include <fmt/format.h>

#include "broker/broker_core.h"
#include "util/status_macros.h"

namespace runnel::tools {

absl::Status SyncPartition(Broker& broker, const TopicPartition& partition) {
  RUNNEL_ASSIGN_OR_RETURN(std::shared_ptr<internal::Topic> topic,
                          broker.core()->FindTopic(partition.topic));
  if (partition.partition < 0 ||
      static_cast<size_t>(partition.partition) >= topic->partitions.size()) {
    return absl::NotFoundError(
        fmt::format("topic {} has no partition {}", partition.topic, partition.partition));
  }
  return topic->partitions[partition.partition]->log().Flush();
}

}  // namespace runnel::tools
