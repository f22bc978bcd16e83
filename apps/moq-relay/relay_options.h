#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "coding/result.h"
#include "options.h"

namespace moq::relay {

// Everything moq-relay takes on the command line; every flag can also come
// from the environment as MOQ_RELAY_<FLAG> (e.g. MOQ_RELAY_LISTEN).
struct RelayOptions {
  std::string listen = "[::]:4443";
  app::ServerTlsOptions tls;       // --tls-cert/--tls-key (paired), --dev
  std::vector<std::string> roots;  // --tls-root: trusted for relay-to-relay
  std::string api;                 // --api: moq-api URL (clustering)
  std::string api_node;            // --api-node: this relay's https:// URL
  double api_refresh = 300;        // --api-refresh: seconds between PATCHes
  int http_idle_timeout = 30;      // --http-idle-timeout: seconds (the TCP listener)
  bool http = false;               // --http: the TCP listener without --dev
  double drain_timeout = 10;       // --drain-timeout: seconds sessions get after GOAWAY
  std::string goaway_url;          // --goaway-url: where drained sessions may reconnect
  std::string log_level = "info";
  quic::QuicConfig quic;       // --congestion-control, --idle-timeout
  unsigned threads = 0;        // --threads: worker threads (0: one per core)
  double publisher_wait = 30;  // --publisher-wait: seconds a viewer's SUBSCRIBEs wait
  std::string auth_key;        // --auth-key: JWK file; sessions then need ?jwt=
};

void add_relay_options(CLI::App& app, RelayOptions& options);

// Checks what CLI11 can't: --api needs an https:// --api-node, URLs look like
// URLs, the --tls-root files load. Certificate/key pairing is checked when
// the TLS context is made.
Result<void> validate(const RelayOptions& options);

}  // namespace moq::relay
