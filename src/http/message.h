#pragma once

// HTTP/1.1 requests and responses as the servers of this library hand them to
// a handler: whole (the body is read before the handler runs, and bounded),
// plain values, no I/O.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace moq::http {

struct Header {
  std::string name;
  std::string value;
};

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query as sent (percent-encoded)
  std::string path;    // the path, percent-decoded: may hold any byte, NUL included
  std::string query;   // after '?', as sent; "" when there is none
  std::vector<Header> headers;
  std::string body;  // at most ServerOptions::max_body_bytes

  // The value of the first header called `name` (any case), or nullopt.
  std::optional<std::string_view> header(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type;  // empty: no Content-Type header
  std::vector<Header> headers;
  std::string body;  // not sent for HEAD requests (Content-Length still is)

  // `status` with a text/plain body.
  static Response text(int status, std::string body);
};

// Answers one request. Runs on a server thread (ThreadedServer) or on the
// io_context (AsioServer); an exception becomes a 500.
using Handler = std::function<Response(const Request&)>;

// %XX sequences decoded (others, and malformed ones, kept as they are).
std::string percent_decode(std::string_view encoded);

// For logs: printable ASCII kept, every other byte (and '\') as \xNN, cut
// after 512 bytes, so a hostile request can't forge log lines.
std::string printable(std::string_view s);

}  // namespace moq::http
