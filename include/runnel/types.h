// Value types shared by the Producer, the Consumer and the Broker's admin calls. They
// carry nothing a Kafka client could not honour (DESIGN.md "One API, two backends").
#ifndef RUNNEL_TYPES_H_
#define RUNNEL_TYPES_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace runnel {

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;

  bool operator==(const TopicPartition&) const = default;
  auto operator<=>(const TopicPartition&) const = default;
};

// A record header. Kafka allows a null value, never a null key; Kafka's protocol makes
// the key a string, so keep keys UTF-8 for Kafka tools and clients to read them.
struct Header {
  std::string_view key = {};
  std::optional<std::string_view> value = std::nullopt;
};

// A record to send. Every field is a view: Producer::Send copies what it needs before it
// returns, so the viewed memory need only live for the call.
struct ProducerRecord {
  // Every field has a default, so designated initializers may name any subset:
  //   producer->Send({.topic = "orders", .key = id, .value = json});
  std::string_view topic = {};
  // Unset: the partitioner chooses (by key, or sticky for a null key).
  std::optional<int32_t> partition = std::nullopt;
  std::optional<std::string_view> key = std::nullopt;    // nullopt: a null key
  std::optional<std::string_view> value = std::nullopt;  // nullopt: a null value (a tombstone)
  std::span<const Header> headers = {};
  // Unset: the time of the send. Under message.timestamp.type=LogAppendTime the log
  // replaces it with the time of the append.
  std::optional<int64_t> timestamp = std::nullopt;
};

// Where a sent record landed.
struct RecordMetadata {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = -1;
  int64_t timestamp = -1;  // CreateTime as sent, or the LogAppendTime the log stamped
};

}  // namespace runnel

#endif  // RUNNEL_TYPES_H_
