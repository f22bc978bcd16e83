#include "bench_client.h"

#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>

#include "frame.h"
#include "session/handshake.h"

namespace moq::bench {

asio::awaitable<void> sleep_until_ns(int64_t when_ns) {
  // std::chrono::steady_clock is CLOCK_MONOTONIC on Linux (libstdc++).
  asio::steady_timer timer(
      co_await asio::this_coro::executor,
      std::chrono::steady_clock::time_point(std::chrono::nanoseconds(when_ns)));
  asio::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<Result<std::shared_ptr<session::Session>>> connect_with_retry(
    wt::Client& client, const std::string& url, wire::Role role, int64_t deadline_ns) {
  for (;;) {
    auto transport = co_await client.connect(url);
    if (transport) {
      std::shared_ptr<transport::Session> t = transport.value();
      auto session = co_await session::connect(t, role);
      if (!session) {
        co_return Error{session.error().code,
                        "relay refused the session at " + url + ": " + session.error().reason};
      }
      co_return session.value();
    }
    if (now_ns() + seconds_ns(0.2) >= deadline_ns) {
      co_return Error{transport.error().code,
                      "cannot connect to " + url + ": " + transport.error().reason};
    }
    co_await sleep_until_ns(now_ns() + seconds_ns(0.2));
  }
}

}  // namespace moq::bench
