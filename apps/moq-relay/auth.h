#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coding/result.h"

// Tokens in the URL (`?jwt=`), the convention of moq-relay 0.17.10 and the
// clients of today: an HS256 JWT whose claims name a root path and the
// paths under it the holder may publish ("put") and subscribe to ("get").
// Keys are the JWK files `moq auth generate` writes (base64url of the JSON,
// or the JSON itself); tokens are what `moq auth sign` writes. Without a key
// the relay admits everyone (development); with one, every session needs a
// valid token.
namespace moq::relay::auth {

struct Key {
  std::vector<uint8_t> secret;
  std::string kid;  // empty: matches any token
};

// Reads a JWK (kty "oct", alg HS256) from the text of a key file.
Result<Key> parse_key(std::string_view text);
Result<Key> load_key(const std::string& path);

struct Grant {
  std::string root;              // normalized, no leading or trailing '/'
  std::vector<std::string> put;  // patterns relative to root ("" = all)
  std::vector<std::string> get;
  // Whether the broadcast at absolute `path` may be published / subscribed.
  bool may_publish(std::string_view path) const;
  bool may_subscribe(std::string_view path) const;
};

// Checks an HS256 JWT against `key` (signature, alg, kid, exp/nbf against
// `now`, seconds since the epoch) and returns what it grants.
Result<Grant> verify(std::string_view token, const Key& key, int64_t now);

// The value of `name` in a URL query string ("a=1&jwt=x"), percent-decoded.
std::optional<std::string> query_param(std::string_view query, std::string_view name);

// Splits "/path?query" into the path and the query.
std::pair<std::string, std::string> split_path_query(std::string_view target);

}  // namespace moq::relay::auth
