// QueueConsumer (share groups): competing members, per-record Accept / Release / Reject,
// lock expiry, the delivery count limit and the dead-letter topic, Wakeup, and state that
// survives a reopen and a SIGKILL. Pass criteria, each test: every record ends accepted
// once or dead-lettered, none is lost, delivery counts say how often each came.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "broker/broker_core.h"
#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/producer.h"
#include "runnel/queue_consumer.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel {
namespace {

using namespace std::chrono_literals;

void Produce(Broker& broker, const std::string& topic, int from, int to, int32_t partitions = 1) {
  auto producer = Producer::Create(broker);
  REQUIRE_OK(producer.status());
  for (int i = from; i < to; ++i) {
    const std::string value = fmt::format("job-{}", i);
    REQUIRE_OK((*producer)->SendSync({.topic = topic, .partition = i % partitions, .value = value})
                   .status());
  }
}

std::unique_ptr<QueueConsumer> Member(Broker& broker, QueueConsumerOptions options = {}) {
  if (options.group_id.empty()) options.group_id = "workers";
  options.auto_offset_reset = OffsetReset::kEarliest;
  auto member = QueueConsumer::Create(broker, options);
  REQUIRE_OK(member.status());
  REQUIRE_OK((*member)->Subscribe({"jobs"}));
  return std::move(*member);
}

struct DeadLetter {
  std::string value;
  std::map<std::string, std::string> headers;
};

std::vector<DeadLetter> ReadDeadLetters(Broker& broker, const std::string& topic, size_t expect) {
  ConsumerOptions co;
  co.auto_offset_reset = OffsetReset::kEarliest;
  auto consumer = Consumer::Create(broker, co);
  REQUIRE_OK(consumer.status());
  auto d = broker.DescribeTopic(topic);
  REQUIRE_OK(d.status());
  std::vector<TopicPartition> all;
  for (const auto& p : d->partitions) all.push_back({topic, p.partition});
  REQUIRE_OK((*consumer)->Assign(all));
  std::vector<DeadLetter> out;
  while (out.size() < expect) {
    auto polled = (*consumer)->Poll(60s);
    REQUIRE_OK(polled.status());
    REQUIRE_FALSE(polled->empty());
    for (const ConsumerRecord& r : *polled) {
      DeadLetter dl{std::string(r.value.value_or("")), {}};
      for (const Header& h : r.headers) dl.headers[std::string(h.key)] = std::string(h.value.value_or(""));
      out.push_back(dl);
    }
  }
  return out;
}

TEST_CASE("QueueConsumer rejects bad options and read-only brokers") {
  testing::TempDir tmp;
  auto broker = Broker::Open(tmp.path());
  REQUIRE_OK(broker.status());
  CHECK_STATUS_IS(QueueConsumer::Create(**broker, {}).status(), absl::StatusCode::kInvalidArgument);
  QueueConsumerOptions bad;
  bad.group_id = "g";
  bad.record_lock_duration_ms = 0;
  CHECK_STATUS_IS(QueueConsumer::Create(**broker, bad).status(), absl::StatusCode::kInvalidArgument);
  bad.record_lock_duration_ms = 1000;
  bad.auto_offset_reset = OffsetReset::kNone;
  CHECK_STATUS_IS(QueueConsumer::Create(**broker, bad).status(), absl::StatusCode::kInvalidArgument);
  QueueConsumerOptions ok;
  ok.group_id = "g";
  auto member = QueueConsumer::Create(**broker, ok);
  REQUIRE_OK(member.status());
  CHECK_STATUS_IS((*member)->Subscribe({"nope"}), absl::StatusCode::kNotFound);
  CHECK_STATUS_IS((*member)->Subscribe({"__share_group_state"}), absl::StatusCode::kInvalidArgument);
  REQUIRE_OK((*broker)->Close());

  BrokerOptions ro;
  ro.read_only = true;
  auto reader = Broker::Open(tmp.path(), ro);
  REQUIRE_OK(reader.status());
  CHECK_STATUS_IS(QueueConsumer::Create(**reader, ok).status(), absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("More queue members than partitions share one partition, each record accepted once") {
  testing::TempDir tmp;
  auto broker = Broker::Open(tmp.path());
  REQUIRE_OK(broker.status());
  REQUIRE_OK((*broker)->CreateTopic("jobs", 1));
  Produce(**broker, "jobs", 0, 300);
  QueueConsumerOptions options;
  options.max_poll_records = 7;
  std::vector<std::unique_ptr<QueueConsumer>> members;
  for (int i = 0; i < 3; ++i) members.push_back(Member(**broker, options));

  std::map<std::string, int> accepted;
  std::vector<int> per_member(3);
  while (accepted.size() < 300) {
    bool any = false;
    for (size_t m = 0; m < members.size(); ++m) {
      auto polled = members[m]->Poll(0ms);
      REQUIRE_OK(polled.status());
      for (const QueueRecord& q : *polled) {
        CHECK(q.delivery_count == 1);
        ++accepted[std::string(q.record.value.value_or(""))];
        ++per_member[m];
        any = true;
        REQUIRE_OK(members[m]->Acknowledge(q.record));
      }
    }
    REQUIRE(any);  // records are all there: every round hands some out
  }
  for (const auto& [value, times] : accepted) CHECK(times == 1);
  for (int n : per_member) CHECK(n > 0);
  for (auto& m : members) {
    auto polled = m->Poll(0ms);  // stores the last acknowledgements
    REQUIRE_OK(polled.status());
    CHECK(polled->empty());
    CHECK_OK(m->Close());
  }
}

TEST_CASE("Release redelivers, Reject and the delivery count limit dead-letter with headers") {
  testing::TempDir tmp;
  auto broker = Broker::Open(tmp.path());
  REQUIRE_OK(broker.status());
  REQUIRE_OK((*broker)->CreateTopic("jobs", 2));
  Produce(**broker, "jobs", 0, 4, 2);  // job-0, job-2 in partition 0; job-1, job-3 in 1
  QueueConsumerOptions options;
  options.delivery_count_limit = 3;
  auto member = Member(**broker, options);

  std::map<std::string, std::vector<int32_t>> deliveries;
  std::set<std::string> accepted;
  for (int round = 0; round < 20; ++round) {
    auto polled = member->Poll(0ms);
    REQUIRE_OK(polled.status());
    if (polled->empty()) break;  // all done or dead-lettered
    for (const QueueRecord& q : *polled) {
      const std::string value(q.record.value.value_or(""));
      deliveries[value].push_back(q.delivery_count);
      if (value == "job-0") {
        REQUIRE_OK(member->Acknowledge(q.record, AcknowledgeType::kReject));
      } else if (value == "job-1") {
        REQUIRE_OK(member->Acknowledge(q.record, AcknowledgeType::kRelease));  // forever
      } else if (deliveries[value].size() < 2) {
        REQUIRE_OK(member->Acknowledge(q.record, AcknowledgeType::kRelease));  // once
      } else {
        REQUIRE_OK(member->Acknowledge(q.record, AcknowledgeType::kAccept));
        accepted.insert(value);
      }
    }
  }
  CHECK(deliveries["job-0"] == std::vector<int32_t>{1});
  CHECK(deliveries["job-1"] == std::vector<int32_t>{1, 2, 3});
  CHECK(deliveries["job-2"] == std::vector<int32_t>{1, 2});
  CHECK(deliveries["job-3"] == std::vector<int32_t>{1, 2});
  CHECK(accepted == std::set<std::string>{"job-2", "job-3"});

  auto dlq = (*broker)->DescribeTopic("jobs.dlq");
  REQUIRE_OK(dlq.status());
  CHECK(dlq->partitions.size() == 2);
  auto letters = ReadDeadLetters(**broker, "jobs.dlq", 2);
  REQUIRE(letters.size() == 2);
  std::map<std::string, DeadLetter> by_value;
  for (const auto& l : letters) by_value[l.value] = l;
  REQUIRE(by_value.count("job-0"));
  REQUIRE(by_value.count("job-1"));
  CHECK(by_value["job-0"].headers["runnel.dlq.reason"] == "rejected");
  CHECK(by_value["job-0"].headers["runnel.dlq.delivery-count"] == "1");
  CHECK(by_value["job-0"].headers["runnel.dlq.topic"] == "jobs");
  CHECK(by_value["job-0"].headers["runnel.dlq.partition"] == "0");
  CHECK(by_value["job-0"].headers["runnel.dlq.offset"] == "0");
  CHECK(by_value["job-1"].headers["runnel.dlq.reason"] == "delivery count limit");
  CHECK(by_value["job-1"].headers["runnel.dlq.delivery-count"] == "3");
  CHECK(by_value["job-1"].headers["runnel.dlq.partition"] == "1");
}

TEST_CASE("A record whose lock expires goes to another member, and the late ack fails") {
  testing::TempDir tmp;
  auto broker = Broker::Open(tmp.path());
  REQUIRE_OK(broker.status());
  REQUIRE_OK((*broker)->CreateTopic("jobs", 1));
  Produce(**broker, "jobs", 0, 1);
  QueueConsumerOptions options;
  options.record_lock_duration_ms = 50;
  auto slow = Member(**broker, options);
  auto other = Member(**broker, options);
  auto first = slow->Poll(0ms);
  REQUIRE_OK(first.status());
  REQUIRE(first->size() == 1);
  const ConsumerRecord held = (*first)[0].record;
  // The other member's long poll returns once the lock has expired: it is woken for it.
  auto second = other->Poll(60s);
  REQUIRE_OK(second.status());
  REQUIRE(second->size() == 1);
  CHECK((*second)[0].delivery_count == 2);
  CHECK((*second)[0].record.offset == held.offset);
  REQUIRE_OK(slow->Acknowledge(held));
  CHECK_STATUS_IS(slow->CommitSync(), absl::StatusCode::kFailedPrecondition);
  REQUIRE_OK(other->Acknowledge((*second)[0].record));
  CHECK_OK(other->CommitSync());
}

TEST_CASE("A queue member's long Poll wakes for new records, for a release, and for Wakeup") {
  testing::TempDir tmp;
  auto broker = Broker::Open(tmp.path());
  REQUIRE_OK(broker.status());
  REQUIRE_OK((*broker)->CreateTopic("jobs", 1));
  auto waiting = Member(**broker);
  auto holder = Member(**broker);

  std::thread producer([&] { Produce(**broker, "jobs", 0, 1); });
  auto polled = waiting->Poll(60s);
  producer.join();
  REQUIRE_OK(polled.status());
  REQUIRE(polled->size() == 1);
  REQUIRE_OK(waiting->Acknowledge((*polled)[0].record));

  Produce(**broker, "jobs", 1, 2);
  auto held = holder->Poll(60s);
  REQUIRE_OK(held.status());
  REQUIRE(held->size() == 1);
  std::thread releaser([&] {
    REQUIRE_OK(holder->Acknowledge((*held)[0].record, AcknowledgeType::kRelease));
    REQUIRE_OK(holder->CommitSync());
  });
  auto released = waiting->Poll(60s);  // the lock lasts 30 s: the release ends the wait
  releaser.join();
  REQUIRE_OK(released.status());
  REQUIRE(released->size() == 1);
  CHECK((*released)[0].delivery_count == 2);

  std::thread waker([&] { waiting->Wakeup(); });
  auto woken = waiting->Poll(60s);
  waker.join();
  REQUIRE_OK(woken.status());
  CHECK(woken->empty());
}

TEST_CASE("At the in-flight bound a member waits, and wakes when another finishes a record") {
  testing::TempDir tmp;
  auto broker = Broker::Open(tmp.path());
  REQUIRE_OK(broker.status());
  REQUIRE_OK((*broker)->CreateTopic("jobs", 1));
  Produce(**broker, "jobs", 0, 5);
  QueueConsumerOptions options;
  options.max_record_locks = 2;
  auto holder = Member(**broker, options);
  auto waiting = Member(**broker, options);
  auto held = holder->Poll(0ms);
  REQUIRE_OK(held.status());
  REQUIRE(held->size() == 2);  // the bound: records 2-4 are not handed out yet
  auto none = waiting->Poll(0ms);
  REQUIRE_OK(none.status());
  CHECK(none->empty());
  std::thread finisher([&] {
    REQUIRE_OK(holder->Acknowledge((*held)[1].record));  // the second: start does not move
    REQUIRE_OK(holder->CommitSync());
  });
  auto woken = waiting->Poll(60s);  // the locks last 30 s: the accept ends the wait
  finisher.join();
  REQUIRE_OK(woken.status());
  REQUIRE(woken->size() == 1);
  CHECK((*woken)[0].record.offset == 2);
}

TEST_CASE("Subscribe replaces the topics; a recreated topic starts its share state afresh") {
  testing::TempDir tmp;
  auto broker = Broker::Open(tmp.path());
  REQUIRE_OK(broker.status());
  REQUIRE_OK((*broker)->CreateTopic("jobs", 1));
  REQUIRE_OK((*broker)->CreateTopic("other", 1));
  Produce(**broker, "jobs", 0, 10);
  auto member = Member(**broker);
  auto first = member->Poll(0ms);
  REQUIRE_OK(first.status());
  REQUIRE(first->size() == 10);
  for (const QueueRecord& q : *first) REQUIRE_OK(member->Acknowledge(q.record));
  REQUIRE_OK(member->CommitSync());

  REQUIRE_OK(member->Subscribe({"other"}));
  Produce(**broker, "jobs", 10, 12);
  auto other = member->Poll(0ms);
  REQUIRE_OK(other.status());
  CHECK(other->empty());  // "jobs" is no longer subscribed

  REQUIRE_OK((*broker)->DeleteTopic("jobs"));
  REQUIRE_OK((*broker)->CreateTopic("jobs", 1));
  Produce(**broker, "jobs", 100, 103);
  REQUIRE_OK(member->Subscribe({"jobs"}));
  auto fresh = member->Poll(0ms);
  REQUIRE_OK(fresh.status());
  REQUIRE(fresh->size() == 3);  // the new log's offsets 0-2, though 0-11 were done before
  CHECK((*fresh)[0].record.value == "job-100");
  CHECK((*fresh)[0].record.offset == 0);

  const std::string long_name(246, 'x');  // "<name>.dlq" would pass 249 characters
  REQUIRE_OK((*broker)->CreateTopic(long_name, 1));
  CHECK_STATUS_IS(member->Subscribe({long_name}), absl::StatusCode::kInvalidArgument);
}

TEST_CASE("Share group state survives a reopen: accepted stays done, the rest comes again") {
  testing::TempDir tmp;
  std::set<int64_t> accepted;
  {
    auto broker = Broker::Open(tmp.path());
    REQUIRE_OK(broker.status());
    REQUIRE_OK((*broker)->CreateTopic("jobs", 1));
    Produce(**broker, "jobs", 0, 20);
    auto member = Member(**broker);
    auto polled = member->Poll(0ms);
    REQUIRE_OK(polled.status());
    REQUIRE(polled->size() == 20);
    for (const QueueRecord& q : *polled) {
      if (q.record.offset % 2 == 0) {
        REQUIRE_OK(member->Acknowledge(q.record));
        accepted.insert(q.record.offset);
      }
    }
    REQUIRE_OK(member->CommitSync());
    // The broker closes with the odd records still out with the member.
    REQUIRE_OK((*broker)->Close());
  }
  auto broker = Broker::Open(tmp.path());
  REQUIRE_OK(broker.status());
  CHECK((*broker)->ListTopics() == std::vector<std::string>{"jobs"});  // state topic hidden
  auto member = Member(**broker);
  auto polled = member->Poll(0ms);
  REQUIRE_OK(polled.status());
  REQUIRE(polled->size() == 10);
  for (const QueueRecord& q : *polled) {
    CHECK(q.record.offset % 2 == 1);
    CHECK(q.delivery_count == 2);
  }
}

TEST_CASE("After a SIGKILL mid-work, every record ends accepted once or dead-lettered") {
  testing::TempDir tmp;
  constexpr int kRecords = 400;
  {
    auto broker = Broker::Open(tmp.path());
    REQUIRE_OK(broker.status());
    REQUIRE_OK((*broker)->CreateTopic("jobs", 2));
    Produce(**broker, "jobs", 0, kRecords, 2);
  }
  int pipe_fds[2];
  REQUIRE(pipe(pipe_fds) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Accepts, releases and rejects as it goes, reporting each accept once it is stored,
    // and is killed part way with records out and acknowledgements unstored.
    close(pipe_fds[0]);
    auto broker = Broker::Open(tmp.path());
    if (!broker.ok()) _exit(3);
    QueueConsumerOptions o;
    o.group_id = "workers";
    o.auto_offset_reset = OffsetReset::kEarliest;
    o.max_poll_records = 25;
    o.delivery_count_limit = 3;
    auto member = QueueConsumer::Create(**broker, o);
    if (!member.ok() || !(*member)->Subscribe({"jobs"}).ok()) _exit(4);
    int handled = 0;
    while (true) {
      auto polled = (*member)->Poll(0ms);
      if (!polled.ok()) _exit(5);
      std::vector<int64_t> ok;
      for (const QueueRecord& q : *polled) {
        const int64_t key = q.record.partition * 1'000'000 + q.record.offset;
        const auto type = key % 7 == 0 ? AcknowledgeType::kReject
                          : key % 5 == 0 ? AcknowledgeType::kRelease
                                         : AcknowledgeType::kAccept;
        if (!(*member)->Acknowledge(q.record, type).ok()) _exit(6);
        if (type == AcknowledgeType::kAccept) ok.push_back(key);
      }
      if (!(*member)->CommitSync().ok()) _exit(7);
      for (int64_t key : ok) {
        if (write(pipe_fds[1], &key, sizeof(key)) != sizeof(key)) _exit(8);
      }
      handled += static_cast<int>(polled->size());
      if (handled >= kRecords / 2) {
        // Some records out with this member, acknowledgements pending: die.
        (void)(*member)->Poll(0ms);
        raise(SIGKILL);
      }
    }
  }
  close(pipe_fds[1]);
  std::map<int64_t, int> accepted;
  int64_t key;
  while (read(pipe_fds[0], &key, sizeof(key)) == sizeof(key)) ++accepted[key];
  close(pipe_fds[0]);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(WTERMSIG(status) == SIGKILL);
  REQUIRE_FALSE(accepted.empty());

  auto broker = Broker::Open(tmp.path());
  REQUIRE_OK(broker.status());
  QueueConsumerOptions o;
  o.max_poll_records = 50;
  o.delivery_count_limit = 3;
  auto member = Member(**broker, o);
  std::set<int64_t> redelivered_after_crash;
  for (int rounds = 0; rounds < 1000; ++rounds) {
    auto polled = member->Poll(0ms);
    REQUIRE_OK(polled.status());
    if (polled->empty()) break;
    for (const QueueRecord& q : *polled) {
      const int64_t k = q.record.partition * 1'000'000 + q.record.offset;
      if (q.delivery_count > 1) redelivered_after_crash.insert(k);
      const auto type = k % 7 == 0 ? AcknowledgeType::kReject
                        : k % 5 == 0 && q.delivery_count < 2 ? AcknowledgeType::kRelease
                                                             : AcknowledgeType::kAccept;
      REQUIRE_OK(member->Acknowledge(q.record, type));
      if (type == AcknowledgeType::kAccept) ++accepted[k];
    }
  }
  CHECK_FALSE(redelivered_after_crash.empty());  // what the child held came again
  std::set<int64_t> dead;
  auto d = (*broker)->DescribeTopic("jobs.dlq");
  REQUIRE_OK(d.status());
  size_t dead_count = 0;
  for (const auto& p : d->partitions) dead_count += static_cast<size_t>(p.log_end_offset);
  for (const DeadLetter& l : ReadDeadLetters(**broker, "jobs.dlq", dead_count)) {
    dead.insert(std::stoll(l.headers.at("runnel.dlq.partition")) * 1'000'000 +
                std::stoll(l.headers.at("runnel.dlq.offset")));
  }
  for (int32_t p = 0; p < 2; ++p) {
    for (int64_t offset = 0; offset < kRecords / 2; ++offset) {
      const int64_t k = p * 1'000'000 + offset;
      INFO("partition " << p << " offset " << offset);
      CHECK(accepted[k] + static_cast<int>(dead.count(k)) >= 1);  // none lost
      CHECK(accepted[k] <= 1);                                     // none accepted twice
      if (k % 7 == 0) CHECK(dead.count(k) == 1);
    }
  }
}

}  // namespace
}  // namespace runnel
