// Choosing a partition for a record. The default is Kafka's: a keyed record goes to
// toPositive(murmur2(key)) % partitions, computed exactly as Kafka's Java client does, so a
// key lands in the same partition number in runnel and in Kafka; a record with a null key
// goes to the producer's sticky partition (one partition until a batch fills, then
// another), which keeps batches full.
#ifndef RUNNEL_PARTITIONER_H_
#define RUNNEL_PARTITIONER_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "runnel/export.h"

namespace runnel {

class RUNNEL_EXPORT Partitioner {
 public:
  // Returned by Partition to leave the choice to the producer's sticky assignment.
  static constexpr int32_t kStickyPartition = -1;

  virtual ~Partitioner() = default;
  // The partition in [0, num_partitions) for a record of `topic` with `key` (nullopt for
  // a null key), or kStickyPartition. Called from the sending threads: must be thread-safe.
  virtual int32_t Partition(std::string_view topic, std::optional<std::string_view> key,
                            int32_t num_partitions) = 0;
};

// Kafka's partitioner (BuiltInPartitioner): murmur2 for keyed records, sticky otherwise.
class RUNNEL_EXPORT DefaultPartitioner final : public Partitioner {
 public:
  int32_t Partition(std::string_view topic, std::optional<std::string_view> key,
                    int32_t num_partitions) override;
};

// Kafka's Utils.murmur2 (seed 0x9747b28c), bit for bit.
RUNNEL_EXPORT int32_t Murmur2(std::string_view data);
// toPositive(murmur2(key)) % num_partitions, Kafka's partition for a keyed record.
// num_partitions must be positive.
RUNNEL_EXPORT int32_t KeyPartition(std::string_view key, int32_t num_partitions);

}  // namespace runnel

#endif  // RUNNEL_PARTITIONER_H_
