#pragma once

#include <string>
#include <string_view>

#include "coding/result.h"

namespace moq::api_server {

// A TCP listen address: "HOST:PORT", IPv6 in brackets ("[::]:4442").
struct ListenAddress {
  std::string host;  // without brackets, as getaddrinfo wants it
  int port = 0;
};
Result<ListenAddress> parse_listen_address(std::string_view text);

}  // namespace moq::api_server
