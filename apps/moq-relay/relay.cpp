#include "relay.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>
#include <string>
#include <utility>
#include <variant>

#include "cache/broadcast.h"
#include "session/handshake.h"
#include "session/session.h"
#include "wire/setup.h"

namespace moq::relay {
namespace {

// What the start and end log lines of a session say. The start line is
// written once the SETUP told the role; a peer that fails before that only
// gets the end line (role "-").
struct SessionLog {
  std::string peer;
  std::string path;
  std::string role = "-";  // until the SETUP tells
};

void log_end(const SessionLog& log, const Error& end) {
  spdlog::info("session end: peer {} path '{}' role {} code {} reason '{}'", log.peer, log.path,
               log.role, end.code, end.reason);
}

// Publisher: registers the broadcast under `name` for as long as the session
// lives (locally, and in moq-api when clustered). The session's subscriber
// half fills it on demand.
asio::awaitable<Error> run_publisher(session::ServerHandshake& handshake, std::string name,
                                     std::shared_ptr<Origins> origins,
                                     std::shared_ptr<Cluster> cluster, session::Config config) {
  auto [writer, reader] = cache::make_broadcast();
  auto token = origins->add(name, reader);
  if (!token) {
    const Error duplicate = Error::duplicate();
    handshake.reject(duplicate);
    co_return duplicate;
  }
  std::unique_ptr<Registration> registration;
  if (cluster) {
    auto registered = co_await cluster->register_origin(name);
    if (!registered) {
      // 409: live on another relay. Anything else means moq-api can't tell
      // (unreachable, Redis down): refused as 504 rather than risking two
      // origins of one name.
      const Error refused = registered.error().code == code::kDuplicate
                                ? Error::duplicate()
                                : Error{code::kUpstream, "moq-api unreachable"};
      spdlog::warn("publisher of '{}' refused: moq-api: {} (code {})", name,
                   registered.error().reason, registered.error().code);
      origins->remove(name, *token);
      handshake.reject(refused);
      co_return refused;
    }
    registration = std::move(registered.value());
  }
  // A publisher that goes away (reset, closed, timed out) ends its tracks
  // like one that said goodbye: viewers see every track end with 0, and
  // their sessions go on (issue 9).
  config.peer_gone_ends_cleanly = true;
  auto accepted = handshake.accept(wire::Role::kSubscriber, config);
  if (!accepted) {
    origins->remove(name, *token);
    co_return accepted.error();
  }
  std::shared_ptr<session::Session> session = accepted.value();
  (void)session->subscribe(std::move(writer));
  Error end = co_await session->run();
  // run() closed the broadcast: every subscriber's tracks are reset with its
  // end code. Free the name for the next publisher.
  origins->remove(name, *token);
  registration.reset();  // DELETE from moq-api
  co_return end;
}

// Subscriber: serves the broadcast live at connection time, local or (in a
// cluster) fetched from its origin relay; with none, the session has nothing
// to publish and answers every SUBSCRIBE with 404. When that broadcast ends,
// its tracks end (SUBSCRIBE_RESET) and the session stays until the viewer
// leaves.
asio::awaitable<Error> run_subscriber(session::ServerHandshake& handshake, std::string name,
                                      std::shared_ptr<Origins> origins,
                                      std::shared_ptr<Cluster> cluster, session::Config config) {
  auto accepted = handshake.accept(wire::Role::kPublisher, config);
  if (!accepted) co_return accepted.error();
  std::shared_ptr<session::Session> session = accepted.value();
  std::shared_ptr<Upstream> upstream;  // held while this session lives
  if (auto live = origins->find(name)) {
    (void)session->publish(std::move(*live));
  } else if (cluster) {
    upstream = cluster->upstream(name);
    (void)session->publish(upstream->broadcast());
  }
  Error end = co_await session->run();
  co_return end;
}

bool offers_kixel00(const wire::ClientSetup& setup) {
  return std::find(setup.versions.begin(), setup.versions.end(), wire::kKixel00) !=
         setup.versions.end();
}

asio::awaitable<void> serve(std::shared_ptr<wt::WtSession> transport,
                            std::shared_ptr<Origins> origins, std::shared_ptr<Cluster> cluster,
                            RelayConfig config) {
  SessionLog log{transport->peer(), transport->path()};
  const std::string name = broadcast_name(log.path);
  if (name.empty()) {
    // The path names the broadcast: "/" names none.
    const Error refused{code::kBadRequest,
                        "empty broadcast name: the URL path names the broadcast"};
    transport->close(session::app_code(refused.code), refused.reason);
    log_end(log, refused);
    co_return;
  }

  // A peer that never sends its SETUP is dropped rather than kept forever.
  asio::steady_timer setup_timer(co_await asio::this_coro::executor);
  setup_timer.expires_after(config.setup_timeout);
  std::weak_ptr<wt::WtSession> weak = transport;
  setup_timer.async_wait([weak](std::error_code ec) {
    if (ec) return;
    if (auto t = weak.lock()) t->close(code::kSession, "setup timeout");
  });
  auto handshake = co_await session::accept(transport);
  setup_timer.cancel();
  if (!handshake) {
    log_end(log, handshake.error());
    co_return;
  }
  const wire::Role role = handshake->client().role;
  log.role = std::string(wire::role_name(role));
  spdlog::info("session start: peer {} path '{}' role {} broadcast '{}'", log.peer, log.path,
               log.role, name);

  Error end = Error::closed();
  if (!offers_kixel00(handshake->client())) {
    end = Error{code::kUnsupported, "unsupported version"};
    handshake->reject(end);
  } else if (role == wire::Role::kBoth) {
    end = Error{code::kRoleBoth, "role both not supported"};
    handshake->reject(end);
  } else if (role == wire::Role::kPublisher) {
    end = co_await run_publisher(*handshake, name, origins, cluster, config.session);
  } else {
    end = co_await run_subscriber(*handshake, name, origins, cluster, config.session);
  }
  log_end(log, end);
}

}  // namespace

Result<std::unique_ptr<Relay>> Relay::start(asio::io_context& io, const RelayConfig& config,
                                            const quic::TlsServerContext& tls) {
  auto endpoint = quic::Endpoint::bind(io, config.listen, config.quic, &tls);
  if (!endpoint) return endpoint.error();
  return start(io, config, std::move(endpoint.value()));
}

Result<std::unique_ptr<Relay>> Relay::start(asio::io_context& io, const RelayConfig& config,
                                            std::shared_ptr<quic::Endpoint> endpoint) {
  std::unique_ptr<Relay> relay(new Relay());
  relay->origins_ = std::make_shared<Origins>();
  auto origins = relay->origins_;
  if (config.cluster) {
    auto cluster = Cluster::create(io, *config.cluster, config.quic);
    if (!cluster) return cluster.error();
    relay->cluster_ = std::move(cluster.value());
  }
  auto cluster = relay->cluster_;
  relay->server_ = wt::Server::serve(
      std::move(endpoint),
      // Every path is a broadcast name; the SETUP role decides the rest.
      [](const wt::SessionRequested&) { return 200u; },
      [&io, origins, cluster, config](std::shared_ptr<wt::WtSession> session) {
        asio::co_spawn(io, serve(std::move(session), origins, cluster, config), asio::detached);
      });
  return relay;
}

Relay::~Relay() = default;

void Relay::shutdown() {
  if (cluster_) cluster_->shutdown();
  if (server_) server_->shutdown();
}

}  // namespace moq::relay
