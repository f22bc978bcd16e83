// TLS configuration of the QUIC layer: the development certificate, loading
// certificate/key pairs, SNI selection, client verification and pinning.
// Real handshakes run plain TLS over a socketpair with the same credentials.

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <regex>
#include <thread>

#include "quic/tls_cert.h"
#include "quic/tls_client.h"
#include "quic/tls_server.h"

namespace moq::quic {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// ---- helpers ---------------------------------------------------------------

struct Crt {
  gnutls_x509_crt_t crt = nullptr;
  explicit Crt(const std::string& pem) {
    gnutls_x509_crt_init(&crt);
    gnutls_datum_t d{reinterpret_cast<unsigned char*>(const_cast<char*>(pem.data())),
                     static_cast<unsigned>(pem.size())};
    EXPECT_EQ(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM), 0);
  }
  ~Crt() { gnutls_x509_crt_deinit(crt); }
};

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "moq-tls-test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

void write(const fs::path& path, const std::string& text) {
  FILE* f = fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  fwrite(text.data(), 1, text.size(), f);
  fclose(f);
}

PemPair make_cert(std::vector<std::string> dns, KeyType type = KeyType::kEcdsaP256,
                  KeyFormat format = KeyFormat::kPkcs8) {
  SelfSignedOptions o;
  o.common_name = dns.empty() ? "" : dns.front();
  o.dns_names = std::move(dns);
  o.ip_addresses = {};
  o.key_type = type;
  o.key_format = format;
  auto pair = generate_self_signed(o);
  EXPECT_TRUE(pair.ok()) << (pair.ok() ? "" : pair.error().message);
  return pair.ok() ? *pair : PemPair{};
}

std::string fp(const PemPair& pair) {
  return *leaf_fingerprint_hex(pair.cert_pem);
}

TlsServerContext server_with(std::vector<PemPair> pairs) {
  TlsServerConfig config;
  config.pem_pairs = std::move(pairs);
  auto ctx = TlsServerContext::create(config);
  if (!ctx) ADD_FAILURE() << ctx.error().message;
  return std::move(*ctx);
}

// ---- development certificate -------------------------------------------------

TEST(DevCert, IsShortLivedEcdsaP256ForLocalhost) {
  auto before = std::chrono::system_clock::now();
  auto pair = generate_dev_certificate();
  ASSERT_TRUE(pair.ok()) << pair.error().message;
  EXPECT_NE(pair->cert_pem.find("-----BEGIN CERTIFICATE-----"), std::string::npos);
  EXPECT_NE(pair->key_pem.find("-----BEGIN PRIVATE KEY-----"), std::string::npos);  // PKCS#8

  Crt c(pair->cert_pem);
  // Validity: 10 days, at most the 14 browsers allow, and valid now.
  time_t not_before = gnutls_x509_crt_get_activation_time(c.crt);
  time_t not_after = gnutls_x509_crt_get_expiration_time(c.crt);
  EXPECT_EQ(not_after - not_before, 10 * 24 * 3600);
  EXPECT_LE(not_after - not_before, 14 * 24 * 3600);
  time_t now = std::chrono::system_clock::to_time_t(before);
  EXPECT_LE(not_before, now);
  EXPECT_GT(not_after, now + 9 * 24 * 3600);

  // ECDSA P-256.
  unsigned bits = 0;
  EXPECT_EQ(gnutls_x509_crt_get_pk_algorithm(c.crt, &bits), GNUTLS_PK_ECDSA);
  gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
  gnutls_datum_t x{}, y{};
  ASSERT_EQ(gnutls_x509_crt_get_pk_ecc_raw(c.crt, &curve, &x, &y), 0);
  gnutls_free(x.data);
  gnutls_free(y.data);
  EXPECT_EQ(curve, GNUTLS_ECC_CURVE_SECP256R1);
  EXPECT_EQ(gnutls_x509_crt_get_signature_algorithm(c.crt), GNUTLS_SIGN_ECDSA_SHA256);

  // SANs: dNSName localhost, iPAddress 127.0.0.1 and ::1.
  std::vector<std::string> dns;
  std::vector<std::vector<uint8_t>> ips;
  for (unsigned i = 0;; ++i) {
    std::array<char, 256> buf{};
    size_t size = buf.size();
    int type = gnutls_x509_crt_get_subject_alt_name(c.crt, i, buf.data(), &size, nullptr);
    if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) break;
    ASSERT_GE(type, 0);
    if (type == GNUTLS_SAN_DNSNAME) dns.emplace_back(buf.data(), size);
    if (type == GNUTLS_SAN_IPADDRESS) ips.emplace_back(buf.data(), buf.data() + size);
  }
  EXPECT_EQ(dns, std::vector<std::string>{"localhost"});
  std::vector<uint8_t> v4 = {127, 0, 0, 1};
  std::vector<uint8_t> v6(16, 0);
  v6[15] = 1;
  EXPECT_EQ(ips, (std::vector<std::vector<uint8_t>>{v4, v6}));
  EXPECT_NE(gnutls_x509_crt_check_hostname(c.crt, "localhost"), 0u);
  EXPECT_NE(gnutls_x509_crt_check_hostname(c.crt, "127.0.0.1"), 0u);
  EXPECT_NE(gnutls_x509_crt_check_hostname(c.crt, "::1"), 0u);
  EXPECT_EQ(gnutls_x509_crt_check_hostname(c.crt, "example.com"), 0u);

  // Not a CA; a server certificate.
  unsigned critical = 0;
  EXPECT_EQ(gnutls_x509_crt_get_ca_status(c.crt, &critical), 0);
  EXPECT_NE(gnutls_x509_crt_check_key_purpose(c.crt, GNUTLS_KP_TLS_WWW_SERVER, 0), 0u);
  // Self-signed, and the signature checks out.
  EXPECT_NE(gnutls_x509_crt_check_issuer(c.crt, c.crt), 0u);
  unsigned status = 1;
  ASSERT_EQ(gnutls_x509_crt_verify(c.crt, &c.crt, 1, 0, &status), 0);
  EXPECT_EQ(status, 0u);
}

TEST(DevCert, FingerprintIsLowercaseHexOfDer) {
  auto pair = generate_dev_certificate();
  ASSERT_TRUE(pair.ok());
  auto hex = leaf_fingerprint_hex(pair->cert_pem);
  ASSERT_TRUE(hex.ok());
  EXPECT_TRUE(std::regex_match(*hex, std::regex("[0-9a-f]{64}"))) << *hex;

  Crt c(pair->cert_pem);
  std::array<uint8_t, 32> expected{};
  size_t size = expected.size();
  ASSERT_EQ(gnutls_x509_crt_get_fingerprint(c.crt, GNUTLS_DIG_SHA256, expected.data(), &size), 0);
  ASSERT_EQ(size, 32u);
  auto parsed = parse_fingerprint_hex(*hex);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, expected);

  auto der = leaf_der_from_pem(pair->cert_pem);
  ASSERT_TRUE(der.ok());
  EXPECT_EQ(sha256_fingerprint_hex(*der), *hex);
  // A known vector: SHA-256 of the empty string.
  EXPECT_EQ(sha256_fingerprint_hex({}),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(DevCert, EveryCallMakesANewKey) {
  auto a = generate_dev_certificate();
  auto b = generate_dev_certificate();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->key_pem, b->key_pem);
  EXPECT_NE(fp(*a), fp(*b));
}

TEST(DevCert, WritesFilesWithPrivateKeyMode0600) {
  TempDir dir;
  auto pair = generate_dev_certificate();
  ASSERT_TRUE(pair.ok());
  ASSERT_TRUE(write_pem_files(*pair, dir / "cert.pem", dir / "key.pem").ok());
  struct stat st {};
  ASSERT_EQ(stat((dir / "key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto back = read_pem_files(dir / "cert.pem", dir / "key.pem");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->cert_pem, pair->cert_pem);
  EXPECT_EQ(back->key_pem, pair->key_pem);

  auto bad = write_pem_files(*pair, dir / "no-such-dir" / "c.pem", dir / "k.pem");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().errc, TlsErrc::kIo);
}

TEST(DevCert, RejectsBadOptions) {
  SelfSignedOptions o;
  o.ip_addresses = {"not-an-ip"};
  auto r = generate_self_signed(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errc, TlsErrc::kInvalidArgument);
  o = {};
  o.validity = 0s;
  EXPECT_FALSE(generate_self_signed(o).ok());
}

TEST(Fingerprint, ParsesHexForms) {
  std::string hex(64, 'a');
  EXPECT_TRUE(parse_fingerprint_hex(hex).ok());
  std::string upper(64, 'F');
  auto u = parse_fingerprint_hex(upper);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ((*u)[0], 0xff);
  std::string colons;
  for (int i = 0; i < 32; ++i)
    colons += (i ? ":" : "") + std::string("0A");
  auto c = parse_fingerprint_hex(colons);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)[31], 0x0a);
  for (std::string bad : {std::string(63, 'a'), std::string(66, 'a'), std::string(64, 'g'),
                          std::string(""), std::string("sha256")}) {
    auto r = parse_fingerprint_hex(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().errc, TlsErrc::kBadFingerprint);
  }
}

// ---- loading certificate/key pairs -----------------------------------------

struct KeyCase {
  KeyType type;
  KeyFormat format;
  const char* header;
};

class LoadPair : public ::testing::TestWithParam<KeyCase> {};

TEST_P(LoadPair, FromFiles) {
  TempDir dir;
  auto pair = make_cert({"localhost"}, GetParam().type, GetParam().format);
  EXPECT_NE(pair.key_pem.find(GetParam().header), std::string::npos) << pair.key_pem;
  ASSERT_TRUE(write_pem_files(pair, dir / "c.pem", dir / "k.pem").ok());

  TlsServerConfig config;
  config.cert_files = {dir / "c.pem"};
  config.key_files = {dir / "k.pem"};
  auto ctx = TlsServerContext::create(config);
  ASSERT_TRUE(ctx.ok()) << ctx.error().message;
  EXPECT_EQ(ctx->certificate_count(), 1u);
  EXPECT_EQ(ctx->fingerprint_hex(0), fp(pair));
  EXPECT_EQ(ctx->leaf_der(0), *leaf_der_from_pem(pair.cert_pem));
}

INSTANTIATE_TEST_SUITE_P(
    Keys, LoadPair,
    ::testing::Values(KeyCase{KeyType::kEcdsaP256, KeyFormat::kPkcs8, "BEGIN PRIVATE KEY"},
                      KeyCase{KeyType::kEcdsaP256, KeyFormat::kTraditional, "BEGIN EC PRIVATE KEY"},
                      KeyCase{KeyType::kRsa2048, KeyFormat::kPkcs8, "BEGIN PRIVATE KEY"},
                      KeyCase{KeyType::kRsa2048, KeyFormat::kTraditional,
                              "BEGIN RSA PRIVATE KEY"}));

TEST(LoadPairs, ChainWithSeveralCertificates) {
  auto leaf = make_cert({"leaf.example"});
  auto other = make_cert({"other.example"});
  PemPair chain{leaf.cert_pem + other.cert_pem, leaf.key_pem};
  auto ctx = server_with({chain});
  EXPECT_EQ(ctx.fingerprint_hex(0), fp(leaf));
}

TEST(LoadPairs, Errors) {
  TempDir dir;
  auto a = make_cert({"a.example"});
  auto b = make_cert({"b.example"});
  write(dir / "a.crt", a.cert_pem);
  write(dir / "a.key", a.key_pem);
  write(dir / "b.key", b.key_pem);
  write(dir / "garbage", "hello, not PEM\n");

  auto expect = [](TlsServerConfig config, TlsErrc errc, const std::string& needle) {
    auto ctx = TlsServerContext::create(config);
    ASSERT_FALSE(ctx.ok());
    EXPECT_EQ(ctx.error().errc, errc) << ctx.error().message;
    EXPECT_NE(ctx.error().message.find(needle), std::string::npos) << ctx.error().message;
    EXPECT_EQ(ctx.error().to_error().code, code::kInternal);
    EXPECT_EQ(ctx.error().to_error().reason, "tls: " + ctx.error().message);
  };

  TlsServerConfig c;
  c.cert_files = {dir / "missing.crt"};
  c.key_files = {dir / "a.key"};
  expect(c, TlsErrc::kIo, "missing.crt");

  c.cert_files = {dir / "a.crt"};
  c.key_files = {dir / "missing.key"};
  expect(c, TlsErrc::kIo, "missing.key");

  c.cert_files = {dir / "garbage"};
  c.key_files = {dir / "a.key"};
  expect(c, TlsErrc::kBadPem, "garbage");

  c.cert_files = {dir / "a.crt"};
  c.key_files = {dir / "garbage"};
  expect(c, TlsErrc::kBadPem, "private key");

  c.cert_files = {dir / "a.crt"};
  c.key_files = {dir / "b.key"};
  expect(c, TlsErrc::kKeyMismatch, "does not match");

  c.cert_files = {dir / "a.crt", dir / "a.crt"};
  c.key_files = {dir / "a.key"};
  expect(c, TlsErrc::kCountMismatch, "2 certificate file(s) but 1 key file(s)");

  expect(TlsServerConfig{}, TlsErrc::kNoCertificate, "no certificate");

  TlsServerConfig mem;
  mem.pem_pairs = {{a.cert_pem, b.key_pem}};
  expect(mem, TlsErrc::kKeyMismatch, "pair #0");
}

// ---- SNI ---------------------------------------------------------------------

TEST(Sni, FirstMatchElseLast) {
  auto a = make_cert({"a.example"});
  auto b = make_cert({"b.example", "*.wild.example"});
  auto ctx = server_with({a, b});
  EXPECT_EQ(ctx.select_certificate("a.example"), 0u);
  EXPECT_EQ(ctx.select_certificate("A.EXAMPLE"), 0u);
  EXPECT_EQ(ctx.select_certificate("b.example"), 1u);
  EXPECT_EQ(ctx.select_certificate("x.wild.example"), 1u);
  EXPECT_EQ(ctx.select_certificate("none.example"), 1u);
  EXPECT_EQ(ctx.select_certificate(""), 1u);

  // The last one wins for unknown names even if it is listed in a different order.
  auto c = make_cert({"c.example"});
  auto ctx3 = server_with({b, a, c});
  EXPECT_EQ(ctx3.select_certificate("a.example"), 1u);
  EXPECT_EQ(ctx3.select_certificate("none.example"), 2u);
  EXPECT_EQ(ctx3.select_certificate("localhost"), 2u);

  // Two certificates valid for the same name: the first.
  auto a2 = make_cert({"a.example"});
  auto ctx_dup = server_with({a, a2, c});
  EXPECT_EQ(ctx_dup.select_certificate("a.example"), 0u);
}

// ---- client context ------------------------------------------------------------

TEST(ClientContext, Errors) {
  TempDir dir;
  write(dir / "garbage", "not a certificate\n");
  TlsClientConfig c;
  c.fingerprint = "abc";
  auto r = TlsClientContext::create(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errc, TlsErrc::kBadFingerprint);

  c = {};
  c.root_files = {dir / "missing.pem"};
  r = TlsClientContext::create(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errc, TlsErrc::kIo);

  c.root_files = {dir / "garbage"};
  r = TlsClientContext::create(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errc, TlsErrc::kBadPem);

  auto sys = TlsClientContext::create({});
  ASSERT_TRUE(sys.ok()) << sys.error().message;
  EXPECT_FALSE(sys->pinned());
}

// ---- sessions for ngtcp2 ---------------------------------------------------------

ngtcp2_conn* no_conn(ngtcp2_crypto_conn_ref*) {
  return nullptr;
}

TEST(QuicSession, CreatedWithConnRef) {
  auto pair = generate_dev_certificate();
  ASSERT_TRUE(pair.ok());
  ngtcp2_crypto_conn_ref ref{no_conn, nullptr};

  for (bool tickets : {false, true}) {
    TlsServerConfig sc;
    sc.pem_pairs = {*pair};
    sc.session_tickets = tickets;
    sc.early_data = tickets;
    auto server = TlsServerContext::create(sc);
    ASSERT_TRUE(server.ok());
    auto s = server->new_session(&ref);
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_TRUE(*s);
    EXPECT_EQ(gnutls_session_get_ptr(s->get()), &ref);
    auto bad = server->new_session(nullptr);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().errc, TlsErrc::kInvalidArgument);
  }

  TlsClientConfig cc;
  cc.fingerprint = fp(*pair);
  auto client = TlsClientContext::create(cc);
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE(client->pinned());
  auto c = client->new_session(&ref, "localhost");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(gnutls_session_get_ptr(c->get()), &ref);
  EXPECT_FALSE(client->new_session(&ref, "").ok());
  EXPECT_FALSE(client->new_session(nullptr, "localhost").ok());
}

TEST(QuicSession, OutlivesItsContext) {
  auto pair = generate_dev_certificate();
  ASSERT_TRUE(pair.ok());
  ngtcp2_crypto_conn_ref ref{no_conn, nullptr};
  TlsSession session;
  {
    auto server = server_with({*pair});
    auto s = server.new_session(&ref);
    ASSERT_TRUE(s.ok());
    session = std::move(*s);
  }
  EXPECT_TRUE(session);  // still valid; freed at the end (checked under ASan)
  TlsSession moved(std::move(session));
  EXPECT_FALSE(session);
  EXPECT_TRUE(moved);
}

// ---- real handshakes over a socketpair -----------------------------------------

struct Outcome {
  bool server_ok = false;
  bool client_ok = false;
  std::string server_error;
  std::string client_error;
  std::string server_alpn;
  std::string client_alpn;
  std::string server_sni;
  std::vector<uint8_t> server_sent;  // leaf the server presented
  std::vector<uint8_t> client_got;   // leaf the client received
};

int run_handshake(gnutls_session_t s, int fd) {
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  gnutls_transport_set_int(s, fd);
  gnutls_handshake_set_timeout(s, 5000);
  int rv;
  do {
    rv = gnutls_handshake(s);
  } while (rv < 0 && gnutls_error_is_fatal(rv) == 0);
  if (rv < 0) gnutls_alert_send_appropriate(s, rv);
  if (rv == 0) {
    // Exchange one record so that both sides see the whole handshake through
    // (TLS 1.3 clients finish before the server has checked their Finished).
    char byte = 'x';
    if (gnutls_record_send(s, &byte, 1) != 1) return GNUTLS_E_PUSH_ERROR;
    ssize_t n;
    do {
      n = gnutls_record_recv(s, &byte, 1);
    } while (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED);
    if (n != 1) return n < 0 ? static_cast<int>(n) : GNUTLS_E_PREMATURE_TERMINATION;
  }
  ::shutdown(fd, SHUT_RDWR);
  return rv;
}

Outcome handshake(TlsSession server, TlsSession client) {
  int fds[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  Outcome out;
  std::thread server_thread([&] {
    int rv = run_handshake(server.get(), fds[0]);
    out.server_ok = rv == 0;
    if (rv < 0) out.server_error = gnutls_strerror(rv);
    out.server_alpn = server.alpn();
    out.server_sni = server.server_name();
    out.server_sent = server.own_leaf_der();
  });
  int rv = run_handshake(client.get(), fds[1]);
  out.client_ok = rv == 0;
  if (rv < 0) out.client_error = gnutls_strerror(rv);
  out.client_alpn = client.alpn();
  out.client_got = client.peer_leaf_der();
  server_thread.join();
  close(fds[0]);
  close(fds[1]);
  return out;
}

TlsClientContext client_with(TlsClientConfig config) {
  auto ctx = TlsClientContext::create(config);
  if (!ctx) ADD_FAILURE() << ctx.error().message;
  return std::move(*ctx);
}

Outcome connect(const TlsServerContext& server, const TlsClientContext& client,
                const std::string& host, AlpnPolicy server_alpn = AlpnPolicy::h3(),
                AlpnPolicy client_alpn = AlpnPolicy::h3()) {
  auto s = server.new_stream_session(server_alpn);
  auto c = client.new_stream_session(host, client_alpn);
  if (!s || !c) {
    ADD_FAILURE() << "session creation failed";
    return {};
  }
  return handshake(std::move(*s), std::move(*c));
}

class Handshake : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = make_cert({"a.example"});
    b_ = make_cert({"b.example"}, KeyType::kRsa2048);
    server_ = std::make_unique<TlsServerContext>(server_with({a_, b_}));
    der_a_ = *leaf_der_from_pem(a_.cert_pem);
    der_b_ = *leaf_der_from_pem(b_.cert_pem);
  }
  PemPair a_, b_;
  std::vector<uint8_t> der_a_, der_b_;
  std::unique_ptr<TlsServerContext> server_;
};

TEST_F(Handshake, SniSelectsTheMatchingCertificate) {
  TlsClientConfig cc;
  cc.root_pems = {a_.cert_pem, b_.cert_pem};
  auto client = client_with(cc);

  auto o = connect(*server_, client, "a.example");
  ASSERT_TRUE(o.client_ok && o.server_ok) << o.client_error << " / " << o.server_error;
  EXPECT_EQ(o.server_sni, "a.example");
  EXPECT_EQ(o.client_got, der_a_);
  EXPECT_EQ(o.server_sent, der_a_);
  EXPECT_EQ(o.client_alpn, "h3");
  EXPECT_EQ(o.server_alpn, "h3");

  o = connect(*server_, client, "b.example");
  ASSERT_TRUE(o.client_ok && o.server_ok) << o.client_error << " / " << o.server_error;
  EXPECT_EQ(o.client_got, der_b_);

  // Neither name: the server presents the last certificate, which then fails
  // the client's name check.
  o = connect(*server_, client, "c.example");
  EXPECT_FALSE(o.client_ok);
  EXPECT_FALSE(o.server_ok);
  EXPECT_EQ(o.client_got, der_b_);
  EXPECT_EQ(o.server_sni, "c.example");
}

TEST_F(Handshake, PinnedFingerprintAcceptsExactlyThatLeaf) {
  TlsClientConfig cc;
  cc.fingerprint = fp(b_);
  auto pin_b = client_with(cc);
  // No SNI match: the last certificate (b), accepted by its pin whatever the name.
  auto o = connect(*server_, pin_b, "c.example");
  EXPECT_TRUE(o.client_ok && o.server_ok) << o.client_error << " / " << o.server_error;
  EXPECT_EQ(o.client_got, der_b_);
  // IP literal: no SNI at all, also the last certificate.
  o = connect(*server_, pin_b, "127.0.0.1");
  EXPECT_TRUE(o.client_ok && o.server_ok) << o.client_error << " / " << o.server_error;
  EXPECT_EQ(o.server_sni, "");
  // The server presents a: refused although a is a valid certificate for the name.
  o = connect(*server_, pin_b, "a.example");
  EXPECT_FALSE(o.client_ok);
  EXPECT_FALSE(o.server_ok);
  EXPECT_EQ(o.client_got, der_a_);

  // Upper case with colons works the same.
  std::string upper;
  for (size_t i = 0; i < 64; i += 2) {
    upper += (i ? ":" : "") + fp(a_).substr(i, 2);
  }
  for (auto& ch : upper)
    ch = static_cast<char>(toupper(ch));
  cc.fingerprint = upper;
  o = connect(*server_, client_with(cc), "a.example");
  EXPECT_TRUE(o.client_ok && o.server_ok) << o.client_error << " / " << o.server_error;
}

TEST(HandshakeDev, RootVerificationChecksNameAndIp) {
  auto dev = generate_dev_certificate();
  ASSERT_TRUE(dev.ok());
  auto server = server_with({*dev});
  TlsClientConfig cc;
  cc.root_pems = {dev->cert_pem};
  auto client = client_with(cc);
  for (std::string host : {"localhost", "127.0.0.1", "[::1]", "::1"}) {
    auto o = connect(server, client, host);
    EXPECT_TRUE(o.client_ok && o.server_ok) << host << ": " << o.client_error;
  }
  auto o = connect(server, client, "example.com");
  EXPECT_FALSE(o.client_ok);
  o = connect(server, client, "10.1.2.3");
  EXPECT_FALSE(o.client_ok);

  // The system roots do not know a self-signed development certificate.
  auto system = client_with({});
  o = connect(server, system, "localhost");
  EXPECT_FALSE(o.client_ok);

  // Roots from a file.
  TempDir dir;
  write(dir / "root.pem", dev->cert_pem);
  TlsClientConfig from_file;
  from_file.root_files = {dir / "root.pem"};
  o = connect(server, client_with(from_file), "localhost");
  EXPECT_TRUE(o.client_ok && o.server_ok) << o.client_error;
}

TEST(HandshakeAlpn, H3IsEnforced) {
  auto dev = generate_dev_certificate();
  ASSERT_TRUE(dev.ok());
  auto server = server_with({*dev});
  TlsClientConfig cc;
  cc.fingerprint = fp(*dev);
  auto client = client_with(cc);

  // A client offering h2 only, and one offering no ALPN at all: refused.
  auto o = connect(server, client, "localhost", AlpnPolicy::h3(), {{"h2"}, false});
  EXPECT_FALSE(o.server_ok);
  EXPECT_FALSE(o.client_ok);
  o = connect(server, client, "localhost", AlpnPolicy::h3(), {{}, false});
  EXPECT_FALSE(o.server_ok);
  EXPECT_FALSE(o.client_ok);
  // Several offered, h3 among them: h3.
  o = connect(server, client, "localhost", AlpnPolicy::h3(), {{"h2", "h3"}, true});
  EXPECT_TRUE(o.server_ok && o.client_ok) << o.server_error;
  EXPECT_EQ(o.server_alpn, "h3");
  // A server that does not speak h3: the h3 client refuses it.
  o = connect(server, client, "localhost", AlpnPolicy::http11(), AlpnPolicy::h3());
  EXPECT_FALSE(o.client_ok);
  // The --dev HTTPS listener with a browser-like client.
  o = connect(server, client, "localhost", AlpnPolicy::http11(), {{"h2", "http/1.1"}, false});
  EXPECT_TRUE(o.server_ok && o.client_ok) << o.server_error << o.client_error;
  EXPECT_EQ(o.client_alpn, "http/1.1");
}

// ---- a real QUIC handshake through ngtcp2, in memory ------------------------------

// One endpoint of an in-memory QUIC connection: just enough ngtcp2 to run the
// handshake with the sessions new_session() makes.
struct QuicPeer {
  ngtcp2_conn* conn = nullptr;
  ngtcp2_crypto_conn_ref ref{};
  TlsSession tls;
  sockaddr_in local{}, remote{};
  bool failed = false;

  QuicPeer(uint16_t local_port, uint16_t remote_port) {
    for (auto [addr, port] : {std::pair{&local, local_port}, std::pair{&remote, remote_port}}) {
      addr->sin_family = AF_INET;
      addr->sin_port = htons(port);
      addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    }
    ref.get_conn = [](ngtcp2_crypto_conn_ref* r) {
      return static_cast<QuicPeer*>(r->user_data)->conn;
    };
    ref.user_data = this;
  }
  QuicPeer(const QuicPeer&) = delete;
  QuicPeer& operator=(const QuicPeer&) = delete;
  ~QuicPeer() {
    if (conn != nullptr) ngtcp2_conn_del(conn);  // before the TLS session goes
  }

  ngtcp2_path path() {
    return {{reinterpret_cast<ngtcp2_sockaddr*>(&local), sizeof(local)},
            {reinterpret_cast<ngtcp2_sockaddr*>(&remote), sizeof(remote)},
            nullptr};
  }
  bool done() const { return conn != nullptr && ngtcp2_conn_get_handshake_completed(conn) != 0; }
};

void quic_rand(uint8_t* dest, size_t len, const ngtcp2_rand_ctx*) {
  gnutls_rnd(GNUTLS_RND_RANDOM, dest, len);
}
int quic_new_cid(ngtcp2_conn*, ngtcp2_cid* cid, uint8_t* token, size_t cidlen, void*) {
  std::array<uint8_t, NGTCP2_MAX_CIDLEN> data{};
  gnutls_rnd(GNUTLS_RND_RANDOM, data.data(), cidlen);
  ngtcp2_cid_init(cid, data.data(), cidlen);
  gnutls_rnd(GNUTLS_RND_RANDOM, token, NGTCP2_STATELESS_RESET_TOKENLEN);
  return 0;
}

ngtcp2_callbacks quic_callbacks(bool server) {
  ngtcp2_callbacks cb{};
  if (server) {
    cb.recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
  } else {
    cb.client_initial = ngtcp2_crypto_client_initial_cb;
    cb.recv_retry = ngtcp2_crypto_recv_retry_cb;
  }
  cb.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
  cb.encrypt = ngtcp2_crypto_encrypt_cb;
  cb.decrypt = ngtcp2_crypto_decrypt_cb;
  cb.hp_mask = ngtcp2_crypto_hp_mask_cb;
  cb.rand = quic_rand;
  cb.get_new_connection_id = quic_new_cid;
  cb.update_key = ngtcp2_crypto_update_key_cb;
  cb.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
  cb.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
  cb.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
  cb.version_negotiation = ngtcp2_crypto_version_negotiation_cb;
  return cb;
}

ngtcp2_cid random_cid() {
  std::array<uint8_t, 16> data{};
  gnutls_rnd(GNUTLS_RND_RANDOM, data.data(), data.size());
  ngtcp2_cid cid;
  ngtcp2_cid_init(&cid, data.data(), data.size());
  return cid;
}

struct QuicOutcome {
  bool client_done = false;
  bool server_done = false;
  std::string client_alpn, server_sni;
  std::vector<uint8_t> client_got;
};

// `tweak` may change the client's TLS session before the first packet.
QuicOutcome quic_handshake(const TlsServerContext& server_ctx, const TlsClientContext& client_ctx,
                           const std::string& host,
                           const std::function<void(gnutls_session_t)>& tweak = {}) {
  QuicOutcome out;
  ngtcp2_tstamp ts = 1'000'000'000;
  ngtcp2_settings settings;
  ngtcp2_settings_default(&settings);
  settings.initial_ts = ts;
  ngtcp2_transport_params params;
  ngtcp2_transport_params_default(&params);

  QuicPeer client(50000, 4443), server(4443, 50000);
  auto tls = client_ctx.new_session(&client.ref, host);
  if (!tls) {
    ADD_FAILURE() << tls.error().message;
    return out;
  }
  client.tls = std::move(*tls);
  if (tweak) tweak(client.tls.get());
  ngtcp2_cid dcid = random_cid(), scid = random_cid();
  auto cpath = client.path();
  auto ccb = quic_callbacks(false);
  if (ngtcp2_conn_client_new(&client.conn, &dcid, &scid, &cpath, NGTCP2_PROTO_VER_V1, &ccb,
                             &settings, &params, nullptr, &client) != 0) {
    ADD_FAILURE() << "ngtcp2_conn_client_new";
    return out;
  }
  ngtcp2_conn_set_tls_native_handle(client.conn, client.tls.get());

  std::array<uint8_t, 1500> buf{};
  // Sends every packet `from` has, delivering each to `to`.
  auto pump = [&](QuicPeer& from, QuicPeer& to, bool to_server) {
    for (int i = 0; i < 64 && !from.failed; ++i) {
      auto path = from.path();
      ngtcp2_pkt_info pi{};
      auto n = ngtcp2_conn_write_pkt(from.conn, &path, &pi, buf.data(), buf.size(), ts);
      if (n < 0) from.failed = true;
      if (n <= 0) return;
      if (to_server && to.conn == nullptr) {
        ngtcp2_pkt_hd hd;
        if (ngtcp2_accept(&hd, buf.data(), static_cast<size_t>(n)) != 0) {
          to.failed = true;
          return;
        }
        auto tls_s = server_ctx.new_session(&to.ref);
        if (!tls_s) {
          ADD_FAILURE() << tls_s.error().message;
          to.failed = true;
          return;
        }
        to.tls = std::move(*tls_s);
        ngtcp2_transport_params sparams = params;
        sparams.original_dcid = hd.dcid;
        sparams.original_dcid_present = 1;
        ngtcp2_cid server_scid = random_cid();
        auto spath = to.path();
        auto scb = quic_callbacks(true);
        if (ngtcp2_conn_server_new(&to.conn, &hd.scid, &server_scid, &spath, hd.version, &scb,
                                   &settings, &sparams, nullptr, &to) != 0) {
          to.failed = true;
          return;
        }
        ngtcp2_conn_set_tls_native_handle(to.conn, to.tls.get());
      }
      if (to.failed || to.conn == nullptr) return;
      auto tpath = to.path();
      if (ngtcp2_conn_read_pkt(to.conn, &tpath, &pi, buf.data(), static_cast<size_t>(n), ts) != 0) {
        to.failed = true;
      }
    }
  };
  for (int round = 0; round < 16 && !(client.done() && server.done()); ++round) {
    ts += 1'000'000;
    pump(client, server, true);
    if (server.conn != nullptr) pump(server, client, false);
    if (client.failed || server.failed) break;
  }
  out.client_done = client.done();
  out.server_done = server.done();
  out.client_alpn = client.tls.alpn();
  out.client_got = client.tls.peer_leaf_der();
  if (server.tls) out.server_sni = server.tls.server_name();
  return out;
}

TEST_F(Handshake, QuicSniAndPinning) {
  TlsClientConfig cc;
  cc.root_pems = {a_.cert_pem, b_.cert_pem};
  auto roots = client_with(cc);
  for (auto [host, der] : {std::pair{"a.example", &der_a_}, std::pair{"b.example", &der_b_}}) {
    auto o = quic_handshake(*server_, roots, host);
    EXPECT_TRUE(o.client_done && o.server_done) << host;
    EXPECT_EQ(o.client_alpn, "h3");
    EXPECT_EQ(o.server_sni, host);
    EXPECT_EQ(o.client_got, *der);
  }
  // No match: the last certificate, which a pinning client accepts...
  cc = {};
  cc.fingerprint = fp(b_);
  auto o = quic_handshake(*server_, client_with(cc), "c.example");
  EXPECT_TRUE(o.client_done && o.server_done);
  EXPECT_EQ(o.client_got, der_b_);
  // ...and a client verifying names refuses.
  o = quic_handshake(*server_, roots, "c.example");
  EXPECT_FALSE(o.client_done);
  EXPECT_FALSE(o.server_done);
  // Pinned to a, but the server presents b.
  cc.fingerprint = fp(a_);
  o = quic_handshake(*server_, client_with(cc), "b.example");
  EXPECT_FALSE(o.client_done);
  EXPECT_EQ(o.client_got, der_b_);
}

TEST_F(Handshake, QuicRefusesClientWithoutH3) {
  TlsClientConfig cc;
  cc.fingerprint = fp(a_);
  auto client = client_with(cc);
  auto o = quic_handshake(*server_, client, "a.example", [](gnutls_session_t s) {
    gnutls_datum_t h2{reinterpret_cast<unsigned char*>(const_cast<char*>("h2")), 2};
    gnutls_alpn_set_protocols(s, &h2, 1, 0);
  });
  EXPECT_FALSE(o.server_done);
  EXPECT_FALSE(o.client_done);
  EXPECT_TRUE(o.client_got.empty());  // refused before any certificate was sent
  o = quic_handshake(*server_, client, "a.example");
  EXPECT_TRUE(o.client_done && o.server_done);
}

}  // namespace
}  // namespace moq::quic
