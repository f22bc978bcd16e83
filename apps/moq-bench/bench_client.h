#pragma once

// What `moq-bench pub` and `moq-bench sub` share: connecting with retries
// while the relay starts, and sleeping until a CLOCK_MONOTONIC instant.

#include <cstdint>
#include <memory>
#include <string>

#include <asio/awaitable.hpp>

#include "coding/result.h"
#include "frame.h"
#include "session/session.h"
#include "webtransport/client.h"
#include "wire/setup.h"

namespace moq::bench {

// Opens a WebTransport session to `url` and does the MoQ handshake as
// `role`. A transport that cannot connect (the relay is not listening yet,
// a handshake timed out) is retried every 200 ms until `deadline_ns`
// (CLOCK_MONOTONIC); a relay that refuses the session is not.
asio::awaitable<Result<std::shared_ptr<session::Session>>> connect_with_retry(
    wt::Client& client, const std::string& url, wire::Role role, int64_t deadline_ns);

// Suspends the calling coroutine until CLOCK_MONOTONIC reaches `when_ns`.
asio::awaitable<void> sleep_until_ns(int64_t when_ns);

}  // namespace moq::bench
