#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/cancellation_signal.hpp>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>

namespace moq::session {

// The coroutines of one session, each cancellable on its own or all at once.
//
// Every task is started with its own cancellation signal; cancelling it makes
// the operation it awaits (a cache wait, a transport read) return early with
// an error, and the task then returns on its own. Tasks never throw out of
// the group: an escaping exception ends that task only (logged), never the
// process. A task holds `owner` alive until it ends, so the state it
// references outlives it.
class TaskGroup {
 public:
  explicit TaskGroup(asio::any_io_executor executor);
  ~TaskGroup();
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  // Who the tasks keep alive (the session).
  void set_owner(std::weak_ptr<void> owner) { owner_ = std::move(owner); }

  // Starts `task`; returns its id for cancel(). After cancel_all() nothing
  // starts any more (returns 0).
  uint64_t spawn(asio::awaitable<void> task);
  // Asks one task to stop. Unknown or finished ids are ignored.
  void cancel(uint64_t id);
  // Asks every task to stop, and refuses new ones.
  void cancel_all();

  size_t size() const { return tasks_->size(); }
  const asio::any_io_executor& executor() const { return executor_; }

 private:
  struct Task {
    asio::cancellation_signal signal;
    bool started = false;    // the coroutine runs, so its slot has a handler
    bool cancelled = false;  // cancelled before it started: it won't run
  };
  using Tasks = std::map<uint64_t, std::unique_ptr<Task>>;

  static asio::awaitable<void> run(std::shared_ptr<Tasks> tasks, uint64_t id,
                                   std::shared_ptr<void> owner, asio::awaitable<void> task);

  asio::any_io_executor executor_;
  std::weak_ptr<void> owner_;
  // Shared with the completion handlers, so a signal lives until its task's
  // completion was fully delivered.
  std::shared_ptr<Tasks> tasks_ = std::make_shared<Tasks>();
  uint64_t next_id_ = 1;
  bool closed_ = false;
};

}  // namespace moq::session
