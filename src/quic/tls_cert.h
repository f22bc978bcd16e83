#pragma once

// Certificates: the self-signed development certificate, PEM files and the
// SHA-256 fingerprints browsers use in `serverCertificateHashes`.

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "quic/tls_result.h"

namespace moq::quic {

// A certificate chain (leaf first) and its private key, both PEM.
struct PemPair {
  std::string cert_pem;
  std::string key_pem;
};

enum class KeyType { kEcdsaP256, kRsa2048 };

// How the private key is written: PKCS#8 ("PRIVATE KEY") or the algorithm's
// own format (SEC1 "EC PRIVATE KEY" / PKCS#1 "RSA PRIVATE KEY").
enum class KeyFormat { kPkcs8, kTraditional };

// Browsers accept a certificate through serverCertificateHashes only when its
// whole validity period is at most 14 days.
inline constexpr std::chrono::hours kMaxHashCertValidity{24 * 14};
inline constexpr std::chrono::hours kDevCertValidity{24 * 10};

struct SelfSignedOptions {
  std::string common_name = "localhost";
  std::vector<std::string> dns_names = {"localhost"};
  std::vector<std::string> ip_addresses = {"127.0.0.1", "::1"};
  // notBefore = now - backdate (tolerates clock skew); notAfter = notBefore + validity.
  std::chrono::seconds validity = kDevCertValidity;
  std::chrono::seconds backdate = std::chrono::hours(1);
  KeyType key_type = KeyType::kEcdsaP256;
  KeyFormat key_format = KeyFormat::kPkcs8;
  std::optional<std::chrono::system_clock::time_point> now;  // default: the system clock
};

// A self-signed server certificate (serverAuth, digitalSignature, not a CA).
TlsResult<PemPair> generate_self_signed(const SelfSignedOptions& options);

// The relay's `--dev` certificate: ECDSA P-256, valid 10 days, SAN localhost,
// 127.0.0.1 and ::1. Browsers accept it through serverCertificateHashes.
TlsResult<PemPair> generate_dev_certificate();

// Writes the chain and the key (the key file is created with mode 0600).
TlsResult<void> write_pem_files(const PemPair& pair, const std::filesystem::path& cert_path,
                                const std::filesystem::path& key_path);

// Reads a chain and key pair from two PEM files (contents are not validated
// here; TlsServerContext::create does that).
TlsResult<PemPair> read_pem_files(const std::filesystem::path& cert_path,
                                  const std::filesystem::path& key_path);

// Lowercase hex SHA-256 of `der` (64 characters), as served at /fingerprint.
std::string sha256_fingerprint_hex(std::span<const uint8_t> der);

// The DER bytes of the first certificate in a PEM chain.
TlsResult<std::vector<uint8_t>> leaf_der_from_pem(std::string_view chain_pem);

// sha256_fingerprint_hex of the leaf of a PEM chain.
TlsResult<std::string> leaf_fingerprint_hex(std::string_view chain_pem);

// Parses a SHA-256 fingerprint written as 64 hex digits, either case, with
// optional ':' separators ("AB:CD:..." as printed by openssl).
TlsResult<std::array<uint8_t, 32>> parse_fingerprint_hex(std::string_view hex);

}  // namespace moq::quic
