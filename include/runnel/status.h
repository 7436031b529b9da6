// How runnel uses absl::Status codes, and whether trying again can help.
//
// | code               | meaning in runnel                                            | retriable |
// | ------------------ | ------------------------------------------------------------ | --------- |
// | InvalidArgument    | bad options, names, config values, a record over the limit  | no        |
// | NotFound           | an unknown topic, partition or group                          | no        |
// | AlreadyExists      | creating a topic that exists                                  | no        |
// | FailedPrecondition | a closed handle, a data directory locked by another process  | no        |
// | PermissionDenied   | the file system refused (read-only directory, permissions)    | no        |
// | OutOfRange         | reading before the log start or past the visible end          | no        |
// | DataLoss           | corruption found on disk                                      | no        |
// | Unimplemented      | a feature runnel does not have (a compression codec, ...)     | no        |
// | Internal           | an I/O error; the partition that saw it is now read-only      | no        |
// | ResourceExhausted  | back-pressure (buffer.memory full), a full disk                | yes       |
// | Unavailable        | a resource that is temporarily not there                       | yes       |
// | DeadlineExceeded   | a wait that timed out                                          | yes       |
// | Aborted            | an operation interrupted by a concurrent one                   | yes       |
//
// Messages name the thing and the limit, e.g. `record batch of 2097152 bytes exceeds
// max.message.bytes 1048588 for partition orders-0`.
#ifndef RUNNEL_STATUS_H_
#define RUNNEL_STATUS_H_

#include "absl/status/status.h"
#include "runnel/export.h"

namespace runnel {

// True when the same call may succeed later without any change by the caller (the table
// above: ResourceExhausted, Unavailable, DeadlineExceeded, Aborted). Thread-safe.
RUNNEL_EXPORT bool IsRetriable(const absl::Status& status);

}  // namespace runnel

#endif  // RUNNEL_STATUS_H_
