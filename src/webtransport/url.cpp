#include "webtransport/url.h"

#include <charconv>

namespace moq::wt {

Result<HttpsUrl> parse_https_url(std::string_view url) {
  constexpr std::string_view kScheme = "https://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return Error{code::kInternal,
                 "URL must start with https:// (WebTransport): " + std::string(url)};
  }
  std::string_view rest = url.substr(kScheme.size());
  const size_t slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "/" : rest.substr(slash);
  if (const size_t hash = path.find('#'); hash != std::string_view::npos)
    path = path.substr(0, hash);
  if (path.empty() || path[0] != '/') path = "/";

  HttpsUrl out;
  out.authority = std::string(authority);
  out.path = std::string(path);
  std::string_view host = authority;
  std::string_view port;
  if (!host.empty() && host[0] == '[') {
    const size_t close = host.find(']');
    if (close == std::string_view::npos)
      return Error{code::kInternal, "bad IPv6 host in URL: " + std::string(url)};
    port = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!port.empty() && port[0] != ':')
      return Error{code::kInternal, "bad URL: " + std::string(url)};
    if (!port.empty()) port.remove_prefix(1);
  } else if (const size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  if (host.empty()) return Error{code::kInternal, "URL has no host: " + std::string(url)};
  out.host = std::string(host);
  if (!port.empty()) {
    unsigned value = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || p != port.data() + port.size() || value == 0 || value > 65535) {
      return Error{code::kInternal, "bad port in URL: " + std::string(url)};
    }
    out.port = static_cast<uint16_t>(value);
  }
  return out;
}

}  // namespace moq::wt
