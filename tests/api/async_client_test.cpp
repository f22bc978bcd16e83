// AsyncApiClient: the blocking calls run off the event loop and complete on
// the awaiting coroutine's executor.
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <thread>

#include "api/async_client.h"
#include "api/fixture.h"

namespace moq::test {
namespace {

using api::AsyncApiClient;
using api::Origin;

TEST_F(ApiFixture, AsyncClientCompletesOnTheCallersExecutor) {
  asio::io_context io;
  const auto loop_thread = std::this_thread::get_id();
  AsyncApiClient api(client());
  const Origin origin{"https://relay/demo"};
  int ticks = 0;
  bool done = false;

  // A ticker proves the loop keeps running while a request is in flight.
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(io);
        while (!done) {
          ++ticks;
          timer.expires_after(std::chrono::milliseconds(1));
          co_await timer.async_wait(asio::use_awaitable);
        }
      },
      asio::detached);

  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto missing = co_await api.get_origin("demo");
        EXPECT_EQ(std::this_thread::get_id(), loop_thread);
        EXPECT_TRUE(missing.ok() && !missing->has_value());
        EXPECT_TRUE((co_await api.set_origin("demo", origin)).ok());
        EXPECT_EQ(std::this_thread::get_id(), loop_thread);
        auto dup = co_await api.set_origin("demo", origin);
        EXPECT_FALSE(dup.ok());
        if (!dup.ok()) {
          EXPECT_EQ(dup.error().code, code::kDuplicate);
        }
        EXPECT_TRUE((co_await api.patch_origin("demo", origin)).ok());
        auto got = co_await api.get_origin("demo");
        EXPECT_TRUE(got.ok() && got->has_value() && **got == origin);
        EXPECT_TRUE((co_await api.delete_origin("demo")).ok());
        EXPECT_EQ(std::this_thread::get_id(), loop_thread);
        done = true;
      },
      asio::detached);

  // run() must not return while calls are in flight (the work is tracked).
  io.run();
  EXPECT_TRUE(done);
  EXPECT_GT(ticks, 0);
}

TEST_F(ApiFixture, AsyncClientReportsAnUnreachableApi) {
  asio::io_context io;
  auto unreachable = api::ApiClient::create("http://127.0.0.1:" + std::to_string(free_port()),
                                            std::chrono::milliseconds(300));
  ASSERT_TRUE(unreachable.ok());
  AsyncApiClient api(std::move(unreachable).value());
  std::optional<Error> error;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto got = co_await api.get_origin("demo");
        if (!got.ok()) error = got.error();
      },
      asio::detached);
  io.run();
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, code::kUpstream);
}

}  // namespace
}  // namespace moq::test
