// runnel::GroupAdmin (include/runnel/group_admin.h): the public face of the broker's
// group coordinator for administration.
#include "runnel/group_admin.h"

#include "groups/group_coordinator.h"
#include "util/status_macros.h"

namespace runnel {

std::string_view GroupStateName(GroupState state) {
  switch (state) {
    case GroupState::kEmpty:
      return "Empty";
    case GroupState::kPreparingRebalance:
      return "PreparingRebalance";
    case GroupState::kStable:
      return "Stable";
  }
  return "Unknown";
}

class GroupAdmin::Impl {
 public:
  Impl(std::shared_ptr<internal::BrokerCore> core,
       std::shared_ptr<groups::GroupCoordinator> coordinator)
      : core_(std::move(core)), coordinator_(std::move(coordinator)) {}
  const std::shared_ptr<internal::BrokerCore> core_;
  const std::shared_ptr<groups::GroupCoordinator> coordinator_;
};

GroupAdmin::GroupAdmin(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GroupAdmin::~GroupAdmin() = default;

absl::StatusOr<std::unique_ptr<GroupAdmin>> GroupAdmin::Create(Broker& broker) {
  RUNNEL_ASSIGN_OR_RETURN(std::shared_ptr<groups::GroupCoordinator> coordinator,
                          groups::GroupCoordinator::ForBroker(*broker.core()));
  return std::unique_ptr<GroupAdmin>(
      new GroupAdmin(std::make_unique<Impl>(broker.core(), std::move(coordinator))));
}

absl::StatusOr<std::vector<GroupListing>> GroupAdmin::ListGroups() const {
  RUNNEL_RETURN_IF_ERROR(impl_->core_->CheckOpen());
  return impl_->coordinator_->ListGroups();
}

absl::StatusOr<GroupDescription> GroupAdmin::DescribeGroup(std::string_view group_id) const {
  return impl_->coordinator_->DescribeGroup(std::string(group_id));
}

absl::StatusOr<std::map<TopicPartition, int64_t>> GroupAdmin::ResetOffsets(
    std::string_view group_id, const std::vector<TopicPartition>& partitions,
    const OffsetSpec& spec) {
  return impl_->coordinator_->ResetOffsets(std::string(group_id), partitions, spec);
}

absl::Status GroupAdmin::DeleteGroup(std::string_view group_id) {
  return impl_->coordinator_->DeleteGroup(std::string(group_id));
}

}  // namespace runnel
