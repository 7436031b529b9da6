// Quick start: open a data directory, create a topic, produce to it, and read it back.
//
//   build/examples/quickstart [DIR]      (default: ./quickstart-data, emptied first)
//
// The topic uses sync.policy=always, so each callback below fires only once its record is
// fsynced: those records survive a crash of the process and a power loss.
#include <cstdio>
#include <filesystem>
#include <string>

#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/producer.h"

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "quickstart-data";
  std::filesystem::remove_all(dir);

  auto broker = runnel::Broker::Open(dir);
  if (!broker.ok()) {
    std::fprintf(stderr, "quickstart: %s\n", broker.status().ToString().c_str());
    return 1;
  }
  runnel::TopicConfig config;  // Kafka's defaults: 1 GiB segments, 7 days of retention...
  config.sync_policy = runnel::SyncPolicy::kAlways;  // ...and acknowledged means fsynced
  if (absl::Status s = (*broker)->CreateTopic("greetings", 3, config); !s.ok()) {
    std::fprintf(stderr, "quickstart: %s\n", s.ToString().c_str());
    return 1;
  }

  auto producer = runnel::Producer::Create(**broker);  // acks=all, linger.ms=5, batch.size=16384
  if (!producer.ok()) {
    std::fprintf(stderr, "quickstart: %s\n", producer.status().ToString().c_str());
    return 1;
  }
  const char* greetings[][2] = {{"en", "hello"}, {"fr", "bonjour"}, {"es", "hola"},
                                {"de", "hallo"}, {"it", "ciao"},    {"fi", "moi"}};
  for (const auto& [language, word] : greetings) {
    // The key picks the partition, exactly as Kafka's partitioner would.
    // Errors also reach the callback, which prints them.
    (*producer)->Send({.topic = "greetings", .key = language, .value = word},
                      [language = std::string(language)](
                          const absl::StatusOr<runnel::RecordMetadata>& sent) {
                        if (sent.ok()) {
                          std::printf("  %s -> partition %d offset %lld\n", language.c_str(),
                                      sent->partition, static_cast<long long>(sent->offset));
                        } else {
                          std::printf("  %s failed: %s\n", language.c_str(),
                                      sent.status().ToString().c_str());
                        }
                      })
        .IgnoreError();
  }
  if (absl::Status s = (*producer)->Flush(); !s.ok()) {  // waits for every callback above
    std::fprintf(stderr, "quickstart: %s\n", s.ToString().c_str());
    return 1;
  }

  auto last = (*producer)->SendSync({.topic = "greetings", .key = "la", .value = "salve"});
  if (!last.ok()) {
    std::fprintf(stderr, "quickstart: %s\n", last.status().ToString().c_str());
    return 1;
  }
  std::printf("  la -> partition %d offset %lld (SendSync)\n", last->partition,
              static_cast<long long>(last->offset));

  auto topic = (*broker)->DescribeTopic("greetings");
  int64_t total = 0;
  for (const auto& p : topic->partitions) {
    std::printf("partition %d: offsets %lld..%lld, %llu bytes\n", p.partition,
                static_cast<long long>(p.log_start_offset),
                static_cast<long long>(p.log_end_offset),
                static_cast<unsigned long long>(p.size_bytes));
    total += p.log_end_offset - p.log_start_offset;
  }
  std::printf("%lld records in topic greetings\n", static_cast<long long>(total));
  if (absl::Status s = (*producer)->Close(); !s.ok()) return 1;

  // Read everything back: assign all three partitions, start from the beginning, and poll
  // until a poll comes back empty. Records are views into the log, valid until next Poll.
  runnel::ConsumerOptions options;
  options.auto_offset_reset = runnel::OffsetReset::kEarliest;
  auto consumer = runnel::Consumer::Create(**broker, options);
  if (!consumer.ok() ||
      !(*consumer)->Assign({{"greetings", 0}, {"greetings", 1}, {"greetings", 2}}).ok()) {
    std::fprintf(stderr, "quickstart: cannot create the consumer\n");
    return 1;
  }
  int64_t read = 0;
  while (true) {
    auto records = (*consumer)->Poll(std::chrono::milliseconds(100));
    if (!records.ok()) {
      std::fprintf(stderr, "quickstart: %s\n", records.status().ToString().c_str());
      return 1;
    }
    if (records->empty()) break;
    for (const runnel::ConsumerRecord& r : *records) {
      std::printf("  read %.*s=%.*s from partition %d offset %lld\n",
                  static_cast<int>(r.key->size()), r.key->data(),
                  static_cast<int>(r.value->size()), r.value->data(), r.partition,
                  static_cast<long long>(r.offset));
      ++read;
    }
  }
  std::printf("%lld records read back\n", static_cast<long long>(read));
  if (absl::Status s = (*consumer)->Close(); !s.ok()) return 1;
  return (*broker)->Close().ok() ? 0 : 1;
}
