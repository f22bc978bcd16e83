#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "api/origin.h"
#include "coding/result.h"

namespace moq::api {

// Blocking HTTP/1.1 client of moq-api (cpp-httplib), used by moq-relay to
// register, refresh, look up and remove origins.
//
// Every call opens its own connection and holds no mutable state, so one
// ApiClient may be used from several threads at once. Each call is bounded by
// the timeout (connect, and each read/write). Call it from a worker thread, or
// use AsyncApiClient (async_client.h) from an Asio event loop.
//
// Errors, as moq::Error codes:
//   504 (code::kUpstream)  moq-api unreachable, timed out, answered 5xx (e.g.
//                          503: its Redis is down) or sent an unreadable body;
//   409 (code::kDuplicate) "duplicate": the name is taken (POST) or holds a
//                          different origin (PATCH);
//   404 (code::kNotFound)  PATCH/DELETE of a name that is not registered;
//   500 (code::kInternal)  moq-api rejected the request (other 4xx), e.g. an
//                          origin that is not https://.
class ApiClient {
 public:
  static constexpr std::chrono::milliseconds kDefaultTimeout{2000};

  // `base_url` is http://host[:port][/prefix] (https:// works too and checks
  // the server's certificate against the system roots). Fails (code 500) when
  // the URL is malformed.
  static Result<ApiClient> create(std::string_view base_url,
                                  std::chrono::milliseconds timeout = kDefaultTimeout);

  // GET: the origin of `name`, or nullopt when none is registered.
  Result<std::optional<Origin>> get_origin(std::string_view name) const;
  // POST: registers `origin` for `name` (expires after 10 minutes unless
  // refreshed). 409 "duplicate" when the name is already registered.
  Result<void> set_origin(std::string_view name, const Origin& origin) const;
  // PATCH: refreshes the registration's expiry; `origin` must equal the
  // registered one (409 otherwise, 404 when it has expired or never existed).
  Result<void> patch_origin(std::string_view name, const Origin& origin) const;
  // DELETE: removes the registration (404 when there is none).
  Result<void> delete_origin(std::string_view name) const;

  const std::string& base_url() const { return base_url_; }
  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  ApiClient(std::string base_url, std::string scheme_host_port, std::string prefix,
            std::chrono::milliseconds timeout);

  struct Reply {
    int status = 0;
    std::string body;
  };
  enum class Method { kGet, kPost, kPatch, kDelete };
  Result<Reply> send(Method method, std::string_view name, const std::string* body) const;

  std::string base_url_;          // as given, for messages
  std::string scheme_host_port_;  // "http://host:port", what httplib wants
  std::string prefix_;            // path before "/origin/", no trailing '/'
  std::chrono::milliseconds timeout_;
};

}  // namespace moq::api
