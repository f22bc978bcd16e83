#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace moq::api {

// The moq-api resource for a broadcast name is `/origin/{name}`.
//
// Names are arbitrary non-empty byte strings (broadcast names may contain
// '/', spaces, UTF-8, ...). On the wire the client percent-encodes every byte
// outside the URL "unreserved" set (A-Z a-z 0-9 - . _ ~), '/' included; the
// server percent-decodes the whole path and takes everything after
// "/origin/" as the name. So "a/b" and "a%2Fb" name the same origin.
inline constexpr std::string_view kOriginPrefix = "/origin/";

// "/origin/" + percent-encoded name: the request target for `name`.
std::string origin_path(std::string_view name);

// Percent-encodes every byte outside the unreserved set.
std::string percent_encode(std::string_view raw);

// The name in an already-decoded request path, or nullopt when the path is
// not under /origin/ or the name is empty.
std::optional<std::string> origin_name(std::string_view decoded_path);

}  // namespace moq::api
