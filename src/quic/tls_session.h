#pragma once

// One TLS session (one connection). Created by TlsServerContext or
// TlsClientContext; owns the gnutls_session_t and keeps the context's
// credentials alive for as long as it lives.

#include <gnutls/gnutls.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "quic/tls_result.h"

namespace moq::quic {

// The ALPN identifier of HTTP/3, the only one a QUIC session accepts.
inline constexpr const char* kAlpnH3 = "h3";

// ALPN offered by a TLS-over-TCP session. With `required`, a peer that
// negotiates none of `protocols` is refused during the handshake.
struct AlpnPolicy {
  std::vector<std::string> protocols;
  bool required = false;

  static AlpnPolicy h3() { return {{kAlpnH3}, true}; }
  // What the relay's `--dev` HTTPS listener (GET /fingerprint) offers.
  static AlpnPolicy http11() { return {{"http/1.1"}, false}; }
};

class TlsSession {
 public:
  TlsSession() = default;
  TlsSession(TlsSession&& other) noexcept;
  TlsSession& operator=(TlsSession&& other) noexcept;
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;
  ~TlsSession();

  // For ngtcp2_conn_set_tls_native_handle() and plain gnutls calls. Still
  // owned by this object.
  gnutls_session_t get() const { return session_; }
  explicit operator bool() const { return session_ != nullptr; }

  // The negotiated ALPN protocol ("" before the handshake or if none).
  std::string alpn() const;
  // Server side: the SNI host name the client asked for ("" if none).
  std::string server_name() const;
  // The DER leaf certificate the peer presented (empty if none).
  std::vector<uint8_t> peer_leaf_der() const;
  // The DER leaf certificate this side presented (empty if none).
  std::vector<uint8_t> own_leaf_der() const;

  // Server side, after the handshake completed, when the context was created
  // with session tickets: sends one NewSessionTicket (QUIC servers send it
  // themselves, as ngtcp2's example does from handshake_completed).
  TlsResult<void> send_session_ticket();

 private:
  friend class TlsServerContext;
  friend class TlsClientContext;
  TlsSession(gnutls_session_t session, std::shared_ptr<const void> keep_alive)
      : session_(session), keep_alive_(std::move(keep_alive)) {}

  void reset();

  gnutls_session_t session_ = nullptr;
  std::shared_ptr<const void> keep_alive_;  // the context state the session points into
};

}  // namespace moq::quic
