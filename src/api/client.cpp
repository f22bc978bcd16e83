#include "api/client.h"

#include <httplib.h>

#include <charconv>

#include "api/path.h"

namespace moq::api {
namespace {

constexpr std::string_view kJson = "application/json";

// The first line of a response body, shortened: enough to explain an error
// without copying a whole HTML page into a log line.
std::string excerpt(const std::string& body) {
  std::string line = body.substr(0, body.find('\n'));
  if (line.size() > 200) line = line.substr(0, 200) + "...";
  return line;
}

}  // namespace

ApiClient::ApiClient(std::string base_url, std::string scheme_host_port, std::string prefix,
                     std::chrono::milliseconds timeout)
    : base_url_(std::move(base_url)),
      scheme_host_port_(std::move(scheme_host_port)),
      prefix_(std::move(prefix)),
      timeout_(timeout) {}

Result<ApiClient> ApiClient::create(std::string_view base_url, std::chrono::milliseconds timeout) {
  auto invalid = [&](std::string_view why) {
    return Error::internal("invalid moq-api url \"" + std::string(base_url) +
                           "\": " + std::string(why));
  };
  if (!base_url.starts_with("http://") && !base_url.starts_with("https://")) {
    return invalid("must start with http:// or https://");
  }
  if (timeout <= std::chrono::milliseconds::zero()) return invalid("timeout must be positive");
  auto authority_start = base_url.find("://") + 3;
  auto path_start = base_url.find('/', authority_start);
  std::string scheme_host_port(base_url.substr(0, path_start));
  std::string prefix;
  if (path_start != std::string_view::npos) prefix = base_url.substr(path_start);
  while (!prefix.empty() && prefix.back() == '/')
    prefix.pop_back();
  if (scheme_host_port.size() == authority_start) return invalid("no host");
  if (base_url.find_first_of("?# \t\r\n") != std::string_view::npos) {
    return invalid("must not contain a query, fragment or whitespace");
  }
  // The port, if any, follows the host (or the IPv6 literal's ']').
  std::string_view authority = std::string_view(scheme_host_port).substr(authority_start);
  auto host_end = authority.starts_with('[') ? authority.find(']') : 0;
  if (host_end == std::string_view::npos) return invalid("unclosed IPv6 literal");
  if (auto colon = authority.find(':', host_end); colon != std::string_view::npos) {
    auto port = authority.substr(colon + 1);
    int value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value < 1 || value > 65535) {
      return invalid("port must be a number from 1 to 65535");
    }
  }
  if (!httplib::Client(scheme_host_port).is_valid()) return invalid("bad host or port");
  return ApiClient(std::string(base_url), std::move(scheme_host_port), std::move(prefix), timeout);
}

Result<ApiClient::Reply> ApiClient::send(Method method, std::string_view name,
                                         const std::string* body) const {
  if (name.empty()) return Error::internal("empty broadcast name");
  // A fresh connection per call: no shared mutable state between threads,
  // and no stale keep-alive socket after moq-api restarts.
  httplib::Client http(scheme_host_port_);
  http.set_connection_timeout(timeout_);
  http.set_read_timeout(timeout_);
  http.set_write_timeout(timeout_);
  const std::string path = prefix_ + origin_path(name);
  const std::string content_type(kJson);

  std::string what;
  httplib::Result res = [&] {
    switch (method) {
      case Method::kGet:
        what = "GET ";
        return http.Get(path);
      case Method::kPost:
        what = "POST ";
        return http.Post(path, *body, content_type);
      case Method::kPatch:
        what = "PATCH ";
        return http.Patch(path, *body, content_type);
      case Method::kDelete:
        break;
    }
    what = "DELETE ";
    return http.Delete(path);
  }();
  what += scheme_host_port_ + path;
  if (!res) {
    return Error{code::kUpstream, "moq-api unreachable: " + what + ": " + to_string(res.error())};
  }
  if (res->status >= 500) {
    return Error{code::kUpstream, "moq-api failed: " + what + ": " + std::to_string(res->status) +
                                      " " + excerpt(res->body)};
  }
  return Reply{res->status, std::move(res->body)};
}

Result<std::optional<Origin>> ApiClient::get_origin(std::string_view name) const {
  auto reply = send(Method::kGet, name, nullptr);
  if (!reply) return reply.error();
  if (reply->status == 404) return std::optional<Origin>{};
  if (reply->status != 200) {
    return Error::internal("moq-api GET origin: " + std::to_string(reply->status) + " " +
                           excerpt(reply->body));
  }
  auto origin = parse_origin(reply->body);
  if (!origin) {
    return Error{code::kUpstream, "moq-api sent a bad origin: " + origin.error().reason};
  }
  return std::optional<Origin>(std::move(origin).value());
}

namespace {

// Shared status mapping of the write calls (POST, PATCH, DELETE).
template <class Reply>
Result<void> expect_ok(const Result<Reply>& reply, std::string_view op) {
  if (!reply) return reply.error();
  switch (reply->status) {
    case 200:
    case 204:
      return {};
    case 404:
      return Error::not_found();
    case 409:
      return Error::duplicate();
    default:
      return Error::internal("moq-api " + std::string(op) + " origin: " +
                             std::to_string(reply->status) + " " + excerpt(reply->body));
  }
}

}  // namespace

Result<void> ApiClient::set_origin(std::string_view name, const Origin& origin) const {
  if (auto ok = validate_url(origin.url); !ok) return Error::internal(ok.error().reason);
  const std::string body = to_json(origin);
  return expect_ok(send(Method::kPost, name, &body), "POST");
}

Result<void> ApiClient::patch_origin(std::string_view name, const Origin& origin) const {
  if (auto ok = validate_url(origin.url); !ok) return Error::internal(ok.error().reason);
  const std::string body = to_json(origin);
  return expect_ok(send(Method::kPatch, name, &body), "PATCH");
}

Result<void> ApiClient::delete_origin(std::string_view name) const {
  return expect_ok(send(Method::kDelete, name, nullptr), "DELETE");
}

}  // namespace moq::api
