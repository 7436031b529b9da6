// Quick start: open a data directory, create a topic, and produce to it.
//
//   build/examples/quickstart [DIR]      (default: ./quickstart-data, emptied first)
//
// The topic uses sync.policy=always, so each callback below fires only once its record is
// fsynced: those records survive a crash of the process and a power loss.
#include <cstdio>
#include <filesystem>
#include <string>

#include "runnel/broker.h"
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
  return (*broker)->Close().ok() ? 0 : 1;
}
