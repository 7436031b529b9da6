// Helpers shared by the groups layer's tests (test/groups/*_test.cc): broker options with
// small files, consumers that commit outside the group (Assign + CommitSync), status
// checks that name what they expect, and printers for committed offsets.
#ifndef RUNNEL_TEST_GROUPS_GROUPS_TESTING_H_
#define RUNNEL_TEST_GROUPS_GROUPS_TESTING_H_

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "broker/broker_core.h"
#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/group_admin.h"
#include "support/status_matchers.h"

namespace runnel::groups_testing {

// Small index files: every segment preallocates segment.index.bytes twice.
inline TopicConfig SmallConfig() {
  TopicConfig c;
  c.segment_index_bytes = 4096;
  return c;
}

// Broker options whose topics (__consumer_offsets included) have small index files.
inline BrokerOptions SmallOptions(int32_t offsets_topic_segment_bytes = 100 * 1024 * 1024) {
  BrokerOptions o;
  o.default_topic_config = SmallConfig();
  o.offsets_topic_segment_bytes = offsets_topic_segment_bytes;
  return o;
}

inline std::unique_ptr<Broker> OpenBroker(const std::string& dir,
                                          const BrokerOptions& options = SmallOptions()) {
  auto broker = Broker::Open(dir, options);
  REQUIRE_OK(broker);
  return std::move(*broker);
}

inline std::unique_ptr<GroupAdmin> MakeAdmin(Broker& broker) {
  auto admin = GroupAdmin::Create(broker);
  REQUIRE_OK(admin);
  return std::move(*admin);
}

inline TopicPartition TP(std::string topic, int32_t partition) {
  return {std::move(topic), partition};
}

// A consumer of `group` without auto-commit, so that only explicit commits are made.
inline std::unique_ptr<Consumer> MakeGroupConsumer(Broker& broker, const std::string& group,
                                                   const std::string& client_id = "",
                                                   ConsumerOptions options = {}) {
  options.group_id = group;
  options.client_id = client_id;
  options.enable_auto_commit = false;
  options.auto_offset_reset = OffsetReset::kEarliest;
  auto c = Consumer::Create(broker, options);
  REQUIRE_OK(c);
  return std::move(*c);
}

using Offsets = std::map<TopicPartition, OffsetAndMetadata>;

// Commits `offsets` for `group` from a consumer outside the group (Assign + CommitSync).
inline absl::Status CommitOutside(Broker& broker, const std::string& group, const Offsets& offsets) {
  std::unique_ptr<Consumer> c = MakeGroupConsumer(broker, group);
  std::vector<TopicPartition> tps;
  for (const auto& [tp, om] : offsets) tps.push_back(tp);
  if (absl::Status st = c->Assign(tps); !st.ok()) return st;
  absl::Status st = c->CommitSync(offsets);
  REQUIRE_OK(c->Close());
  return st;
}

// What the group has committed for `tps`, read through a consumer: offset and metadata,
// or nullopt.
inline std::map<TopicPartition, std::optional<OffsetAndMetadata>> CommittedOf(
    Broker& broker, const std::string& group, const std::vector<TopicPartition>& tps) {
  std::unique_ptr<Consumer> c = MakeGroupConsumer(broker, group);
  auto committed = c->Committed(tps);
  REQUIRE_OK(committed);
  REQUIRE_OK(c->Close());
  return *committed;
}

inline std::string ToString(const std::map<TopicPartition, std::optional<OffsetAndMetadata>>& m) {
  std::ostringstream out;
  for (const auto& [tp, om] : m) {
    out << tp.topic << "-" << tp.partition << "=";
    if (om) {
      out << om->offset << "/\"" << (om->metadata.size() > 20 ? om->metadata.substr(0, 20) + "..." : om->metadata)
          << "\"";
    } else {
      out << "none";
    }
    out << " ";
  }
  return out.str();
}

// The committed offsets equal `expected` exactly (offsets and metadata).
inline bool SameOffsets(const std::map<TopicPartition, std::optional<OffsetAndMetadata>>& got,
                        const Offsets& expected) {
  if (got.size() != expected.size()) return false;
  for (const auto& [tp, om] : expected) {
    auto it = got.find(tp);
    if (it == got.end() || !it->second) return false;
    if (it->second->offset != om.offset || it->second->metadata != om.metadata) return false;
  }
  return true;
}

inline std::vector<TopicPartition> KeysOf(const Offsets& offsets) {
  std::vector<TopicPartition> out;
  for (const auto& [tp, om] : offsets) out.push_back(tp);
  return out;
}

// Bytes of every file under `dir`.
inline uint64_t DiskBytes(const std::string& dir) {
  uint64_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file()) n += e.file_size();
  }
  return n;
}

inline int CountFiles(const std::string& dir, const std::string& extension) {
  int n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == extension) ++n;
  }
  return n;
}

// A crash as far as the data directory is concerned: a copy of it taken while the broker
// has it open (no clean-shutdown marks; what is in the page cache is in the copy).
inline void CopyDir(const std::string& from, const std::string& to) {
  std::filesystem::copy(from, to, std::filesystem::copy_options::recursive);
}

}  // namespace runnel::groups_testing

#endif  // RUNNEL_TEST_GROUPS_GROUPS_TESTING_H_
