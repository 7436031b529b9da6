#include "io/dir_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <map>

#include "io/errno_status.h"

namespace runnel::io {
namespace {

constexpr uint32_t kWrites = IN_MODIFY;
constexpr uint32_t kEntries = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                              IN_DELETE_SELF | IN_MOVE_SELF;

}  // namespace

absl::StatusOr<std::unique_ptr<DirWatcher>> DirWatcher::Create() {
  const int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (in < 0) return ErrnoStatus(errno, "inotify_init1", "a directory watcher");
  const int ev = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (ev < 0) {
    const int err = errno;
    close(in);
    return ErrnoStatus(err, "eventfd", "a directory watcher");
  }
  return std::unique_ptr<DirWatcher>(new DirWatcher(in, ev));
}

DirWatcher::~DirWatcher() {
  close(inotify_fd_);
  close(event_fd_);
}

absl::StatusOr<int> DirWatcher::Watch(const std::string& path) {
  const int wd = inotify_add_watch(inotify_fd_, path.c_str(), kWrites | kEntries | IN_ONLYDIR);
  if (wd < 0) return ErrnoStatus(errno, "inotify_add_watch", path);
  return wd;
}

void DirWatcher::Unwatch(int watch) { inotify_rm_watch(inotify_fd_, watch); }

void DirWatcher::Interrupt() {
  const uint64_t one = 1;
  // Only fails when the counter would overflow, and then a Wait is due to return anyway.
  [[maybe_unused]] ssize_t n = write(event_fd_, &one, sizeof(one));
}

absl::StatusOr<DirWatcher::Changes> DirWatcher::Wait(int timeout_ms) {
  pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {event_fd_, POLLIN, 0}};
  const int ready = poll(fds, 2, timeout_ms);
  if (ready < 0 && errno != EINTR) return ErrnoStatus(errno, "poll", "a directory watcher");
  Changes out;
  if (ready <= 0) return out;
  if (fds[1].revents & POLLIN) {
    uint64_t count;
    [[maybe_unused]] ssize_t n = read(event_fd_, &count, sizeof(count));
  }
  std::map<int, bool> seen;  // watch -> entries changed
  alignas(inotify_event) char buf[16384];
  while (true) {
    const ssize_t n = read(inotify_fd_, buf, sizeof(buf));
    if (n <= 0) {
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return ErrnoStatus(errno, "read", "a directory watcher");
      }
      break;
    }
    for (ssize_t pos = 0; pos < n;) {
      const auto* e = reinterpret_cast<const inotify_event*>(buf + pos);
      if (e->mask & IN_Q_OVERFLOW) out.overflow = true;
      // IN_IGNORED alone follows Unwatch (or the IN_DELETE_SELF already reported).
      if (e->wd >= 0 && e->mask != IN_IGNORED) seen[e->wd] |= (e->mask & kEntries) != 0;
      pos += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
    }
  }
  for (const auto& [watch, entries] : seen) out.changes.push_back({watch, entries});
  return out;
}

}  // namespace runnel::io
