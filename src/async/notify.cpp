#include "async/notify.h"

#include <algorithm>
#include <asio/redirect_error.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <system_error>

namespace moq::async {

asio::awaitable<bool> Notify::wait() {
  auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor,
                                                    asio::steady_timer::time_point::max());
  // Drop entries of coroutines that were destroyed while waiting, amortised so
  // that many waiters don't make registration quadratic.
  if (waiters_.size() >= prune_at_) {
    std::erase_if(waiters_, [](const auto& w) { return w.expired(); });
    prune_at_ = std::max<size_t>(16, waiters_.size() * 2);
  }
  waiters_.push_back(timer);
  // The timer only ever ends by cancellation: from notify_all() (the wakeup)
  // or from the coroutine's own cancellation slot, told apart below.
  std::error_code ignored;
  co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  auto cancellation = co_await asio::this_coro::cancellation_state;
  co_return cancellation.cancelled() == asio::cancellation_type::none;
}

void Notify::notify_all() {
  ++epoch_;
  auto waking = std::move(waiters_);
  waiters_.clear();
  for (auto& weak : waking) {
    if (auto timer = weak.lock()) timer->cancel();
  }
}

size_t Notify::waiters() const {
  return static_cast<size_t>(
      std::count_if(waiters_.begin(), waiters_.end(), [](const auto& w) { return !w.expired(); }));
}

}  // namespace moq::async
