#include "http_request.h"

namespace moq::relay {
namespace {

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < 'A' || c > 'Z') return false;  // methods we care about are upper-case
  }
  return true;
}

std::string response(int status, std::string_view reason, std::string_view body) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
  out += "Access-Control-Allow-Origin: *\r\n";
  if (status == 204) {
    out += "Access-Control-Allow-Methods: GET, OPTIONS\r\n";
    out += "Access-Control-Allow-Headers: *\r\n";
  }
  out += "Content-Type: text/plain\r\n";
  out += "Cache-Control: no-store\r\n";
  out += "Connection: close\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  out += body;
  return out;
}

}  // namespace

HttpRequestHead parse_request_head(std::string_view received) {
  HttpRequestHead head;
  const size_t end = received.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    head.status = received.size() > kMaxRequestHead ? HttpRequestHead::Status::kTooLarge
                                                    : HttpRequestHead::Status::kNeedMore;
    return head;
  }
  if (end > kMaxRequestHead) {
    head.status = HttpRequestHead::Status::kTooLarge;
    return head;
  }
  // Request line: METHOD SP TARGET SP HTTP/1.x
  const std::string_view line = received.substr(0, received.find("\r\n"));
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  head.status = HttpRequestHead::Status::kBad;
  if (sp2 == std::string_view::npos) return head;
  const std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  // Origin-form ("/path?query") or "*" (OPTIONS); nothing else is ours.
  const bool target_ok = target == "*" || (!target.empty() && target.front() == '/');
  if (!is_token(method) || !target_ok || version.substr(0, 7) != "HTTP/1.") return head;
  if (const size_t q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  head.method = std::string(method);
  head.target = std::string(target);
  head.status = HttpRequestHead::Status::kOk;
  return head;
}

std::string fingerprint_response(const HttpRequestHead& request, std::string_view fingerprint) {
  switch (request.status) {
    case HttpRequestHead::Status::kNeedMore:
    case HttpRequestHead::Status::kBad:
      return response(400, "Bad Request", "bad request\n");
    case HttpRequestHead::Status::kTooLarge:
      return response(431, "Request Header Fields Too Large", "request too large\n");
    case HttpRequestHead::Status::kOk:
      break;
  }
  if (request.method == "OPTIONS") return response(204, "No Content", "");
  if (request.target != "/fingerprint") return response(404, "Not Found", "not found\n");
  if (request.method != "GET" && request.method != "HEAD") {
    return response(405, "Method Not Allowed", "method not allowed\n");
  }
  std::string out = response(200, "OK", fingerprint);
  // HEAD: the same headers, no body.
  if (request.method == "HEAD") out.resize(out.size() - fingerprint.size());
  return out;
}

}  // namespace moq::relay
