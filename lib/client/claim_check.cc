// runnel::ClaimCheck (include/runnel/claim_check.h). A blob is made durable under its
// final name before any record can name it; a shared/exclusive lock orders blob writes
// against garbage collection's last look at a blob's age, so a blob rewritten for a new
// record is never removed under it.
#include "runnel/claim_check.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>

#include "format/byte_order.h"
#include "format/sha256.h"
#include "io/env.h"
#include "util/formatters.h"
#include "util/status_macros.h"

namespace runnel {
namespace {

constexpr std::string_view kMagic = "RNLBLOB1";
constexpr size_t kHeaderSize = 16;  // magic, then the write time (big-endian int64)
constexpr std::string_view kTempPrefix = "tmp.";
constexpr std::string_view kReferencePrefix = "sha256:";

bool IsHexName(std::string_view name) {
  if (name.size() != 64) return false;
  for (char c : name) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

struct Reference {
  std::string hex;
  uint64_t size = 0;
};

// "sha256:<64 hex>:<decimal size>"; nullopt if malformed.
std::optional<Reference> ParseReference(std::string_view s) {
  if (s.substr(0, kReferencePrefix.size()) != kReferencePrefix) return std::nullopt;
  s.remove_prefix(kReferencePrefix.size());
  if (s.size() < 66 || s[64] != ':' || !IsHexName(s.substr(0, 64))) return std::nullopt;
  Reference ref{std::string(s.substr(0, 64)), 0};
  std::string_view digits = s.substr(65);
  if (digits.empty() || digits.size() > 19) return std::nullopt;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    ref.size = ref.size * 10 + static_cast<uint64_t>(c - '0');
  }
  return ref;
}

// The reference header's value, if the record has one (nullopt), or the header's value
// (possibly null: then a malformed reference).
std::optional<std::optional<std::string_view>> FindReference(std::span<const Header> headers) {
  for (const Header& h : headers) {
    if (h.key == kClaimCheckHeader) return h.value;
  }
  return std::nullopt;
}

std::string RecordName(const ConsumerRecord& r) {
  return fmt::format("{}-{}@{}", r.topic, r.partition, r.offset);
}

}  // namespace

class ClaimCheck::Impl {
 public:
  Impl(io::Env* env, std::string dir, const ClaimCheckOptions& options)
      : env_(env), dir_(std::move(dir)), options_(options) {}

  absl::Status Init() {
    RUNNEL_RETURN_IF_ERROR(env_->CreateDir(dir_));
    RUNNEL_ASSIGN_OR_RETURN(lock_, env_->LockFile(io::JoinPath(dir_, ".lock")));
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> Store(std::string_view value) {
    const std::string hex = format::ToHex(format::Sha256Of(value));
    uint8_t header[kHeaderSize];
    std::copy(kMagic.begin(), kMagic.end(), header);
    const int64_t now = env_->NowMillis();
    format::StoreBig64(header + 8, static_cast<uint64_t>(now));
    const std::string tmp = io::JoinPath(
        dir_, fmt::format("{}{}.{}.{}", kTempPrefix, now, ::getpid(), temp_counter_++));
    const std::string path = io::JoinPath(dir_, hex);

    std::shared_lock<std::shared_mutex> writing(gc_mu_);
    absl::Status written = [&]() -> absl::Status {
      RUNNEL_ASSIGN_OR_RETURN(std::unique_ptr<io::File> file,
                              env_->OpenFile(tmp, io::OpenMode::kCreate));
      RUNNEL_RETURN_IF_ERROR(file->Truncate(0));
      const std::span<const uint8_t> parts[] = {
          std::span<const uint8_t>(header, kHeaderSize),
          std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(value.data()), value.size())};
      RUNNEL_RETURN_IF_ERROR(file->WriteV(0, parts));
      RUNNEL_RETURN_IF_ERROR(file->Sync());
      return env_->Rename(tmp, path);
    }();
    if (!written.ok()) {
      env_->RemoveFile(tmp).IgnoreError();  // best effort; GC removes it otherwise
      return absl::Status(written.code(), fmt::format("storing claim-check blob {}: {}", hex,
                                                      written.message()));
    }
    absl::Status synced = env_->SyncDir(dir_);
    if (!synced.ok()) {
      return absl::Status(synced.code(), fmt::format("storing claim-check blob {}: {}", hex,
                                                     synced.message()));
    }
    return fmt::format("{}{}:{}", kReferencePrefix, hex, value.size());
  }

  absl::StatusOr<Payload> Resolve(const ConsumerRecord& record) const {
    Payload payload;
    const auto found = FindReference(record.headers);
    if (!found) {
      payload.value_ = record.value;
      return payload;
    }
    const std::optional<Reference> ref = *found ? ParseReference(**found) : std::nullopt;
    if (!ref) {
      return absl::DataLossError(fmt::format("record {} has a malformed {} header \"{}\"",
                                             RecordName(record), kClaimCheckHeader,
                                             found->value_or("(null)")));
    }
    const std::string path = io::JoinPath(dir_, ref->hex);
    auto blob_error = [&](std::string_view what) {
      return absl::DataLossError(fmt::format("claim-check blob {} ({}), referenced by record {}, {}",
                                             ref->hex, path, RecordName(record), what));
    };
    absl::StatusOr<std::unique_ptr<io::File>> file = env_->OpenFile(path, io::OpenMode::kReadOnly);
    if (absl::IsNotFound(file.status())) return blob_error("is missing");
    if (!file.ok()) return blob_error(fmt::format("cannot be opened: {}", file.status().message()));
    RUNNEL_ASSIGN_OR_RETURN(uint64_t size, (*file)->Size());
    if (size != kHeaderSize + ref->size) {
      return blob_error(fmt::format("holds {} bytes where its header and value make {}", size,
                                    kHeaderSize + ref->size));
    }
    RUNNEL_ASSIGN_OR_RETURN(std::shared_ptr<io::MappedRegion> region,
                            (*file)->Map(static_cast<size_t>(size), /*writable=*/false));
    const std::string_view bytes(reinterpret_cast<const char*>(region->data()), region->size());
    if (bytes.substr(0, kMagic.size()) != kMagic) return blob_error("has a bad header");
    const std::string_view value = bytes.substr(kHeaderSize);
    if (options_.verify_on_resolve) {
      const std::string actual = format::ToHex(format::Sha256Of(value));
      if (actual != ref->hex) {
        return blob_error(fmt::format("does not match its hash: the SHA-256 of its {} bytes is {}",
                                      value.size(), actual));
      }
    }
    payload.value_ = value;
    payload.reference_ = std::string(**found);
    payload.owner_ = std::move(region);
    return payload;
  }

  absl::StatusOr<ClaimCheckGcReport> CollectGarbage(Broker& broker,
                                                    const std::vector<std::string>& topics) {
    std::lock_guard<std::mutex> one_gc(gc_run_mu_);
    ClaimCheckGcReport report;
    // Blobs are listed before the records are read: a blob stored after the listing is
    // not a candidate, and one stored before it is either referenced by a record the scan
    // sees or young (the grace period covers the time to its append).
    RUNNEL_ASSIGN_OR_RETURN(std::vector<std::string> names, env_->ListDir(dir_));
    std::vector<std::string> candidates;
    const int64_t listed_at = env_->NowMillis();
    for (const std::string& name : names) {
      if (IsHexName(name)) {
        ++report.blobs;
        candidates.push_back(name);
      } else if (std::string_view(name).substr(0, kTempPrefix.size()) == kTempPrefix) {
        if (TempFileExpired(name, listed_at)) {
          RUNNEL_RETURN_IF_ERROR(env_->RemoveFile(io::JoinPath(dir_, name)));
          ++report.temp_files_removed;
        }
      }
    }
    std::set<std::string, std::less<>> referenced;
    RUNNEL_RETURN_IF_ERROR(ScanReferences(broker, topics, referenced, report));
    for (const std::string& hex : candidates) {
      if (referenced.contains(hex)) continue;
      const std::string path = io::JoinPath(dir_, hex);
      std::unique_lock<std::shared_mutex> exclusive(gc_mu_);  // no Store of it meanwhile
      absl::StatusOr<std::optional<int64_t>> written = WriteTime(path);
      if (absl::IsNotFound(written.status())) continue;
      RUNNEL_RETURN_IF_ERROR(written.status());
      // A blob whose header is unreadable is corrupt, never half-written (blobs get their
      // name only once complete): unreferenced, it goes.
      if (*written && env_->NowMillis() - **written <= options_.grace_period_ms) {
        ++report.young_unreferenced;
        continue;
      }
      absl::StatusOr<uint64_t> size = FileSize(path);
      RUNNEL_RETURN_IF_ERROR(env_->RemoveFile(path));
      ++report.blobs_removed;
      report.bytes_removed += size.ok() ? *size : 0;
    }
    if (report.blobs_removed > 0 || report.temp_files_removed > 0) {
      RUNNEL_RETURN_IF_ERROR(env_->SyncDir(dir_));
    }
    return report;
  }

  const std::string& dir() const { return dir_; }
  const ClaimCheckOptions& options() const { return options_; }

 private:
  // "tmp.<ms>.<pid>.<n>" older than the grace period. Unparsable names are left alone.
  bool TempFileExpired(std::string_view name, int64_t now) const {
    name.remove_prefix(kTempPrefix.size());
    int64_t ms = 0;
    size_t i = 0;
    for (; i < name.size() && name[i] >= '0' && name[i] <= '9' && i < 18; ++i) {
      ms = ms * 10 + (name[i] - '0');
    }
    if (i == 0 || i >= name.size() || name[i] != '.') return false;
    return now - ms > options_.grace_period_ms;
  }

  // The write time in the blob's header; nullopt if the header is not one.
  absl::StatusOr<std::optional<int64_t>> WriteTime(const std::string& path) const {
    RUNNEL_ASSIGN_OR_RETURN(std::unique_ptr<io::File> file,
                            env_->OpenFile(path, io::OpenMode::kReadOnly));
    uint8_t header[kHeaderSize];
    RUNNEL_ASSIGN_OR_RETURN(size_t n, file->Read(0, header));
    if (n < kHeaderSize || std::string_view(reinterpret_cast<const char*>(header), 8) != kMagic) {
      return std::optional<int64_t>();
    }
    return std::optional<int64_t>(static_cast<int64_t>(format::LoadBig64(header + 8)));
  }

  absl::StatusOr<uint64_t> FileSize(const std::string& path) const {
    RUNNEL_ASSIGN_OR_RETURN(std::unique_ptr<io::File> file,
                            env_->OpenFile(path, io::OpenMode::kReadOnly));
    return file->Size();
  }

  // Reads every live record of `topics` as a group-less consumer, from each partition's
  // log start up to its visible end as of the start of the scan.
  static absl::Status ScanReferences(Broker& broker, const std::vector<std::string>& topics,
                                     std::set<std::string, std::less<>>& referenced,
                                     ClaimCheckGcReport& report) {
    std::vector<TopicPartition> partitions;
    for (const std::string& topic : topics) {
      RUNNEL_ASSIGN_OR_RETURN(TopicDescription d, broker.DescribeTopic(topic));
      for (const PartitionDescription& p : d.partitions) partitions.push_back({topic, p.partition});
    }
    if (partitions.empty()) return absl::OkStatus();
    ConsumerOptions options;
    options.client_id = "claim-check-gc";
    options.auto_offset_reset = OffsetReset::kEarliest;
    options.enable_auto_commit = false;
    options.max_poll_records = 5000;
    RUNNEL_ASSIGN_OR_RETURN(std::unique_ptr<Consumer> consumer, Consumer::Create(broker, options));
    RUNNEL_RETURN_IF_ERROR(consumer->Assign(partitions));
    RUNNEL_RETURN_IF_ERROR(consumer->SeekToBeginning(partitions));
    RUNNEL_ASSIGN_OR_RETURN(auto ends, consumer->EndOffsets(partitions));
    for (;;) {
      std::vector<TopicPartition> unfinished;
      for (const TopicPartition& tp : partitions) {
        RUNNEL_ASSIGN_OR_RETURN(int64_t position, consumer->Position(tp));
        if (position < ends[tp]) unfinished.push_back(tp);
      }
      if (unfinished.empty()) break;
      // Finished partitions are paused, so a busy one does not keep the scan going.
      std::vector<TopicPartition> finished;
      for (const TopicPartition& tp : partitions) {
        if (std::find(unfinished.begin(), unfinished.end(), tp) == unfinished.end()) {
          finished.push_back(tp);
        }
      }
      RUNNEL_RETURN_IF_ERROR(consumer->Resume(partitions));
      if (!finished.empty()) RUNNEL_RETURN_IF_ERROR(consumer->Pause(finished));
      RUNNEL_ASSIGN_OR_RETURN(std::span<const ConsumerRecord> records,
                              consumer->Poll(std::chrono::milliseconds(100)));
      for (const ConsumerRecord& r : records) {
        ++report.records_scanned;
        const auto found = FindReference(r.headers);
        if (!found || !*found) continue;
        if (std::optional<Reference> ref = ParseReference(**found)) {
          ++report.references;
          referenced.insert(std::move(ref->hex));
        }
      }
    }
    return consumer->Close();
  }

  io::Env* const env_;
  const std::string dir_;
  const ClaimCheckOptions options_;
  std::unique_ptr<io::FileLock> lock_;
  std::atomic<uint64_t> temp_counter_{0};
  // Shared by blob writes, exclusive for GC's re-check and removal of one blob.
  mutable std::shared_mutex gc_mu_;
  std::mutex gc_run_mu_;  // one CollectGarbage at a time
};

namespace internal {
absl::StatusOr<std::unique_ptr<ClaimCheck>> OpenClaimCheckOnEnv(io::Env* env,
                                                                const std::string& dir,
                                                                const ClaimCheckOptions& options) {
  if (options.grace_period_ms < 0) {
    return absl::InvalidArgumentError(
        fmt::format("claim-check grace_period_ms {} is negative", options.grace_period_ms));
  }
  auto impl = std::make_unique<ClaimCheck::Impl>(env, dir, options);
  RUNNEL_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<ClaimCheck>(new ClaimCheck(std::move(impl)));
}
}  // namespace internal

absl::StatusOr<std::unique_ptr<ClaimCheck>> ClaimCheck::Open(const std::string& dir,
                                                            const ClaimCheckOptions& options) {
  return internal::OpenClaimCheckOnEnv(io::PosixEnv(), dir, options);
}

ClaimCheck::ClaimCheck(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ClaimCheck::~ClaimCheck() = default;

absl::Status ClaimCheck::Send(Producer& producer, const ProducerRecord& record,
                              SendCallback callback) {
  auto fail = [&](absl::Status status) {
    if (callback) callback(status);
    return status;
  };
  if (FindReference(record.headers)) {
    return fail(absl::InvalidArgumentError(fmt::format(
        "a record to topic \"{}\" already carries a {} header", record.topic, kClaimCheckHeader)));
  }
  if (!record.value || record.value->size() <= impl_->options().threshold_bytes) {
    return producer.Send(record, std::move(callback));
  }
  absl::StatusOr<std::string> reference = impl_->Store(*record.value);
  if (!reference.ok()) return fail(reference.status());
  std::vector<Header> headers(record.headers.begin(), record.headers.end());
  headers.push_back({kClaimCheckHeader, *reference});
  ProducerRecord sent = record;
  sent.value = std::string_view();
  sent.headers = headers;
  return producer.Send(sent, std::move(callback));
}

absl::StatusOr<RecordMetadata> ClaimCheck::SendSync(Producer& producer,
                                                    const ProducerRecord& record) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<absl::StatusOr<RecordMetadata>> result;
  absl::Status sent = Send(producer, record, [&](const absl::StatusOr<RecordMetadata>& r) {
    std::lock_guard<std::mutex> lock(mu);
    result = r;
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return result.has_value(); });  // the callback always fires
  if (!sent.ok()) return sent;
  return *result;
}

absl::StatusOr<std::string> ClaimCheck::Store(std::string_view value) {
  return impl_->Store(value);
}

absl::StatusOr<ClaimCheck::Payload> ClaimCheck::Resolve(const ConsumerRecord& record) const {
  return impl_->Resolve(record);
}

absl::StatusOr<ClaimCheckGcReport> ClaimCheck::CollectGarbage(
    Broker& broker, const std::vector<std::string>& topics) {
  return impl_->CollectGarbage(broker, topics);
}

const std::string& ClaimCheck::dir() const { return impl_->dir(); }
const ClaimCheckOptions& ClaimCheck::options() const { return impl_->options(); }

}  // namespace runnel
