#pragma once

#include <httplib.h>

#include <string>

#include "redis_store.h"

namespace moq::api_server {

// How long a registration lives without a PATCH refresh. Relays refresh every
// 5 minutes, so one missed refresh is tolerated.
inline constexpr int kOriginTtlSeconds = 600;

// Largest request body accepted; an origin is a few hundred bytes.
inline constexpr size_t kMaxBodyBytes = 64 * 1024;

// The moq-api HTTP/1.1 server: routes /origin/{name} (see api/path.h for how
// names are encoded) to the Redis store. Runs cpp-httplib's worker pool; the
// store serialises its own access.
class ApiServer {
 public:
  explicit ApiServer(RedisStore& store);

  // Binds host:port (host without brackets, e.g. "::" or "127.0.0.1").
  // Returns false, with the reason logged, when the address can't be bound.
  bool bind(const std::string& host, int port);
  // Serves until stop(). Blocks.
  bool run();
  // True once run() accepts connections.
  bool running() const { return http_.is_running(); }
  // Thread-safe; makes run() return (no effect before running()).
  void stop() { http_.stop(); }

 private:
  void get(const httplib::Request& req, httplib::Response& res);
  void post(const httplib::Request& req, httplib::Response& res);
  void patch(const httplib::Request& req, httplib::Response& res);
  void remove(const httplib::Request& req, httplib::Response& res);

  RedisStore& store_;
  httplib::Server http_;
};

}  // namespace moq::api_server
