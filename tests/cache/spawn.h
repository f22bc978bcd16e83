#pragma once

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <exception>
#include <utility>

namespace moq::test {

// Starts a coroutine on `io`. An exception escaping it is rethrown from
// io.poll()/run(), where GoogleTest reports it as a failure.
inline void spawn(asio::io_context& io, asio::awaitable<void> coroutine) {
  asio::co_spawn(io, std::move(coroutine), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
}

}  // namespace moq::test
