#include "quic/tls_server.h"

#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include <cassert>
#include <cstring>

#include "quic/tls_gnutls.h"

namespace moq::quic {

using detail::gnutls_error;

namespace detail {

// One certificate chain and its key, ready for the retrieve callback.
struct ServerPair {
  std::vector<gnutls_pcert_st> pcerts;  // leaf first
  gnutls_privkey_t key = nullptr;
  Crt leaf;
  std::vector<uint8_t> leaf_der;

  ServerPair() = default;
  ServerPair(const ServerPair&) = delete;
  ServerPair& operator=(const ServerPair&) = delete;
  ~ServerPair() {
    for (auto& p : pcerts)
      gnutls_pcert_deinit(&p);
    if (key != nullptr) gnutls_privkey_deinit(key);
  }
};

struct ServerState {
  std::vector<std::unique_ptr<ServerPair>> pairs;
  gnutls_certificate_credentials_t cred = nullptr;
  gnutls_datum_t ticket_key{nullptr, 0};
  gnutls_anti_replay_t anti_replay = nullptr;
  bool session_tickets = false;
  bool early_data = false;

  ServerState() = default;
  ServerState(const ServerState&) = delete;
  ServerState& operator=(const ServerState&) = delete;
  ~ServerState() {
    if (cred != nullptr) gnutls_certificate_free_credentials(cred);
    if (anti_replay != nullptr) gnutls_anti_replay_deinit(anti_replay);
    if (ticket_key.data != nullptr) {
      gnutls_memset(ticket_key.data, 0, ticket_key.size);
      gnutls_free(ticket_key.data);
    }
  }

  size_t select(std::string_view name) const {
    assert(!pairs.empty());
    if (!name.empty()) {
      std::string host(name);
      for (size_t i = 0; i < pairs.size(); ++i) {
        if (gnutls_x509_crt_check_hostname(pairs[i]->leaf.get(), host.c_str()) != 0) return i;
      }
    }
    return pairs.size() - 1;
  }
};

namespace {

int server_alpn_hook(gnutls_session_t session, unsigned /*htype*/, unsigned /*when*/,
                     unsigned /*incoming*/, const gnutls_datum_t* /*msg*/) {
  // GNUTLS_ALPN_MANDATORY refuses a ClientHello whose ALPN list shares nothing
  // with ours; this also refuses one that has no ALPN extension at all.
  gnutls_datum_t proto{nullptr, 0};
  if (gnutls_alpn_get_selected_protocol(session, &proto) != 0) {
    return GNUTLS_E_NO_APPLICATION_PROTOCOL;
  }
  return 0;
}

int client_alpn_hook(gnutls_session_t session, unsigned /*htype*/, unsigned /*when*/,
                     unsigned incoming, const gnutls_datum_t* /*msg*/) {
  if (incoming == 0) return 0;  // our own Finished
  gnutls_datum_t proto{nullptr, 0};
  if (gnutls_alpn_get_selected_protocol(session, &proto) != 0) {
    return GNUTLS_E_NO_APPLICATION_PROTOCOL;
  }
  return 0;
}

}  // namespace

TlsResult<void> set_alpn(gnutls_session_t session, const std::vector<std::string>& protocols,
                         bool required, bool server) {
  if (protocols.empty()) {
    if (required) return TlsError{TlsErrc::kInvalidArgument, "ALPN required but none given"};
    return {};
  }
  std::vector<gnutls_datum_t> list;
  list.reserve(protocols.size());
  for (const auto& p : protocols) {
    if (p.empty() || p.size() > 255) {
      return TlsError{TlsErrc::kInvalidArgument, "bad ALPN protocol id: '" + p + "'"};
    }
    list.push_back(as_datum(std::string_view(p)));
  }
  unsigned flags = required ? GNUTLS_ALPN_MANDATORY : 0;
  if (server) flags |= GNUTLS_ALPN_SERVER_PRECEDENCE;
  // gnutls copies the protocol names.
  if (int rv = gnutls_alpn_set_protocols(session, list.data(), static_cast<unsigned>(list.size()),
                                         flags);
      rv != 0) {
    return gnutls_error(rv, "gnutls_alpn_set_protocols");
  }
  if (required) {
    if (server) {
      gnutls_handshake_set_hook_function(session, GNUTLS_HANDSHAKE_CLIENT_HELLO, GNUTLS_HOOK_POST,
                                         server_alpn_hook);
    } else {
      gnutls_handshake_set_hook_function(session, GNUTLS_HANDSHAKE_FINISHED, GNUTLS_HOOK_POST,
                                         client_alpn_hook);
    }
  }
  return {};
}

}  // namespace detail

namespace {

using detail::ServerPair;
using detail::ServerState;

// Certificate selection, called by GnuTLS once the ClientHello (with SNI) is
// parsed. The context state travels in the session's db pointer because the
// session pointer proper belongs to ngtcp2 (the conn_ref); with TLS 1.3
// tickets and no session database, GnuTLS makes no other use of it.
int retrieve_certificate(gnutls_session_t session, const gnutls_datum_t* /*req_ca_rdn*/,
                         int /*nreqs*/, const gnutls_pk_algorithm_t* /*pk_algos*/,
                         int /*pk_algos_length*/, gnutls_pcert_st** pcert,
                         unsigned int* pcert_length, gnutls_privkey_t* privkey) {
  auto* state = static_cast<const ServerState*>(gnutls_db_get_ptr(session));
  if (state == nullptr || state->pairs.empty()) return GNUTLS_E_INSUFFICIENT_CREDENTIALS;

  char name[256];
  size_t size = sizeof(name);
  unsigned type = 0;
  std::string_view sni;
  if (gnutls_server_name_get(session, name, &size, &type, 0) == 0 && type == GNUTLS_NAME_DNS) {
    sni = std::string_view(name, strnlen(name, size));
  }

  ServerPair& pair = *state->pairs[state->select(sni)];
  // GnuTLS neither copies nor frees these: they stay owned by the state,
  // which every session keeps alive.
  *pcert = pair.pcerts.data();
  *pcert_length = static_cast<unsigned>(pair.pcerts.size());
  *privkey = pair.key;
  return 0;
}

int accept_all_anti_replay(void* /*db*/, time_t /*exp_time*/, const gnutls_datum_t* /*key*/,
                           const gnutls_datum_t* /*data*/) {
  return 0;
}

TlsResult<std::unique_ptr<ServerPair>> load_pair(const PemPair& pem, const std::string& label) {
  auto pair = std::make_unique<ServerPair>();

  // The chain.
  gnutls_x509_crt_t* crts = nullptr;
  unsigned ncrts = 0;
  auto cert_in = detail::as_datum(std::string_view(pem.cert_pem));
  int rv = gnutls_x509_crt_list_import2(&crts, &ncrts, &cert_in, GNUTLS_X509_FMT_PEM, 0);
  if (rv < 0 || ncrts == 0) {
    if (rv >= 0) rv = GNUTLS_E_NO_CERTIFICATE_FOUND;
    return gnutls_error(rv, label + ": certificate", TlsErrc::kBadPem);
  }
  pair->pcerts.resize(ncrts);
  unsigned imported = ncrts;
  rv = gnutls_pcert_import_x509_list(pair->pcerts.data(), crts, &imported, 0);
  pair->leaf.reset(crts[0]);
  for (unsigned i = 1; i < ncrts; ++i)
    gnutls_x509_crt_deinit(crts[i]);
  gnutls_free(crts);
  if (rv < 0) {
    pair->pcerts.clear();  // nothing was imported
    return gnutls_error(rv, label + ": certificate", TlsErrc::kBadPem);
  }
  pair->pcerts.resize(imported);
  const gnutls_datum_t& leaf = pair->pcerts[0].cert;
  pair->leaf_der.assign(leaf.data, leaf.data + leaf.size);

  // The key.
  if (rv = gnutls_privkey_init(&pair->key); rv < 0) return gnutls_error(rv, "gnutls_privkey_init");
  auto key_in = detail::as_datum(std::string_view(pem.key_pem));
  if (rv = gnutls_privkey_import_x509_raw(pair->key, &key_in, GNUTLS_X509_FMT_PEM, nullptr, 0);
      rv < 0) {
    return gnutls_error(rv, label + ": private key", TlsErrc::kBadPem);
  }

  // Does the key belong to the leaf?
  gnutls_pubkey_t raw_pub = nullptr;
  if (rv = gnutls_pubkey_init(&raw_pub); rv < 0) return gnutls_error(rv, "gnutls_pubkey_init");
  detail::Pubkey from_key(raw_pub);
  if (rv = gnutls_pubkey_import_privkey(from_key.get(), pair->key, 0, 0); rv < 0) {
    return gnutls_error(rv, label + ": private key", TlsErrc::kBadPem);
  }
  auto key_id = detail::key_id(from_key.get());
  auto cert_id = detail::key_id(pair->pcerts[0].pubkey);
  if (!key_id) return key_id.error();
  if (!cert_id) return cert_id.error();
  if (*key_id != *cert_id) {
    return TlsError{TlsErrc::kKeyMismatch,
                    label + ": the private key does not match the certificate"};
  }
  return pair;
}

}  // namespace

TlsResult<TlsServerContext> TlsServerContext::create(const TlsServerConfig& config) {
  if (config.cert_files.size() != config.key_files.size()) {
    return TlsError{TlsErrc::kCountMismatch,
                    std::to_string(config.cert_files.size()) + " certificate file(s) but " +
                        std::to_string(config.key_files.size()) + " key file(s)"};
  }
  if (config.cert_files.empty() && config.pem_pairs.empty()) {
    return TlsError{TlsErrc::kNoCertificate, "no certificate configured"};
  }

  auto state = std::make_shared<ServerState>();
  for (size_t i = 0; i < config.cert_files.size(); ++i) {
    auto pem = read_pem_files(config.cert_files[i], config.key_files[i]);
    if (!pem) return pem.error();
    auto pair =
        load_pair(*pem, config.cert_files[i].string() + " / " + config.key_files[i].string());
    if (!pair) return pair.error();
    state->pairs.push_back(std::move(*pair));
  }
  for (size_t i = 0; i < config.pem_pairs.size(); ++i) {
    auto pair = load_pair(config.pem_pairs[i], "certificate pair #" + std::to_string(i));
    if (!pair) return pair.error();
    state->pairs.push_back(std::move(*pair));
  }

  if (int rv = gnutls_certificate_allocate_credentials(&state->cred); rv < 0) {
    return gnutls_error(rv, "gnutls_certificate_allocate_credentials");
  }
  gnutls_certificate_set_retrieve_function2(state->cred, retrieve_certificate);

  state->early_data = config.early_data;
  state->session_tickets = config.session_tickets || config.early_data;
  if (state->session_tickets) {
    if (int rv = gnutls_session_ticket_key_generate(&state->ticket_key); rv < 0) {
      return gnutls_error(rv, "gnutls_session_ticket_key_generate");
    }
  }
  if (state->early_data) {
    if (int rv = gnutls_anti_replay_init(&state->anti_replay); rv < 0) {
      return gnutls_error(rv, "gnutls_anti_replay_init");
    }
    gnutls_anti_replay_set_add_function(state->anti_replay, accept_all_anti_replay);
    gnutls_anti_replay_set_ptr(state->anti_replay, nullptr);
  }
  return TlsServerContext(std::move(state));
}

namespace {

// Everything the QUIC and the TCP sessions share. `session` is freed by the
// caller on error.
TlsResult<void> configure_server(gnutls_session_t session, const ServerState& state,
                                 const char* priority) {
  if (int rv = gnutls_priority_set_direct(session, priority, nullptr); rv < 0) {
    return gnutls_error(rv, "gnutls_priority_set_direct");
  }
  if (state.session_tickets) {
    if (int rv = gnutls_session_ticket_enable_server(session, &state.ticket_key); rv < 0) {
      return gnutls_error(rv, "gnutls_session_ticket_enable_server");
    }
  }
  gnutls_db_set_ptr(session, const_cast<ServerState*>(&state));
  if (int rv = gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, state.cred); rv < 0) {
    return gnutls_error(rv, "gnutls_credentials_set");
  }
  return {};
}

}  // namespace

TlsResult<TlsSession> TlsServerContext::new_session(ngtcp2_crypto_conn_ref* conn_ref) const {
  if (conn_ref == nullptr) {
    return TlsError{TlsErrc::kInvalidArgument, "new_session needs a conn_ref"};
  }
  unsigned flags = GNUTLS_SERVER | GNUTLS_NO_END_OF_EARLY_DATA;
  flags |= state_->session_tickets ? GNUTLS_NO_AUTO_SEND_TICKET : GNUTLS_NO_TICKETS;
  if (state_->early_data) flags |= GNUTLS_ENABLE_EARLY_DATA;

  gnutls_session_t raw = nullptr;
  if (int rv = gnutls_init(&raw, flags); rv < 0) return gnutls_error(rv, "gnutls_init");
  TlsSession session(raw, state_);

  if (auto r = configure_server(raw, *state_, detail::kQuicPriority); !r) return r.error();
  if (auto r = detail::set_alpn(raw, {kAlpnH3}, /*required=*/true, /*server=*/true); !r) {
    return r.error();
  }
  if (ngtcp2_crypto_gnutls_configure_server_session(raw) != 0) {
    return TlsError{TlsErrc::kGnutls, "ngtcp2_crypto_gnutls_configure_server_session failed"};
  }
  if (state_->early_data) {
    gnutls_anti_replay_enable(raw, state_->anti_replay);
    gnutls_record_set_max_early_data_size(raw, 0xffffffffu);
  }
  gnutls_session_set_ptr(raw, conn_ref);
  return session;
}

TlsResult<TlsSession> TlsServerContext::new_stream_session(const AlpnPolicy& alpn) const {
  unsigned flags = GNUTLS_SERVER;
  if (!state_->session_tickets) flags |= GNUTLS_NO_TICKETS;
  gnutls_session_t raw = nullptr;
  if (int rv = gnutls_init(&raw, flags); rv < 0) return gnutls_error(rv, "gnutls_init");
  TlsSession session(raw, state_);

  if (auto r = configure_server(raw, *state_, detail::kStreamPriority); !r) return r.error();
  if (auto r = detail::set_alpn(raw, alpn.protocols, alpn.required, /*server=*/true); !r) {
    return r.error();
  }
  return session;
}

size_t TlsServerContext::select_certificate(std::string_view server_name) const {
  return state_->select(server_name);
}

size_t TlsServerContext::certificate_count() const {
  return state_->pairs.size();
}

const std::vector<uint8_t>& TlsServerContext::leaf_der(size_t index) const {
  return state_->pairs.at(index)->leaf_der;
}

std::string TlsServerContext::fingerprint_hex(size_t index) const {
  return sha256_fingerprint_hex(leaf_der(index));
}

gnutls_certificate_retrieve_function2* TlsServerContext::certificate_callback() {
  return retrieve_certificate;
}

void TlsServerContext::attach(gnutls_session_t session) const {
  gnutls_db_set_ptr(session, state_.get());
}

}  // namespace moq::quic
