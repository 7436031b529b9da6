#include "tools/interrupt.h"

#include <csignal>
#include <mutex>
#include <thread>

#include <pthread.h>

namespace runnel::tools {

struct InterruptWatcher::State {
  std::mutex mu;
  std::function<void()> callback;  // guarded by mu
  std::atomic<bool> interrupted{false};
};

InterruptWatcher::~InterruptWatcher() { Stop(); }

void InterruptWatcher::Start() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  state_ = std::make_shared<State>();
  // Detached: it sleeps in sigwait until a signal or the process exits, and holds the
  // state alive itself.
  std::thread([state = state_, signals] {
    for (;;) {
      int signal = 0;
      if (sigwait(&signals, &signal) != 0) return;
      state->interrupted = true;
      std::lock_guard<std::mutex> lock(state->mu);
      if (state->callback) state->callback();
    }
  }).detach();
}

void InterruptWatcher::OnInterrupt(std::function<void()> callback) {
  if (!state_) return;
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->callback = std::move(callback);
}

bool InterruptWatcher::interrupted() const { return state_ && state_->interrupted.load(); }

void InterruptWatcher::Stop() { OnInterrupt(nullptr); }

}  // namespace runnel::tools
