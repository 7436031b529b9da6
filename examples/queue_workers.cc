// A work queue: competing workers with per-record acknowledgement (share groups).
//
//   build/examples/queue_workers [DIR]      (default: ./queue-workers-data, emptied first)
//
// Three workers in share group "workers" take jobs from a topic with ONE partition (more
// workers than partitions: a queue, not a consumer group). Each job is acknowledged on
// its own: Accept when done; Release when it failed for now (it comes back, to any
// worker); Reject when it can never succeed (it goes to the dead-letter topic jobs.dlq).
// A fourth worker takes some jobs and stalls: their locks expire and the others get them.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/producer.h"
#include "runnel/queue_consumer.h"

using namespace std::chrono_literals;

namespace {

constexpr int kJobs = 40;

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

std::unique_ptr<runnel::QueueConsumer> Worker(runnel::Broker& broker, const std::string& name) {
  runnel::QueueConsumerOptions options;
  options.group_id = "workers";
  options.client_id = name;
  options.auto_offset_reset = runnel::OffsetReset::kEarliest;
  options.record_lock_duration_ms = 300;  // short, so the stalled worker's jobs come back soon
  options.delivery_count_limit = 3;
  options.max_poll_records = 4;
  auto worker = Check(runnel::QueueConsumer::Create(broker, options), "QueueConsumer::Create");
  Check(worker->Subscribe({"jobs"}), "Subscribe");
  return worker;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "queue-workers-data";
  std::filesystem::remove_all(dir);
  auto broker = Check(runnel::Broker::Open(dir), "Broker::Open");
  Check(broker->CreateTopic("jobs", 1), "CreateTopic");
  {
    auto producer = Check(runnel::Producer::Create(*broker), "Producer::Create");
    for (int i = 0; i < kJobs; ++i) {
      const std::string job = "job-" + std::to_string(i);
      Check(producer->SendSync({.topic = "jobs", .value = job}).status(), "SendSync");
    }
  }

  // The stalled worker takes a few jobs and never acknowledges them.
  auto stalled = Worker(*broker, "stalled");
  const size_t stalled_jobs = Check(stalled->Poll(0ms), "Poll").size();

  std::vector<std::unique_ptr<runnel::QueueConsumer>> workers;
  for (int w = 0; w < 3; ++w) workers.push_back(Worker(*broker, "worker-" + std::to_string(w)));
  std::map<std::string, int> done;     // job -> times accepted
  std::map<std::string, int> tries;    // job -> deliveries seen
  std::vector<int> per_worker(workers.size());
  int released = 0, after_expiry = 0;
  while (static_cast<int>(done.size()) < kJobs - 1) {  // job-13 can never succeed
    for (size_t w = 0; w < workers.size(); ++w) {
      // A long poll: it returns at once while jobs are there, and wakes when a stalled
      // lock expires.
      for (const runnel::QueueRecord& q : Check(workers[w]->Poll(2s), "Poll")) {
        const std::string job(q.record.value.value_or(""));
        ++tries[job];
        if (q.delivery_count > 1 && job != "job-7" && job != "job-13") ++after_expiry;
        runnel::AcknowledgeType ack = runnel::AcknowledgeType::kAccept;
        if (job == "job-13") {
          ack = runnel::AcknowledgeType::kReject;  // a poison message
        } else if (job == "job-7" && q.delivery_count == 1) {
          ack = runnel::AcknowledgeType::kRelease;  // a transient failure: try again
          ++released;
        } else {
          ++done[job];
          ++per_worker[w];
        }
        Check(workers[w]->Acknowledge(q.record, ack), "Acknowledge");
      }
      // Store the decisions now, while this worker still holds the locks.
      Check(workers[w]->CommitSync(), "CommitSync");
    }
  }
  for (auto& w : workers) Check(w->Close(), "Close");  // stores the last acknowledgements

  int twice = 0;
  for (const auto& [job, n] : done) twice += n > 1;
  std::printf("queue: %d jobs, %zu workers on 1 partition, each accepted %d, %d, %d\n", kJobs,
              workers.size(), per_worker[0], per_worker[1], per_worker[2]);
  std::printf("released and redelivered: %d; redelivered after the stalled worker's locks "
              "expired: %d of %zu\n",
              released, after_expiry, stalled_jobs);
  std::printf("accepted: %zu jobs, %d twice; ", done.size(), twice);

  // The poison job is in the dead-letter topic, with why and how often.
  runnel::ConsumerOptions co;
  co.auto_offset_reset = runnel::OffsetReset::kEarliest;
  auto reader = Check(runnel::Consumer::Create(*broker, co), "Consumer::Create");
  Check(reader->Assign({{"jobs.dlq", 0}}), "Assign");
  for (const runnel::ConsumerRecord& r : Check(reader->Poll(5s), "Poll")) {
    std::string reason;
    for (const runnel::Header& h : r.headers) {
      if (h.key == "runnel.dlq.reason") reason = std::string(h.value.value_or(""));
    }
    std::printf("dead-lettered: %.*s (%s)\n", static_cast<int>(r.value->size()), r.value->data(),
                reason.c_str());
  }
  return 0;
}
