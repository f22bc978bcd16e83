#pragma once

// Command-line pieces shared by moq-relay, moq-pub, moq-sub and moq-wt-echo.

#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <asio/ip/udp.hpp>

#include "coding/result.h"
#include "quic/config.h"
#include "quic/tls_client.h"
#include "quic/tls_server.h"

namespace moq::app {

// "[::]:4443", "0.0.0.0:0", "127.0.0.1:4443", ":4443" → a UDP endpoint.
Result<asio::ip::udp::endpoint> parse_socket_address(const std::string& text);

// --log-level trace|debug|info|warn|error|off (env MOQ_LOG_LEVEL).
void add_log_option(CLI::App& app, std::string& level);
void setup_logging(const std::string& level);

// --congestion-control cubic|bbr and --idle-timeout SECONDS (env
// <PREFIX>_CONGESTION_CONTROL, <PREFIX>_IDLE_TIMEOUT).
void add_quic_options(CLI::App& app, quic::QuicConfig& config, const std::string& env_prefix);

// --tls-cert/--tls-key (repeatable, paired by position) and --dev.
struct ServerTlsOptions {
  std::vector<std::string> certs;
  std::vector<std::string> keys;
  bool dev = false;
};
void add_server_tls_options(CLI::App& app, ServerTlsOptions& opts, const std::string& env_prefix);
// Loads the pairs; with --dev and none given, generates the self-signed
// development certificate.
Result<quic::TlsServerContext> make_server_tls(const ServerTlsOptions& opts);

// --tls-root (repeatable) and --fingerprint HEX.
struct ClientTlsOptions {
  std::vector<std::string> roots;
  std::string fingerprint;
};
void add_client_tls_options(CLI::App& app, ClientTlsOptions& opts, const std::string& env_prefix);
Result<quic::TlsClientContext> make_client_tls(const ClientTlsOptions& opts);

}  // namespace moq::app
