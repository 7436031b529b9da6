// The basics of delivery: partitioning with per-key order, safe and unsafe
// acknowledgement, and short and long polling.
//
//   build/examples/delivery_basics [DIR]      (default: ./delivery-basics-data, emptied first)
//
// 1. Partitioning: events of three users go to a topic of 4 partitions by key (Kafka's
//    murmur2 partitioner), so each user's events stay in one partition, in order, while
//    partitions are consumed in parallel.
// 2. Acknowledgement: acks=0 sends without waiting for anything (fire and forget: fast,
//    and a record still buffered when the process dies is lost without anyone knowing);
//    acks=all on a topic with sync.policy=always returns each record's offset only once
//    it is fsynced (safe: it survives a crash and a power loss).
// 3. Polling: Poll(0ms) is a short poll that returns at once, empty when nothing is there;
//    Poll(10s) is a long poll that returns as soon as a record arrives.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/producer.h"

using namespace std::chrono_literals;

namespace {

template <typename T>
T Check(absl::StatusOr<T> v, const char* what) {
  if (!v.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, v.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(*v);
}

void Check(const absl::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

std::unique_ptr<runnel::Consumer> Reader(runnel::Broker& broker, const std::string& topic,
                                         int32_t partitions) {
  runnel::ConsumerOptions options;
  options.auto_offset_reset = runnel::OffsetReset::kEarliest;
  auto consumer = Check(runnel::Consumer::Create(broker, options), "Consumer::Create");
  std::vector<runnel::TopicPartition> all;
  for (int32_t p = 0; p < partitions; ++p) all.push_back({topic, p});
  Check(consumer->Assign(all), "Assign");
  return consumer;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "delivery-basics-data";
  std::filesystem::remove_all(dir);
  auto broker = Check(runnel::Broker::Open(dir), "Broker::Open");

  // 1. Partitioning by key.
  Check(broker->CreateTopic("clicks", 4), "CreateTopic");
  {
    auto producer = Check(runnel::Producer::Create(*broker), "Producer::Create");
    for (int i = 0; i < 30; ++i) {
      const std::string user = std::vector<std::string>{"ann", "bob", "cyd"}[i % 3];
      const std::string event = user + ":" + std::to_string(i / 3);  // per-user sequence
      Check(producer->Send({.topic = "clicks", .key = user, .value = event}), "Send");
    }
    Check(producer->Flush(), "Flush");
  }
  std::map<std::string, std::vector<int>> seen;  // user -> sequence numbers, as read
  std::map<std::string, std::set<int32_t>> partitions_of;
  auto reader = Reader(*broker, "clicks", 4);
  for (size_t n = 0; n < 30;) {
    for (const runnel::ConsumerRecord& r : Check(reader->Poll(10s), "Poll")) {
      const std::string v(*r.value);
      const std::string user = v.substr(0, v.find(':'));
      seen[user].push_back(std::stoi(v.substr(v.find(':') + 1)));
      partitions_of[user].insert(r.partition);
      ++n;
    }
  }
  for (const auto& [user, seq] : seen) {
    bool in_order = true;
    for (size_t i = 0; i < seq.size(); ++i) in_order &= seq[i] == static_cast<int>(i);
    std::printf("key %s: %zu events, all in partition %d, in order: %s\n", user.c_str(),
                seq.size(), *partitions_of[user].begin(),
                partitions_of[user].size() == 1 && in_order ? "yes" : "NO");
  }

  // 2. Unsafe and safe acknowledgement.
  runnel::TopicConfig durable;
  durable.sync_policy = runnel::SyncPolicy::kAlways;
  Check(broker->CreateTopic("payments", 1, durable), "CreateTopic");
  {
    runnel::ProducerOptions fire_and_forget;
    fire_and_forget.acks = runnel::Acks::kNone;
    auto producer = Check(runnel::Producer::Create(*broker, fire_and_forget), "Producer::Create");
    for (int i = 0; i < 100; ++i) {
      Check(producer->Send({.topic = "payments", .value = "unsafe-" + std::to_string(i)}), "Send");
    }
    std::printf("fire and forget (acks=0): 100 records sent, none waited for\n");
    Check(producer->Close(), "Close");  // an orderly close still delivers what is buffered
  }
  {
    auto producer = Check(runnel::Producer::Create(*broker), "Producer::Create");  // acks=all
    int64_t first = -1, last = -1;
    for (int i = 0; i < 100; ++i) {
      auto meta = Check(producer->SendSync({.topic = "payments", .value = "safe-" + std::to_string(i)}),
                        "SendSync");
      if (first < 0) first = meta.offset;
      last = meta.offset;
    }
    std::printf("safe (acks=all, sync.policy=always): 100 records acknowledged once fsynced, "
                "offsets %lld to %lld\n",
                static_cast<long long>(first), static_cast<long long>(last));
  }

  // 3. Short and long polling.
  Check(broker->CreateTopic("alerts", 1), "CreateTopic");
  auto poller = Reader(*broker, "alerts", 1);
  const size_t short_poll = Check(poller->Poll(0ms), "Poll").size();
  std::printf("short poll: returned at once with %zu records\n", short_poll);
  std::thread later([&] {
    std::this_thread::sleep_for(100ms);  // the poll below is waiting by now, most likely
    auto producer = Check(runnel::Producer::Create(*broker), "Producer::Create");
    Check(producer->SendSync({.topic = "alerts", .value = "disk almost full"}).status(), "SendSync");
  });
  const auto polled = Check(poller->Poll(10s), "Poll");
  later.join();
  std::printf("long poll: returned when a record arrived: \"%.*s\"\n",
              static_cast<int>(polled.front().value->size()), polled.front().value->data());
  return 0;
}
