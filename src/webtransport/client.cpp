#include "webtransport/client.h"

#include <asio/ip/udp.hpp>
#include <asio/use_awaitable.hpp>

#include "h3/error.h"
#include "webtransport/url.h"

namespace moq::wt {

Result<std::unique_ptr<Client>> Client::create(asio::io_context& io,
                                               const asio::ip::udp::endpoint& bind,
                                               const quic::QuicConfig& config,
                                               quic::TlsClientContext tls) {
  auto endpoint = quic::Endpoint::bind(io, bind, config, nullptr);
  if (!endpoint) return endpoint.error();
  std::unique_ptr<Client> client(new Client(std::move(tls)));
  client->endpoint_ = endpoint.value();
  return client;
}

Client::~Client() {
  if (endpoint_) endpoint_->shutdown(h3::error::kNoError, "client shutting down");
}

asio::awaitable<Result<std::shared_ptr<WtSession>>> Client::connect(
    std::string url, std::vector<std::string> protocols) {
  auto parsed = parse_https_url(url);
  if (!parsed) co_return parsed.error();

  asio::ip::udp::resolver resolver(co_await asio::this_coro::executor);
  asio::error_code ec;
  auto results = co_await resolver.async_resolve(parsed->host, std::to_string(parsed->port),
                                                 asio::redirect_error(asio::use_awaitable, ec));
  if (ec || results.empty()) {
    co_return Error{code::kSession, "cannot resolve " + parsed->host + ": " + ec.message()};
  }
  // Prefer an address family the local socket can reach: a [::] socket
  // reaches IPv4 through mapped addresses, a 0.0.0.0 socket only IPv4.
  const bool local_v6 = endpoint_->local_endpoint().address().is_v6();
  asio::ip::udp::endpoint remote;
  for (const auto& r : results) {
    remote = r.endpoint();
    if (local_v6 || remote.address().is_v4()) break;
  }
  if (local_v6 && remote.address().is_v4()) {
    remote = asio::ip::udp::endpoint(
        asio::ip::make_address_v6(asio::ip::v4_mapped, remote.address().to_v4()), remote.port());
  }

  auto conn = endpoint_->connect(remote, parsed->host, tls_);
  if (!conn) co_return conn.error();
  auto wt = WtConnection::attach_client(conn.value());
  auto session =
      co_await wt->open_session(parsed->authority, parsed->path, {}, std::move(protocols));
  if (!session) {
    co_return Error{session.error().code,
                    "cannot open WebTransport session at " + url + ": " + session.error().reason};
  }
  co_return session.value();
}

}  // namespace moq::wt
