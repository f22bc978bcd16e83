#pragma once

// The tiny HTTP/1.x subset the `--dev` listener speaks: parse a request head,
// answer GET /fingerprint. Pure functions (no I/O, no Asio) so a libFuzzer
// target can drive them (fuzz/relay).

#include <cstddef>
#include <string>
#include <string_view>

namespace moq::relay {

// Requests whose head (request line + headers) is larger are refused (431).
inline constexpr size_t kMaxRequestHead = 8192;

struct HttpRequestHead {
  enum class Status { kNeedMore, kOk, kTooLarge, kBad };
  Status status = Status::kNeedMore;
  std::string method;
  std::string target;  // the path (query string removed)
};

// Looks at the bytes received so far: kNeedMore until the blank line that
// ends the head, then kOk with method and path, or kBad / kTooLarge.
HttpRequestHead parse_request_head(std::string_view received);

// The whole response (status line, headers, body) for a parsed request:
// GET /fingerprint -> 200 with `fingerprint`, CORS open; OPTIONS -> 204 (a
// preflight); other paths 404, other methods 405, bad requests 400/431.
std::string fingerprint_response(const HttpRequestHead& request, std::string_view fingerprint);

}  // namespace moq::relay
