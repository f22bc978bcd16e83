#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "coding/result.h"
#include "http/message.h"
#include "http/server.h"
#include "pages.h"
#include "quic/tls_server.h"

namespace moq::relay {

// What the relay's HTTP listener serves besides its certificate's hash.
struct HttpRoutes {
  std::string fingerprint;               // lowercase hex SHA-256
  std::function<std::string()> metrics;  // Prometheus text; null: 404
  std::function<bool()> draining;        // /healthz says 503 while true
  std::optional<PagesConfig> pages;      // the web pages (pages.h); null: none
};

// The relay's HTTP listener (`--http`, on with `--dev`): TCP on the relay's
// port, HTTPS with the relay's certificates and plain HTTP on the same port
// (the first byte a client sends tells them apart). It serves
//   GET /fingerprint, GET /certificate.sha256
//     the lowercase hex SHA-256 of the first certificate (no newline,
//     text/plain, CORS open), so a browser page can pin the relay's
//     self-signed certificate for WebTransport (serverCertificateHashes);
//   GET /metrics   Prometheus text format (version 0.0.4);
//   GET /healthz   200 "ok" while serving, 503 "draining" after SIGTERM;
//   the web pages: /, /watch/NAME, /publish/NAME, /static/*, /api/broadcasts
//     (pages.h);
//   OPTIONS   a CORS preflight (204); other paths 404, other methods 405.
//
// It runs on the relay's io_context (libmicrohttpd in external-epoll mode):
// handlers run on the relay's thread, so later ones (pages, metrics) can read
// relay state without locks. It holds thousands of connections; idle ones
// (including those that never send a byte) are closed after `idle_timeout`.
class DevHttpServer {
 public:
  static Result<std::unique_ptr<DevHttpServer>> start(asio::io_context& io,
                                                      const asio::ip::address& address,
                                                      uint16_t port, quic::TlsServerContext tls,
                                                      std::chrono::seconds idle_timeout,
                                                      HttpRoutes routes);
  ~DevHttpServer();  // stop()s
  DevHttpServer(const DevHttpServer&) = delete;
  DevHttpServer& operator=(const DevHttpServer&) = delete;

  uint16_t port() const { return server_->port(); }
  // Closes the listener and every connection. On the io_context's thread.
  void stop();

 private:
  explicit DevHttpServer(std::shared_ptr<http::AsioServer> server);
  std::shared_ptr<http::AsioServer> server_;
};

// The listener's routes, as a plain function of the request.
http::Response dev_http_response(const http::Request& request, const HttpRoutes& routes);

}  // namespace moq::relay
