// Queue members on four threads take, release, reject and accept records while a
// producer writes: for ThreadSanitizer. Pass criteria: every record ends accepted exactly
// once or in the dead-letter topic exactly once; none is lost.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/producer.h"
#include "runnel/queue_consumer.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel {
namespace {

using namespace std::chrono_literals;

TEST_CASE("queue members on four threads: every record accepted once or dead-lettered once") {
  testing::TempDir tmp;
  auto broker = Broker::Open(tmp.path());
  REQUIRE_OK(broker.status());
  REQUIRE_OK((*broker)->CreateTopic("jobs", 3));
  constexpr int kRecords = 900;
  // Which records end where is decided by their value, so the expectation is exact:
  // every 11th is rejected, every 4th released on its first delivery, the rest accepted.
  std::atomic<int> finished{0};
  std::mutex mu;
  std::map<int, int> accepted;  // guarded by mu
  std::vector<absl::Status> errors(5);
  std::vector<std::thread> threads;
  for (int m = 0; m < 4; ++m) {
    threads.emplace_back([&, m] {
      absl::Status& error = errors[static_cast<size_t>(m)];
      QueueConsumerOptions o;
      o.group_id = "workers";
      o.auto_offset_reset = OffsetReset::kEarliest;
      o.max_poll_records = 1 + m * 5;
      auto member = QueueConsumer::Create(**broker, o);
      if (!member.ok()) {
        error = member.status();
        return;
      }
      error = (*member)->Subscribe({"jobs"});
      while (error.ok() && finished.load() < kRecords) {
        auto polled = (*member)->Poll(50ms);
        if (!polled.ok()) {
          error = polled.status();
          break;
        }
        std::vector<int> ok;
        for (const QueueRecord& q : *polled) {
          const int n = std::stoi(std::string(q.record.value->substr(4)));
          AcknowledgeType type = AcknowledgeType::kAccept;
          if (n % 11 == 0) {
            type = AcknowledgeType::kReject;
          } else if (n % 4 == 0 && q.delivery_count == 1) {
            type = AcknowledgeType::kRelease;
          } else {
            ok.push_back(n);
          }
          if (type != AcknowledgeType::kRelease) finished.fetch_add(1);
          error.Update((*member)->Acknowledge(q.record, type));
        }
        error.Update((*member)->CommitSync());
        std::lock_guard<std::mutex> lock(mu);
        for (int n : ok) ++accepted[n];
      }
      error.Update((*member)->Close());
    });
  }
  threads.emplace_back([&] {
    auto producer = Producer::Create(**broker);
    if (!producer.ok()) {
      errors[4] = producer.status();
      return;
    }
    for (int i = 0; i < kRecords && errors[4].ok(); ++i) {
      const std::string value = fmt::format("job-{}", i);
      errors[4] = (*producer)->Send({.topic = "jobs", .partition = i % 3, .value = value}, nullptr);
    }
    errors[4].Update((*producer)->Flush());
  });
  for (auto& t : threads) t.join();
  for (const absl::Status& e : errors) CHECK_OK(e);

  int rejected = 0;
  for (int n = 0; n < kRecords; ++n) {
    INFO("job-" << n);
    if (n % 11 == 0) {
      ++rejected;
      CHECK(accepted.count(n) == 0);
    } else {
      CHECK(accepted[n] == 1);
    }
  }
  auto dlq = (*broker)->DescribeTopic("jobs.dlq");
  REQUIRE_OK(dlq.status());
  int64_t dead = 0;
  for (const auto& p : dlq->partitions) dead += p.log_end_offset;
  CHECK(dead == rejected);
}

}  // namespace
}  // namespace runnel
