// Tells a thread when files in some directories change (Linux inotify), so that a reader
// following another process's log sleeps until there is something to read instead of
// polling. Events can be missed (the kernel's queue overflows, a directory is replaced),
// so callers also rescan now and then; Wait says when it knows events were lost.
//
// Threads: Watch, Unwatch and Wait from one thread; Interrupt from any.
// Errors: Internal (with errno's text) when inotify cannot be set up or a watch added;
// NotFound for a directory that does not exist.
#ifndef RUNNEL_IO_DIR_WATCHER_H_
#define RUNNEL_IO_DIR_WATCHER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace runnel::io {

class DirWatcher {
 public:
  struct Change {
    int watch = 0;
    // Entries were created, removed or renamed, rather than only files written.
    bool entries_changed = false;
  };
  struct Changes {
    std::vector<Change> changes;  // one per directory, in no particular order
    bool overflow = false;        // events were lost: rescan everything
  };

  static absl::StatusOr<std::unique_ptr<DirWatcher>> Create();
  ~DirWatcher();
  DirWatcher(const DirWatcher&) = delete;
  DirWatcher& operator=(const DirWatcher&) = delete;

  // Watches the directory `path` for files in it created, removed, renamed or written.
  // Returns the watch's id (the same id again for a directory already watched).
  absl::StatusOr<int> Watch(const std::string& path);
  void Unwatch(int watch);

  // Waits up to `timeout_ms` for changes, then gathers every event already queued.
  // Returns empty Changes at the timeout or after Interrupt.
  absl::StatusOr<Changes> Wait(int timeout_ms);
  // Makes the current or next Wait return at once.
  void Interrupt();

 private:
  DirWatcher(int inotify_fd, int event_fd) : inotify_fd_(inotify_fd), event_fd_(event_fd) {}
  const int inotify_fd_;
  const int event_fd_;
};

}  // namespace runnel::io

#endif  // RUNNEL_IO_DIR_WATCHER_H_
