#include "session/task_group.h"

#include <spdlog/spdlog.h>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <exception>
#include <utility>

namespace moq::session {

TaskGroup::TaskGroup(asio::any_io_executor executor) : executor_(std::move(executor)) {}

TaskGroup::~TaskGroup() {
  // Tasks keep the owner (and so this group) alive, so none is running here.
  closed_ = true;
}

asio::awaitable<void> TaskGroup::run(std::shared_ptr<Tasks> tasks, uint64_t id,
                                     std::shared_ptr<void> owner, asio::awaitable<void> task) {
  // Cancelled operations report an error instead of throwing, so tasks end
  // through their normal paths (and release what they hold).
  co_await asio::this_coro::throw_if_cancelled(false);
  auto it = tasks->find(id);
  if (it == tasks->end() || it->second->cancelled) co_return;
  it->second->started = true;
  co_await std::move(task);
  (void)owner;
}

uint64_t TaskGroup::spawn(asio::awaitable<void> task) {
  if (closed_) return 0;
  const uint64_t id = next_id_++;
  auto& entry = (*tasks_)[id];
  entry = std::make_unique<Task>();
  auto tasks = tasks_;
  auto executor = executor_;
  asio::co_spawn(executor_, run(tasks_, id, owner_.lock(), std::move(task)),
                 asio::bind_cancellation_slot(
                     entry->signal.slot(), [tasks, id, executor](std::exception_ptr e) {
                       if (e) {
                         try {
                           std::rethrow_exception(e);
                         } catch (const std::exception& ex) {
                           spdlog::warn("session task failed: {}", ex.what());
                         } catch (...) {
                           spdlog::warn("session task failed");
                         }
                       }
                       // Forget the signal after this handler has returned.
                       asio::post(executor, [tasks, id] { tasks->erase(id); });
                     }));
  return id;
}

void TaskGroup::cancel(uint64_t id) {
  auto it = tasks_->find(id);
  if (it == tasks_->end()) return;
  Task& task = *it->second;
  if (task.cancelled) return;
  task.cancelled = true;
  if (task.started) task.signal.emit(asio::cancellation_type::terminal);
}

void TaskGroup::cancel_all() {
  closed_ = true;
  // emit() only cancels the awaited operation (its completion is posted), so
  // no task code runs while this loop walks the map.
  for (auto& [id, task] : *tasks_) {
    if (task->cancelled) continue;
    task->cancelled = true;
    if (task->started) task->signal.emit(asio::cancellation_type::terminal);
  }
}

}  // namespace moq::session
