// moq-relay: the MoQ (KIXEL_00) fan-out server. Publishers and subscribers
// connect over WebTransport to https://HOST:PORT/NAME; the relay forwards each
// broadcast NAME from its one publisher to every subscriber, holding one
// upstream subscription per track and serving late joiners from its cache.
//
// Usage:
//   moq-relay --dev                       # self-signed cert, [::]:4443, prints
//                                         # its URL and certificate fingerprint
//   moq-relay --listen [::]:4443 --tls-cert cert.pem --tls-key key.pem
//   moq-relay ... --tls-cert a.pem --tls-key a.key --tls-cert b.pem --tls-key b.key
//                                         # several certificates, chosen by SNI
//   moq-relay --listen [::]:4444 --tls-cert dev/localhost.crt --tls-key dev/localhost.key
//     --tls-root dev/localhost.crt --api http://localhost:4442 --api-node https://localhost:4444
//                                         # one node of a cluster (see dev/relay-0, -1)
//
// Flags (each also MOQ_RELAY_<FLAG> in the environment, e.g. MOQ_RELAY_LISTEN):
//   --listen ADDR      UDP address for QUIC [[::]:4443]
//   --tls-cert PATH    PEM chain, repeatable, paired by position with --tls-key
//   --tls-key PATH     PEM private key (PKCS#8, SEC1 EC or RSA)
//   --tls-root PATH    roots trusted for relay-to-relay connections (repeatable)
//   --dev              also serve HTTPS and plain HTTP over TCP on the same port
//                      (see --http); without --tls-cert, generate a localhost
//                      certificate
//   --http             serve HTTPS + plain HTTP on the TCP port of the same
//                      number: the web pages (/, /watch/NAME, /publish/NAME),
//                      GET /metrics (Prometheus), /healthz, /fingerprint,
//                      /certificate.sha256
//   --drain-timeout S  seconds sessions get to leave after GOAWAY on SIGTERM [10]
//   --goaway-url URL   where drained sessions may reconnect (in the GOAWAY)
//   --threads N        worker threads (0: one per core) [0]
//   --publisher-wait S seconds a viewer of an unpublished name waits for its
//                      publisher before 404 (0: 404 at once) [30]
//   --http-idle-timeout S  seconds before an idle TCP connection is closed [30]
//   --api URL          moq-api for clustering: publishers are registered there
//                      (409 if live on another relay, 504 if moq-api is down);
//                      subscribers of other names are served from the origin
//                      relay it names (404 unknown, 504 unreachable)
//   --api-node URL     this relay's https:// URL (needed with --api)
//   --api-refresh S    seconds between registration refreshes [300]
//   --log-level LEVEL  trace|debug|info|warn|error|off [info]
//
// stdout gets two lines once listening ("listening: https://localhost:4443"
// and "fingerprint: <hex>"), and a third with the TCP listener ("pages:
// http://localhost:4443/", the index of live broadcasts; a broadcast's player
// is at pages/watch/NAME); logs go to stderr. SIGINT/SIGTERM drain: every
// session gets GOAWAY, new ones get 503, and the relay exits 0 once they left
// or after --drain-timeout (a second signal: at once).

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <cstdlib>
#include <functional>
#include <iostream>

#include "dev_http.h"
#include "options.h"
#include "relay.h"
#include "relay_options.h"

namespace {

int fail(const std::string& message) {
  std::cerr << "moq-relay: " << message << "\n";
  return EXIT_FAILURE;
}

// What a user can paste into a browser or moq-pub/moq-sub.
std::string public_url(const asio::ip::udp::endpoint& local) {
  const auto address = local.address();
  std::string host = address.is_unspecified() ? "localhost"
                     : address.is_v6()        ? "[" + address.to_string() + "]"
                                              : address.to_string();
  return "https://" + host + ":" + std::to_string(local.port());
}

// After `first`, looks every 20 ms whether `done()` holds; then calls
// `then(true)`, or `then(false)` once `give_up` passed. Cancelling `timer`
// stops it.
void poll_until(asio::steady_timer& timer, std::chrono::milliseconds first,
                std::function<bool()> done, std::chrono::steady_clock::time_point give_up,
                std::function<void(bool)> then) {
  timer.expires_after(first);
  timer.async_wait([&timer, done = std::move(done), give_up,
                    then = std::move(then)](const asio::error_code& ec) mutable {
    if (ec) return;
    if (done()) return then(true);
    if (std::chrono::steady_clock::now() > give_up) return then(false);
    poll_until(timer, std::chrono::milliseconds(20), std::move(done), give_up, std::move(then));
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"moq-relay: Media over QUIC (KIXEL_00) relay", "moq-relay"};
  moq::relay::RelayOptions options;
  moq::relay::add_relay_options(app, options);
  app.set_version_flag("--version", std::string("moq-relay ") + MOQ_VERSION);
  CLI11_PARSE(app, argc, argv);

  spdlog::set_default_logger(spdlog::stderr_color_mt("moq-relay"));
  moq::app::setup_logging(options.log_level);

  if (auto valid = moq::relay::validate(options); !valid) return fail(valid.error().reason);
  auto listen = moq::app::parse_socket_address(options.listen);
  if (!listen) return fail(listen.error().reason);
  auto tls = moq::app::make_server_tls(options.tls);
  if (!tls) return fail(tls.error().reason);

  asio::io_context io;
  moq::relay::RelayConfig config;
  config.listen = *listen;
  config.quic = options.quic;
  config.threads = options.threads;
  config.publisher_wait =
      std::chrono::milliseconds(static_cast<int64_t>(options.publisher_wait * 1000));
  if (!options.auth_key.empty()) {
    auto key = moq::relay::auth::load_key(options.auth_key);
    if (!key) return fail(key.error().reason);
    config.auth_key = std::move(*key);
    spdlog::info("sessions need ?jwt= tokens signed with {}", options.auth_key);
  }
  if (!options.api.empty()) {
    moq::relay::ClusterConfig cluster;
    cluster.api = options.api;
    cluster.node = options.api_node;
    cluster.refresh = std::chrono::milliseconds(static_cast<int64_t>(options.api_refresh * 1000));
    cluster.roots = options.roots;
    config.cluster = cluster;
    spdlog::info("clustering through moq-api {} as {}", options.api, options.api_node);
  }
  auto relay = moq::relay::Relay::start(io, config, tls.value());
  if (!relay) return fail("can't listen on " + options.listen + ": " + relay.error().reason);
  const auto local = relay.value()->local_endpoint();

  // The HTTP listener holds thousands of connections: lift the open-file
  // soft limit to the hard one.
  moq::http::raise_open_file_limit();
  std::unique_ptr<moq::relay::DevHttpServer> dev;
  if (options.tls.dev || options.http) {
    moq::relay::HttpRoutes routes;
    moq::relay::Relay* r = relay.value().get();
    routes.metrics = [r] { return r->metrics(); };
    routes.draining = [r] { return r->draining(); };
    moq::relay::PagesConfig pages;
    pages.port = local.port();
    // A development certificate is pinned by its hash (browsers refuse it
    // otherwise); a CA-signed one needs nothing.
    if (options.tls.dev) pages.fingerprint = tls->fingerprint_hex();
    pages.broadcasts = [r] { return r->origins().list(); };
    routes.pages = std::move(pages);
    auto started = moq::relay::DevHttpServer::start(io, local.address(), local.port(), tls.value(),
                                                    std::chrono::seconds(options.http_idle_timeout),
                                                    std::move(routes));
    if (!started) return fail(started.error().reason);
    dev = std::move(started.value());
  }

  const std::string url = public_url(local);
  const std::string fingerprint = tls->fingerprint_hex();
  std::cout << "listening: " << url << std::endl;
  std::cout << "fingerprint: " << fingerprint << std::endl;
  // The pages: plain HTTP with --dev (http://localhost is a secure context,
  // and the page pins the certificate by its hash), HTTPS otherwise.
  const std::string pages_url =
      dev ? (options.tls.dev ? "http" : "https") + url.substr(url.find("://")) + "/" : "";
  if (dev) std::cout << "pages: " << pages_url << std::endl;
  spdlog::info("listening on {} (UDP{}), {}, {} worker thread{}", options.listen,
               dev ? " and TCP: HTTPS + HTTP: pages, /fingerprint, /metrics, /healthz" : "", url,
               relay.value()->workers(), relay.value()->workers() == 1 ? "" : "s");
  spdlog::info("certificate fingerprint (sha-256): {}", fingerprint);
  if (dev) {
    spdlog::info("pages: {} (a broadcast's player: {}watch/NAME)", pages_url, pages_url);
  } else {
    spdlog::info("pages: off (no TCP listener: --dev or --http serves them)");
  }

  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer grace(io);
  asio::steady_timer drain_poll(io);
  bool stopping = false;
  auto stop = [&] {
    if (stopping) return;
    stopping = true;
    drain_poll.cancel();
    relay.value()->shutdown();
    if (dev) dev->stop();
    // Let the close frames go out and the sessions log their end, then the
    // last moq-api calls (DELETEs of the broadcasts published here) finish:
    // each is bounded by the client's timeout.
    poll_until(
        grace, std::chrono::milliseconds(200),
        [&] { return relay.value()->api_calls_in_flight() == 0; },
        std::chrono::steady_clock::now() + std::chrono::seconds(5), [&](bool) { io.stop(); });
  };
  std::function<void(const asio::error_code&, int)> on_signal = [&](const asio::error_code& ec,
                                                                    int signal) {
    if (ec) return;
    moq::relay::Relay& r = *relay.value();
    const size_t live = r.live_sessions();
    if (r.draining() || options.drain_timeout <= 0 || live == 0) {
      spdlog::info("signal {}: closing every session", signal);
      stop();
      return;
    }
    // Graceful: GOAWAY to everyone, no new sessions, exit when they left.
    spdlog::info(
        "signal {}: draining: GOAWAY{} to {} session{}, new sessions refused (503); "
        "exit when they end or in {} s (another signal: at once)",
        signal, options.goaway_url.empty() ? "" : " (" + options.goaway_url + ")", live,
        live == 1 ? "" : "s", options.drain_timeout);
    r.drain(options.goaway_url);
    signals.async_wait(on_signal);
    poll_until(
        drain_poll, std::chrono::milliseconds(20), [&r] { return r.live_sessions() == 0; },
        std::chrono::steady_clock::now() +
            std::chrono::milliseconds(static_cast<int64_t>(options.drain_timeout * 1000)),
        [&](bool drained) {
          if (drained) {
            spdlog::info("drained: every session left");
          } else {
            spdlog::info("drain timeout: closing the {} remaining session{}", r.live_sessions(),
                         r.live_sessions() == 1 ? "" : "s");
          }
          stop();
        });
  };
  signals.async_wait(on_signal);
  io.run();
  spdlog::info("stopped");
  return EXIT_SUCCESS;
}
