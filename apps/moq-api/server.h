#pragma once

#include <string>

#include "http/message.h"
#include "redis_store.h"

namespace moq::api_server {

// How long a registration lives without a PATCH refresh. Relays refresh every
// 5 minutes, so one missed refresh is tolerated.
inline constexpr int kOriginTtlSeconds = 600;

// Largest request body accepted; an origin is a few hundred bytes.
inline constexpr size_t kMaxBodyBytes = 64 * 1024;

// The moq-api routes: /origin/{name} (see api/path.h for how names are
// encoded) mapped to the Redis store. handle() is the request handler of an
// http::ThreadedServer: it runs on several threads at once; the store
// serialises its own access.
class ApiServer {
 public:
  explicit ApiServer(RedisStore& store) : store_(store) {}

  http::Response handle(const http::Request& request);

 private:
  http::Response get(const std::string& key);
  http::Response post(const std::string& key, const std::string& body);
  http::Response patch(const std::string& key, const std::string& body);
  http::Response remove(const std::string& key);

  RedisStore& store_;
};

}  // namespace moq::api_server
