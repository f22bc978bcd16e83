#include "moq_client.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <cstdlib>
#include <iostream>

#include "session/core.h"
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
  app.add_option("--protocol", options.protocol,
                 "MoQ dialect: auto (the newest the relay offers: moq-lite-05, 04, 03, IETF "
                 "draft-14, else KIXEL_00), kixel-00, moq-lite-05, moq-lite-04, moq-lite-03 or "
                 "moq-transport-14")
      ->envname(env_prefix + "_PROTOCOL")
      ->check(CLI::IsMember(
          {"auto", "kixel-00", "moq-lite-05", "moq-lite-04", "moq-lite-03", "moq-transport-14"}))
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

// What a moq-lite session of a program serves: its one broadcast, if it
// publishes one.
class LocalOrigin final : public lite::Origin {
 public:
  std::optional<std::pair<std::string, cache::BroadcastReader>> published;
  asio::awaitable<Result<cache::BroadcastReader>> find(std::string path) override {
    if (published && published->first == path) co_return published->second;
    co_return Error::not_found();
  }
  std::vector<std::string> live() override {
    if (!published) return {};
    return {published->first};
  }
  uint64_t generation() override { return published ? 1 : 0; }
};

std::string MoqConnection::protocol() const {
  if (ietf) return "moq-transport-14";
  return lite ? std::string(lite::protocol_name(lite->version())) : "kixel-00";
}

void MoqConnection::subscribe(cache::BroadcastWriter writer, bool from_start) {
  if (ietf) {
    ietf->consume(broadcast, std::move(writer), from_start);
  } else if (lite) {
    lite->consume(broadcast, std::move(writer), from_start);
  } else {
    (void)kixel->subscribe(std::move(writer));
  }
}

void MoqConnection::publish(cache::BroadcastReader reader) {
  if (lite || ietf) {
    lite_origin->published.emplace(broadcast, std::move(reader));
  } else {
    (void)kixel->publish(std::move(reader));
  }
}

asio::awaitable<Error> MoqConnection::run() {
  if (ietf) co_return co_await ietf->run();
  if (lite) co_return co_await lite->run();
  co_return co_await kixel->run();
}

void MoqConnection::close(const Error& error) {
  if (ietf) {
    ietf->close(session::app_code(error.code == code::kClosed ? ietf::close_code::kNoError
                                                              : ietf::close_code::kInternal),
                error.reason);
  } else if (lite) {
    lite->close(session::app_code(error.code == code::kClosed ? lite::close_code::kCancel
                                                              : lite::close_code::kInternal),
                error.reason);
  } else {
    kixel->close(error);
  }
}

size_t MoqConnection::active_subscriptions() const {
  if (ietf) return ietf->active_subscriptions();
  return lite ? lite->active_subscriptions() : kixel->active_subscriptions();
}

asio::awaitable<Result<std::shared_ptr<MoqConnection>>> connect_any(wt::Client& client,
                                                                    std::string url,
                                                                    wire::Role role,
                                                                    std::string protocol) {
  auto parsed = wt::parse_https_url(url);
  if (!parsed) co_return parsed.error();
  std::vector<std::string> offer;
  if (protocol == "auto") {
    for (auto p : lite::supported_protocols())
      offer.emplace_back(p);
    offer.emplace_back(ietf::kProtocolMoq00);
  } else if (protocol == "moq-transport-14") {
    offer.emplace_back(ietf::kProtocolMoq00);
  } else if (protocol != "kixel-00") {
    offer.push_back(protocol);
  }
  // moq-lite names broadcasts relative to the URL path: dial the root and
  // name the broadcast (as every moq-lite client does with a relay's root).
  // The query (e.g. ?jwt=) goes along.
  std::string dial = url;
  if (!offer.empty()) {
    const size_t q = parsed->path.find('?');
    dial = "https://" + parsed->authority + "/" +
           (q == std::string::npos ? std::string() : parsed->path.substr(q));
  }
  auto transport = co_await client.connect(dial, offer);
  if (!transport) {
    co_return Error{transport.error().code,
                    "cannot connect to " + url + ": " + transport.error().reason};
  }
  auto connection = std::make_shared<MoqConnection>();
  std::string path = parsed->path;
  if (auto q = path.find('?'); q != std::string::npos) path.resize(q);
  connection->broadcast = lite::normalize_path(path).value_or("");
  if (auto version = lite::version_from_protocol((*transport)->protocol())) {
    connection->lite_origin = std::make_shared<LocalOrigin>();
    // A random origin id: relays route announcements by the hops they
    // crossed, and two clients with one id look like a loop ("unroutable"
    // from moq-relay 0.17.10 when publisher and viewer both said 1).
    lite::SessionConfig config;
    config.origin_id = lite::random_origin_id();
    connection->lite = lite::Session::create(co_await asio::this_coro::executor, *transport,
                                             *version, "/", connection->lite_origin, config);
    co_return connection;
  }
  if (ietf::is_ietf_protocol((*transport)->protocol())) {
    connection->lite_origin = std::make_shared<LocalOrigin>();
    ietf::SessionConfig config;
    config.client = true;
    connection->ietf = ietf::Session::create(co_await asio::this_coro::executor, *transport, "/",
                                             connection->lite_origin, config);
    co_return connection;
  }
  if (!offer.empty() && protocol != "auto") {
    (*transport)->close(0, "");
    co_return Error{code::kUnsupported, "the relay at " + url + " does not speak " + protocol};
  }
  if (!offer.empty()) {
    // A relay that chose no protocol speaks KIXEL_00 only: its URL path
    // names the broadcast. The session just opened was at the root.
    (*transport)->close(0, "");
    transport = co_await client.connect(url);
    if (!transport) {
      co_return Error{transport.error().code,
                      "cannot connect to " + url + ": " + transport.error().reason};
    }
  }
  auto session = co_await session::connect(transport.value(), role);
  if (!session) {
    co_return Error{session.error().code,
                    "relay refused the session at " + url + ": " + session.error().reason};
  }
  connection->kixel = session.value();
  co_return connection;
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
