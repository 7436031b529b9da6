// Maps an errno from a file operation to an absl::Status whose message names the
// operation and the path, the one place this mapping lives (see env.h for the table).
#ifndef RUNNEL_IO_ERRNO_STATUS_H_
#define RUNNEL_IO_ERRNO_STATUS_H_

#include <string_view>

#include "absl/status/status.h"

namespace runnel::io {

absl::Status ErrnoStatus(int err, std::string_view operation, std::string_view path);

}  // namespace runnel::io

#endif  // RUNNEL_IO_ERRNO_STATUS_H_
