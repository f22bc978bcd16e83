#include "api/origin.h"

#include <nlohmann/json.hpp>

namespace moq::api {
namespace {

constexpr uint64_t kBadRequest = 400;
constexpr std::string_view kScheme = "https://";

Error bad(std::string why) {
  return Error{kBadRequest, std::move(why)};
}

bool scheme_is_https(std::string_view url) {
  if (url.size() < kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    char c = url[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return false;
  }
  return true;
}

}  // namespace

Result<void> validate_url(std::string_view url) {
  if (url.empty()) return bad("origin url is empty");
  if (url.size() > kMaxUrlLength) {
    return bad("origin url is longer than " + std::to_string(kMaxUrlLength) + " bytes");
  }
  for (char c : url) {
    auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f) {
      return bad("origin url contains a space, control or non-ASCII byte");
    }
  }
  if (!scheme_is_https(url)) return bad("origin url must start with https://");
  // The authority runs up to the first '/', '?' or '#'; its host part (after
  // any userinfo, before any port) must not be empty.
  std::string_view rest = url.substr(kScheme.size());
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    authority = authority.substr(at + 1);
  }
  std::string_view host = authority;
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string_view::npos) return bad("origin url has an unclosed IPv6 literal");
    host = host.substr(1, close - 1);
  } else {
    host = host.substr(0, host.find(':'));
  }
  if (host.empty()) return bad("origin url has no host");
  return {};
}

Result<Origin> parse_origin(std::string_view json) {
  // allow_exceptions=false: a syntax error yields a "discarded" value.
  auto doc = nlohmann::json::parse(json.begin(), json.end(), nullptr, false);
  if (doc.is_discarded()) return bad("origin body is not valid JSON");
  if (!doc.is_object()) return bad("origin body must be a JSON object");
  auto it = doc.find("url");
  if (it == doc.end()) return bad("origin body has no \"url\" member");
  if (!it->is_string()) return bad("origin \"url\" must be a string");
  Origin origin{it->get_ref<const std::string&>()};
  if (auto ok = validate_url(origin.url); !ok) return ok.error();
  for (size_t i = 0; i < kScheme.size(); ++i)
    origin.url[i] = kScheme[i];
  return origin;
}

std::string to_json(const Origin& origin) {
  nlohmann::json doc = {{"url", origin.url}};
  // Replace rather than throw on invalid UTF-8, should an unvalidated origin
  // ever get here.
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace moq::api
