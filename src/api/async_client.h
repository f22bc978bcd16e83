#pragma once

#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>
#include <optional>
#include <string>
#include <utility>

#include "api/client.h"

namespace moq::api {

// ApiClient for Asio coroutines: each call runs the blocking HTTP request on a
// small pool of dedicated threads and resumes the awaiting coroutine on its
// own executor, so the event loop never blocks on moq-api.
//
//   AsyncApiClient api(std::move(client).value());
//   auto origin = co_await api.get_origin("name");   // on the io_context thread
//
// The calling coroutine's executor is kept busy (work-tracked) until the
// result is delivered, so io_context::run() does not return early. A call
// takes at most about the client's timeout. The destructor waits for calls in
// flight, whose results are then posted to their executors: destroy this
// object before the io_context those coroutines run on.
//
// Header-only on purpose: the moq_api library itself has no Asio coroutine
// code, so it (and its fuzz target) also builds with clang 14.
class AsyncApiClient {
 public:
  explicit AsyncApiClient(ApiClient client, size_t threads = 1)
      : client_(std::move(client)), pool_(threads) {}
  ~AsyncApiClient() { pool_.join(); }
  AsyncApiClient(const AsyncApiClient&) = delete;
  AsyncApiClient& operator=(const AsyncApiClient&) = delete;

  asio::awaitable<Result<std::optional<Origin>>> get_origin(std::string name) {
    return run([this, name = std::move(name)] { return client_.get_origin(name); });
  }
  asio::awaitable<Result<void>> set_origin(std::string name, Origin origin) {
    return run([this, name = std::move(name), origin = std::move(origin)] {
      return client_.set_origin(name, origin);
    });
  }
  asio::awaitable<Result<void>> patch_origin(std::string name, Origin origin) {
    return run([this, name = std::move(name), origin = std::move(origin)] {
      return client_.patch_origin(name, origin);
    });
  }
  asio::awaitable<Result<void>> delete_origin(std::string name) {
    return run([this, name = std::move(name)] { return client_.delete_origin(name); });
  }

  const ApiClient& client() const { return client_; }

 private:
  // Runs `call` on the pool; completes with its Result on the awaiting
  // coroutine's executor.
  template <class Call, class R = std::invoke_result_t<Call&>>
  asio::awaitable<R> run(Call call) {
    return asio::async_initiate<const asio::use_awaitable_t<>, void(R)>(
        [this](auto handler, Call c) {
          auto work = asio::make_work_guard(asio::get_associated_executor(handler));
          asio::post(pool_, [c = std::move(c), handler = std::move(handler),
                             work = std::move(work)]() mutable {
            R result = c();
            auto ex = work.get_executor();
            asio::post(
                ex, [handler = std::move(handler), result = std::move(result),
                     work = std::move(work)]() mutable { std::move(handler)(std::move(result)); });
          });
        },
        asio::use_awaitable, std::move(call));
  }

  ApiClient client_;
  asio::thread_pool pool_;
};

}  // namespace moq::api
