#pragma once

#include <memory>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>

#include "coding/result.h"
#include "quic/config.h"
#include "quic/endpoint.h"
#include "quic/tls_client.h"
#include "webtransport/wt_connection.h"

namespace moq::wt {

// A WebTransport client: one local UDP endpoint, any number of sessions.
class Client {
 public:
  // `bind` is the local address ([::]:0 by default in the programs); `tls`
  // decides how servers are verified (system roots, given roots or a pinned
  // fingerprint).
  static Result<std::unique_ptr<Client>> create(asio::io_context& io,
                                                const asio::ip::udp::endpoint& bind,
                                                const quic::QuicConfig& config,
                                                quic::TlsClientContext tls);
  ~Client();

  // Resolves the URL's host, connects, and opens a WebTransport session on
  // its path. Errors say which step failed.
  // `protocols`: offered in wt-available-protocols, most preferred first.
  asio::awaitable<Result<std::shared_ptr<WtSession>>> connect(
      std::string url, std::vector<std::string> protocols = {});

  quic::Endpoint& endpoint() { return *endpoint_; }

 private:
  Client(quic::TlsClientContext tls) : tls_(std::move(tls)) {}
  quic::TlsClientContext tls_;
  std::shared_ptr<quic::Endpoint> endpoint_;
};

}  // namespace moq::wt
