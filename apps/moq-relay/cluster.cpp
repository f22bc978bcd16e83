#include "cluster.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <optional>
#include <utility>

#include "lite/session.h"
#include "options.h"
#include "session/handshake.h"
#include "session/session.h"
#include "webtransport/wt_connection.h"

namespace moq::relay {

using std::chrono::milliseconds;

struct Registration::State {
  State(asio::io_context& io, std::shared_ptr<Cluster> owner, std::string n, api::Origin o)
      : cluster(std::move(owner)), name(std::move(n)), origin(std::move(o)), timer(io) {}
  std::weak_ptr<Cluster> cluster;
  const std::string name;
  uint64_t id = 0;  // unique per relay
  const api::Origin origin;
  asio::steady_timer timer;  // the next refresh
  bool cancelled = false;    // the publisher left: stop refreshing
};

struct Upstream::State {
  State(asio::io_context& io, std::shared_ptr<Cluster> owner, std::string n,
        std::pair<cache::BroadcastWriter, cache::BroadcastReader> broadcast)
      : cluster(std::move(owner)),
        name(std::move(n)),
        writer(std::move(broadcast.first)),
        reader(std::move(broadcast.second)),
        watchdog(io) {}

  // Before the upstream session is up: ends the local broadcast with
  // `error`, so that every local subscriber's tracks end with it.
  void fail(const Error& error) {
    if (established || failed) return;
    failed = true;
    if (writer) (void)writer->close(error);
    writer.reset();
    if (transport) transport->close(static_cast<uint32_t>(error.code), error.reason);
  }

  std::weak_ptr<Cluster> cluster;
  const std::string name;
  uint64_t id = 0;                               // unique per relay
  std::optional<cache::BroadcastWriter> writer;  // until the upstream session takes it
  cache::BroadcastReader reader;
  std::shared_ptr<transport::Session> transport;
  std::shared_ptr<session::Session> session;  // KIXEL_00 upstream
  std::shared_ptr<lite::Session> lite;        // or moq-lite (the origin chose it)
  asio::steady_timer watchdog;                // bounds lookup + connect + SETUP
  bool cancelled = false;                     // the last local subscriber left
  bool established = false;
  bool failed = false;
};

Registration::~Registration() {
  state_->cancelled = true;
  state_->timer.cancel();
  if (auto cluster = state_->cluster.lock()) {
    // Counted now, before any new registration of the name can look.
    ++cluster->deleting_[state_->name];
    asio::co_spawn(cluster->io_, cluster->unregister(state_->name), asio::detached);
  }
}

Upstream::~Upstream() {
  auto& s = *state_;
  s.cancelled = true;
  s.watchdog.cancel();
  if (s.session) {
    s.session->close(Error::closed());
  } else if (s.lite) {
    s.lite->close(lite::close_code::kCancel, "no subscribers left");
  } else if (s.transport) {
    s.transport->close(0, "no subscribers left");
  }
  if (s.writer) (void)s.writer->close(Error::closed());
  s.writer.reset();
  if (auto cluster = s.cluster.lock()) {
    auto it = cluster->upstreams_.find(s.name);
    if (it != cluster->upstreams_.end() && it->second.expired()) cluster->upstreams_.erase(it);
  }
}

cache::BroadcastReader Upstream::broadcast() const {
  return state_->reader;
}

uint64_t Upstream::id() const {
  return state_->id;
}

bool Upstream::live() const {
  if (state_->reader.closed()) return false;
  if (state_->lite) return state_->lite->stats().tracks_ended == 0;
  return !state_->session || state_->session->subscriber_stats().tracks_ended == 0;
}

Result<std::shared_ptr<Cluster>> Cluster::create(asio::io_context& io, ClusterConfig config,
                                                 const quic::QuicConfig& quic) {
  auto api = api::ApiClient::create(config.api, config.api_timeout);
  if (!api) return api.error();
  app::ClientTlsOptions tls_options;
  tls_options.roots = config.roots;
  auto tls = app::make_client_tls(tls_options);
  if (!tls) return tls.error();
  // Relay-to-relay connections give up with the upstream bound, and notice
  // an origin relay that vanished within 10 s: the idle timer restarts at
  // the first keep-alive after the last packet received, so the worst case
  // is keep-alive + idle timeout.
  quic::QuicConfig client_quic = quic;
  client_quic.handshake_timeout = std::min(client_quic.handshake_timeout, config.upstream_timeout);
  client_quic.keep_alive = std::min(client_quic.keep_alive, milliseconds(1000));
  client_quic.idle_timeout = std::min(client_quic.idle_timeout, milliseconds(9000));
  auto client = wt::Client::create(io, asio::ip::udp::endpoint(asio::ip::udp::v6(), 0), client_quic,
                                   std::move(tls.value()));
  if (!client) return client.error();
  std::shared_ptr<Cluster> cluster(new Cluster(io, std::move(config), std::move(api.value())));
  cluster->client_ = std::move(client.value());
  return cluster;
}

Cluster::Cluster(asio::io_context& io, ClusterConfig config, api::ApiClient api)
    // Two threads: a lookup is not queued behind a slow refresh or DELETE.
    : io_(io),
      config_(std::move(config)),
      api_(std::move(api), 2),
      lite_origin_id_(lite::random_origin_id()) {}

Cluster::~Cluster() = default;

std::string Cluster::origin_url(const std::string& name) const {
  std::string node = config_.node;
  while (!node.empty() && node.back() == '/')
    node.pop_back();
  return node + "/" + name;
}

void Cluster::shutdown() {
  stopping_ = true;
  for (auto& [name, weak] : upstreams_) {
    if (auto up = weak.lock()) {
      if (up->state_->session) up->state_->session->close(Error::closed());
      if (up->state_->lite) up->state_->lite->close(lite::close_code::kCancel, "shutting down");
    }
  }
  if (client_) client_->endpoint().shutdown();
}

asio::awaitable<Result<std::unique_ptr<Registration>>> Cluster::register_origin(std::string name) {
  auto self = shared_from_this();
  // A DELETE of an earlier publisher of this name must land first.
  while (deleting_.count(name) > 0) {
    const bool woke = co_await deleted_.wait();
    if (!woke) co_return Error::closed();
  }
  api::Origin origin{origin_url(name)};
  ++in_flight_;
  Result<void> posted = co_await api_.set_origin(name, origin);
  --in_flight_;
  if (!posted && posted.error().code == code::kDuplicate) {
    // Our own registration from an earlier life of this relay (killed before
    // its DELETE) is taken over; another relay's is not.
    ++in_flight_;
    auto current = co_await api_.get_origin(name);
    --in_flight_;
    if (current && current->has_value() && current->value() == origin) {
      ++in_flight_;
      posted = co_await api_.patch_origin(name, origin);
      --in_flight_;
    }
  }
  if (!posted) co_return posted.error();
  auto state = std::make_shared<Registration::State>(io_, self, name, std::move(origin));
  asio::co_spawn(io_, refresh(state), asio::detached);
  spdlog::info("registered '{}' in moq-api as {}", name, state->origin.url);
  auto registration = std::make_unique<Registration>(std::move(state));
  co_return registration;
}

asio::awaitable<void> Cluster::refresh(std::shared_ptr<Registration::State> state) {
  auto self = shared_from_this();
  // After a failure, try again sooner than the regular period.
  const milliseconds retry = std::min(config_.refresh, milliseconds(10'000));
  milliseconds wait = config_.refresh;
  for (;;) {
    state->timer.expires_after(wait);
    asio::error_code ec;
    co_await state->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec || state->cancelled || stopping_) co_return;
    ++in_flight_;
    Result<void> refreshed = co_await api_.patch_origin(state->name, state->origin);
    --in_flight_;
    if (state->cancelled) co_return;
    if (!refreshed && refreshed.error().code == code::kNotFound) {
      // moq-api forgot it (e.g. Redis restarted empty): register again.
      ++in_flight_;
      refreshed = co_await api_.set_origin(state->name, state->origin);
      --in_flight_;
      if (refreshed) spdlog::info("registered '{}' in moq-api again", state->name);
      if (state->cancelled) {
        // The publisher left meanwhile and its DELETE may have gone first.
        if (refreshed) {
          ++deleting_[state->name];
          asio::co_spawn(io_, unregister(state->name), asio::detached);
        }
        co_return;
      }
    }
    if (refreshed) {
      spdlog::debug("refreshed '{}' in moq-api", state->name);
      wait = config_.refresh;
    } else {
      spdlog::warn("moq-api refresh of '{}' failed: {} (code {}); retrying in {} ms", state->name,
                   refreshed.error().reason, refreshed.error().code, retry.count());
      wait = retry;
    }
  }
}

asio::awaitable<void> Cluster::unregister(std::string name) {
  auto self = shared_from_this();
  ++in_flight_;
  Result<void> deleted = co_await api_.delete_origin(name);
  --in_flight_;
  if (deleted) {
    spdlog::info("removed '{}' from moq-api", name);
  } else if (deleted.error().code != code::kNotFound) {
    spdlog::warn("moq-api DELETE of '{}' failed: {} (code {})", name, deleted.error().reason,
                 deleted.error().code);
  }
  auto it = deleting_.find(name);
  if (it != deleting_.end() && --it->second == 0) deleting_.erase(it);
  deleted_.notify_all();
}

asio::awaitable<Result<bool>> Cluster::registered_elsewhere(std::string name) {
  auto self = shared_from_this();
  ++in_flight_;
  auto found = co_await api_.get_origin(name);
  --in_flight_;
  if (!found) co_return found.error();
  const bool elsewhere = found->has_value() && found->value().url != origin_url(name);
  co_return elsewhere;
}

std::shared_ptr<Upstream> Cluster::upstream(const std::string& name) {
  if (auto it = upstreams_.find(name); it != upstreams_.end()) {
    auto live = it->second.lock();
    // A failed or ended upstream is not reused: the next subscriber retries.
    if (live && live->live()) return live;
  }
  auto state =
      std::make_shared<Upstream::State>(io_, shared_from_this(), name, cache::make_broadcast());
  state->id = ++next_upstream_id_;
  auto handle = std::make_shared<Upstream>(state);
  upstreams_[name] = handle;
  if (stopping_) {
    state->fail(Error{code::kUpstream, "relay shutting down"});
    return handle;
  }
  // Whatever happens, the local subscribers learn it within the bound.
  std::weak_ptr<Upstream::State> weak = state;
  state->watchdog.expires_after(config_.upstream_timeout);
  state->watchdog.async_wait([weak, bound = config_.upstream_timeout](std::error_code ec) {
    if (ec) return;
    auto s = weak.lock();
    if (!s || s->cancelled || s->established || s->failed) return;
    spdlog::warn("upstream '{}': no session with the origin within {} ms", s->name, bound.count());
    s->fail(Error{code::kUpstream, "origin relay unreachable (timeout)"});
  });
  asio::co_spawn(io_, fetch(state), asio::detached);
  return handle;
}

asio::awaitable<void> Cluster::fetch(std::shared_ptr<Upstream::State> state) {
  auto self = shared_from_this();
  ++in_flight_;
  auto found = co_await api_.get_origin(state->name);
  --in_flight_;
  if (state->cancelled || state->failed) co_return;
  if (!found) {
    spdlog::warn("upstream '{}': moq-api lookup failed: {}", state->name, found.error().reason);
    state->fail(Error{code::kUpstream, "moq-api unreachable"});
    co_return;
  }
  // Nothing registered, or a stale registration that names this relay.
  if (!found->has_value() || found->value().url == origin_url(state->name)) {
    spdlog::info("upstream '{}': not found in moq-api", state->name);
    state->fail(Error::not_found());
    co_return;
  }
  const std::string url = found->value().url;

  // Relays speak moq-lite to each other when the origin offers it (ours
  // does); a 2023 origin answers no protocol and gets KIXEL_00.
  std::vector<std::string> offer;
  for (auto p : lite::supported_protocols())
    offer.emplace_back(p);
  auto connected = co_await client_->connect(url, offer);
  if (connected) state->transport = connected.value();
  if (state->cancelled || state->failed) {
    if (connected) connected.value()->close(0, "not needed any more");
    co_return;
  }
  if (!connected) {
    spdlog::warn("upstream '{}': cannot connect to {}: {}", state->name, url,
                 connected.error().reason);
    state->fail(Error{code::kUpstream, "origin relay unreachable"});
    co_return;
  }
  if (auto version = lite::version_from_protocol(state->transport->protocol())) {
    co_await fetch_lite(state, url, *version);
    co_return;
  }
  auto moq = co_await session::connect(state->transport, wire::Role::kSubscriber);
  if (state->cancelled || state->failed) {
    if (moq) moq.value()->close(Error::closed());
    co_return;
  }
  if (!moq) {
    spdlog::warn("upstream '{}': MoQ setup with {} failed: {}", state->name, url,
                 moq.error().reason);
    state->fail(Error{code::kUpstream, "origin relay refused: " + moq.error().reason});
    co_return;
  }
  state->established = true;
  state->watchdog.cancel();
  state->session = moq.value();
  auto subscribed = state->session->subscribe(std::move(*state->writer));
  state->writer.reset();
  if (!subscribed) {
    state->session->close(subscribed.error());
    co_return;
  }
  spdlog::info("upstream start: broadcast '{}' from {}", state->name, url);
  auto session = state->session;
  Error end = co_await session->run();
  spdlog::info("upstream end: broadcast '{}' from {} code {} reason '{}'", state->name, url,
               end.code, end.reason);
  state->session.reset();
}

asio::awaitable<void> Cluster::fetch_lite(std::shared_ptr<Upstream::State> state, std::string url,
                                          lite::Version version) {
  // The origin's URL path names the broadcast: it is the session's root,
  // and the broadcast is the root itself (path "").
  lite::SessionConfig config;
  config.origin_id = lite_origin_id_;
  state->lite = lite::Session::create(io_.get_executor(), state->transport, version,
                                      state->transport->path(), nullptr, config);
  state->established = true;
  state->watchdog.cancel();
  state->lite->consume("", std::move(*state->writer), /*from_start=*/true);
  state->writer.reset();
  spdlog::info("upstream start: broadcast '{}' from {} ({})", state->name, url,
               lite::protocol_name(version));
  auto session = state->lite;
  Error end = co_await session->run();
  spdlog::info("upstream end: broadcast '{}' from {} code {} reason '{}'", state->name, url,
               end.code, end.reason);
  state->lite.reset();
}

}  // namespace moq::relay
