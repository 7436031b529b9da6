// runnel::ClaimCheck: the claim-check pattern. A large payload is stored beside the log,
// in a directory of content-addressed blobs, and the record carries a reference to it
// instead of the bytes; consumers resolve the reference back to the payload.
//
//   auto store = runnel::ClaimCheck::Open("/var/lib/app/blobs").value();
//   store->Send(*producer, {.topic = "images", .key = id, .value = jpeg});   // producer side
//   ...
//   for (const runnel::ConsumerRecord& r : *consumer->Poll(100ms)) {          // consumer side
//     absl::StatusOr<runnel::ClaimCheck::Payload> p = store->Resolve(r);
//     if (p.ok()) Use(p->value());   // inline bytes or the blob's, the same either way
//   }
//   store->CollectGarbage(*broker, {"images"});   // now and then: drop unreferenced blobs
//
// What is stored: a value longer than ClaimCheckOptions::threshold_bytes. Its blob is
// named by the SHA-256 of the value (64 hex digits) and is written durably — temp file,
// write, fsync, rename, fsync of the directory — BEFORE the record is handed to the
// producer. The record keeps its topic, key, timestamp and headers, gets one more header,
//   runnel.claim-check = "sha256:<64 hex digits>:<value size in bytes>"
// and an empty (not null) value, so that a compacted topic never mistakes it for a
// tombstone. Smaller values, and null values, are sent unchanged.
//
// Guarantees:
//  - A record never points at a blob that was not durably stored: whatever crash happens
//    between the blob write and the produce leaves at most an orphan blob (or a temp file),
//    which CollectGarbage removes once it is older than the grace period.
//  - Resolve checks the blob against its name (SHA-256 and size) before returning it: a
//    missing, truncated or altered blob is DataLoss naming the blob and the record, never
//    wrong bytes.
//  - CollectGarbage removes only blobs that no live record of the given topics references
//    and that were written more than grace_period_ms ago. Storing a value whose blob
//    already exists rewrites it (refreshing its write time), so a blob about to be
//    referenced again is never collected under the new record.
// The grace period must exceed the longest time between storing a blob and its record
// being appended to the log (Producer's max.block.ms + delivery.timeout.ms, which bounds
// linger.ms and retries, plus any wait of yours between Store and Send). A record copied
// elsewhere with its reference header (a retry tier, a dead-letter topic, a redrive)
// references the blob too: list those topics to CollectGarbage as well. Every topic whose records reference this store must be listed
// to CollectGarbage, or its blobs are taken for garbage.
//
// Blob files: "<dir>/<64 hex digits>" holds a 16-byte header (the 8 bytes "RNLBLOB1" and
// the write time, milliseconds since the epoch, as a big-endian int64) then the value, so
// `tail -c +17 <blob> | sha256sum` prints the blob's name. Temp files are
// "<dir>/tmp.<write time>.<n>"; "<dir>/.lock" keeps a second process from opening the
// same store.
//
// Threads: every method is thread-safe. Payloads are values, usable from any thread.
//
// Errors: absl::Status with runnel/status.h's codes. FailedPrecondition if another process
// holds the directory; the producer's own errors from Send; Internal or ResourceExhausted
// for a failed blob write or fsync (then no record is produced); DataLoss from Resolve.
#ifndef RUNNEL_CLAIM_CHECK_H_
#define RUNNEL_CLAIM_CHECK_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runnel/broker.h"
#include "runnel/consumer.h"
#include "runnel/export.h"
#include "runnel/producer.h"
#include "runnel/types.h"

namespace runnel {

namespace io {
class Env;
}  // namespace io

// The header key a claim-checked record carries.
inline constexpr std::string_view kClaimCheckHeader = "runnel.claim-check";

struct ClaimCheckOptions {
  // Values longer than this many bytes are stored as blobs; shorter ones travel inline.
  // Lower means smaller logs and more files; the default keeps records far below the
  // default max.message.bytes (1 MiB).
  size_t threshold_bytes = 256 * 1024;
  // CollectGarbage keeps an unreferenced blob until it is this old (see the guarantees
  // above): too short and a blob whose record is still on its way is collected; too long
  // and orphans stay on disk longer.
  int64_t grace_period_ms = 60 * 60 * 1000;
  // Resolve checks every blob's SHA-256. Turning it off saves a pass over the bytes, and
  // still checks the size.
  bool verify_on_resolve = true;
};

// What CollectGarbage found and did.
struct ClaimCheckGcReport {
  int64_t records_scanned = 0;    // live records of the given topics
  int64_t references = 0;         // of them, claim-checked ones
  int64_t blobs = 0;              // blob files in the directory
  int64_t blobs_removed = 0;
  uint64_t bytes_removed = 0;     // the removed blobs' file sizes
  int64_t young_unreferenced = 0; // unreferenced, but within the grace period: kept
  int64_t temp_files_removed = 0; // left by a crash during a blob write
};

class ClaimCheck;

namespace internal {
// For runnel's own tests: a store doing its file I/O (and reading its clock) through `env`.
RUNNEL_EXPORT absl::StatusOr<std::unique_ptr<ClaimCheck>> OpenClaimCheckOnEnv(
    io::Env* env, const std::string& dir, const ClaimCheckOptions& options);
}  // namespace internal

class RUNNEL_EXPORT ClaimCheck {
 public:
  // A record's value, resolved. Inline values are views into the record (valid as long as
  // the record, that is until the consumer's next Poll); claim-checked ones are owned by
  // the Payload (shared, so copies are cheap) and stay valid as long as any copy lives.
  class Payload {
   public:
    // The value: nullopt for a null value.
    const std::optional<std::string_view>& value() const { return value_; }
    // Whether it came from a blob, and the reference ("sha256:<hex>:<size>") if so.
    bool claim_checked() const { return !reference_.empty(); }
    const std::string& reference() const { return reference_; }

   private:
    friend class ClaimCheck;
    std::optional<std::string_view> value_;
    std::string reference_;
    std::shared_ptr<const void> owner_;  // keeps a blob's bytes alive
  };

  // Opens (creating it if needed) the blob directory `dir` and locks it.
  static absl::StatusOr<std::unique_ptr<ClaimCheck>> Open(const std::string& dir,
                                                          const ClaimCheckOptions& options = {});
  ~ClaimCheck();
  ClaimCheck(const ClaimCheck&) = delete;
  ClaimCheck& operator=(const ClaimCheck&) = delete;

  // Stores the value as a blob if it is over the threshold, then sends the record (or
  // its reference form) with producer.Send. Returns, and passes to `callback`, what Send
  // does; a failed blob write is returned (and given to the callback) and nothing is
  // sent. InvalidArgument if the record already carries a runnel.claim-check header.
  absl::Status Send(Producer& producer, const ProducerRecord& record,
                    SendCallback callback = nullptr);
  // As Send, waiting for the acknowledgement (Producer::SendSync).
  absl::StatusOr<RecordMetadata> SendSync(Producer& producer, const ProducerRecord& record);

  // The blob half of Send, for applications that build their records themselves: stores
  // `value` durably (whatever its size) and returns the reference to put in a
  // runnel.claim-check header. Produce the record only after this returns OK.
  absl::StatusOr<std::string> Store(std::string_view value);

  // The record's payload: its value when it carries no runnel.claim-check header, else
  // the blob's bytes. DataLoss naming the blob and the record when the blob is missing,
  // does not match its SHA-256 or size, or the reference is malformed.
  absl::StatusOr<Payload> Resolve(const ConsumerRecord& record) const;

  // Reads every live record of `topics` (each partition from its log start to its
  // visible end, as a consumer without a group), then removes the blobs that none of
  // them references and that are older than the grace period, and temp files left by
  // crashed writes. Removes nothing if a read fails (NotFound for an unknown topic,
  // DataLoss for a corrupt batch). Safe beside Send and Resolve on other threads; a
  // Resolve of a record that retention has already deleted may find its blob gone.
  absl::StatusOr<ClaimCheckGcReport> CollectGarbage(Broker& broker,
                                                    const std::vector<std::string>& topics);

  const std::string& dir() const;
  const ClaimCheckOptions& options() const;

  class Impl;

 private:
  friend absl::StatusOr<std::unique_ptr<ClaimCheck>> internal::OpenClaimCheckOnEnv(
      io::Env*, const std::string&, const ClaimCheckOptions&);
  explicit ClaimCheck(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace runnel

#endif  // RUNNEL_CLAIM_CHECK_H_
