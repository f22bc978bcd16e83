#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "h3/qpack.h"

namespace moq::wt {

// Extended CONNECT (RFC 9220) for WebTransport: building and checking the
// request and the response header lists.

// :method CONNECT, :protocol webtransport, :scheme https, :authority, :path,
// then origin (if non-empty) and sec-webtransport-http3-draft02: 1, as
// browsers send it.
// With `protocols`, also wt-available-protocols (the client's dialects, in
// its order of preference).
h3::HeaderList connect_request_headers(std::string_view authority, std::string_view path,
                                       std::string_view origin = {},
                                       const std::vector<std::string>& protocols = {});

// :status, plus sec-webtransport-http3-draft: draft02 when `webtransport`
// (the server accepts a session: Chrome checks for it), plus allow: CONNECT
// for 405.
// With a non-empty `protocol`: wt-protocol (the application protocol the
// server chose from the client's wt-available-protocols).
h3::HeaderList response_headers(uint32_t status, bool webtransport, std::string_view protocol = {});

struct ConnectRequest {
  std::string authority;
  std::string path;
  std::string origin;  // empty if absent
  // wt-available-protocols, in the client's order; empty if absent or not a
  // well-formed structured-field list.
  std::vector<std::string> protocols;
};

// How the server answers a request HEADERS block. Decision table (documented
// choice, see webtransport.md "Session establishment"):
//   kWebTransport  well-formed extended CONNECT, :protocol webtransport,
//                  :scheme https -> the application decides (200 or 404)
//   kMalformed     RFC 9114 §4.1.2 / §4.3 violations: uppercase or empty
//                  names, unknown / duplicate / late pseudo-headers,
//                  connection-specific fields, missing required
//                  pseudo-headers, CR/LF/NUL in values        -> 400
//   kWrongProtocol extended CONNECT with another :protocol, or a scheme other
//                  than https (webtransport-go's Upgrade answers 400 too) -> 400
//   kPlainConnect  classic CONNECT (no :protocol): we are no proxy -> 400
//   kNotConnect    any other method (GET, POST, ...)           -> 405 + allow
struct RequestCheck {
  enum class Kind { kWebTransport, kMalformed, kWrongProtocol, kPlainConnect, kNotConnect };
  Kind kind = Kind::kMalformed;
  ConnectRequest request;  // kWebTransport only
  std::string why;         // for logs

  uint32_t status() const;  // the error status for non-kWebTransport kinds
};
RequestCheck check_request(const h3::HeaderList& headers);

struct ResponseCheck {
  bool ok = false;      // false: malformed response (reset with H3_MESSAGE_ERROR)
  uint32_t status = 0;  // 100..599
  std::string why;
  bool interim() const { return status >= 100 && status < 200; }
  bool success() const { return status >= 200 && status < 300; }
};
ResponseCheck check_response(const h3::HeaderList& headers);

}  // namespace moq::wt
