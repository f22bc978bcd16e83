#pragma once

#include <memory>

#include <asio/io_context.hpp>

#include "coding/result.h"
#include "quic/config.h"
#include "quic/endpoint.h"
#include "quic/tls_server.h"
#include "webtransport/wt_connection.h"

namespace moq::wt {

// A WebTransport server: one QUIC endpoint; every connection gets the
// HTTP/3 + WebTransport glue. `on_request` decides per CONNECT (200 accepts,
// another status refuses); accepted sessions are handed to `on_session`.
class Server {
 public:
  static Result<std::unique_ptr<Server>> start(asio::io_context& io,
                                               const asio::ip::udp::endpoint& listen,
                                               const quic::QuicConfig& config,
                                               const quic::TlsServerContext& tls,
                                               WtConnection::RequestHandler on_request,
                                               WtConnection::SessionHandler on_session);
  // The same on an endpoint the caller made (e.g. Endpoint::create_detached,
  // to run a server without a socket in tests and fuzzing).
  static std::unique_ptr<Server> serve(std::shared_ptr<quic::Endpoint> endpoint,
                                       WtConnection::RequestHandler on_request,
                                       WtConnection::SessionHandler on_session);
  ~Server();

  asio::ip::udp::endpoint local_endpoint() const { return endpoint_->local_endpoint(); }
  quic::Endpoint& endpoint() { return *endpoint_; }
  // Closes every connection and stops accepting.
  void shutdown();

 private:
  Server() = default;
  std::shared_ptr<quic::Endpoint> endpoint_;
};

}  // namespace moq::wt
