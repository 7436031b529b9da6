// Helpers for the Producer tests: read a topic partition back record by record (headers
// included, every batch's CRC checked), and collect callbacks thread-safely. Header-only,
// so that every test binary built from test/client/ can use it.
#ifndef RUNNEL_TEST_CLIENT_PRODUCER_TESTING_H_
#define RUNNEL_TEST_CLIENT_PRODUCER_TESTING_H_

#include <fmt/format.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "broker/broker_core.h"
#include "format/record_batch.h"
#include "runnel/broker.h"
#include "runnel/producer.h"
#include "storage/partition_log.h"

namespace runnel::testing {

struct ReadHeader {
  std::string key;
  std::optional<std::string> value;
  bool operator==(const ReadHeader&) const = default;
};

// One record as the log holds it.
struct ReadRecord {
  int64_t offset = -1;
  int64_t timestamp = -1;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<ReadHeader> headers;
  int64_t batch_base_offset = -1;  // the batch the record came in
  bool log_append_time = false;    // the batch's timestamp type
};

inline std::optional<std::string> Copy(std::optional<std::string_view> v) {
  return v ? std::optional<std::string>(std::string(*v)) : std::nullopt;
}

// Every visible record of `log` from its start, decoded; DataLoss if a batch is bad.
inline absl::StatusOr<std::vector<ReadRecord>> ReadPartition(const storage::PartitionLog& log) {
  std::vector<ReadRecord> out;
  int64_t offset = log.log_start_offset();
  while (offset < log.visible_offset()) {
    absl::StatusOr<storage::ReadResult> result = log.Read(offset, 1 << 20);
    if (!result.ok()) return result.status();
    if (result->next_offset <= offset) {
      return absl::InternalError(fmt::format("a read at offset {} did not advance", offset));
    }
    for (const storage::LogSlice& slice : result->slices) {
      std::span<const uint8_t> rest = slice.bytes;
      while (!rest.empty()) {
        const format::BatchCheckResult check = format::CheckBatch(rest);
        if (check.check != format::BatchCheck::kValid) {
          return absl::DataLossError(fmt::format("bad batch in {}: {}", log.name(), check.reason));
        }
        const size_t size = check.header.size_in_bytes();
        format::RecordIterator it(rest.first(size), check.header);
        format::Record rec;
        while (it.Next(&rec)) {
          if (rec.offset < offset) continue;
          ReadRecord r;
          r.offset = rec.offset;
          r.timestamp = rec.timestamp;
          r.key = Copy(rec.key);
          r.value = Copy(rec.value);
          for (const format::RecordHeader& h : rec.headers) {
            r.headers.push_back({std::string(h.key), Copy(h.value)});
          }
          r.batch_base_offset = check.header.base_offset;
          r.log_append_time =
              check.header.timestamp_type() == format::TimestampType::kLogAppendTime;
          out.push_back(std::move(r));
        }
        if (!it.status().ok()) return it.status();
        rest = rest.subspan(size);
      }
    }
    offset = result->next_offset;
  }
  return out;
}

inline std::shared_ptr<internal::Partition> PartitionOf(Broker& broker, std::string_view topic,
                                                        int32_t partition) {
  absl::StatusOr<std::shared_ptr<internal::Topic>> t = broker.core()->FindTopic(topic);
  if (!t.ok() || partition < 0 || static_cast<size_t>(partition) >= (*t)->partitions.size()) {
    return nullptr;
  }
  return (*t)->partitions[static_cast<size_t>(partition)];
}

// Records of one partition of a topic, or an error.
inline absl::StatusOr<std::vector<ReadRecord>> ReadTopicPartition(Broker& broker,
                                                                  std::string_view topic,
                                                                  int32_t partition) {
  std::shared_ptr<internal::Partition> p = PartitionOf(broker, topic, partition);
  if (p == nullptr) {
    return absl::NotFoundError(fmt::format("no partition {} of \"{}\"", partition, topic));
  }
  return ReadPartition(p->log());
}

// Collects the results handed to callbacks, by the id each callback was made with.
// Thread-safe.
class CallbackLog {
 public:
  SendCallback Make(int64_t id) {
    return [this, id](const absl::StatusOr<RecordMetadata>& result) {
      std::lock_guard<std::mutex> lock(mu_);
      results_[id].push_back(result);
      order_.push_back(id);
      ++fired_;
      cv_.notify_all();
    };
  }

  // Waits until `n` callbacks fired in all, for at most `timeout` (so that a lost callback
  // fails a test rather than hanging it). True if they did.
  bool WaitFor(int64_t n, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return fired_ >= n; });
  }

  int64_t fired() const {
    std::lock_guard<std::mutex> lock(mu_);
    return fired_;
  }
  // How often the callback made with `id` fired.
  size_t count(int64_t id) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = results_.find(id);
    return it == results_.end() ? 0 : it->second.size();
  }
  // The first result of `id`'s callback (an Internal error if it never fired).
  absl::StatusOr<RecordMetadata> result(int64_t id) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = results_.find(id);
    if (it == results_.end() || it->second.empty()) {
      return absl::InternalError(fmt::format("callback {} never fired", id));
    }
    return it->second.front();
  }
  std::map<int64_t, std::vector<absl::StatusOr<RecordMetadata>>> results() const {
    std::lock_guard<std::mutex> lock(mu_);
    return results_;
  }
  // Ids in the order their callbacks fired.
  std::vector<int64_t> order() const {
    std::lock_guard<std::mutex> lock(mu_);
    return order_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<int64_t, std::vector<absl::StatusOr<RecordMetadata>>> results_;
  std::vector<int64_t> order_;
  int64_t fired_ = 0;
};

inline int64_t WallMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace runnel::testing

#endif  // RUNNEL_TEST_CLIENT_PRODUCER_TESTING_H_
