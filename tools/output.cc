#include "tools/output.h"

#include <cerrno>

#include <unistd.h>

namespace runnel::tools {

namespace {
constexpr size_t kFlushAt = 64 * 1024;
}  // namespace

Output::Output(int fd) : fd_(fd) {}

Output::~Output() { Flush(); }

bool Output::Write(std::string_view text) {
  if (closed_) return false;
  buffer_.append(text);
  return buffer_.size() < kFlushAt || Flush();
}

bool Output::Flush() {
  if (closed_) {
    buffer_.clear();
    return false;
  }
  std::string_view rest = buffer_;
  while (!rest.empty()) {
    ssize_t n = ::write(fd_, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {  // EPIPE: the reader has gone; anything else: nowhere to write either
      closed_ = true;
      break;
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
  buffer_.clear();
  return !closed_;
}

}  // namespace runnel::tools
