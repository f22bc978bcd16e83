#pragma once

#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace moq::async {

// Wakes every coroutine waiting for "something changed" on shared state.
//
// Single-threaded by design: the state, its writers and its waiters all live on
// one io_context thread, so there are no locks. A waiter checks the state,
// finds nothing to do and calls co_await wait(); since nothing else runs
// between the check and the registration, no wakeup can be lost.
//
// Each waiter parks on its own timer that never expires; notify_all() cancels
// those timers. Asio posts the cancelled completions to the executor, so a
// waiter is resumed later by the event loop, never inline from the writer's
// call: a writer can't re-enter reader code. Timers are also torn down by the
// io_context on shutdown, so a coroutine still waiting then is freed cleanly.
class Notify {
 public:
  Notify() = default;
  Notify(const Notify&) = delete;
  Notify& operator=(const Notify&) = delete;

  // Suspends the calling coroutine until the next notify_all(). Returns true
  // when notified, false when the waiting coroutine was cancelled instead
  // (e.g. it lost an `a || b` race), so callers can stop rather than re-wait.
  asio::awaitable<bool> wait();

  // Schedules the resumption of every current waiter.
  void notify_all();

  // How many notify_all() calls so far: a cheap "has it changed?" stamp.
  uint64_t epoch() const { return epoch_; }

  // Coroutines currently parked in wait() (for tests and diagnostics).
  size_t waiters() const;

 private:
  // Weak so that a coroutine destroyed while waiting leaves no live timer.
  std::vector<std::weak_ptr<asio::steady_timer>> waiters_;
  size_t prune_at_ = 16;
  uint64_t epoch_ = 0;
};

}  // namespace moq::async
