// Test helper for the tools/*.sh scripts: writes a known data directory through the
// public API, so that the dump and verify tests do not depend on other commands.
//
//   make_log DIR TOPIC PARTITIONS RECORDS [SEGMENT_BYTES [RECORDS_PER_BATCH]]
//
// Creates TOPIC (index.interval.bytes 256, so small segments get index entries) and
// sends RECORDS records round-robin over its partitions, flushing after every
// RECORDS_PER_BATCH (default 5) so batches hold that many records. Record n has key
// "key-n", value "value-n", timestamp 1700000000000 + n, and every third record a header
// "h=n". Then group "make-log" commits offset 1 of partition 0, so __consumer_offsets
// exists too. Exit 0 on success; otherwise one line on stderr.
//
// With $MAKE_LOG_HOLD set to a path, it then creates that file and keeps the directory
// open (a live owner, indexes of active segments preallocated) until the file is removed.
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/producer.h"

namespace {

int Fail(const std::string& what, const absl::Status& s) {
  fmt::print(stderr, "make_log: {}: {}\n", what, std::string(s.ToString()));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5 || argc > 7) {
    fmt::print(stderr,
               "usage: make_log DIR TOPIC PARTITIONS RECORDS [SEGMENT_BYTES [RECORDS_PER_BATCH]]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const std::string topic = argv[2];
  const int partitions = std::atoi(argv[3]);
  const int records = std::atoi(argv[4]);
  runnel::TopicConfig config;
  config.index_interval_bytes = 256;
  if (argc > 5) config.segment_bytes = std::atoll(argv[5]);
  const int per_batch = argc > 6 ? std::atoi(argv[6]) : 5;

  auto broker = runnel::Broker::Open(dir);
  if (!broker.ok()) return Fail("open " + dir, broker.status());
  if (absl::Status s = (*broker)->CreateTopic(topic, partitions, config); !s.ok()) {
    return Fail("create topic " + topic, s);
  }
  auto producer = runnel::Producer::Create(**broker);
  if (!producer.ok()) return Fail("create producer", producer.status());
  for (int n = 0; n < records; ++n) {
    const std::string key = fmt::format("key-{}", n);
    const std::string value = fmt::format("value-{}", n);
    const std::string header_value = fmt::format("{}", n);
    const runnel::Header header{.key = "h", .value = header_value};
    runnel::ProducerRecord record{.topic = topic,
                                  .partition = (n / per_batch) % partitions,
                                  .key = key,
                                  .value = value,
                                  .timestamp = 1'700'000'000'000 + n};
    if (n % 3 == 0) record.headers = std::span<const runnel::Header>(&header, 1);
    if (absl::Status s = (*producer)->Send(record); !s.ok()) return Fail("send", s);
    if ((n + 1) % per_batch == 0) {
      if (absl::Status s = (*producer)->Flush(); !s.ok()) return Fail("flush", s);
    }
  }
  if (absl::Status s = (*producer)->Close(); !s.ok()) return Fail("close producer", s);

  runnel::ConsumerOptions options;
  options.group_id = "make-log";
  auto consumer = runnel::Consumer::Create(**broker, options);
  if (!consumer.ok()) return Fail("create consumer", consumer.status());
  if (absl::Status s = (*consumer)->Assign({{topic, 0}}); !s.ok()) return Fail("assign", s);
  if (absl::Status s = (*consumer)->CommitSync({{{topic, 0}, {.offset = 1}}}); !s.ok()) {
    return Fail("commit", s);
  }
  if (absl::Status s = (*consumer)->Close(); !s.ok()) return Fail("close consumer", s);
  if (const char* hold = std::getenv("MAKE_LOG_HOLD"); hold != nullptr && hold[0] != '\0') {
    std::ofstream(hold).put('\n');
    while (std::filesystem::exists(hold)) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (absl::Status s = (*broker)->Close(); !s.ok()) return Fail("close broker", s);
  return 0;
}
