// runnel::Broker (include/runnel/broker.h): the public handle over BrokerCore.
#include "runnel/broker.h"

#include "broker/broker_core.h"
#include "util/status_macros.h"

namespace runnel {

Broker::Broker(std::shared_ptr<internal::BrokerCore> core) : core_(std::move(core)) {}

std::unique_ptr<Broker> internal::WrapBrokerCore(std::shared_ptr<BrokerCore> core) {
  return std::unique_ptr<Broker>(new Broker(std::move(core)));
}

absl::StatusOr<std::unique_ptr<Broker>> Broker::Open(const std::string& dir,
                                                     const BrokerOptions& options) {
  RUNNEL_ASSIGN_OR_RETURN(std::shared_ptr<internal::BrokerCore> core,
                          internal::BrokerCore::Open(io::PosixEnv(), dir, options));
  return internal::WrapBrokerCore(std::move(core));
}

Broker::~Broker() {
  if (core_->CheckOpen().ok()) core_->Close().IgnoreError();
}

absl::Status Broker::Close() { return core_->Close(); }

absl::Status Broker::CreateTopic(std::string_view name, int32_t partitions,
                                 const TopicConfig& config) {
  return core_->CreateTopic(name, partitions, config);
}

absl::StatusOr<TopicDescription> Broker::DescribeTopic(std::string_view name) const {
  return core_->DescribeTopic(name);
}

std::vector<std::string> Broker::ListTopics() const {
  std::vector<std::string> names = core_->ListTopics();
  std::erase_if(names, [](const std::string& n) { return internal::IsInternalTopic(n); });
  return names;
}

absl::Status Broker::DeleteTopic(std::string_view name) { return core_->DeleteTopic(name); }

absl::Status Broker::CreatePartitions(std::string_view name, int32_t total_partitions) {
  return core_->CreatePartitions(name, total_partitions);
}

const std::string& Broker::dir() const { return core_->dir(); }

absl::Status Broker::AlterTopicConfig(std::string_view name,
                                      const std::map<std::string, std::string>& changes) {
  return core_->AlterTopicConfig(name, changes);
}

const BrokerOptions& Broker::options() const { return core_->options(); }

}  // namespace runnel
