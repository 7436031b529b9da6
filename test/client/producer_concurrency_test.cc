// Many threads sending through shared producers (run under ThreadSanitizer in CI). Pass
// criteria: every callback fires exactly once; offsets per partition are handed out once
// each and contiguously from 0; for every key, the records one thread sent land in send
// order; the log holds exactly what the callbacks reported. Also: admin changes, Close and
// the broker closing while threads send.
#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/producer_testing.h"
#include "runnel/broker.h"
#include "runnel/partitioner.h"
#include "runnel/producer.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel {
namespace {

using testing::CallbackLog;
using testing::ReadRecord;
using testing::ReadTopicPartition;
using testing::TempDir;

constexpr int kThreads = 4;
constexpr int kPerThread = 2000;
constexpr int32_t kPartitions = 4;

int64_t Id(int thread, int j) { return static_cast<int64_t>(thread) * 1'000'000 + j; }
std::string ValueOf(int thread, int j) {
  return "t" + std::to_string(thread) + "-" + std::to_string(j);
}
// Keys shared by all threads; every fourth record has a null key.
std::optional<std::string> KeyOf(int j) {
  if (j % 4 == 3) return std::nullopt;
  return "key-" + std::to_string(j % 13);
}

struct Variant {
  const char* name;
  SyncPolicy sync = SyncPolicy::kNone;
  Acks acks = Acks::kAll;
  int64_t linger_ms = 5;
  int32_t batch_size = 16384;
  int producers = 1;
};

void RunMixed(const Variant& v) {
  INFO("variant " << v.name);
  TempDir tmp;
  auto broker = Broker::Open(tmp.Sub("data"));
  REQUIRE_OK(broker);
  TopicConfig config;
  config.sync_policy = v.sync;
  config.segment_bytes = 64 * 1024;  // rolls while the threads append
  REQUIRE_OK((*broker)->CreateTopic("t", kPartitions, config));
  ProducerOptions options;
  options.acks = v.acks;
  options.linger_ms = v.linger_ms;
  options.batch_size = v.batch_size;
  std::vector<std::unique_ptr<Producer>> producers;
  for (int i = 0; i < v.producers; ++i) {
    auto p = Producer::Create(**broker, options);
    REQUIRE_OK(p);
    producers.push_back(std::move(*p));
  }

  CallbackLog log;
  std::atomic<int> send_errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Producer& producer = *producers[static_cast<size_t>(t % v.producers)];
      for (int j = 0; j < kPerThread; ++j) {
        const std::optional<std::string> key = KeyOf(j);
        const std::string value = ValueOf(t, j);
        ProducerRecord record{.topic = "t", .value = value};
        if (key) record.key = *key;
        if (!producer.Send(record, log.Make(Id(t, j))).ok()) send_errors.fetch_add(1);
        if (j % 500 == 499 && !producer.Flush().ok()) send_errors.fetch_add(1);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (auto& p : producers) REQUIRE_OK(p->Flush());
  CHECK(send_errors.load() == 0);
  REQUIRE(log.fired() == kThreads * kPerThread);

  // Exactly once, all OK; collect where each record landed.
  const auto results = log.results();
  REQUIRE(results.size() == static_cast<size_t>(kThreads * kPerThread));
  std::map<int32_t, std::map<int64_t, int64_t>> by_offset;  // partition -> offset -> id
  int failures = 0, duplicates = 0, wrong_partition = 0;
  for (const auto& [id, fired] : results) {
    if (fired.size() != 1) ++duplicates;
    if (!fired.front().ok()) {
      ++failures;
      continue;
    }
    const RecordMetadata& md = *fired.front();
    if (!by_offset[md.partition].emplace(md.offset, id).second) ++duplicates;
    const std::optional<std::string> key = KeyOf(static_cast<int>(id % 1'000'000));
    if (key && md.partition != KeyPartition(*key, kPartitions)) ++wrong_partition;
  }
  CHECK(failures == 0);
  CHECK(duplicates == 0);
  CHECK(wrong_partition == 0);

  // Offsets contiguous from 0, and the log holds exactly the records reported there.
  int mismatches = 0;
  for (int32_t p = 0; p < kPartitions; ++p) {
    auto records = ReadTopicPartition(**broker, "t", p);
    REQUIRE_OK(records);
    const std::map<int64_t, int64_t>& offsets = by_offset[p];
    CHECK(records->size() == offsets.size());
    int64_t expected = 0;
    for (const auto& [offset, id] : offsets) {
      CHECK(offset == expected);
      ++expected;
      if (offset >= static_cast<int64_t>(records->size())) {
        ++mismatches;
        continue;
      }
      const ReadRecord& r = (*records)[static_cast<size_t>(offset)];
      const int thread = static_cast<int>(id / 1'000'000), j = static_cast<int>(id % 1'000'000);
      if (r.offset != offset || r.value != ValueOf(thread, j) || r.key != KeyOf(j)) ++mismatches;
    }
  }
  CHECK(mismatches == 0);

  // Per key and thread, offsets increase in send order.
  int out_of_order = 0;
  for (int t = 0; t < kThreads; ++t) {
    std::map<std::string, int64_t> last;
    for (int j = 0; j < kPerThread; ++j) {
      const std::optional<std::string> key = KeyOf(j);
      if (!key) continue;
      const auto& md = results.at(Id(t, j)).front();
      if (!md.ok()) continue;
      auto [it, inserted] = last.emplace(*key, md->offset);
      if (!inserted) {
        if (md->offset <= it->second) ++out_of_order;
        it->second = md->offset;
      }
    }
  }
  CHECK(out_of_order == 0);
  for (auto& p : producers) REQUIRE_OK(p->Close());
}

TEST_CASE("Threads sharing a producer: exactly-once callbacks, contiguous offsets, key order",
          "[producer][concurrency]") {
  RunMixed({.name = "linger 5"});
  RunMixed({.name = "linger 0, small batches", .linger_ms = 0, .batch_size = 512});
}

TEST_CASE("Two producers on one broker, concurrently", "[producer][concurrency]") {
  RunMixed({.name = "two producers", .producers = 2});
  RunMixed({.name = "two producers, acks=0", .acks = Acks::kNone, .linger_ms = 0, .producers = 2});
}

TEST_CASE("Threads under sync.policy always (group commit)", "[producer][concurrency]") {
  RunMixed({.name = "always, acks=all", .sync = SyncPolicy::kAlways, .linger_ms = 0});
  RunMixed({.name = "always, two producers, small batches",
            .sync = SyncPolicy::kAlways,
            .linger_ms = 1,
            .batch_size = 1024,
            .producers = 2});
  RunMixed({.name = "always, acks=0", .sync = SyncPolicy::kAlways, .acks = Acks::kNone});
}

TEST_CASE("Acknowledged records are visible at once under sync.policy always, across threads",
          "[producer][concurrency]") {
  TempDir tmp;
  auto broker = Broker::Open(tmp.Sub("data"));
  REQUIRE_OK(broker);
  TopicConfig config;
  config.sync_policy = SyncPolicy::kAlways;
  REQUIRE_OK((*broker)->CreateTopic("t", 2, config));
  auto producer = Producer::Create(**broker, {.linger_ms = 0});
  REQUIRE_OK(producer);
  std::shared_ptr<internal::Partition> parts[2] = {testing::PartitionOf(**broker, "t", 0),
                                                   testing::PartitionOf(**broker, "t", 1)};
  std::atomic<int> fired{0}, invisible{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int j = 0; j < 300; ++j) {
        (*producer)
            ->Send({.topic = "t", .partition = (t + j) % 2, .value = "v"},
                   [&](const absl::StatusOr<RecordMetadata>& md) {
                     fired.fetch_add(1);
                     if (!md.ok()) {
                       failed.fetch_add(1);
                     } else if (parts[md->partition]->log().visible_offset() <= md->offset) {
                       invisible.fetch_add(1);
                     }
                   })
            .IgnoreError();
      }
    });
  }
  for (std::thread& th : threads) th.join();
  REQUIRE_OK((*producer)->Flush());
  CHECK(fired.load() == kThreads * 300);
  CHECK(failed.load() == 0);
  CHECK(invisible.load() == 0);
}

TEST_CASE("CreatePartitions while threads send", "[producer][concurrency][admin]") {
  TempDir tmp;
  auto broker = Broker::Open(tmp.Sub("data"));
  REQUIRE_OK(broker);
  REQUIRE_OK((*broker)->CreateTopic("t", 2));
  auto producer = Producer::Create(**broker, {.linger_ms = 1});
  REQUIRE_OK(producer);
  CallbackLog log;
  std::atomic<int> send_errors{0};
  std::atomic<bool> grown{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int j = 0; j < 1000; ++j) {
        const std::optional<std::string> key = KeyOf(j);
        ProducerRecord record{.topic = "t", .value = "v"};
        if (key) record.key = *key;
        if (!(*producer)->Send(record, log.Make(Id(t, j))).ok()) send_errors.fetch_add(1);
      }
    });
  }
  std::thread admin([&] {
    for (int32_t n = 3; n <= 6; ++n) {
      if ((*broker)->CreatePartitions("t", n).ok()) grown.store(true);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  for (std::thread& th : threads) th.join();
  admin.join();
  REQUIRE_OK((*producer)->Flush());
  CHECK(grown.load());
  CHECK(send_errors.load() == 0);
  REQUIRE(log.fired() == kThreads * 1000);
  std::map<int32_t, std::set<int64_t>> offsets;
  int failures = 0, duplicates = 0;
  for (const auto& [id, fired] : log.results()) {
    if (fired.size() != 1) ++duplicates;
    if (!fired.front().ok()) {
      ++failures;
      continue;
    }
    if (!offsets[fired.front()->partition].insert(fired.front()->offset).second) ++duplicates;
  }
  CHECK(failures == 0);
  CHECK(duplicates == 0);
  // Records sent after the last growth may use all six partitions.
  REQUIRE_OK((*producer)->SendSync({.topic = "t", .partition = 5, .value = "last"}));
  for (int32_t p = 0; p < 6; ++p) {
    auto records = ReadTopicPartition(**broker, "t", p);
    REQUIRE_OK(records);
    const std::set<int64_t>& got = offsets[p];
    const size_t extra = p == 5 ? 1 : 0;
    CHECK(records->size() == got.size() + extra);
    if (!got.empty()) CHECK(*got.rbegin() == static_cast<int64_t>(got.size()) - 1);
  }
}

TEST_CASE("DeleteTopic while threads send: each callback fires once, OK or NotFound",
          "[producer][concurrency][admin]") {
  TempDir tmp;
  auto broker = Broker::Open(tmp.Sub("data"));
  REQUIRE_OK(broker);
  REQUIRE_OK((*broker)->CreateTopic("t", 3));
  auto producer = Producer::Create(**broker, {.linger_ms = 1});
  REQUIRE_OK(producer);
  CallbackLog log;
  std::atomic<int> sent{0};
  std::atomic<bool> deleted{false};
  std::vector<std::thread> threads;
  std::vector<std::vector<absl::Status>> returned(kThreads);
  // Each thread sends until it has sent 100 records after the topic was deleted.
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      int after = 0;
      for (int j = 0; j < 1'000'000 && after < 100; ++j) {
        if (deleted.load()) ++after;
        returned[static_cast<size_t>(t)].push_back(
            (*producer)->Send({.topic = "t", .value = "v"}, log.Make(Id(t, j))));
        sent.fetch_add(1);
      }
    });
  }
  while (sent.load() < 500) std::this_thread::yield();
  REQUIRE_OK((*broker)->DeleteTopic("t"));
  deleted.store(true);
  for (std::thread& th : threads) th.join();
  REQUIRE_OK((*producer)->Flush());
  REQUIRE(log.fired() == sent.load());
  int bad = 0, duplicates = 0, ok = 0, not_found = 0;
  for (const auto& [id, fired] : log.results()) {
    if (fired.size() != 1) ++duplicates;
    const absl::Status st = fired.front().status();
    if (st.ok()) {
      ++ok;
    } else if (st.code() == absl::StatusCode::kNotFound) {
      ++not_found;
    } else {
      ++bad;
      UNSCOPED_INFO("unexpected: " << st);
    }
  }
  CHECK(duplicates == 0);
  CHECK(bad == 0);
  CHECK(not_found > 0);
  // A send that returned an error had its callback given that same error.
  int mismatched = 0;
  for (int t = 0; t < kThreads; ++t) {
    const std::vector<absl::Status>& statuses = returned[static_cast<size_t>(t)];
    for (size_t j = 0; j < statuses.size(); ++j) {
      if (!statuses[j].ok() && log.result(Id(t, static_cast<int>(j))).status() != statuses[j]) {
        ++mismatched;
      }
    }
    CHECK_FALSE(statuses.back().ok());  // sent after the deletion
  }
  CHECK(mismatched == 0);
  CHECK(producer->get()->Send({.topic = "t", .value = "v"}).code() == absl::StatusCode::kNotFound);
}

TEST_CASE("Close while threads send: every callback fires once", "[producer][concurrency]") {
  TempDir tmp;
  auto broker = Broker::Open(tmp.Sub("data"));
  REQUIRE_OK(broker);
  REQUIRE_OK((*broker)->CreateTopic("t", 2));
  auto producer = Producer::Create(**broker, {.linger_ms = 2, .buffer_memory = 64 * 1024});
  REQUIRE_OK(producer);
  CallbackLog log;
  std::atomic<int> sent{0};
  std::vector<std::vector<absl::Status>> returned(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int j = 0; j < 1000; ++j) {
        returned[static_cast<size_t>(t)].push_back(
            (*producer)->Send({.topic = "t", .value = std::string(100, 'v')}, log.Make(Id(t, j))));
        sent.fetch_add(1);
      }
    });
  }
  while (sent.load() < 1000) std::this_thread::yield();
  REQUIRE_OK((*producer)->Close());
  for (std::thread& th : threads) th.join();
  REQUIRE(log.fired() == kThreads * 1000);
  int duplicates = 0, unexpected = 0, closed = 0, acked = 0;
  for (int t = 0; t < kThreads; ++t) {
    for (int j = 0; j < 1000; ++j) {
      if (log.count(Id(t, j)) != 1) ++duplicates;
      const absl::Status& st = returned[static_cast<size_t>(t)][static_cast<size_t>(j)];
      const absl::Status got = log.result(Id(t, j)).status();
      if (st.ok()) {
        if (got.ok()) {
          ++acked;
        } else {
          ++unexpected;  // accepted before Close, so Close must deliver it
        }
      } else if (st.code() == absl::StatusCode::kFailedPrecondition && got == st) {
        ++closed;
      } else {
        ++unexpected;
      }
    }
  }
  CHECK(duplicates == 0);
  CHECK(unexpected == 0);
  int64_t in_log = 0;
  for (int32_t p = 0; p < 2; ++p) {
    auto records = ReadTopicPartition(**broker, "t", p);
    REQUIRE_OK(records);
    in_log += static_cast<int64_t>(records->size());
  }
  CHECK(in_log == acked);
}

TEST_CASE("The broker closing while threads send: every callback fires once",
          "[producer][concurrency]") {
  TempDir tmp;
  auto broker = Broker::Open(tmp.Sub("data"));
  REQUIRE_OK(broker);
  TopicConfig config;
  config.sync_policy = SyncPolicy::kAlways;
  REQUIRE_OK((*broker)->CreateTopic("t", 2, config));
  auto producer = Producer::Create(**broker, {.linger_ms = 1});
  REQUIRE_OK(producer);
  CallbackLog log;
  std::atomic<int> sent{0};
  std::vector<std::thread> threads;
  std::vector<std::vector<absl::Status>> returned(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int j = 0; j < 500; ++j) {
        returned[static_cast<size_t>(t)].push_back(
            (*producer)->Send({.topic = "t", .value = "v"}, log.Make(Id(t, j))));
        sent.fetch_add(1);
      }
    });
  }
  while (sent.load() < 300) std::this_thread::yield();
  REQUIRE_OK((*broker)->Close());
  for (std::thread& th : threads) th.join();
  REQUIRE_OK((*producer)->Flush());
  REQUIRE(log.fired() == kThreads * 500);
  int duplicates = 0, unexpected = 0;
  for (const auto& [id, fired] : log.results()) {
    if (fired.size() != 1) ++duplicates;
    const absl::Status st = fired.front().status();
    if (!st.ok() && st.code() != absl::StatusCode::kFailedPrecondition) {
      ++unexpected;
      UNSCOPED_INFO("unexpected: " << st);
    }
  }
  CHECK(duplicates == 0);
  CHECK(unexpected == 0);
  // Once closed, sends fail at once.
  CHECK((*producer)->Send({.topic = "t", .value = "v"}).code() ==
        absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace runnel
