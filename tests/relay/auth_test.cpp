// Tokens (issue 12: "tokens from the query string (?jwt=) where
// configured"): the JWK keys and HS256 JWTs of moq-relay 0.17.10's tooling
// (`moq auth generate` / `moq auth sign`), checked by auth.h, and a relay
// started with --auth-key that refuses sessions without a token and lets a
// token do only what it grants.

#include "auth.h"

#include <gnutls/crypto.h>

#include <fstream>

#include "media/hang.h"
#include "relay/relay_fixture.h"

namespace moq::relay_test {
namespace {

using relay::auth::Grant;
using relay::auth::Key;

// Captured from moq-cli 0.14.10: `moq auth generate` and
// `moq auth sign --key k.jwk --root anon --publish '**' --subscribe '**'`.
constexpr const char* kCliKey =
    "eyJhbGciOiJIUzI1NiIsImtleV9vcHMiOlsic2lnbiIsInZlcmlmeSJdLCJrdHkiOiJvY3QiLCJrIjoic1NWRV82"
    "WnZ2VTFBLWtNajBaUUFEcmNGTnpubmdGeUMzRFpyaVppczJLRSIsImtpZCI6IjMzNmE1N2EyZjFjNzA3Y2QifQ\n";
constexpr const char* kCliToken =
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiIsImtpZCI6IjMzNmE1N2EyZjFjNzA3Y2QifQ."
    "eyJyb290IjoiYW5vbiIsInB1dCI6WyIiXSwiZ2V0IjpbIiJdfQ."
    "DxiIPvbV-kurMzCajckhe9B4jtYO7WEl6GawzqdvnM8";

std::string base64url(std::string_view bytes) {
  std::string b =
      media::base64_encode(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  while (!b.empty() && b.back() == '=')
    b.pop_back();
  for (char& c : b) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return b;
}

// An HS256 token over `claims` (JSON text), as `moq auth sign` makes them.
std::string sign(const Key& key, const std::string& claims) {
  const std::string head = base64url(R"({"typ":"JWT","alg":"HS256","kid":")" + key.kid + R"("})") +
                           "." + base64url(claims);
  uint8_t digest[32];
  EXPECT_EQ(gnutls_hmac_fast(GNUTLS_MAC_SHA256, key.secret.data(), key.secret.size(), head.data(),
                             head.size(), digest),
            0);
  return head + "." + base64url(std::string_view(reinterpret_cast<const char*>(digest), 32));
}

TEST(RelayAuth, VerifiesWhatMoqCliSigns) {
  auto key = relay::auth::parse_key(kCliKey);
  ASSERT_TRUE(key) << key.error().reason;
  EXPECT_EQ(key->kid, "336a57a2f1c707cd");
  auto grant = relay::auth::verify(kCliToken, *key, 0);
  ASSERT_TRUE(grant) << grant.error().reason;
  EXPECT_EQ(grant->root, "anon");
  EXPECT_TRUE(grant->may_publish("anon/bbb"));
  EXPECT_TRUE(grant->may_subscribe("anon"));
  EXPECT_FALSE(grant->may_publish("other/bbb"));  // outside its root
  EXPECT_FALSE(grant->may_subscribe("anonymous"));
}

TEST(RelayAuth, RefusesForgedExpiredAndForeignTokens) {
  auto key = relay::auth::parse_key(kCliKey);
  ASSERT_TRUE(key);
  std::string forged = kCliToken;
  forged[forged.size() - 2] = forged[forged.size() - 2] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(relay::auth::verify(forged, *key, 0));
  EXPECT_FALSE(relay::auth::verify("not.a-token", *key, 0));
  EXPECT_FALSE(relay::auth::verify("", *key, 0));
  // Claims changed, signature kept.
  std::string swapped = kCliToken;
  const size_t dot = swapped.find('.');
  swapped.replace(dot + 1, swapped.find('.', dot + 1) - dot - 1,
                  base64url(R"({"root":"","put":[""],"get":[""]})"));
  EXPECT_FALSE(relay::auth::verify(swapped, *key, 0));
  // Expiry and not-before against the clock.
  const std::string expiring = sign(*key, R"({"root":"","get":[""],"exp":1000})");
  EXPECT_TRUE(relay::auth::verify(expiring, *key, 999));
  EXPECT_FALSE(relay::auth::verify(expiring, *key, 1000));
  EXPECT_FALSE(relay::auth::verify(sign(*key, R"({"get":[""],"nbf":50})"), *key, 10));
  // A root of the wrong type is refused, not read as the whole relay.
  EXPECT_FALSE(relay::auth::verify(sign(*key, R"({"root":6,"get":[""]})"), *key, 0));
  // Another key.
  Key other = *key;
  other.secret[0] ^= 1;
  EXPECT_FALSE(relay::auth::verify(kCliToken, other, 0));
  // Patterns: "foo/**" is foo and what is under it; no "put": nothing.
  auto narrow = relay::auth::verify(sign(*key, R"({"root":"","get":["foo/**"]})"), *key, 0);
  ASSERT_TRUE(narrow);
  EXPECT_TRUE(narrow->may_subscribe("foo"));
  EXPECT_TRUE(narrow->may_subscribe("foo/bar"));
  EXPECT_FALSE(narrow->may_subscribe("foobar"));
  EXPECT_FALSE(narrow->may_publish("foo"));
}

TEST(RelayAuth, QueryParameters) {
  EXPECT_EQ(relay::auth::query_param("a=1&jwt=x.y.z", "jwt"), "x.y.z");
  EXPECT_EQ(relay::auth::query_param("jwt=a%2Eb", "jwt"), "a.b");
  EXPECT_FALSE(relay::auth::query_param("jwtx=1", "jwt"));
  EXPECT_EQ(relay::auth::split_path_query("/anon/bbb?jwt=t").first, "/anon/bbb");
  EXPECT_EQ(relay::auth::split_path_query("/anon/bbb?jwt=t").second, "jwt=t");
}

class RelayWithKey : public RelayTest {
 protected:
  void SetUp() override {
    key_file_ = ::testing::TempDir() + "relay-auth-" + std::to_string(::getpid()) + ".jwk";
    std::ofstream(key_file_) << kCliKey;
    key_ = *relay::auth::parse_key(kCliKey);
    start_relay({"--auth-key", key_file_});
  }
  void TearDown() override { std::remove(key_file_.c_str()); }
  std::string key_file_;
  Key key_;
};

TEST_F(RelayWithKey, SessionsNeedATokenAndGetWhatItGrants) {
  // No token, a forged one: refused at the CONNECT.
  EXPECT_FALSE(connect("live", setup_for(wire::Role::kPublisher)));
  EXPECT_FALSE(
      connect("live?jwt=" + std::string(kCliToken) + "x", setup_for(wire::Role::kPublisher)));
  // Root "anon": "live" is outside it (403 at the CONNECT).
  EXPECT_FALSE(connect("live?jwt=" + std::string(kCliToken), setup_for(wire::Role::kPublisher)));
  // A subscribe-only token cannot publish.
  const std::string viewer = sign(key_, R"({"root":"anon","get":[""]})");
  auto refused = connect("anon/live?jwt=" + viewer, setup_for(wire::Role::kPublisher));
  EXPECT_FALSE(refused);
  // The captured token publishes under anon; the viewer's token reads it.
  auto pub = publish("anon/live?jwt=" + std::string(kCliToken));
  ASSERT_TRUE(pub);
  auto video = pub->writer.create_track("video");
  ASSERT_TRUE(video);
  write_segment(*video, 0, 1, std::nullopt, payload_for("video", 0));
  auto sub = subscriber("anon/live?jwt=" + viewer);
  ASSERT_TRUE(sub);
  subscribe(*sub, "video");
  ASSERT_TRUE(run_until([&] { return sub->tracks["video"]->complete() == 1; }));
  EXPECT_EQ(sub->tracks["video"]->segments[0].payload, payload_for("video", 0));
}

}  // namespace
}  // namespace moq::relay_test
