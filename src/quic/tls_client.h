#pragma once

// Client-side TLS for QUIC (relay-to-relay, moq-pub, moq-sub).
//
// The server is verified against the system roots, against roots given as
// PEM files (`--tls-root`), or, for development, by pinning the SHA-256
// fingerprint of its leaf certificate (`--fingerprint`): then exactly that
// certificate is accepted and the CA chain, names and dates are ignored.

#include <ngtcp2/ngtcp2_crypto.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "quic/tls_result.h"
#include "quic/tls_session.h"

namespace moq::quic {

namespace detail {
struct ClientState;
}

struct TlsClientConfig {
  // PEM files of trusted roots; with none (and no root_pems), the system roots.
  std::vector<std::filesystem::path> root_files;
  // Trusted roots already in memory.
  std::vector<std::string> root_pems;
  // Hex SHA-256 of the server's leaf DER certificate (':' separators and
  // upper case allowed). When set, pinning replaces CA verification.
  std::string fingerprint;
};

class TlsClientContext {
 public:
  // kIo / kBadPem for unusable root files, kBadFingerprint for a fingerprint
  // that is not 64 hex digits.
  static TlsResult<TlsClientContext> create(const TlsClientConfig& config);

  // A QUIC client session: TLS 1.3, ALPN "h3" required, configured with
  // ngtcp2_crypto_gnutls_configure_client_session, session pointer `conn_ref`
  // (must outlive the session). `host` is the URL host ("relay.example",
  // "127.0.0.1", "[::1]"): it becomes the SNI (not for IP literals, per
  // RFC 6066) and the name the certificate is verified against.
  TlsResult<TlsSession> new_session(ngtcp2_crypto_conn_ref* conn_ref, std::string_view host) const;

  // The same verification for TLS over a byte stream (TCP).
  TlsResult<TlsSession> new_stream_session(std::string_view host,
                                           const AlpnPolicy& alpn = AlpnPolicy::h3()) const;

  bool pinned() const;

 private:
  explicit TlsClientContext(std::shared_ptr<detail::ClientState> state)
      : state_(std::move(state)) {}

  std::shared_ptr<detail::ClientState> state_;
};

}  // namespace moq::quic
