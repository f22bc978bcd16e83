#pragma once

// Internal helpers shared by the tls_*.cpp files: RAII owners for GnuTLS
// handles and error conversion. Not part of the public API.

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "quic/tls_result.h"

namespace moq::quic::detail {

struct CrtDeleter {
  void operator()(gnutls_x509_crt_int* p) const { gnutls_x509_crt_deinit(p); }
};
struct X509KeyDeleter {
  void operator()(gnutls_x509_privkey_int* p) const { gnutls_x509_privkey_deinit(p); }
};
struct PrivkeyDeleter {
  void operator()(gnutls_privkey_st* p) const { gnutls_privkey_deinit(p); }
};
struct PubkeyDeleter {
  void operator()(gnutls_pubkey_st* p) const { gnutls_pubkey_deinit(p); }
};
using Crt = std::unique_ptr<gnutls_x509_crt_int, CrtDeleter>;
using X509Key = std::unique_ptr<gnutls_x509_privkey_int, X509KeyDeleter>;
using Privkey = std::unique_ptr<gnutls_privkey_st, PrivkeyDeleter>;
using Pubkey = std::unique_ptr<gnutls_pubkey_st, PubkeyDeleter>;

// A datum allocated by GnuTLS (gnutls_free on destruction).
struct GnutlsDatum {
  gnutls_datum_t d{nullptr, 0};
  GnutlsDatum() = default;
  GnutlsDatum(const GnutlsDatum&) = delete;
  GnutlsDatum& operator=(const GnutlsDatum&) = delete;
  ~GnutlsDatum() { gnutls_free(d.data); }
  std::string str() const { return {reinterpret_cast<const char*>(d.data), d.size}; }
  std::vector<uint8_t> bytes() const { return {d.data, d.data + d.size}; }
};

// A read-only view as a gnutls_datum_t (GnuTLS does not write through it).
inline gnutls_datum_t as_datum(std::string_view s) {
  return {reinterpret_cast<unsigned char*>(const_cast<char*>(s.data())),
          static_cast<unsigned int>(s.size())};
}
inline gnutls_datum_t as_datum(std::span<const uint8_t> s) {
  return {const_cast<unsigned char*>(s.data()), static_cast<unsigned int>(s.size())};
}

// QUIC (RFC 9001): TLS 1.3 only, the cipher suites QUIC defines, no middlebox
// compatibility mode.
inline constexpr const char* kQuicPriority =
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"
    "+CHACHA20-POLY1305:+AES-128-CCM:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:"
    "+GROUP-SECP384R1:+GROUP-SECP521R1:%DISABLE_TLS13_COMPAT_MODE";
// TLS over TCP: TLS 1.3 and 1.2.
inline constexpr const char* kStreamPriority = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";

inline TlsError gnutls_error(int rv, std::string_view what, TlsErrc errc = TlsErrc::kGnutls) {
  return {errc, std::string(what) + ": " + gnutls_strerror(rv)};
}

// Reads a whole file; kIo with the OS reason when it cannot.
TlsResult<std::string> read_file(const std::filesystem::path& path);

// Sets the ALPN list; with `required`, a handshake in which the peer agrees
// on none of them fails (server: checked after ClientHello; client: after the
// server's Finished).
TlsResult<void> set_alpn(gnutls_session_t session, const std::vector<std::string>& protocols,
                         bool required, bool server);

// SHA-256 key id of a public key (to check that a key matches a certificate).
TlsResult<std::vector<uint8_t>> key_id(gnutls_pubkey_t pub);

}  // namespace moq::quic::detail
