#include "options.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <map>

#include "quic/tls_cert.h"

namespace moq::app {

Result<asio::ip::udp::endpoint> parse_socket_address(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos) {
    return Error{code::kInternal, "address needs a port, like [::]:4443: " + text};
  }
  std::string host = text.substr(0, colon);
  const std::string port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || p != port_text.data() + port_text.size() || port > 65535) {
    return Error{code::kInternal, "bad port in address: " + text};
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "::";
  asio::error_code aec;
  auto addr = asio::ip::make_address(host, aec);
  if (aec) return Error{code::kInternal, "bad IP address: " + host};
  return asio::ip::udp::endpoint(addr, static_cast<uint16_t>(port));
}

void add_log_option(CLI::App& app, std::string& level) {
  app.add_option("--log-level", level, "trace, debug, info, warn, error or off")
      ->envname("MOQ_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
}

void setup_logging(const std::string& level) {
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
}

void add_quic_options(CLI::App& app, quic::QuicConfig& config, const std::string& env_prefix) {
  static const std::map<std::string, quic::CongestionControl> kAlgorithms = {
      {"cubic", quic::CongestionControl::kCubic}, {"bbr", quic::CongestionControl::kBbr}};
  app.add_option("--congestion-control", config.congestion_control, "cubic or bbr")
      ->envname(env_prefix + "_CONGESTION_CONTROL")
      ->transform(CLI::CheckedTransformer(kAlgorithms, CLI::ignore_case).description(""))
      ->option_text("cubic|bbr [cubic]");
  app.add_option_function<double>(
         "--idle-timeout",
         [&config](double seconds) {
           config.idle_timeout = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
         },
         "QUIC idle timeout: a peer silent that long is gone (keep-alives go out at a "
         "third of it, at most every 4 s)")
      ->envname(env_prefix + "_IDLE_TIMEOUT")
      ->check(CLI::Range(0.5, 3600.0))
      ->option_text("SECONDS [10]");
}

void add_server_tls_options(CLI::App& app, ServerTlsOptions& opts, const std::string& env_prefix) {
  app.add_option("--tls-cert", opts.certs,
                 "PEM certificate chain (repeatable, paired with --tls-key)")
      ->envname(env_prefix + "_TLS_CERT")
      ->delimiter(',');
  app.add_option("--tls-key", opts.keys, "PEM private key (PKCS#8 or SEC1; repeatable)")
      ->envname(env_prefix + "_TLS_KEY")
      ->delimiter(',');
  app.add_flag("--dev", opts.dev,
               "development mode: generate a self-signed certificate when none is given")
      ->envname(env_prefix + "_DEV");
}

Result<quic::TlsServerContext> make_server_tls(const ServerTlsOptions& opts) {
  quic::TlsServerConfig config;
  for (const auto& c : opts.certs)
    config.cert_files.emplace_back(c);
  for (const auto& k : opts.keys)
    config.key_files.emplace_back(k);
  if (opts.certs.empty() && opts.keys.empty()) {
    if (!opts.dev) {
      return Error{code::kInternal, "no certificate: give --tls-cert and --tls-key, or --dev"};
    }
    auto pem = quic::generate_dev_certificate();
    if (!pem.ok()) return pem.error().to_error();
    config.pem_pairs.push_back(pem.value());
  }
  auto ctx = quic::TlsServerContext::create(config);
  if (!ctx.ok()) return ctx.error().to_error();
  return std::move(ctx.value());
}

void add_client_tls_options(CLI::App& app, ClientTlsOptions& opts, const std::string& env_prefix) {
  app.add_option("--tls-root", opts.roots,
                 "PEM root certificate to trust (repeatable; default: system roots)")
      ->envname(env_prefix + "_TLS_ROOT")
      ->delimiter(',');
  app.add_option("--fingerprint", opts.fingerprint,
                 "trust exactly the server certificate with this SHA-256 (hex), for development")
      ->envname(env_prefix + "_FINGERPRINT");
}

Result<quic::TlsClientContext> make_client_tls(const ClientTlsOptions& opts) {
  quic::TlsClientConfig config;
  for (const auto& r : opts.roots)
    config.root_files.emplace_back(r);
  config.fingerprint = opts.fingerprint;
  auto ctx = quic::TlsClientContext::create(config);
  if (!ctx.ok()) return ctx.error().to_error();
  return std::move(ctx.value());
}

}  // namespace moq::app
