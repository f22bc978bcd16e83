#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "coding/result.h"

namespace moq::wt {

// An https:// URL as WebTransport uses it.
struct HttpsUrl {
  std::string host;  // "relay.example", "127.0.0.1", "::1" (brackets removed)
  uint16_t port = 443;
  std::string path;       // "/name" ("/" when absent)
  std::string authority;  // host[:port] as written, for :authority
};

// Refuses anything but https://host[:port][/path] with a message saying why.
Result<HttpsUrl> parse_https_url(std::string_view url);

}  // namespace moq::wt
