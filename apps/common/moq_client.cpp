#include "moq_client.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <cstdlib>
#include <iostream>

#include "session/handshake.h"
#include "webtransport/url.h"

namespace moq::app {

void add_moq_client_options(CLI::App& app, MoqClientOptions& options,
                            const std::string& env_prefix) {
  if (const char* level = std::getenv("MOQ_LOG_LEVEL")) options.log_level = level;
  app.add_option("URL", options.url, "relay URL: https://host:port/NAME (the broadcast name)")
      ->required()
      ->envname(env_prefix + "_URL");
  app.add_option("--bind", options.bind, "local UDP address")
      ->envname(env_prefix + "_BIND")
      ->capture_default_str();
  app.add_option("--connect-timeout", options.connect_timeout,
                 "seconds to wait for the relay to answer")
      ->envname(env_prefix + "_CONNECT_TIMEOUT")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  add_client_tls_options(app, options.tls, env_prefix);
  add_quic_options(app, options.quic, env_prefix);
  app.add_option("--log-level", options.log_level, "trace, debug, info, warn, error or off")
      ->envname(env_prefix + "_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
}

std::unique_ptr<wt::Client> make_moq_client(asio::io_context& io, const MoqClientOptions& options,
                                            const std::string& program, int& exit_status) {
  // stdout belongs to the user (moq-sub writes media there); logs go to stderr.
  spdlog::set_default_logger(spdlog::stderr_color_st(program));
  setup_logging(options.log_level);

  exit_status = kExitUsage;
  auto url = wt::parse_https_url(options.url);
  if (!url) {
    std::cerr << program << ": bad URL '" << options.url << "': " << url.error().reason
              << " (expected https://host:port/NAME)" << std::endl;
    return nullptr;
  }
  if (url->path.size() <= 1) {
    std::cerr << program << ": the URL needs a broadcast name: https://host:port/NAME" << std::endl;
    return nullptr;
  }
  auto bind = parse_socket_address(options.bind);
  if (!bind) {
    std::cerr << program << ": --bind: " << bind.error().reason << std::endl;
    return nullptr;
  }
  auto tls = make_client_tls(options.tls);
  if (!tls) {
    std::cerr << program << ": TLS: " << tls.error().reason << std::endl;
    return nullptr;
  }
  quic::QuicConfig quic = options.quic;
  quic.handshake_timeout = options.connect_timeout_ms();
  auto client = wt::Client::create(io, *bind, quic, std::move(tls.value()));
  if (!client) {
    std::cerr << program << ": cannot bind " << options.bind << ": " << client.error().reason
              << std::endl;
    exit_status = kExitConnection;
    return nullptr;
  }
  exit_status = 0;
  return std::move(client.value());
}

asio::awaitable<Result<std::shared_ptr<session::Session>>> connect_moq(wt::Client& client,
                                                                       std::string url,
                                                                       wire::Role role) {
  auto transport = co_await client.connect(url);
  if (!transport) {
    co_return Error{transport.error().code,
                    "cannot connect to " + url + ": " + transport.error().reason};
  }
  auto session = co_await session::connect(transport.value(), role);
  if (!session) {
    co_return Error{session.error().code,
                    "relay refused the session at " + url + ": " + session.error().reason};
  }
  co_return session.value();
}

asio::awaitable<void> stop_after_cleanup(asio::io_context& io, wt::Client& client) {
  using namespace std::chrono_literals;
  const auto deadline = std::chrono::steady_clock::now() + 500ms;
  while (client.endpoint().connection_count() > 0 && std::chrono::steady_clock::now() < deadline) {
    co_await sleep_for(10ms);
  }
  co_await sleep_for(10ms);
  io.stop();
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  asio::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace moq::app
