#include "listen_address.h"

#include <charconv>

namespace moq::api_server {

Result<ListenAddress> parse_listen_address(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Error{400, "invalid listen address \"" + std::string(text) + "\": " + std::string(why)};
  };
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad("expected HOST:PORT");
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  if (host.starts_with('[')) {
    if (!host.ends_with(']')) return bad("unclosed IPv6 literal");
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return bad("put an IPv6 host in brackets, e.g. [::]:4442");
  }
  if (host.empty()) return bad("no host");
  int port = -1;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 || port > 65535) {
    return bad("port must be a number from 1 to 65535");
  }
  return ListenAddress{std::string(host), port};
}

}  // namespace moq::api_server
