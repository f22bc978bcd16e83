// moq-wt-echo: WebTransport echo server, or (with --connect) a client that
// talks to one. See echo.h for what the server does.

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <iostream>

#include "echo.h"
#include "options.h"
#include "webtransport/client.h"
#include "webtransport/server.h"

namespace {

int run_server(const std::string& listen, const moq::quic::QuicConfig& config,
               const moq::app::ServerTlsOptions& tls_opts) {
  auto addr = moq::app::parse_socket_address(listen);
  if (!addr) {
    std::cerr << "moq-wt-echo: " << addr.error().reason << "\n";
    return 2;
  }
  auto tls = moq::app::make_server_tls(tls_opts);
  if (!tls) {
    std::cerr << "moq-wt-echo: " << tls.error().reason << "\n";
    return 2;
  }
  asio::io_context io;
  auto server = moq::wt::Server::start(
      io, *addr, config, tls.value(), [](const moq::wt::SessionRequested&) { return 200u; },
      [&io](std::shared_ptr<moq::wt::WtSession> s) {
        asio::co_spawn(io, moq::echo::serve(std::move(s)), asio::detached);
      });
  if (!server) {
    std::cerr << "moq-wt-echo: " << server.error().reason << "\n";
    return 1;
  }
  const auto local = server.value()->local_endpoint();
  std::cout << "listening: https://localhost:" << local.port() << "/" << std::endl;
  std::cout << "fingerprint: " << tls->fingerprint_hex() << std::endl;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const asio::error_code&, int) {
    server.value()->shutdown();
    io.stop();
  });
  io.run();
  return 0;
}

asio::awaitable<int> client(moq::wt::Client& c, std::string url, std::string message) {
  auto session = co_await c.connect(url);
  if (!session) {
    std::cerr << "moq-wt-echo: " << session.error().reason << "\n";
    co_return 1;
  }
  auto s = session.value();
  auto bidi = co_await s->open_bidi();
  if (!bidi) {
    std::cerr << "moq-wt-echo: " << bidi.error().reason << "\n";
    co_return 1;
  }
  (void)bidi->send->write(moq::Bytes::copy(std::string_view(message)));
  (void)bidi->send->finish();
  std::string echoed;
  for (;;) {
    auto chunk = co_await bidi->recv->read();
    if (!chunk || !chunk.value()) break;
    echoed += chunk.value()->view();
  }
  std::cout << "echo: " << echoed << std::endl;
  auto closer = co_await s->open_bidi();
  if (closer) {
    (void)closer->send->write(moq::Bytes::copy(std::string_view("close")));
    (void)closer->send->finish();
  }
  const moq::Error why = co_await s->closed();
  std::cout << "closed: " << why.code << " " << why.reason << std::endl;
  co_return echoed == message ? 0 : 1;
}

int run_client(const std::string& url, const std::string& message,
               const moq::app::ClientTlsOptions& tls_opts) {
  auto tls = moq::app::make_client_tls(tls_opts);
  if (!tls) {
    std::cerr << "moq-wt-echo: " << tls.error().reason << "\n";
    return 2;
  }
  asio::io_context io;
  auto c = moq::wt::Client::create(io, asio::ip::udp::endpoint(asio::ip::udp::v6(), 0),
                                   moq::quic::QuicConfig{}, std::move(tls.value()));
  if (!c) {
    std::cerr << "moq-wt-echo: " << c.error().reason << "\n";
    return 1;
  }
  int status = 1;
  asio::co_spawn(io, client(*c.value(), url, message), [&](std::exception_ptr e, int rc) {
    status = e ? 1 : rc;
    c.value()->endpoint().shutdown();
    io.stop();
  });
  io.run();
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"WebTransport echo server (and client with --connect)", "moq-wt-echo"};
  std::string listen = "[::]:4443";
  std::string connect;
  std::string message = "hello";
  std::string log_level = "info";
  moq::app::ServerTlsOptions server_tls;
  moq::app::ClientTlsOptions client_tls;
  app.add_option("--listen", listen, "UDP address to listen on")
      ->envname("MOQ_ECHO_LISTEN")
      ->capture_default_str();
  app.add_option("--connect", connect, "act as a client: connect to this https:// URL");
  app.add_option("--message", message, "client: the bidi message to send")->capture_default_str();
  moq::quic::QuicConfig quic_config;
  moq::app::add_quic_options(app, quic_config, "MOQ_ECHO");
  moq::app::add_server_tls_options(app, server_tls, "MOQ_ECHO");
  moq::app::add_client_tls_options(app, client_tls, "MOQ_ECHO");
  moq::app::add_log_option(app, log_level);
  app.set_version_flag("--version", "moq-wt-echo 0.1.0");
  CLI11_PARSE(app, argc, argv);
  moq::app::setup_logging(log_level);
  if (!connect.empty()) return run_client(connect, message, client_tls);
  return run_server(listen, quic_config, server_tls);
}
