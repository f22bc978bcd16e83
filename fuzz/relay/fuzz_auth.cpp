// The relay's token path on arbitrary bytes: the query parser, the JWT
// verifier (with a fixed key, and with the input signed by it, so the
// claims parser is reached too) and the grant's path checks. No crash, no
// leak; a token the key did not sign never verifies.
#include <gnutls/crypto.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth.h"
#include "media/hang.h"

namespace {

std::string base64url(std::string_view bytes) {
  std::string b = moq::media::base64_encode(
      std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  while (!b.empty() && b.back() == '=')
    b.pop_back();
  for (char& c : b) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace moq::relay::auth;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  static const Key key{{1, 2, 3, 4, 5, 6, 7, 8}, "k"};
  (void)query_param(in, "jwt");
  (void)split_path_query(in);
  (void)parse_key(in);
  // As a whole token: must not verify (it is not signed by the key) unless
  // it happens to be a correctly signed one, which random bytes are not.
  (void)verify(in, key, 0);
  // As claims, signed: the claims parser and the grant.
  const std::string head = base64url(R"({"alg":"HS256","kid":"k"})") + "." + base64url(in);
  uint8_t digest[32];
  if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, key.secret.data(), key.secret.size(), head.data(),
                       head.size(), digest) != 0) {
    return 0;
  }
  auto grant =
      verify(head + "." + base64url(std::string_view(reinterpret_cast<char*>(digest), 32)), key, 0);
  if (grant) {
    (void)grant->may_publish(in.substr(0, size / 2));
    (void)grant->may_subscribe(in.substr(size / 2));
  }
  return 0;
}
