#pragma once

// What moq-pub and moq-sub share: the relay URL, --bind, --connect-timeout,
// the TLS trust flags and --log-level; turning them into a WebTransport
// client; and the exit statuses users see.

#include <chrono>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>

#include "ietf/session.h"
#include "lite/session.h"
#include "options.h"
#include "session/session.h"
#include "webtransport/client.h"

namespace moq::app {

inline constexpr int kExitUsage = 2;       // bad flags or URL
inline constexpr int kExitConnection = 3;  // relay unreachable, refused or lost

struct MoqClientOptions {
  std::string url;
  std::string bind = "[::]:0";
  double connect_timeout = 10;  // seconds
  std::string log_level = "warn";
  ClientTlsOptions tls;
  quic::QuicConfig quic;  // --congestion-control, --idle-timeout
  // --protocol: "auto" (offer moq-lite-05, 04, 03 and IETF draft-14 as
  // `moq-00`; KIXEL_00 if the relay picks none), "kixel-00", one moq-lite
  // version, or "moq-transport-14". The programs set their
  // own default before adding the options.
  std::string protocol = "auto";

  std::chrono::milliseconds connect_timeout_ms() const {
    return std::chrono::milliseconds(static_cast<int64_t>(connect_timeout * 1000));
  }
};

// Adds URL (positional), --bind, --connect-timeout, --tls-root,
// --fingerprint, --congestion-control, --idle-timeout and --log-level, each
// with an <env_prefix>_* variable.
void add_moq_client_options(CLI::App& app, MoqClientOptions& options,
                            const std::string& env_prefix);

// After parsing: checks the URL (https:// with a broadcast name), the bind
// address and the TLS files, sets up logging on stderr, and makes the client.
// On failure prints one line "<program>: ..." and returns the exit status
// (kExitUsage or kExitConnection) in `exit_status`.
std::unique_ptr<wt::Client> make_moq_client(asio::io_context& io, const MoqClientOptions& options,
                                            const std::string& program, int& exit_status);

// A MoQ session in the dialect the relay chose: KIXEL_00 (session::Session,
// the broadcast named by the URL path), moq-lite (lite::Session at root "/",
// the broadcast named by the URL path relative to it) or IETF draft-14
// (ietf::Session, the client side, named the same way). The programs use it
// through these calls, whatever the dialect.
class MoqConnection {
 public:
  std::string protocol() const;  // "kixel-00", "moq-lite-0N" or "moq-transport-14"
  // Subscriber: fills `broadcast` with the tracks it asks for.
  // `from_start`: every group still cached, not just the newest.
  void subscribe(cache::BroadcastWriter broadcast, bool from_start = false);
  // Publisher: serves `broadcast` under the URL's name.
  void publish(cache::BroadcastReader broadcast);
  asio::awaitable<Error> run();
  void close(const Error& error);
  // Subscriptions the peer holds on what we publish.
  size_t active_subscriptions() const;

  std::shared_ptr<session::Session> kixel;
  std::shared_ptr<lite::Session> lite;
  std::shared_ptr<ietf::Session> ietf;
  std::shared_ptr<class LocalOrigin> lite_origin;  // what `lite` or `ietf` serves
  std::string broadcast;                           // the URL path's name
};

// Opens a WebTransport session to `url` offering `protocol` (see
// MoqClientOptions::protocol) and starts the MoQ session as `role`.
asio::awaitable<Result<std::shared_ptr<MoqConnection>>> connect_any(wt::Client& client,
                                                                    std::string url,
                                                                    wire::Role role,
                                                                    std::string protocol);

// Lets the client's connections finish their own clean-up (it breaks their
// reference cycles), for at most 500 ms, then stops the event loop.
asio::awaitable<void> stop_after_cleanup(asio::io_context& io, wt::Client& client);

// A timer sleep for coroutines.
asio::awaitable<void> sleep_for(std::chrono::milliseconds duration);

}  // namespace moq::app
