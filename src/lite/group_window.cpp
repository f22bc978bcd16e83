#include "lite/group_window.h"

#include <algorithm>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>

namespace moq::lite {

std::shared_ptr<GroupWindow::Group> GroupWindow::find(uint64_t sequence) const {
  for (const auto& g : groups) {
    if (g->sequence == sequence) return g;
  }
  return nullptr;
}

void GroupWindow::finished(const std::shared_ptr<Group>& group) {
  if (!group || group->done) return;
  group->done = true;
  std::erase(groups, group);
  changed.notify_all();
}

asio::awaitable<bool> wait_for_slot(std::shared_ptr<GroupWindow> window, WindowLimits limits,
                                    session::TaskGroup& tasks, uint64_t& dropped) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (!window->ended && window->groups.size() >= limits.max_groups) {
    auto oldest = window->groups.front();
    const auto stalls_at = oldest->started + limits.stall_timeout;
    if (std::chrono::steady_clock::now() >= stalls_at) {
      window->groups.pop_front();
      oldest->done = true;
      if (oldest->stream) oldest->stream->reset(limits.stalled_reset_code);
      tasks.cancel(oldest->task);
      ++dropped;
      continue;
    }
    timer.expires_at(stalls_at);
    std::weak_ptr<GroupWindow> weak = window;
    timer.async_wait([weak](std::error_code ec) {
      if (ec) return;
      if (auto w = weak.lock()) w->changed.notify_all();
    });
    if (!co_await window->changed.wait()) co_return false;
    timer.cancel();
  }
  co_return !window->ended;
}

}  // namespace moq::lite
