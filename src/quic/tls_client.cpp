#include "quic/tls_client.h"

#include <arpa/inet.h>
#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include "quic/tls_cert.h"
#include "quic/tls_gnutls.h"

namespace moq::quic {

using detail::gnutls_error;

namespace detail {

struct ClientState {
  gnutls_certificate_credentials_t cred = nullptr;
  std::optional<std::array<uint8_t, 32>> pin;

  ClientState() = default;
  ClientState(const ClientState&) = delete;
  ClientState& operator=(const ClientState&) = delete;
  ~ClientState() {
    if (cred != nullptr) gnutls_certificate_free_credentials(cred);
  }
};

}  // namespace detail

namespace {

using detail::ClientState;

// Pinning: accept exactly the leaf whose SHA-256 is the pinned one. The state
// travels in the db pointer (see tls_server.cpp): the session pointer is the
// ngtcp2 conn_ref.
int verify_pinned(gnutls_session_t session) {
  auto* state = static_cast<const ClientState*>(gnutls_db_get_ptr(session));
  if (state == nullptr || !state->pin) return GNUTLS_E_CERTIFICATE_ERROR;
  unsigned n = 0;
  const gnutls_datum_t* certs = gnutls_certificate_get_peers(session, &n);
  if (certs == nullptr || n == 0) return GNUTLS_E_CERTIFICATE_ERROR;
  std::array<uint8_t, 32> digest{};
  if (gnutls_hash_fast(GNUTLS_DIG_SHA256, certs[0].data, certs[0].size, digest.data()) < 0) {
    return GNUTLS_E_CERTIFICATE_ERROR;
  }
  uint8_t diff = 0;  // compare all bytes
  for (size_t i = 0; i < digest.size(); ++i)
    diff = static_cast<uint8_t>(diff | (digest[i] ^ (*state->pin)[i]));
  return diff == 0 ? 0 : GNUTLS_E_CERTIFICATE_ERROR;
}

bool is_ip_literal(const std::string& host) {
  std::array<uint8_t, 16> buf{};
  return inet_pton(AF_INET, host.c_str(), buf.data()) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buf.data()) == 1;
}

// What a client session points into: the context state, and the host name,
// which gnutls_session_set_verify_cert keeps by pointer (no copy).
struct ClientSessionData {
  std::shared_ptr<const ClientState> state;
  std::string host;
};

TlsResult<std::shared_ptr<ClientSessionData>> session_data(std::shared_ptr<const ClientState> state,
                                                           std::string_view host_in) {
  std::string host(host_in);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || host.find('\0') != std::string::npos) {
    return TlsError{TlsErrc::kInvalidArgument,
                    "bad server host name: '" + std::string(host_in) + "'"};
  }
  return std::make_shared<ClientSessionData>(ClientSessionData{std::move(state), std::move(host)});
}

TlsResult<void> configure_client(gnutls_session_t session, const ClientSessionData& data,
                                 const char* priority, const AlpnPolicy& alpn) {
  const ClientState& state = *data.state;
  const std::string& host = data.host;
  if (int rv = gnutls_priority_set_direct(session, priority, nullptr); rv < 0) {
    return gnutls_error(rv, "gnutls_priority_set_direct");
  }
  gnutls_db_set_ptr(session, const_cast<ClientState*>(&state));
  if (int rv = gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, state.cred); rv < 0) {
    return gnutls_error(rv, "gnutls_credentials_set");
  }
  if (auto r = detail::set_alpn(session, alpn.protocols, alpn.required, /*server=*/false); !r) {
    return r;
  }
  if (!is_ip_literal(host)) {
    if (int rv = gnutls_server_name_set(session, GNUTLS_NAME_DNS, host.data(), host.size());
        rv < 0) {
      return gnutls_error(rv, "gnutls_server_name_set");
    }
  }
  if (!state.pin) {
    // Chain to a trusted root, dates, and the name (DNS or IP SAN) of `host`.
    gnutls_session_set_verify_cert(session, host.c_str(), 0);
  }
  return {};
}

}  // namespace

TlsResult<TlsClientContext> TlsClientContext::create(const TlsClientConfig& config) {
  auto state = std::make_shared<ClientState>();
  if (!config.fingerprint.empty()) {
    auto pin = parse_fingerprint_hex(config.fingerprint);
    if (!pin) return pin.error();
    state->pin = *pin;
  }

  if (int rv = gnutls_certificate_allocate_credentials(&state->cred); rv < 0) {
    return gnutls_error(rv, "gnutls_certificate_allocate_credentials");
  }

  if (state->pin) {
    // The pin replaces every other check.
    gnutls_certificate_set_verify_function(state->cred, verify_pinned);
    return TlsClientContext(std::move(state));
  }

  auto add_roots = [&](std::string_view pem, const std::string& label) -> TlsResult<void> {
    auto in = detail::as_datum(pem);
    int rv = gnutls_certificate_set_x509_trust_mem(state->cred, &in, GNUTLS_X509_FMT_PEM);
    if (rv < 0) return gnutls_error(rv, label, TlsErrc::kBadPem);
    if (rv == 0) return TlsError{TlsErrc::kBadPem, label + ": no certificate found"};
    return {};
  };
  for (const auto& path : config.root_files) {
    auto pem = detail::read_file(path);
    if (!pem) return pem.error();
    if (auto r = add_roots(*pem, path.string()); !r) return r.error();
  }
  for (size_t i = 0; i < config.root_pems.size(); ++i) {
    if (auto r = add_roots(config.root_pems[i], "root #" + std::to_string(i)); !r) {
      return r.error();
    }
  }
  if (config.root_files.empty() && config.root_pems.empty()) {
    // Zero system roots is not an error here: every verification will fail
    // with a clear "unknown issuer" instead.
    if (int rv = gnutls_certificate_set_x509_system_trust(state->cred); rv < 0) {
      return gnutls_error(rv, "gnutls_certificate_set_x509_system_trust");
    }
  }
  return TlsClientContext(std::move(state));
}

TlsResult<TlsSession> TlsClientContext::new_session(ngtcp2_crypto_conn_ref* conn_ref,
                                                    std::string_view host) const {
  if (conn_ref == nullptr) {
    return TlsError{TlsErrc::kInvalidArgument, "new_session needs a conn_ref"};
  }
  auto data = session_data(state_, host);
  if (!data) return data.error();
  gnutls_session_t raw = nullptr;
  // No resumption yet: do not ask for tickets.
  if (int rv = gnutls_init(&raw, GNUTLS_CLIENT | GNUTLS_NO_TICKETS); rv < 0) {
    return gnutls_error(rv, "gnutls_init");
  }
  TlsSession session(raw, *data);
  if (auto r = configure_client(raw, **data, detail::kQuicPriority, AlpnPolicy::h3()); !r) {
    return r.error();
  }
  if (ngtcp2_crypto_gnutls_configure_client_session(raw) != 0) {
    return TlsError{TlsErrc::kGnutls, "ngtcp2_crypto_gnutls_configure_client_session failed"};
  }
  gnutls_session_set_ptr(raw, conn_ref);
  return session;
}

TlsResult<TlsSession> TlsClientContext::new_stream_session(std::string_view host,
                                                           const AlpnPolicy& alpn) const {
  auto data = session_data(state_, host);
  if (!data) return data.error();
  gnutls_session_t raw = nullptr;
  if (int rv = gnutls_init(&raw, GNUTLS_CLIENT | GNUTLS_NO_TICKETS); rv < 0) {
    return gnutls_error(rv, "gnutls_init");
  }
  TlsSession session(raw, *data);
  if (auto r = configure_client(raw, **data, detail::kStreamPriority, alpn); !r) {
    return r.error();
  }
  return session;
}

bool TlsClientContext::pinned() const {
  return state_->pin.has_value();
}

}  // namespace moq::quic
