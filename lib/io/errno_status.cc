#include "io/errno_status.h"

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace runnel::io {

absl::Status ErrnoStatus(int err, std::string_view operation, std::string_view path) {
  std::string message = fmt::format("{} {}: {}", operation, path, std::strerror(err));
  switch (err) {
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(message);
    case ENOENT:
      return absl::NotFoundError(message);
    case EEXIST:
      return absl::AlreadyExistsError(message);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace runnel::io
