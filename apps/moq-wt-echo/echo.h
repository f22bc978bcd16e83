#pragma once

#include <memory>

#include <asio/awaitable.hpp>

#include "webtransport/wt_connection.h"

namespace moq::echo {

// Serves one session: every bidi stream is echoed back on itself, every uni
// stream is answered by a new uni stream with the same bytes, and a bidi
// stream whose whole content is "close" ends the session with 42 "bye".
asio::awaitable<void> serve(std::shared_ptr<wt::WtSession> session);

}  // namespace moq::echo
