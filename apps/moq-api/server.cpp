#include "server.h"

#include <spdlog/spdlog.h>

#include "api/origin.h"
#include "api/path.h"

namespace moq::api_server {
namespace {

http::Response error_response(int status, const std::string& message) {
  // Server-side failures (Redis down, ...) are worth a log line of their own;
  // client mistakes are visible enough in the request line.
  if (status >= 500) spdlog::warn("{}", message);
  return http::Response::text(status, message + "\n");
}

http::Response error_response(const Error& error) {
  return error_response(static_cast<int>(error.code), error.reason);
}

http::Response ok() {
  return http::Response{200, "", {}, ""};
}

}  // namespace

http::Response ApiServer::handle(const http::Request& request) {
  const std::string& method = request.method;
  const bool known = method == "GET" || method == "HEAD" || method == "POST" || method == "PATCH" ||
                     method == "DELETE" || method == "PUT" || method == "OPTIONS";
  if (!known) return error_response(400, "request failed with HTTP status 400");
  // Every route is under /origin/; the path is already percent-decoded, so a
  // name may hold any byte ('/' and NUL included).
  if (!request.path.starts_with(api::kOriginPrefix) || method == "PUT" || method == "OPTIONS") {
    return error_response(404, "not found: the API serves /origin/{name}");
  }
  auto name = api::origin_name(request.path);
  if (!name) return error_response(400, "missing origin name: use /origin/{name}");
  const std::string key = "origin." + *name;
  if (method == "GET" || method == "HEAD") return get(key);
  if (method == "POST") return post(key, request.body);
  if (method == "PATCH") return patch(key, request.body);
  return remove(key);
}

http::Response ApiServer::get(const std::string& key) {
  auto stored = store_.get(key);
  if (!stored) return error_response(stored.error());
  if (!*stored) return error_response(404, "no origin registered for this name");
  auto origin = api::parse_origin(**stored);
  if (!origin) {
    return error_response(500, "stored origin is malformed: " + origin.error().reason);
  }
  return http::Response{200, "application/json", {}, api::to_json(*origin)};
}

http::Response ApiServer::post(const std::string& key, const std::string& body) {
  auto origin = api::parse_origin(body);
  if (!origin) return error_response(origin.error());
  // Store the canonical form, so stored values are always our own JSON.
  auto created = store_.set_nx_ex(key, api::to_json(*origin), kOriginTtlSeconds);
  if (!created) return error_response(created.error());
  if (!*created) return error_response(409, "duplicate: an origin is already registered");
  return ok();
}

http::Response ApiServer::patch(const std::string& key, const std::string& body) {
  auto origin = api::parse_origin(body);
  if (!origin) return error_response(origin.error());
  // Compare parsed origins, not bytes, so formatting differences don't count.
  auto same = [&](const std::string& stored) -> Result<bool> {
    auto current = api::parse_origin(stored);
    if (!current) return Error{500, "stored origin is malformed: " + current.error().reason};
    return *current == *origin;
  };
  auto refreshed = store_.refresh_if(key, same, kOriginTtlSeconds);
  if (!refreshed) return error_response(refreshed.error());
  switch (*refreshed) {
    case RedisStore::Refresh::kRefreshed:
      return ok();
    case RedisStore::Refresh::kMissing:
      return error_response(404, "no origin registered for this name");
    case RedisStore::Refresh::kDiffers:
      return error_response(409, "a different origin is registered for this name");
  }
  return error_response(500, "internal error");
}

http::Response ApiServer::remove(const std::string& key) {
  auto deleted = store_.del(key);
  if (!deleted) return error_response(deleted.error());
  if (!*deleted) return error_response(404, "no origin registered for this name");
  return ok();
}

}  // namespace moq::api_server
