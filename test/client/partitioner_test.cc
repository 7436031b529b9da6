// Kafka's partitioner, pinned: Murmur2 must equal Kafka's Java Utils.murmur2 bit for bit,
// and KeyPartition must equal toPositive(murmur2(key)) % N, so that a key lands in the same
// partition number in runnel as in Kafka.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "runnel/partitioner.h"

namespace runnel {
namespace {

using namespace std::string_literals;

// n bytes (i * mul + add) % 256, as pattern() in partitioner_golden.py.
std::string Pattern(int n, int mul, int add) {
  std::string s;
  for (int i = 0; i < n; ++i) s.push_back(static_cast<char>((i * mul + add) % 256));
  return s;
}

struct Golden {
  std::string key;
  int32_t murmur2;                   // Java's int
  std::array<int32_t, 4> partition;  // toPositive(murmur2) % 1, 3, 8, 100
};

// Generated, not hand-written, from Kafka's reference implementation as Debian's
// python3-kafka ships it (kafka.partitioner.default.murmur2, a port of the Java client's
// Utils.murmur2; its unsigned result converted to Java's signed int) with
//   /usr/bin/python3 test/client/partitioner_golden.py
// which prints these rows; re-run it to extend the table.
const std::array<int32_t, 4> kPartitionCounts = {1, 3, 8, 100};
const Golden kGolden[] = {
    {""s, 275646681, {0, 0, 1, 81}},
    {"a"s, -1563381124, {0, 1, 4, 24}},
    {"ab"s, 316155434, {0, 2, 2, 34}},
    {"abc"s, 479470107, {0, 0, 3, 7}},
    {"abcd"s, -1323649548, {0, 2, 4, 0}},
    {"abcde"s, 461995741, {0, 1, 5, 41}},
    {"abcdef"s, 1870650108, {0, 0, 4, 8}},
    {"abcdefg"s, -346467175, {0, 1, 1, 73}},
    {"abcdefgh"s, -955427363, {0, 0, 5, 85}},
    {"abcdefghi"s, -619679810, {0, 0, 6, 38}},
    {"21"s, -973932308, {0, 0, 4, 40}},
    {"0"s, 971027396, {0, 2, 4, 96}},
    {"1"s, -1993445489, {0, 0, 7, 59}},
    {"key"s, -1079937367, {0, 1, 1, 81}},
    {"hello"s, 2132663229, {0, 0, 5, 29}},
    {"kafka"s, -798503068, {0, 1, 4, 80}},
    {"runnel"s, -1500294524, {0, 0, 4, 24}},
    {"orders"s, -1029842276, {0, 0, 4, 72}},
    {"user-42"s, 1459644460, {0, 1, 4, 60}},
    {"k0"s, -704538303, {0, 2, 1, 45}},
    {"k1"s, 1684045097, {0, 2, 1, 97}},
    {"k999"s, -1058834708, {0, 0, 4, 40}},
    {"The quick brown fox jumps over the lazy dog"s, 495243318, {0, 0, 6, 18}},
    {"h\303\251llo"s, 614509002, {0, 0, 2, 2}},
    {"\346\227\245\346\234\254"s, -700811021, {0, 0, 3, 27}},
    {"\000"s, 375494588, {0, 2, 4, 88}},
    {"\000\000"s, 595382058, {0, 0, 2, 58}},
    {"\000\000\000"s, 1013532917, {0, 2, 5, 17}},
    {"\000\000\000\000"s, 850957120, {0, 1, 0, 20}},
    {"\200"s, 857690492, {0, 2, 4, 92}},
    {"\377"s, -311467685, {0, 0, 3, 63}},
    {"\377\377"s, -1642832928, {0, 2, 0, 20}},
    {"\377\377\377"s, 1548199422, {0, 0, 6, 22}},
    {"\377\377\377\377"s, 644171429, {0, 2, 5, 29}},
    {"\377\377\377\377\377"s, -363838622, {0, 0, 2, 26}},
    {"\200\000\200\000\200"s, -63275332, {0, 1, 4, 16}},
    {"\001\002\003\004\005\006\007"s, -528389943, {0, 2, 1, 5}},
    {"\177\200\201\376\377"s, -1589331483, {0, 2, 5, 65}},
    {"\000a\000b"s, -1155571253, {0, 0, 3, 95}},
    {"a\000"s, -1853091852, {0, 2, 4, 96}},
    {Pattern(1000, 0, 120), -1068453602, {0, 0, 6, 46}},
    {Pattern(1000, 1, 0), 202982532, {0, 0, 4, 32}},
    {Pattern(1001, 7, 3), -731083524, {0, 2, 4, 24}},
    {Pattern(1002, 131, 255), 890730181, {0, 1, 5, 81}},
    {Pattern(1003, 0, 255), 917030818, {0, 1, 2, 18}},
};

TEST_CASE("Murmur2 equals Kafka's Java murmur2", "[partitioner]") {
  // Kafka's own test vector (UtilsTest.testMurmur2).
  CHECK(Murmur2("21") == -973932308);
  for (const Golden& g : kGolden) {
    INFO("key of " << g.key.size() << " bytes: \"" << g.key.substr(0, 40) << "\"");
    CHECK(Murmur2(g.key) == g.murmur2);
  }
}

TEST_CASE("KeyPartition is toPositive(murmur2) % partitions", "[partitioner]") {
  for (const Golden& g : kGolden) {
    for (size_t i = 0; i < kPartitionCounts.size(); ++i) {
      INFO("key of " << g.key.size() << " bytes: \"" << g.key.substr(0, 40)
                     << "\", partitions: " << kPartitionCounts[i]);
      CHECK(KeyPartition(g.key, kPartitionCounts[i]) == g.partition[i]);
    }
  }
}

TEST_CASE("KeyPartition is in range for every partition count", "[partitioner]") {
  for (const Golden& g : kGolden) {
    for (int32_t n = 1; n <= 64; ++n) {
      const int32_t p = KeyPartition(g.key, n);
      CHECK(p >= 0);
      CHECK(p < n);
      // toPositive is a mask (x & 0x7fffffff), not abs(): the two differ for negatives.
      CHECK(p == static_cast<int32_t>((static_cast<uint32_t>(g.murmur2) & 0x7fffffffu) %
                                      static_cast<uint32_t>(n)));
    }
  }
  CHECK(KeyPartition("any", 1) == 0);
  CHECK(KeyPartition("x", 2147483647) >= 0);
}

TEST_CASE("Murmur2 reads the bytes, not a C string", "[partitioner]") {
  // An embedded or trailing NUL is part of the key.
  CHECK(Murmur2("a\0"s) != Murmur2("a"));
  CHECK(Murmur2("\0\0"s) != Murmur2("\0"s));
  // A view into a larger buffer hashes only its own bytes.
  const std::string buffer = "abcdefghi";
  for (size_t n = 0; n <= buffer.size(); ++n) {
    CHECK(Murmur2(std::string_view(buffer).substr(0, n)) == Murmur2(buffer.substr(0, n)));
  }
}

TEST_CASE("DefaultPartitioner: murmur2 for a key, sticky for a null key", "[partitioner]") {
  DefaultPartitioner partitioner;
  for (int32_t n : {1, 2, 3, 8, 100}) {
    CHECK(partitioner.Partition("t", std::nullopt, n) == Partitioner::kStickyPartition);
  }
  for (const Golden& g : kGolden) {
    for (size_t i = 0; i < kPartitionCounts.size(); ++i) {
      CHECK(partitioner.Partition("topic", std::string_view(g.key), kPartitionCounts[i]) ==
            g.partition[i]);
    }
  }
  // An empty key is a key (Kafka hashes it), not a null key.
  CHECK(partitioner.Partition("t", std::string_view(), 100) == 81);
  // The topic does not enter into it.
  CHECK(partitioner.Partition("a", std::string_view("key"), 8) ==
        partitioner.Partition("b", std::string_view("key"), 8));
}

}  // namespace
}  // namespace runnel
