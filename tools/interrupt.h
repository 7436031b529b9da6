// Ctrl-C (SIGINT) and SIGTERM for a command that waits, such as `runnel consume
// --follow`: instead of killing the process mid-write, they run a callback (which wakes
// the consumer) so the command can commit, close the broker cleanly and exit 0.
//
// Start() blocks both signals in the calling thread, so it must run before the command
// creates any thread (threads inherit the mask); a thread of its own receives them.
#ifndef RUNNEL_TOOLS_INTERRUPT_H_
#define RUNNEL_TOOLS_INTERRUPT_H_

#include <atomic>
#include <functional>
#include <memory>

namespace runnel::tools {

class InterruptWatcher {
 public:
  InterruptWatcher() = default;
  ~InterruptWatcher();  // Stop()s
  InterruptWatcher(const InterruptWatcher&) = delete;
  InterruptWatcher& operator=(const InterruptWatcher&) = delete;

  void Start();
  // The callback to run on a signal (replaces the previous one; null: none).
  void OnInterrupt(std::function<void()> callback);
  bool interrupted() const;
  // No more callbacks after this returns.
  void Stop();

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace runnel::tools

#endif  // RUNNEL_TOOLS_INTERRUPT_H_
