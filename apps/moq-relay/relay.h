#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <chrono>
#include <memory>

#include "coding/result.h"
#include "origins.h"
#include "quic/config.h"
#include "quic/tls_server.h"
#include "session/config.h"
#include "webtransport/server.h"

namespace moq::relay {

struct RelayConfig {
  asio::ip::udp::endpoint listen;
  quic::QuicConfig quic;
  // Per-session limits: they are what keeps a slow subscriber from slowing
  // the publisher or the other subscribers (bounded streams, stall timeout).
  session::Config session;
  // A client that opens no control stream and sends no SETUP by then is
  // dropped.
  std::chrono::milliseconds setup_timeout{10'000};
};

// The fan-out server: accepts WebTransport sessions and, by their SETUP role,
// makes each a publisher of its path's broadcast or a subscriber of it.
//
//  - publisher: the broadcast name must be free (else 409 "duplicate"); the
//    session's subscriber half fills a new cache broadcast, registered in
//    Origins until the session ends, which closes the broadcast (resetting
//    every subscriber's tracks with the session's end code) and frees the
//    name.
//  - subscriber: the session's publisher half serves the broadcast that is
//    live when it connects; with none, every SUBSCRIBE is answered 404.
//  - both: refused with 300. Versions other than KIXEL_00: 406.
//
// Everything runs on the one io_context; nothing waits on a single peer.
class Relay {
 public:
  static Result<std::unique_ptr<Relay>> start(asio::io_context& io, const RelayConfig& config,
                                              const quic::TlsServerContext& tls);
  ~Relay();

  asio::ip::udp::endpoint local_endpoint() const { return server_->local_endpoint(); }
  const Origins& origins() const { return *origins_; }
  // Closes every session and stops accepting new ones.
  void shutdown();

 private:
  Relay() = default;
  std::shared_ptr<Origins> origins_;  // shared with the session coroutines
  std::unique_ptr<wt::Server> server_;
};

}  // namespace moq::relay
