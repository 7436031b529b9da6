// Fsyncs one partition of a broker the tool opened for writing: what `runnel produce
// --sync interval|always` does before it reports records as stored. Below the public API
// (an application gets this from a topic's sync.policy instead).
#ifndef RUNNEL_TOOLS_PARTITION_SYNC_H_
#define RUNNEL_TOOLS_PARTITION_SYNC_H_

#include "absl/status/status.h"
#include "runnel/broker.h"
#include "runnel/types.h"

namespace runnel::tools {

// Returns once every record appended to `partition` so far is on stable storage.
// NotFound for an unknown topic or partition.
absl::Status SyncPartition(Broker& broker, const TopicPartition& partition);

}  // namespace runnel::tools

#endif  // RUNNEL_TOOLS_PARTITION_SYNC_H_
