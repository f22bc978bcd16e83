#include "quic/tls_cert.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "quic/tls_gnutls.h"

namespace moq::quic {

const char* to_string(TlsErrc errc) {
  switch (errc) {
    case TlsErrc::kIo:
      return "io";
    case TlsErrc::kBadPem:
      return "bad pem";
    case TlsErrc::kKeyMismatch:
      return "key mismatch";
    case TlsErrc::kCountMismatch:
      return "count mismatch";
    case TlsErrc::kNoCertificate:
      return "no certificate";
    case TlsErrc::kBadFingerprint:
      return "bad fingerprint";
    case TlsErrc::kInvalidArgument:
      return "invalid argument";
    case TlsErrc::kGnutls:
      return "gnutls";
  }
  return "unknown";
}

namespace detail {

TlsResult<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return TlsError{TlsErrc::kIo, "cannot read " + path.string() + ": " + std::strerror(errno)};
  }
  std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    return TlsError{TlsErrc::kIo, "cannot read " + path.string() + ": " + std::strerror(errno)};
  }
  return out;
}

TlsResult<std::vector<uint8_t>> key_id(gnutls_pubkey_t pub) {
  std::vector<uint8_t> id(64);
  size_t size = id.size();
  if (int rv = gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, id.data(), &size); rv < 0) {
    return gnutls_error(rv, "gnutls_pubkey_get_key_id");
  }
  id.resize(size);
  return id;
}

}  // namespace detail

using detail::gnutls_error;

namespace {

TlsResult<void> write_file(const std::filesystem::path& path, std::string_view data, int mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    return TlsError{TlsErrc::kIo, "cannot write " + path.string() + ": " + std::strerror(errno)};
  }
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return TlsError{TlsErrc::kIo, "cannot write " + path.string() + ": " + std::strerror(err)};
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) {
    return TlsError{TlsErrc::kIo, "cannot write " + path.string() + ": " + std::strerror(errno)};
  }
  return {};
}

// An IP address literal as the 4 or 16 raw bytes a SAN iPAddress holds.
TlsResult<std::vector<uint8_t>> ip_bytes(const std::string& text) {
  std::array<uint8_t, 16> buf{};
  if (inet_pton(AF_INET, text.c_str(), buf.data()) == 1) {
    return std::vector<uint8_t>(buf.begin(), buf.begin() + 4);
  }
  if (inet_pton(AF_INET6, text.c_str(), buf.data()) == 1) {
    return std::vector<uint8_t>(buf.begin(), buf.end());
  }
  return TlsError{TlsErrc::kInvalidArgument, "not an IP address: " + text};
}

}  // namespace

TlsResult<PemPair> generate_self_signed(const SelfSignedOptions& options) {
  using namespace std::chrono;
  if (options.validity <= seconds(0)) {
    return TlsError{TlsErrc::kInvalidArgument, "certificate validity must be positive"};
  }

  gnutls_x509_privkey_t raw_key = nullptr;
  if (int rv = gnutls_x509_privkey_init(&raw_key); rv < 0) {
    return gnutls_error(rv, "gnutls_x509_privkey_init");
  }
  detail::X509Key key(raw_key);
  int rv = options.key_type == KeyType::kEcdsaP256
               ? gnutls_x509_privkey_generate2(key.get(), GNUTLS_PK_ECDSA,
                                               GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0,
                                               nullptr, 0)
               : gnutls_x509_privkey_generate2(key.get(), GNUTLS_PK_RSA, 2048, 0, nullptr, 0);
  if (rv < 0) return gnutls_error(rv, "gnutls_x509_privkey_generate2");

  gnutls_x509_crt_t raw_crt = nullptr;
  if (rv = gnutls_x509_crt_init(&raw_crt); rv < 0) return gnutls_error(rv, "gnutls_x509_crt_init");
  detail::Crt crt(raw_crt);

  if (rv = gnutls_x509_crt_set_version(crt.get(), 3); rv < 0) {
    return gnutls_error(rv, "gnutls_x509_crt_set_version");
  }
  std::array<uint8_t, 16> serial{};
  if (rv = gnutls_rnd(GNUTLS_RND_NONCE, serial.data(), serial.size()); rv < 0) {
    return gnutls_error(rv, "gnutls_rnd");
  }
  serial[0] = static_cast<uint8_t>((serial[0] & 0x7f) | 0x01);  // positive, no leading zero
  if (rv = gnutls_x509_crt_set_serial(crt.get(), serial.data(), serial.size()); rv < 0) {
    return gnutls_error(rv, "gnutls_x509_crt_set_serial");
  }

  auto now = options.now.value_or(system_clock::now());
  auto not_before = now - options.backdate;
  auto not_after = not_before + options.validity;
  if (rv = gnutls_x509_crt_set_activation_time(crt.get(), system_clock::to_time_t(not_before));
      rv < 0) {
    return gnutls_error(rv, "gnutls_x509_crt_set_activation_time");
  }
  if (rv = gnutls_x509_crt_set_expiration_time(crt.get(), system_clock::to_time_t(not_after));
      rv < 0) {
    return gnutls_error(rv, "gnutls_x509_crt_set_expiration_time");
  }

  if (!options.common_name.empty()) {
    if (rv = gnutls_x509_crt_set_dn_by_oid(crt.get(), GNUTLS_OID_X520_COMMON_NAME, 0,
                                           options.common_name.data(),
                                           static_cast<unsigned>(options.common_name.size()));
        rv < 0) {
      return gnutls_error(rv, "gnutls_x509_crt_set_dn_by_oid");
    }
  }
  for (const auto& name : options.dns_names) {
    if (rv = gnutls_x509_crt_set_subject_alt_name(crt.get(), GNUTLS_SAN_DNSNAME, name.data(),
                                                  static_cast<unsigned>(name.size()),
                                                  GNUTLS_FSAN_APPEND);
        rv < 0) {
      return gnutls_error(rv, "gnutls_x509_crt_set_subject_alt_name");
    }
  }
  for (const auto& ip : options.ip_addresses) {
    auto bytes = ip_bytes(ip);
    if (!bytes) return bytes.error();
    if (rv = gnutls_x509_crt_set_subject_alt_name(crt.get(), GNUTLS_SAN_IPADDRESS, bytes->data(),
                                                  static_cast<unsigned>(bytes->size()),
                                                  GNUTLS_FSAN_APPEND);
        rv < 0) {
      return gnutls_error(rv, "gnutls_x509_crt_set_subject_alt_name");
    }
  }

  if (rv = gnutls_x509_crt_set_key(crt.get(), key.get()); rv < 0) {
    return gnutls_error(rv, "gnutls_x509_crt_set_key");
  }
  if (rv = gnutls_x509_crt_set_basic_constraints(crt.get(), 0, -1); rv < 0) {
    return gnutls_error(rv, "gnutls_x509_crt_set_basic_constraints");
  }
  unsigned usage = GNUTLS_KEY_DIGITAL_SIGNATURE;
  if (options.key_type == KeyType::kRsa2048) usage |= GNUTLS_KEY_KEY_ENCIPHERMENT;
  if (rv = gnutls_x509_crt_set_key_usage(crt.get(), usage); rv < 0) {
    return gnutls_error(rv, "gnutls_x509_crt_set_key_usage");
  }
  if (rv = gnutls_x509_crt_set_key_purpose_oid(crt.get(), GNUTLS_KP_TLS_WWW_SERVER, 0); rv < 0) {
    return gnutls_error(rv, "gnutls_x509_crt_set_key_purpose_oid");
  }
  std::array<uint8_t, 64> kid{};
  size_t kid_size = kid.size();
  if (rv = gnutls_x509_crt_get_key_id(crt.get(), GNUTLS_KEYID_USE_SHA1, kid.data(), &kid_size);
      rv < 0) {
    return gnutls_error(rv, "gnutls_x509_crt_get_key_id");
  }
  if (rv = gnutls_x509_crt_set_subject_key_id(crt.get(), kid.data(), kid_size); rv < 0) {
    return gnutls_error(rv, "gnutls_x509_crt_set_subject_key_id");
  }

  // Self-signed: the certificate is its own issuer.
  if (rv = gnutls_x509_crt_sign2(crt.get(), crt.get(), key.get(), GNUTLS_DIG_SHA256, 0); rv < 0) {
    return gnutls_error(rv, "gnutls_x509_crt_sign2");
  }

  PemPair out;
  {
    detail::GnutlsDatum pem;
    if (rv = gnutls_x509_crt_export2(crt.get(), GNUTLS_X509_FMT_PEM, &pem.d); rv < 0) {
      return gnutls_error(rv, "gnutls_x509_crt_export2");
    }
    out.cert_pem = pem.str();
  }
  {
    detail::GnutlsDatum pem;
    rv = options.key_format == KeyFormat::kPkcs8
             ? gnutls_x509_privkey_export2_pkcs8(key.get(), GNUTLS_X509_FMT_PEM, nullptr,
                                                 GNUTLS_PKCS_PLAIN, &pem.d)
             : gnutls_x509_privkey_export2(key.get(), GNUTLS_X509_FMT_PEM, &pem.d);
    if (rv < 0) return gnutls_error(rv, "gnutls_x509_privkey_export2");
    out.key_pem = pem.str();
    gnutls_memset(pem.d.data, 0, pem.d.size);
  }
  return out;
}

TlsResult<PemPair> generate_dev_certificate() {
  return generate_self_signed(SelfSignedOptions{});
}

TlsResult<void> write_pem_files(const PemPair& pair, const std::filesystem::path& cert_path,
                                const std::filesystem::path& key_path) {
  if (auto r = write_file(cert_path, pair.cert_pem, 0644); !r) return r;
  return write_file(key_path, pair.key_pem, 0600);
}

TlsResult<PemPair> read_pem_files(const std::filesystem::path& cert_path,
                                  const std::filesystem::path& key_path) {
  auto cert = detail::read_file(cert_path);
  if (!cert) return cert.error();
  auto key = detail::read_file(key_path);
  if (!key) return key.error();
  return PemPair{std::move(*cert), std::move(*key)};
}

std::string sha256_fingerprint_hex(std::span<const uint8_t> der) {
  std::array<uint8_t, 32> digest{};
  // SHA-256 is always available; gnutls_hash_fast only fails for unknown algorithms.
  (void)gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data(), der.size(), digest.data());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (uint8_t b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0x0f]);
  }
  return out;
}

TlsResult<std::vector<uint8_t>> leaf_der_from_pem(std::string_view chain_pem) {
  gnutls_x509_crt_t raw = nullptr;
  if (int rv = gnutls_x509_crt_init(&raw); rv < 0) return gnutls_error(rv, "gnutls_x509_crt_init");
  detail::Crt crt(raw);
  auto in = detail::as_datum(chain_pem);
  // Imports the first certificate of the PEM input.
  if (int rv = gnutls_x509_crt_import(crt.get(), &in, GNUTLS_X509_FMT_PEM); rv < 0) {
    return gnutls_error(rv, "certificate", TlsErrc::kBadPem);
  }
  detail::GnutlsDatum der;
  if (int rv = gnutls_x509_crt_export2(crt.get(), GNUTLS_X509_FMT_DER, &der.d); rv < 0) {
    return gnutls_error(rv, "gnutls_x509_crt_export2");
  }
  return der.bytes();
}

TlsResult<std::string> leaf_fingerprint_hex(std::string_view chain_pem) {
  auto der = leaf_der_from_pem(chain_pem);
  if (!der) return der.error();
  return sha256_fingerprint_hex(*der);
}

TlsResult<std::array<uint8_t, 32>> parse_fingerprint_hex(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::array<uint8_t, 32> out{};
  size_t n = 0;  // nibbles so far
  for (char c : hex) {
    if (c == ':') continue;
    int v = nibble(c);
    if (v < 0 || n >= 64) {
      return TlsError{TlsErrc::kBadFingerprint,
                      "fingerprint must be 64 hex digits (SHA-256): " + std::string(hex)};
    }
    out[n / 2] = static_cast<uint8_t>(out[n / 2] | (n % 2 == 0 ? v << 4 : v));
    ++n;
  }
  if (n != 64) {
    return TlsError{TlsErrc::kBadFingerprint,
                    "fingerprint must be 64 hex digits (SHA-256): " + std::string(hex)};
  }
  return out;
}

}  // namespace moq::quic
