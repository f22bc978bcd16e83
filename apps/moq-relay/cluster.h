#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/async_client.h"
#include "async/notify.h"
#include "cache/broadcast.h"
#include "coding/result.h"
#include "lite/session.h"
#include "quic/config.h"
#include "webtransport/client.h"

namespace moq::relay {

// What a relay needs to be part of a cluster.
struct ClusterConfig {
  std::string api;   // moq-api base URL, e.g. http://localhost:4442
  std::string node;  // this relay's https:// URL, advertised as origin
  // How often a live registration is refreshed (moq-api forgets it after
  // 10 minutes without).
  std::chrono::milliseconds refresh{std::chrono::minutes(5)};
  // Bound of each moq-api call (connect, and each read/write).
  std::chrono::milliseconds api_timeout{2000};
  // Bound of lookup + connect + MoQ SETUP towards an origin relay; past it
  // the local subscribers' tracks end with 504.
  std::chrono::milliseconds upstream_timeout{5000};
  // Roots trusted for relay-to-relay connections; none: the system roots.
  std::vector<std::string> roots;
};

class Cluster;

// This relay's registration as the origin of one broadcast in moq-api, for as
// long as the object lives: refreshed (PATCH) every ClusterConfig::refresh,
// re-created (POST) when moq-api lost it (e.g. Redis restarted empty), and
// deleted (DELETE) when destroyed.
class Registration {
 public:
  struct State;
  explicit Registration(std::shared_ptr<State> state) : state_(std::move(state)) {}
  ~Registration();
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;

 private:
  std::shared_ptr<State> state_;
};

// A broadcast fetched from its origin relay, shared by every local subscriber
// of that name: one upstream WebTransport + MoQ session however many there
// are. Dropping the last handle closes the upstream session.
class Upstream {
 public:
  struct State;
  explicit Upstream(std::shared_ptr<State> state) : state_(std::move(state)) {}
  ~Upstream();
  Upstream(const Upstream&) = delete;
  Upstream& operator=(const Upstream&) = delete;

  // What local subscriber sessions serve: filled by the upstream session;
  // closed with 404 (not registered), 504 (moq-api or origin unreachable) or
  // the upstream session's end.
  cache::BroadcastReader broadcast() const;
  // False once the broadcast is over or ending: the upstream failed or
  // ended, or the origin ended one of its tracks cleanly (its publisher
  // left; the origin keeps the session open, as it does for every viewer).
  // New local subscribers then get a fresh upstream (a new lookup).
  bool live() const;
  // Unique among this relay's upstreams.
  uint64_t id() const;

 private:
  friend class Cluster;
  std::shared_ptr<State> state_;
};

// The relay's side of clustering: registers local broadcasts in moq-api and
// fetches remote ones from their origin relays.
//
// Every moq-api call runs on AsyncApiClient's threads; everything else on the
// io_context thread. Calls in flight are counted so that a stopping relay can
// let its last DELETEs finish before its event loop stops.
class Cluster : public std::enable_shared_from_this<Cluster> {
 public:
  static Result<std::shared_ptr<Cluster>> create(asio::io_context& io, ClusterConfig config,
                                                 const quic::QuicConfig& quic);
  ~Cluster();

  // Registers this relay as the origin of `name` (POST). Errors: 409
  // "duplicate" when another relay holds the name, 504 when moq-api (or its
  // Redis) is unreachable.
  asio::awaitable<Result<std::unique_ptr<Registration>>> register_origin(std::string name);

  // The shared upstream of `name`: the existing one while it is live, else a
  // new one that looks the origin up and connects in the background.
  std::shared_ptr<Upstream> upstream(const std::string& name);

  // Whether moq-api names another relay as the origin of `name` now (a
  // registration naming this relay is stale or local). Errors: moq-api
  // unreachable.
  asio::awaitable<Result<bool>> registered_elsewhere(std::string name);

  // moq-api calls not yet answered.
  size_t calls_in_flight() const { return in_flight_; }
  // Closes every upstream session and stops refreshing; DELETEs still go out.
  void shutdown();

  const ClusterConfig& config() const { return config_; }

 private:
  friend class Registration;
  friend class Upstream;

  Cluster(asio::io_context& io, ClusterConfig config, api::ApiClient api);

  std::string origin_url(const std::string& name) const;
  asio::awaitable<void> refresh(std::shared_ptr<Registration::State> state);
  asio::awaitable<void> unregister(std::string name);
  asio::awaitable<void> fetch(std::shared_ptr<Upstream::State> state);
  asio::awaitable<void> fetch_lite(std::shared_ptr<Upstream::State> state, std::string url,
                                   lite::Version version);

  asio::io_context& io_;
  const ClusterConfig config_;
  api::AsyncApiClient api_;
  std::unique_ptr<wt::Client> client_;
  // Upstreams by broadcast name; an entry dies with its last handle.
  std::unordered_map<std::string, std::weak_ptr<Upstream>> upstreams_;
  // Our origin id in moq-lite upstream sessions (random, below 2^53).
  uint64_t lite_origin_id_ = 0;
  // DELETEs in flight by name: a new registration of that name waits for
  // them, or the late DELETE would remove it.
  std::unordered_map<std::string, size_t> deleting_;
  async::Notify deleted_;
  size_t in_flight_ = 0;
  uint64_t next_upstream_id_ = 0;
  bool stopping_ = false;
};

}  // namespace moq::relay
