// Claim check: large payloads stored beside the log, records carrying a reference.
//
//   build/examples/claim_check [DIR]      (default: ./claim-check-data, emptied first)
//
// 1. 20 records go to topic "images": every fourth has an 8 KiB payload, which
//    runnel::ClaimCheck stores as a blob (named by its SHA-256) before producing a small
//    record that references it; the others travel inline.
// 2. A consumer reads them back and resolves every value through the store: the same
//    call returns inline bytes and blob bytes alike, each checked against its checksum.
// 3. 30 more records (the last one large) push the first 20 out of retention
//    (retention.bytes); CollectGarbage then removes the blobs no live record references
//    and keeps the one that is still referenced.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "runnel/broker.h"
#include "runnel/claim_check.h"
#include "runnel/consumer.h"
#include "runnel/producer.h"

using namespace std::chrono_literals;

namespace {

[[noreturn]] void Die(const char* what, const absl::Status& s) {
  std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
  std::exit(1);
}

// Record i's payload: large (8 KiB) when `large`, else 100 bytes; content derived from i.
std::string Payload(int i, bool large) {
  std::string s(large ? 8192 : 100, ' ');
  for (size_t k = 0; k < s.size(); ++k) s[k] = static_cast<char>('a' + (i * 7 + k) % 26);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "claim-check-data";
  std::filesystem::remove_all(dir);

  runnel::BrokerOptions broker_options;
  broker_options.log_retention_check_interval_ms = 50;  // apply retention promptly
  auto broker = runnel::Broker::Open(dir + "/data", broker_options);
  if (!broker.ok()) Die("open", broker.status());
  runnel::TopicConfig config;
  config.segment_bytes = 1024;    // small segments, so retention has something to delete
  config.retention_bytes = 2048;  // keep about the last 2 KiB of records
  config.segment_index_bytes = 4096;
  if (auto s = (*broker)->CreateTopic("images", 1, config); !s.ok()) Die("create", s);
  runnel::ProducerOptions producer_options;
  producer_options.linger_ms = 0;
  auto producer = runnel::Producer::Create(**broker, producer_options);
  if (!producer.ok()) Die("producer", producer.status());

  // The blob store lives beside the data directory. A grace period of 0 suits this
  // example, where nothing is in flight when garbage is collected; an application keeps
  // the default (an hour) so that a blob whose record is still on its way is not taken.
  runnel::ClaimCheckOptions store_options;
  store_options.threshold_bytes = 1024;
  store_options.grace_period_ms = 0;
  auto store = runnel::ClaimCheck::Open(dir + "/blobs", store_options);
  if (!store.ok()) Die("claim check", store.status());

  // 1. Produce: the store decides per record, by size.
  for (int i = 0; i < 20; ++i) {
    const std::string key = "img-" + std::to_string(i);
    const std::string value = Payload(i, i % 4 == 0);
    auto sent = (*store)->SendSync(**producer, {.topic = "images", .key = key, .value = value});
    if (!sent.ok()) Die("send", sent.status());
  }

  // 2. Consume and resolve.
  runnel::ConsumerOptions consumer_options;
  consumer_options.auto_offset_reset = runnel::OffsetReset::kEarliest;
  auto consumer = runnel::Consumer::Create(**broker, consumer_options);
  if (!consumer.ok()) Die("consumer", consumer.status());
  if (auto s = (*consumer)->Assign({{"images", 0}}); !s.ok()) Die("assign", s);
  int read = 0, stored = 0, inline_count = 0, correct = 0;
  size_t blob_bytes = 0;
  while (read < 20) {
    auto records = (*consumer)->Poll(500ms);
    if (!records.ok()) Die("poll", records.status());
    for (const runnel::ConsumerRecord& r : *records) {
      auto payload = (*store)->Resolve(r);
      if (!payload.ok()) Die("resolve", payload.status());
      const std::string_view value = payload->value().value_or("");
      if (payload->claim_checked()) {
        ++stored;
        blob_bytes += value.size();
      } else {
        ++inline_count;
      }
      correct += value == Payload(static_cast<int>(r.offset), r.offset % 4 == 0);
      ++read;
    }
  }
  std::printf("claim check: %d records, %d stored as blobs (%zu bytes), %d inline, %d resolved "
              "correctly\n",
              read, stored, blob_bytes, inline_count, correct);

  // 3. Retention drops the first records; GC drops their blobs.
  for (int i = 20; i < 50; ++i) {
    const std::string value = Payload(i, i == 49);
    auto sent = (*store)->SendSync(**producer, {.topic = "images", .value = value});
    if (!sent.ok()) Die("send", sent.status());
  }
  int64_t log_start = 0;
  for (int i = 0; i < 200 && log_start < 20; ++i) {
    std::this_thread::sleep_for(50ms);
    auto d = (*broker)->DescribeTopic("images");
    if (!d.ok()) Die("describe", d.status());
    log_start = d->partitions[0].log_start_offset;
  }
  std::this_thread::sleep_for(5ms);  // every blob is now older than the grace period
  auto report = (*store)->CollectGarbage(**broker, {"images"});
  if (!report.ok()) Die("gc", report.status());
  std::printf("after retention the log starts at offset %lld; gc: %lld live records, %lld "
              "references, removed %lld of %lld blobs (%llu bytes), kept %lld\n",
              static_cast<long long>(log_start), static_cast<long long>(report->records_scanned),
              static_cast<long long>(report->references),
              static_cast<long long>(report->blobs_removed), static_cast<long long>(report->blobs),
              static_cast<unsigned long long>(report->bytes_removed),
              static_cast<long long>(report->blobs - report->blobs_removed));
  if (auto s = (*consumer)->Close(); !s.ok()) Die("close", s);
  if (auto s = (*producer)->Close(); !s.ok()) Die("close", s);
  if (auto s = (*broker)->Close(); !s.ok()) Die("close", s);
  return 0;
}
