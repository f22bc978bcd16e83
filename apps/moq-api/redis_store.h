#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "coding/result.h"

struct redisContext;

namespace moq::api_server {

// Where Redis is: parsed from redis://HOST[:PORT][/DB]. IPv6 hosts go in
// brackets (redis://[::1]:6379). Credentials in the URL are not supported.
struct RedisAddress {
  std::string host;
  int port = 6379;
  int db = 0;

  std::string to_string() const;
};
Result<RedisAddress> parse_redis_url(std::string_view url);

// Status codes carried in Error::code by the store.
inline constexpr uint64_t kStoreUnavailable = 503;  // can't reach Redis, or it refused
inline constexpr uint64_t kStoreBadReply = 500;     // Redis answered something unexpected

// A single hiredis connection shared by the HTTP server's threads
// (libmicrohttpd's pool, see main.cpp).
//
// This is the control plane (a few requests per broadcast per 5 minutes), so
// a mutex around one synchronous connection is plenty: every public call
// holds it for its whole command (or command pair), so calls from any number
// of threads never interleave on the connection. The connection is made
// lazily on the first command and remade on the first command after it broke
// (Redis restarted or was down): the server never has to be restarted, and a
// request made while Redis is down fails fast with code 503.
class RedisStore {
 public:
  RedisStore(RedisAddress address, std::chrono::milliseconds connect_timeout,
             std::chrono::milliseconds command_timeout);
  ~RedisStore();
  RedisStore(const RedisStore&) = delete;
  RedisStore& operator=(const RedisStore&) = delete;

  // GET key: the value, or nullopt when the key does not exist.
  Result<std::optional<std::string>> get(const std::string& key);
  // SET key value NX EX ttl: false when the key already exists.
  Result<bool> set_nx_ex(const std::string& key, const std::string& value, int ttl_seconds);
  // DEL key: false when the key did not exist.
  Result<bool> del(const std::string& key);

  // GET key, then EXPIRE key ttl if `same(stored value)` holds, under one
  // lock so no other request of this server interleaves.
  enum class Refresh { kRefreshed, kMissing, kDiffers };
  Result<Refresh> refresh_if(const std::string& key,
                             const std::function<Result<bool>(const std::string&)>& same,
                             int ttl_seconds);

  const RedisAddress& address() const { return address_; }

 private:
  struct Reply;
  // Runs one command (argv are binary-safe strings); mutex_ must be held.
  Result<Reply> command(std::initializer_list<std::string_view> argv);
  Result<void> ensure_connected();
  void disconnect();
  Error unavailable(std::string_view why) const;

  const RedisAddress address_;
  const std::chrono::milliseconds connect_timeout_;
  const std::chrono::milliseconds command_timeout_;
  std::mutex mutex_;
  redisContext* ctx_ = nullptr;  // guarded by mutex_
};

}  // namespace moq::api_server
