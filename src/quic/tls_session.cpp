#include "quic/tls_session.h"

#include <cstring>
#include <utility>

#include "quic/tls_gnutls.h"

namespace moq::quic {

TlsSession::TlsSession(TlsSession&& other) noexcept
    : session_(std::exchange(other.session_, nullptr)), keep_alive_(std::move(other.keep_alive_)) {}

TlsSession& TlsSession::operator=(TlsSession&& other) noexcept {
  if (this != &other) {
    reset();
    session_ = std::exchange(other.session_, nullptr);
    keep_alive_ = std::move(other.keep_alive_);
  }
  return *this;
}

TlsSession::~TlsSession() {
  reset();
}

void TlsSession::reset() {
  if (session_ != nullptr) gnutls_deinit(session_);
  session_ = nullptr;
  keep_alive_.reset();  // after gnutls_deinit: the session points into it
}

std::string TlsSession::alpn() const {
  gnutls_datum_t proto{nullptr, 0};
  if (!session_ || gnutls_alpn_get_selected_protocol(session_, &proto) != 0) return {};
  return {reinterpret_cast<const char*>(proto.data), proto.size};
}

std::string TlsSession::server_name() const {
  if (!session_) return {};
  char name[256];
  size_t size = sizeof(name);
  unsigned type = 0;
  if (gnutls_server_name_get(session_, name, &size, &type, 0) != 0 || type != GNUTLS_NAME_DNS) {
    return {};
  }
  return {name, strnlen(name, size)};
}

std::vector<uint8_t> TlsSession::peer_leaf_der() const {
  unsigned n = 0;
  const gnutls_datum_t* certs = session_ ? gnutls_certificate_get_peers(session_, &n) : nullptr;
  if (certs == nullptr || n == 0) return {};
  return {certs[0].data, certs[0].data + certs[0].size};
}

std::vector<uint8_t> TlsSession::own_leaf_der() const {
  const gnutls_datum_t* cert = session_ ? gnutls_certificate_get_ours(session_) : nullptr;
  if (cert == nullptr) return {};
  return {cert->data, cert->data + cert->size};
}

TlsResult<void> TlsSession::send_session_ticket() {
  if (!session_) return TlsError{TlsErrc::kInvalidArgument, "no session"};
  if (int rv = gnutls_session_ticket_send(session_, 1, 0); rv != 0) {
    return detail::gnutls_error(rv, "gnutls_session_ticket_send");
  }
  return {};
}

}  // namespace moq::quic
