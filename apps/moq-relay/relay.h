#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "cluster.h"
#include "coding/result.h"
#include "lite/session.h"
#include "origins.h"
#include "quic/config.h"
#include "quic/tls_server.h"
#include "session/config.h"
#include "webtransport/server.h"

#include "auth.h"

namespace moq::relay {

struct RelayConfig {
  asio::ip::udp::endpoint listen;
  quic::QuicConfig quic;
  // Per-session limits: they are what keeps a slow subscriber from slowing
  // the publisher or the other subscribers (bounded streams, stall timeout).
  session::Config session;
  // A client that opens no control stream and sends no SETUP by then is
  // dropped.
  std::chrono::milliseconds setup_timeout{10'000};
  // With a moq-api: clustering (see Relay). Absent: a single node.
  std::optional<ClusterConfig> cluster;
  // Worker threads, each with its own event loop and UDP socket on the port
  // (0: one per core).
  unsigned threads = 1;
  // A viewer of a name nobody publishes (here, nor per moq-api elsewhere in
  // the cluster) has its SUBSCRIBEs held this long for a publisher
  // (waiting.h); 0: 404 at once.
  std::chrono::milliseconds publisher_wait{30'000};
  // With a key (--auth-key): every session needs `?jwt=` signed by it, and
  // may publish and subscribe only what its token grants. Without: anyone.
  std::optional<auth::Key> auth_key;
};

struct Worker;
class MetricsBoard;

// What every worker shares with the Relay object: written once per session
// start or end, never per packet.
struct RelayShared {
  std::atomic<size_t> live_sessions{0};
  std::atomic<bool> draining{false};
  // This relay's origin id in moq-lite announcements: random, non-zero,
  // below 2^53 (the JS clients read it as a JavaScript number).
  const uint64_t lite_origin_id = lite::random_origin_id();
};

// The fan-out server: accepts WebTransport sessions and, by their SETUP role,
// makes each a publisher of its path's broadcast or a subscriber of it.
//
//  - publisher: the broadcast name must be free (else 409 "duplicate"); the
//    session's subscriber half fills a new cache broadcast, registered in
//    Origins until the session ends, which closes the broadcast (resetting
//    every subscriber's tracks with the session's end code) and frees the
//    name.
//  - subscriber: the session's publisher half serves the broadcast that is
//    live when it connects; with none, its SUBSCRIBEs are held for up to
//    RelayConfig::publisher_wait and served once the name is published
//    (WaitingBroadcast), then answered 404.
//  - both: refused with 300. Versions other than KIXEL_00: 406.
//
// In a cluster (RelayConfig::cluster):
//  - a publisher is registered in moq-api as `<node>/<name>` before its SETUP
//    is answered, refreshed while live and deleted when it leaves. moq-api
//    answering 409 (the name is live on another relay) refuses it with 409
//    "duplicate"; moq-api unreachable (or its Redis down) refuses it with 504.
//  - a subscriber of a name not published here is served from the name's
//    Upstream: one session to the origin relay, shared by every local
//    subscriber of the name. Not registered: its tracks end with 404; moq-api
//    or origin unreachable: with 504, within ClusterConfig::upstream_timeout.
//
// When a served broadcast ends (its publisher left, or the upstream session
// ended), its tracks end for every subscriber session (SUBSCRIBE_RESET, code 0
// when the publisher simply went away); the sessions go on.
//
// Workers (RelayConfig::threads): each worker thread has its own io_context
// and UDP socket on the shared port, and a connection stays on the worker its
// connection IDs name (quic::Endpoint::bind_worker). A broadcast lives on the
// worker of its publisher's session; a subscriber session on another worker
// is served from that worker's Mirror of it, so one upstream SUBSCRIBE per
// track still serves every subscriber on every worker. Clustering (moq-api,
// upstream sessions) runs on worker 0, the caller's io_context. Nothing waits
// on a single peer, and nothing on the per-packet path takes a lock.
class Relay {
 public:
  // `io` is worker 0's event loop (the caller runs it); the other workers'
  // threads are the relay's own. `tls` must outlive the relay.
  static Result<std::unique_ptr<Relay>> start(asio::io_context& io, const RelayConfig& config,
                                              const quic::TlsServerContext& tls);
  // The same on an endpoint the caller made (config.listen is then unused):
  // the connection fuzzer runs the relay without a socket this way.
  static Result<std::unique_ptr<Relay>> start(asio::io_context& io, const RelayConfig& config,
                                              std::shared_ptr<quic::Endpoint> endpoint);
  ~Relay();

  asio::ip::udp::endpoint local_endpoint() const { return local_; }
  const Origins& origins() const { return *origins_; }
  unsigned workers() const { return static_cast<unsigned>(workers_.size()); }
  // Closes every session and stops accepting new ones (call on worker 0).
  void shutdown();
  // Graceful stop, first step: every session gets GOAWAY (with `goaway_url`,
  // where its peer may reconnect; empty: none), new sessions are refused
  // with 503. Sessions end as their peers leave; shutdown() ends the rest.
  void drain(std::string goaway_url);
  bool draining() const;
  // MoQ sessions past SETUP, on every worker.
  size_t live_sessions() const;
  // GET /metrics: the Prometheus text of every worker (call on worker 0).
  std::string metrics() const;
  // moq-api calls not yet answered (e.g. the DELETEs of a stopping relay).
  size_t api_calls_in_flight() const { return cluster_ ? cluster_->calls_in_flight() : 0; }

 private:
  Relay() = default;
  Result<void> add_worker(asio::io_context& io, std::shared_ptr<quic::Endpoint> endpoint,
                          const RelayConfig& config);

  std::shared_ptr<Origins> origins_;  // shared with the session coroutines
  std::shared_ptr<RelayShared> shared_ = std::make_shared<RelayShared>();
  std::shared_ptr<MetricsBoard> board_;
  std::shared_ptr<Cluster> cluster_;  // null: single node
  asio::ip::udp::endpoint local_;
  std::shared_ptr<std::vector<asio::any_io_executor>> executors_;  // by worker index
  std::vector<std::shared_ptr<Worker>> workers_;
  // Workers 1..N-1: their event loops and threads.
  std::vector<std::unique_ptr<asio::io_context>> own_io_;
  std::vector<std::thread> threads_;
};

}  // namespace moq::relay
