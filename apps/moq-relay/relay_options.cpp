#include "relay_options.h"

namespace moq::relay {
namespace {

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

void add_relay_options(CLI::App& app, RelayOptions& options) {
  app.add_option("--listen", options.listen,
                 "UDP address for QUIC ([::] serves IPv4 and IPv6); with --dev also TCP")
      ->envname("MOQ_RELAY_LISTEN")
      ->capture_default_str();
  app::add_server_tls_options(app, options.tls, "MOQ_RELAY");
  app::add_quic_options(app, options.quic, "MOQ_RELAY");
  app.add_option("--threads", options.threads,
                 "worker threads, each with its own event loop and UDP socket on the port "
                 "(connections stay on one worker; 0: one per core)")
      ->envname("MOQ_RELAY_THREADS")
      ->check(CLI::Range(0u, 256u))
      ->option_text("N [0: one per core]");
  app.add_option("--publisher-wait", options.publisher_wait,
                 "seconds a viewer of a name nobody publishes yet waits: its SUBSCRIBEs are "
                 "held and served once the name is published (here, or per moq-api on another "
                 "relay), else answered 404 (0: at once)")
      ->envname("MOQ_RELAY_PUBLISHER_WAIT")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("--auth-key", options.auth_key,
                 "HS256 key (a JWK file, as `moq auth generate` writes): every session must then "
                 "carry ?jwt=TOKEN signed with it, and may publish and subscribe only the paths "
                 "its token grants (claims root, put, get, exp). Default: anyone may do anything")
      ->envname("MOQ_RELAY_AUTH_KEY")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-root", options.roots,
                 "PEM root certificate trusted when connecting to other relays (repeatable; "
                 "default: the system roots). Relays sharing one self-signed certificate "
                 "trust each other with --tls-root set to that certificate")
      ->envname("MOQ_RELAY_TLS_ROOT")
      ->delimiter(',');
  app.add_option("--api", options.api,
                 "moq-api URL for clustering, e.g. http://localhost:4442 (absent: single node). "
                 "Publishers are registered there (refused with 409 when the name is live on "
                 "another relay, 504 when moq-api is unreachable); subscribers of other names "
                 "are served from the origin relay it names (404 unknown, 504 unreachable)")
      ->envname("MOQ_RELAY_API");
  app.add_option("--api-node", options.api_node,
                 "this relay's own https:// URL, advertised in moq-api as the origin of the "
                 "broadcasts published here (needed with --api), e.g. https://localhost:4443")
      ->envname("MOQ_RELAY_API_NODE");
  app.add_option("--api-refresh", options.api_refresh,
                 "seconds between refreshes of a live broadcast's registration in moq-api "
                 "(which forgets it after 600 s)")
      ->envname("MOQ_RELAY_API_REFRESH")
      ->check(CLI::Range(0.1, 599.0))
      ->capture_default_str();
  app.add_flag("--http", options.http,
               "serve HTTPS and plain HTTP on the TCP port of the same number: the web pages "
               "(/ lists the live broadcasts, /watch/NAME plays one), GET /metrics "
               "(Prometheus), /healthz, /fingerprint (always on with --dev)")
      ->envname("MOQ_RELAY_HTTP");
  app.add_option("--drain-timeout", options.drain_timeout,
                 "on SIGTERM/SIGINT, seconds the sessions get to leave after GOAWAY before the "
                 "rest are closed (0: close at once; a second signal also does)")
      ->envname("MOQ_RELAY_DRAIN_TIMEOUT")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("--goaway-url", options.goaway_url,
                 "the URL sent in GOAWAY when draining: another relay where sessions may "
                 "reconnect (default: none)")
      ->envname("MOQ_RELAY_GOAWAY_URL");
  app.add_option("--http-idle-timeout", options.http_idle_timeout,
                 "seconds after which an idle TCP connection of the HTTP(S) listener is "
                 "closed (kept alive between requests, or never sending one)")
      ->envname("MOQ_RELAY_HTTP_IDLE_TIMEOUT")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  app.add_option("--log-level", options.log_level, "trace, debug, info, warn, error or off")
      ->envname("MOQ_RELAY_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
}

Result<void> validate(const RelayOptions& options) {
  if (auto listen = app::parse_socket_address(options.listen); !listen) {
    return Error{code::kInternal, "--listen: " + listen.error().reason};
  }
  if (options.tls.certs.size() != options.tls.keys.size()) {
    return Error{code::kInternal,
                 "--tls-cert and --tls-key must be given the same number of times"};
  }
  if (!options.api.empty()) {
    if (!starts_with(options.api, "http://") && !starts_with(options.api, "https://")) {
      return Error{code::kInternal, "--api must be an http:// or https:// URL: " + options.api};
    }
    if (options.api_node.empty()) return Error{code::kInternal, "--api needs --api-node"};
  }
  if (!options.api_node.empty() && !starts_with(options.api_node, "https://")) {
    return Error{code::kInternal, "--api-node must be an https:// URL: " + options.api_node};
  }
  if (!options.roots.empty()) {
    app::ClientTlsOptions client;
    client.roots = options.roots;
    if (auto tls = app::make_client_tls(client); !tls) {
      return Error{code::kInternal, "--tls-root: " + tls.error().reason};
    }
  }
  return {};
}

}  // namespace moq::relay
