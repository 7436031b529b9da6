// Kafka's partition assignors, computed by the group coordinator when a rebalance
// completes: range and roundrobin (eager: members revoked everything before), and
// cooperative-sticky (balanced, keeping each partition with its current owner where
// balance allows, so only the partitions that move are revoked). Pure functions of
// their input, so every run over the same group gives the same assignment.
#ifndef RUNNEL_GROUPS_ASSIGNOR_H_
#define RUNNEL_GROUPS_ASSIGNOR_H_

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "runnel/consumer.h"
#include "runnel/types.h"

namespace runnel::groups {

struct AssignorMember {
  std::string id;  // members are ordered by this: group.instance.id if set, else member id
  std::vector<std::string> topics;  // subscribed, sorted
  std::set<TopicPartition> owned;   // what it owns now (only cooperative-sticky looks)
};

// member id -> its partitions, sorted. Every member has an entry, perhaps empty.
using Assignment = std::map<std::string, std::vector<TopicPartition>>;

// `partitions`: the partition count of every subscribed topic that exists.
Assignment Assign(PartitionAssignor assignor, const std::vector<AssignorMember>& members,
                  const std::map<std::string, int32_t>& partitions);

// Kafka's protocol names: "range", "roundrobin", "cooperative-sticky".
std::string_view AssignorName(PartitionAssignor assignor);
bool IsCooperative(PartitionAssignor assignor);

}  // namespace runnel::groups

#endif  // RUNNEL_GROUPS_ASSIGNOR_H_
