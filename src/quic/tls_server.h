#pragma once

// Server-side TLS for QUIC (and for the `--dev` HTTPS listener over TCP).
//
// One TlsServerContext per process holds the credentials, the session-ticket
// key and the anti-replay state; each connection gets its own TlsSession from
// new_session(). Configuration is passed in, never read from a global.

#include <gnutls/abstract.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "quic/tls_cert.h"
#include "quic/tls_result.h"
#include "quic/tls_session.h"

namespace moq::quic {

namespace detail {
struct ServerState;
}

struct TlsServerConfig {
  // `--tls-cert` / `--tls-key`, paired by position: PEM chain (leaf first)
  // and PEM private key (PKCS#8, SEC1 EC or PKCS#1 RSA).
  std::vector<std::filesystem::path> cert_files;
  std::vector<std::filesystem::path> key_files;
  // Pairs already in memory (e.g. a generated `--dev` certificate); they come
  // after the file pairs in the SNI order.
  std::vector<PemPair> pem_pairs;
  // Issue TLS 1.3 session tickets (sent by TlsSession::send_session_ticket).
  bool session_tickets = false;
  // Accept 0-RTT early data (needs session_tickets and 0-RTT support in the
  // QUIC connection code). Replays are not detected.
  bool early_data = false;
};

class TlsServerContext {
 public:
  // Loads and checks every pair: unreadable files (kIo), bad PEM (kBadPem),
  // a key that does not match its leaf (kKeyMismatch), differing numbers of
  // certificates and keys (kCountMismatch), no pair at all (kNoCertificate).
  static TlsResult<TlsServerContext> create(const TlsServerConfig& config);

  // A QUIC server session for one connection: TLS 1.3 only, ALPN "h3"
  // required (a client that does not offer it is refused), configured with
  // ngtcp2_crypto_gnutls_configure_server_session. The session pointer
  // (gnutls_session_get_ptr) is `conn_ref`, which must outlive the session.
  // Attach it with ngtcp2_conn_set_tls_native_handle(conn, session.get()).
  TlsResult<TlsSession> new_session(ngtcp2_crypto_conn_ref* conn_ref) const;

  // A plain TLS session for a byte stream (TCP), with the same certificates
  // and SNI rule; the caller sets the transport (gnutls_transport_set_*).
  TlsResult<TlsSession> new_stream_session(const AlpnPolicy& alpn = AlpnPolicy::http11()) const;

  // The certificate for an SNI name: the first pair whose leaf is valid for
  // `server_name` (gnutls_x509_crt_check_hostname), else the last pair.
  size_t select_certificate(std::string_view server_name) const;

  size_t certificate_count() const;
  // DER of the leaf certificate of pair `index`.
  const std::vector<uint8_t>& leaf_der(size_t index) const;
  // Lowercase hex SHA-256 of that leaf (`--dev` serves index 0 at /fingerprint).
  std::string fingerprint_hex(size_t index = 0) const;

  // For a TLS stack that makes its own gnutls sessions (the HTTP server on
  // libmicrohttpd): give its credentials `certificate_callback()` as their
  // retrieve function and `attach()` each session before its handshake; the
  // session then presents what this context's own sessions would (same pairs,
  // same SNI rule). Uses the session's db pointer, like new_session(). This
  // context (or a copy) must outlive the attached sessions.
  static gnutls_certificate_retrieve_function2* certificate_callback();
  void attach(gnutls_session_t session) const;

 private:
  explicit TlsServerContext(std::shared_ptr<detail::ServerState> state)
      : state_(std::move(state)) {}

  // Sessions share the state; it lives until the last of them is gone.
  std::shared_ptr<detail::ServerState> state_;
};

}  // namespace moq::quic
