// The acknowledgement side of `runnel produce`: collects each record's send result (from
// the producer's callbacks), and reports them in input order on a thread of its own —
// the offsets to standard output (--print-offsets, one `PARTITION OFFSET` line each,
// flushed at once), failures to standard error naming the input line. Before reporting,
// it makes records durable as --sync asks:
//   kNone      report on acknowledgement (durable as the topic's sync.policy makes it)
//   kInterval  fsync the partitions written, then report, every `interval_ms`
//   kAlways    fsync the partitions of every acknowledged record before reporting it
//              (records acknowledged together share one fsync per partition)
#ifndef RUNNEL_TOOLS_ACK_REPORTER_H_
#define RUNNEL_TOOLS_ACK_REPORTER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/status/statusor.h"
#include "runnel/broker.h"
#include "runnel/producer.h"
#include "tools/output.h"

namespace runnel::tools {

enum class ToolSync { kNone, kInterval, kAlways };

class AckReporter {
 public:
  struct Options {
    ToolSync sync = ToolSync::kNone;
    int64_t interval_ms = 1000;
    bool print_offsets = false;
  };
  // `broker` and `out` must outlive the reporter.
  AckReporter(Broker& broker, const Options& options, Output& out);
  ~AckReporter();  // Finish()es
  AckReporter(const AckReporter&) = delete;
  AckReporter& operator=(const AckReporter&) = delete;

  // The callback for the Send of the next record (input line `Track` count).
  SendCallback Track();
  // No more records: waits until every tracked record is reported. True if all succeeded.
  bool Finish();
  // A record failed (or an fsync, or standard output): stop sending more.
  bool failed() const { return failed_.load(); }

 private:
  struct Acked {
    int64_t line;
    RecordMetadata metadata;
  };
  void Complete(int64_t seq, absl::StatusOr<RecordMetadata> result);
  void Run();
  // Fsyncs (per options_.sync) and prints `acked`; clears it.
  void Report(std::vector<Acked>& acked);

  Broker& broker_;
  const Options options_;
  Output& out_;
  std::atomic<bool> failed_{false};

  std::mutex mu_;
  std::condition_variable cv_;
  // Results of records first_seq_, first_seq_ + 1, ...; nullopt until acknowledged.
  std::deque<std::optional<absl::StatusOr<RecordMetadata>>> pending_;  // guarded by mu_
  int64_t first_seq_ = 1;                                              // guarded by mu_
  bool finishing_ = false;                                             // guarded by mu_
  std::thread thread_;
};

}  // namespace runnel::tools

#endif  // RUNNEL_TOOLS_ACK_REPORTER_H_
