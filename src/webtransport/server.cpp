#include "webtransport/server.h"

#include "h3/error.h"

namespace moq::wt {

Result<std::unique_ptr<Server>> Server::start(asio::io_context& io,
                                              const asio::ip::udp::endpoint& listen,
                                              const quic::QuicConfig& config,
                                              const quic::TlsServerContext& tls,
                                              WtConnection::RequestHandler on_request,
                                              WtConnection::SessionHandler on_session) {
  auto endpoint = quic::Endpoint::bind(io, listen, config, &tls);
  if (!endpoint) return endpoint.error();
  return serve(std::move(endpoint.value()), std::move(on_request), std::move(on_session));
}

std::unique_ptr<Server> Server::serve(std::shared_ptr<quic::Endpoint> endpoint,
                                      WtConnection::RequestHandler on_request,
                                      WtConnection::SessionHandler on_session) {
  std::unique_ptr<Server> server(new Server());
  server->endpoint_ = std::move(endpoint);
  server->endpoint_->on_accept(
      [on_request = std::move(on_request),
       on_session = std::move(on_session)](std::shared_ptr<quic::Connection> conn) {
        WtConnection::attach_server(std::move(conn), on_request, on_session);
      });
  return server;
}

Server::~Server() {
  shutdown();
}

void Server::shutdown() {
  if (endpoint_) endpoint_->shutdown(h3::error::kNoError, "server shutting down");
}

}  // namespace moq::wt
