// A read-only broker's background thread follows the owner (appends, rolls, retention)
// while consumers on the reader poll: for ThreadSanitizer. Pass criteria: each reader
// consumer gets every record the owner acknowledged, in order, once.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/producer.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel {
namespace {

using namespace std::chrono_literals;

TEST_CASE("read-only consumers follow an owner producing from two threads") {
  testing::TempDir tmp;
  auto owner = Broker::Open(tmp.path());
  REQUIRE_OK(owner.status());
  TopicConfig config;
  config.segment_bytes = 8192;
  config.segment_index_bytes = 4096;
  REQUIRE_OK((*owner)->CreateTopic("events", 2, config));
  BrokerOptions ro;
  ro.read_only = true;
  auto reader = Broker::Open(tmp.path(), ro);
  REQUIRE_OK(reader.status());

  constexpr int kPerPartition = 1500;
  // Catch's assertions are not thread-safe: threads record what went wrong, and the test
  // checks it after joining them.
  std::vector<std::vector<std::string>> got(2);
  std::vector<absl::Status> errors(4);
  std::vector<std::thread> threads;
  for (int32_t p = 0; p < 2; ++p) {
    threads.emplace_back([&, p] {
      absl::Status& error = errors[static_cast<size_t>(p)];
      ConsumerOptions co;
      co.auto_offset_reset = OffsetReset::kEarliest;
      auto consumer = Consumer::Create(**reader, co);
      if (!consumer.ok()) {
        error = consumer.status();
        return;
      }
      error = (*consumer)->Assign({{"events", p}});
      while (error.ok() && got[static_cast<size_t>(p)].size() < kPerPartition) {
        auto polled = (*consumer)->Poll(60s);
        if (!polled.ok()) {
          error = polled.status();
        } else if (polled->empty()) {
          error = absl::DeadlineExceededError("a minute without the records the owner wrote");
        } else {
          for (const ConsumerRecord& r : *polled) {
            got[static_cast<size_t>(p)].emplace_back(r.value.value_or(""));
          }
        }
      }
    });
  }
  for (int32_t p = 0; p < 2; ++p) {
    threads.emplace_back([&, p] {
      absl::Status& error = errors[2 + static_cast<size_t>(p)];
      auto producer = Producer::Create(**owner);
      if (!producer.ok()) {
        error = producer.status();
        return;
      }
      for (int i = 0; i < kPerPartition && error.ok(); ++i) {
        const std::string value = fmt::format("p{}-{}", p, i);
        error = (*producer)->Send({.topic = "events", .partition = p, .value = value}, nullptr);
      }
      if (error.ok()) error = (*producer)->Flush();
    });
  }
  for (auto& t : threads) t.join();
  for (const absl::Status& error : errors) CHECK_OK(error);
  for (int p = 0; p < 2; ++p) {
    REQUIRE(got[static_cast<size_t>(p)].size() == kPerPartition);
    for (int i = 0; i < kPerPartition; ++i) {
      REQUIRE(got[static_cast<size_t>(p)][static_cast<size_t>(i)] == fmt::format("p{}-{}", p, i));
    }
  }
  CHECK_OK((*reader)->Close());
  CHECK_OK((*owner)->Close());
}

}  // namespace
}  // namespace runnel
