// Consumer groups: competing consumers, publish-subscribe, and where to commit.
//
//   build/examples/consumer_group [DIR]      (default: ./consumer-group-data, emptied first)
//
// 1. Two members of group "billing", each on its own thread, split the four partitions of
//    "orders" and together read every record once, committing after processing.
// 2. Group "audit" reads the same records again: every group gets every record.
// 3. A consumer that "crashes" (is dropped) after Poll: committing after processing
//    (at-least-once) redelivers what it had not committed; committing before processing
//    (at-most-once) loses what it had not processed.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/group_admin.h"
#include "runnel/producer.h"

using namespace std::chrono_literals;

namespace {

constexpr int kRecords = 40;

std::unique_ptr<runnel::Consumer> Member(runnel::Broker& broker, const std::string& group,
                                         const std::string& client) {
  runnel::ConsumerOptions options;
  options.group_id = group;
  options.client_id = client;
  options.auto_offset_reset = runnel::OffsetReset::kEarliest;
  options.enable_auto_commit = false;
  auto consumer = runnel::Consumer::Create(broker, options);
  if (!consumer.ok() || !(*consumer)->Subscribe({"orders"}).ok()) std::exit(1);
  return std::move(*consumer);
}

// Polls until the group has read `total` records; commits after processing each Poll.
int ConsumeShare(runnel::Consumer& consumer, std::atomic<int>& group_total, int total) {
  int mine = 0;
  while (group_total.load() < total) {
    auto records = consumer.Poll(100ms);
    if (!records.ok()) return mine;
    mine += static_cast<int>(records->size());  // "processing"
    group_total += static_cast<int>(records->size());
    if (!records->empty()) consumer.CommitSync().IgnoreError();
  }
  return mine;
}

// Takes one Poll's worth of records and "crashes" before processing them: it is dropped
// without another commit (auto-commit is off). Commits first when `commit_first`.
// Returns how many records it took.
int CrashAfterPoll(runnel::Broker& broker, const std::string& group, bool commit_first) {
  auto consumer = Member(broker, group, "doomed");
  for (int i = 0; i < 50; ++i) {
    auto records = consumer->Poll(100ms);
    if (!records.ok() || records->empty()) continue;
    if (commit_first) consumer->CommitSync().IgnoreError();
    return static_cast<int>(records->size());
  }
  return 0;
}

int ReadRest(runnel::Broker& broker, const std::string& group) {
  auto consumer = Member(broker, group, "successor");
  int n = 0;
  for (int empty = 0; empty < 3;) {
    auto records = consumer->Poll(100ms);
    if (!records.ok()) break;
    if (records->empty()) {
      ++empty;
      continue;
    }
    n += static_cast<int>(records->size());
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "consumer-group-data";
  std::filesystem::remove_all(dir);
  auto broker = runnel::Broker::Open(dir);
  if (!broker.ok() || !(*broker)->CreateTopic("orders", 4).ok()) return 1;
  {
    auto producer = runnel::Producer::Create(**broker);
    if (!producer.ok()) return 1;
    for (int i = 0; i < kRecords; ++i) {
      const std::string customer = "customer-" + std::to_string(i % 7);
      const std::string order = "order-" + std::to_string(i);
      if (!(*producer)->Send({.topic = "orders", .key = customer, .value = order}).ok()) return 1;
    }
    if (!(*producer)->Close().ok()) return 1;
  }

  // 1. Competing consumers.
  std::atomic<int> billed{0};
  int shares[2] = {0, 0};
  // Both join before either polls, so the first rebalance already splits the partitions.
  std::unique_ptr<runnel::Consumer> members[2] = {Member(**broker, "billing", "biller-0"),
                                                  Member(**broker, "billing", "biller-1")};
  std::vector<std::thread> threads;
  for (int m = 0; m < 2; ++m) {
    threads.emplace_back([&, m] {
      shares[m] = ConsumeShare(*members[m], billed, kRecords);
      members[m]->Close().IgnoreError();
    });
  }
  for (auto& t : threads) t.join();
  std::printf("group billing: %d records, split %d + %d between two members\n", billed.load(),
              shares[0], shares[1]);

  // 2. Publish-subscribe: another group reads everything again.
  std::printf("group audit: %d records\n", ReadRest(**broker, "audit"));

  // 3. Where the commit goes decides what a crash costs.
  const int taken = CrashAfterPoll(**broker, "at-least-once", /*commit_first=*/false);
  const int again = ReadRest(**broker, "at-least-once");
  std::printf("at-least-once: a consumer took %d records and crashed; its successor read %d "
              "(none lost, %d delivered twice)\n",
              taken, again, taken + again - kRecords);
  const int lost = CrashAfterPoll(**broker, "at-most-once", /*commit_first=*/true);
  const int rest = ReadRest(**broker, "at-most-once");
  std::printf("at-most-once: a consumer took and committed %d records and crashed; its "
              "successor read %d (%d lost, none twice)\n",
              lost, rest, kRecords - rest);

  auto admin = runnel::GroupAdmin::Create(**broker);
  if (!admin.ok()) return 1;
  auto billing = (*admin)->DescribeGroup("billing");
  if (!billing.ok()) return 1;
  int64_t lag = 0;
  for (const auto& p : billing->offsets) lag += p.lag;
  std::printf("group billing: state %s, total lag %lld\n",
              std::string(runnel::GroupStateName(billing->state)).c_str(),
              static_cast<long long>(lag));
  return (*broker)->Close().ok() ? 0 : 1;
}
