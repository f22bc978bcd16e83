#include "auth.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "lite/message.h"
#include "media/hang.h"

namespace moq::relay::auth {

namespace {

Error unauthorized(std::string why) {
  return Error{code::kUnauthorized, std::move(why)};
}

Result<std::vector<uint8_t>> base64url_decode(std::string_view text) {
  std::string standard(text);
  for (char& c : standard) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  return media::base64_decode(standard);
}

bool under(std::string_view path, std::string_view pattern) {
  // "foo/**" and "foo" both mean foo and everything under it; "" and "**"
  // everything.
  if (pattern.ends_with("**")) pattern.remove_suffix(2);
  while (pattern.ends_with('/'))
    pattern.remove_suffix(1);
  return pattern.empty() || lite::has_prefix(path, pattern);
}

bool allowed(const Grant& g, const std::vector<std::string>& patterns, std::string_view path) {
  auto normalized = lite::normalize_path(path).value_or("");
  if (!lite::has_prefix(normalized, g.root)) return false;
  const std::string relative = lite::strip_prefix(normalized, g.root);
  for (const auto& p : patterns) {
    if (under(relative, p)) return true;
  }
  return false;
}

// A string member, or `fallback` when it is absent or not a string (the
// JSON is the peer's: json::value() would throw on a number).
std::string string_member(const nlohmann::json& object, const char* name,
                          const std::string& fallback) {
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}

std::vector<std::string> patterns(const nlohmann::json& claims, const char* name) {
  std::vector<std::string> out;
  auto it = claims.find(name);
  if (it == claims.end()) return out;
  if (it->is_string()) {
    out.push_back(it->get<std::string>());
  } else if (it->is_array()) {
    for (const auto& p : *it) {
      if (p.is_string()) out.push_back(p.get<std::string>());
    }
  }
  return out;
}

}  // namespace

Result<Key> parse_key(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.remove_suffix(1);
  std::string json_text(text);
  if (!text.starts_with("{")) {
    auto decoded = base64url_decode(text);
    if (!decoded) return Error::internal("key: neither JSON nor base64url JSON");
    json_text.assign(decoded->begin(), decoded->end());
  }
  auto jwk = nlohmann::json::parse(json_text, nullptr, false);
  if (jwk.is_discarded() || !jwk.is_object()) return Error::internal("key: not a JWK");
  if (string_member(jwk, "kty", "") != "oct" || string_member(jwk, "alg", "HS256") != "HS256") {
    return Error::internal("key: only HS256 keys (kty \"oct\") are supported");
  }
  auto k = base64url_decode(string_member(jwk, "k", ""));
  if (!k || k->empty()) return Error::internal("key: no secret (\"k\")");
  return Key{std::move(*k), string_member(jwk, "kid", "")};
}

Result<Key> load_key(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error::internal("cannot read key file " + path);
  std::stringstream text;
  text << in.rdbuf();
  auto key = parse_key(text.str());
  if (!key) return Error::internal(path + ": " + key.error().reason);
  return key;
}

Result<Grant> verify(std::string_view token, const Key& key, int64_t now) {
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) return unauthorized("token: not a JWT");
  const std::string_view signed_part = token.substr(0, dot2);
  auto header_bytes = base64url_decode(token.substr(0, dot1));
  auto claims_bytes = base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  auto signature = base64url_decode(token.substr(dot2 + 1));
  if (!header_bytes || !claims_bytes || !signature) return unauthorized("token: bad base64url");
  auto header = nlohmann::json::parse(header_bytes->begin(), header_bytes->end(), nullptr, false);
  auto claims = nlohmann::json::parse(claims_bytes->begin(), claims_bytes->end(), nullptr, false);
  if (!header.is_object() || !claims.is_object()) return unauthorized("token: bad JSON");
  if (string_member(header, "alg", "") != "HS256") return unauthorized("token: alg is not HS256");
  if (!key.kid.empty() && header.contains("kid") && string_member(header, "kid", "") != key.kid) {
    return unauthorized("token: signed by another key");
  }
  uint8_t digest[32];
  if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, key.secret.data(), key.secret.size(), signed_part.data(),
                       signed_part.size(), digest) != 0) {
    return unauthorized("token: HMAC failed");
  }
  // Constant time: how far a forged signature matches tells nothing.
  uint8_t diff = signature->size() == sizeof digest ? 0 : 1;
  for (size_t i = 0; i < sizeof digest; ++i)
    diff |= static_cast<uint8_t>(digest[i] ^ (i < signature->size() ? (*signature)[i] : 0));
  if (diff != 0) return unauthorized("token: bad signature");
  if (auto exp = claims.find("exp");
      exp != claims.end() && exp->is_number() && exp->get<double>() <= static_cast<double>(now)) {
    return unauthorized("token: expired");
  }
  if (auto nbf = claims.find("nbf");
      nbf != claims.end() && nbf->is_number() && nbf->get<double>() > static_cast<double>(now)) {
    return unauthorized("token: not valid yet");
  }
  // A root that is not a string must not become "everything".
  if (auto root = claims.find("root"); root != claims.end() && !root->is_string()) {
    return unauthorized("token: root is not a string");
  }
  Grant g;
  g.root = lite::normalize_path(string_member(claims, "root", "")).value_or("");
  g.put = patterns(claims, "put");
  g.get = patterns(claims, "get");
  return g;
}

bool Grant::may_publish(std::string_view path) const {
  return allowed(*this, put, path);
}

bool Grant::may_subscribe(std::string_view path) const {
  return allowed(*this, get, path);
}

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    std::string_view raw = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    std::string value;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '%' && i + 2 < raw.size() && std::isxdigit(static_cast<uint8_t>(raw[i + 1])) &&
          std::isxdigit(static_cast<uint8_t>(raw[i + 2]))) {
        auto hex = [](char c) {
          return std::isdigit(static_cast<uint8_t>(c)) ? c - '0' : (c | 0x20) - 'a' + 10;
        };
        value += static_cast<char>(hex(raw[i + 1]) * 16 + hex(raw[i + 2]));
        i += 2;
      } else if (raw[i] == '+') {
        value += ' ';
      } else {
        value += raw[i];
      }
    }
    return value;
  }
  return std::nullopt;
}

std::pair<std::string, std::string> split_path_query(std::string_view target) {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return {std::string(target), {}};
  return {std::string(target.substr(0, q)), std::string(target.substr(q + 1))};
}

}  // namespace moq::relay::auth
