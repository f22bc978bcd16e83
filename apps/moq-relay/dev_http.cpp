#include "dev_http.h"

#include <spdlog/spdlog.h>

#include <asio/ip/tcp.hpp>

namespace moq::relay {
namespace {

constexpr const char* kMethods = "GET, HEAD, OPTIONS";

http::Response with_cors(http::Response response) {
  response.headers.push_back({"Access-Control-Allow-Origin", "*"});
  response.headers.push_back({"Cache-Control", "no-store"});
  return response;
}

}  // namespace

http::Response dev_http_response(const http::Request& request, const HttpRoutes& routes) {
  if (request.method == "OPTIONS") {
    // A CORS preflight (any path): allow what the routes serve.
    http::Response preflight = with_cors(http::Response{204, "", {}, ""});
    preflight.headers.push_back({"Access-Control-Allow-Methods", kMethods});
    preflight.headers.push_back({"Access-Control-Allow-Headers", "*"});
    preflight.headers.push_back({"Access-Control-Max-Age", "600"});
    return preflight;
  }
  const bool fingerprint = request.path == "/fingerprint" || request.path == "/certificate.sha256";
  const bool metrics = request.path == "/metrics" && routes.metrics;
  const bool health = request.path == "/healthz";
  std::optional<http::Response> page;
  if (!fingerprint && !metrics && !health && routes.pages) {
    page = pages_response(request, *routes.pages);
  }
  if (!fingerprint && !metrics && !health && !page) {
    return with_cors(http::Response::text(404, "not found\n"));
  }
  if (request.method != "GET" && request.method != "HEAD") {
    http::Response refused = with_cors(http::Response::text(405, "method not allowed\n"));
    refused.headers.push_back({"Allow", kMethods});
    return refused;
  }
  if (page) return std::move(*page);
  if (metrics) {
    http::Response response = with_cors(http::Response::text(200, routes.metrics()));
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return response;
  }
  if (health) {
    const bool draining = routes.draining && routes.draining();
    return with_cors(draining ? http::Response::text(503, "draining\n")
                              : http::Response::text(200, "ok\n"));
  }
  return with_cors(http::Response::text(200, routes.fingerprint));
}

DevHttpServer::DevHttpServer(std::shared_ptr<http::AsioServer> server)
    : server_(std::move(server)) {}

DevHttpServer::~DevHttpServer() {
  stop();
}

void DevHttpServer::stop() {
  server_->stop();
}

Result<std::unique_ptr<DevHttpServer>> DevHttpServer::start(
    asio::io_context& io, const asio::ip::address& address, uint16_t port,
    quic::TlsServerContext tls, std::chrono::seconds idle_timeout, HttpRoutes routes) {
  http::ServerOptions options;
  options.idle_timeout = idle_timeout;
  options.log_level = spdlog::level::debug;
  options.name = "dev http";
  if (routes.fingerprint.empty()) routes.fingerprint = tls.fingerprint_hex();
  options.tls = std::move(tls);
  auto server = http::AsioServer::start(
      io, asio::ip::tcp::endpoint(address, port), std::move(options),
      [routes = std::move(routes)](const http::Request& request) {
        return dev_http_response(request, routes);
      },
      /*plain_http=*/true);
  if (!server) return Error{code::kInternal, "dev http: " + server.error().reason};
  return std::unique_ptr<DevHttpServer>(new DevHttpServer(std::move(server.value())));
}

}  // namespace moq::relay
