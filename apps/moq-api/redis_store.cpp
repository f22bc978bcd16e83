#include "redis_store.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <charconv>
#include <vector>

namespace moq::api_server {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

std::optional<int> parse_int(std::string_view text, int min, int max) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return std::nullopt;
  }
  return value;
}

// True when the peer closed the connection or it failed while idle. Redis
// never sends on an idle request/response connection, so any readable event
// means EOF or an error: the connection is stale (e.g. Redis restarted).
bool stale(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) != 0;
}

}  // namespace

std::string RedisAddress::to_string() const {
  std::string host_part = host.find(':') == std::string::npos ? host : "[" + host + "]";
  return host_part + ":" + std::to_string(port) + (db != 0 ? "/" + std::to_string(db) : "");
}

Result<RedisAddress> parse_redis_url(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return Error{400, "invalid redis url \"" + std::string(url) + "\": " + std::string(why)};
  };
  constexpr std::string_view kScheme = "redis://";
  if (!url.starts_with(kScheme)) return bad("must start with redis://");
  std::string_view rest = url.substr(kScheme.size());
  std::string_view authority = rest.substr(0, rest.find('/'));
  std::string_view path =
      authority.size() < rest.size() ? rest.substr(authority.size() + 1) : std::string_view{};
  if (authority.find('@') != std::string_view::npos) return bad("credentials are not supported");

  RedisAddress address;
  std::string_view port_text;
  if (authority.starts_with('[')) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return bad("unclosed IPv6 literal");
    address.host = authority.substr(1, close - 1);
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("expected :PORT after the IPv6 literal");
      port_text = after.substr(1);
      if (port_text.empty()) return bad("empty port");
    }
  } else {
    auto colon = authority.find(':');
    address.host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return bad("empty port");
    }
  }
  if (address.host.empty()) return bad("no host");
  if (!port_text.empty()) {
    auto port = parse_int(port_text, 1, 65535);
    if (!port) return bad("port must be a number from 1 to 65535");
    address.port = *port;
  }
  if (!path.empty()) {
    auto db = parse_int(path, 0, 1 << 20);
    if (!db) return bad("the path must be a database number");
    address.db = *db;
  }
  return address;
}

struct RedisStore::Reply {
  int type = REDIS_REPLY_NIL;
  std::string str;
  long long integer = 0;
};

RedisStore::RedisStore(RedisAddress address, std::chrono::milliseconds connect_timeout,
                       std::chrono::milliseconds command_timeout)
    : address_(std::move(address)),
      connect_timeout_(connect_timeout),
      command_timeout_(command_timeout) {}

RedisStore::~RedisStore() {
  disconnect();
}

void RedisStore::disconnect() {
  if (ctx_ != nullptr) redisFree(ctx_);
  ctx_ = nullptr;
}

Error RedisStore::unavailable(std::string_view why) const {
  return Error{kStoreUnavailable,
               "redis unavailable at " + address_.to_string() + ": " + std::string(why)};
}

Result<void> RedisStore::ensure_connected() {
  if (ctx_ != nullptr && (ctx_->err != 0 || stale(ctx_->fd))) {
    spdlog::info("redis connection to {} lost; reconnecting", address_.to_string());
    disconnect();
  }
  if (ctx_ != nullptr) return {};

  ctx_ =
      redisConnectWithTimeout(address_.host.c_str(), address_.port, to_timeval(connect_timeout_));
  if (ctx_ == nullptr) return unavailable("out of memory");
  if (ctx_->err != 0) {
    std::string why = ctx_->errstr;
    disconnect();
    return unavailable(why);
  }
  if (redisSetTimeout(ctx_, to_timeval(command_timeout_)) != REDIS_OK) {
    std::string why = ctx_->errstr;
    disconnect();
    return unavailable(why);
  }
  if (address_.db != 0) {
    std::string db = std::to_string(address_.db);
    auto* reply = static_cast<redisReply*>(redisCommand(ctx_, "SELECT %s", db.c_str()));
    bool ok = reply != nullptr && reply->type == REDIS_REPLY_STATUS;
    std::string why = reply == nullptr                   ? std::string(ctx_->errstr)
                      : reply->type == REDIS_REPLY_ERROR ? std::string(reply->str, reply->len)
                                                         : "unexpected reply to SELECT";
    if (reply != nullptr) freeReplyObject(reply);
    if (!ok) {
      disconnect();
      return unavailable(why);
    }
  }
  spdlog::info("connected to redis at {}", address_.to_string());
  return {};
}

Result<RedisStore::Reply> RedisStore::command(std::initializer_list<std::string_view> argv) {
  if (auto ok = ensure_connected(); !ok) return ok.error();
  std::vector<const char*> args;
  std::vector<size_t> lens;
  for (auto a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(ctx_, static_cast<int>(args.size()), args.data(), lens.data()));
  if (reply == nullptr) {
    // I/O error or timeout: the context is unusable from now on.
    const bool timed_out = ctx_->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
    std::string why = timed_out
                          ? "no reply within " + std::to_string(command_timeout_.count()) + " ms"
                          : std::string(ctx_->errstr);
    disconnect();
    return unavailable(why);
  }
  Reply out;
  out.type = reply->type;
  if (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS ||
      reply->type == REDIS_REPLY_ERROR) {
    out.str.assign(reply->str, reply->len);
  }
  if (reply->type == REDIS_REPLY_INTEGER) out.integer = reply->integer;
  freeReplyObject(reply);
  // An error reply (LOADING, MISCONF, READONLY, NOAUTH, ...) means Redis can't
  // serve us right now: report it as unavailable, with Redis's own words.
  if (out.type == REDIS_REPLY_ERROR) {
    return Error{kStoreUnavailable, "redis at " + address_.to_string() + " refused: " + out.str};
  }
  return out;
}

namespace {

Error bad_reply(std::string_view cmd) {
  return Error{kStoreBadReply, "unexpected redis reply to " + std::string(cmd)};
}

}  // namespace

Result<std::optional<std::string>> RedisStore::get(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto reply = command({"GET", key});
  if (!reply) return reply.error();
  if (reply->type == REDIS_REPLY_NIL) return std::optional<std::string>{};
  if (reply->type != REDIS_REPLY_STRING) return bad_reply("GET");
  return std::optional<std::string>(std::move(reply->str));
}

Result<bool> RedisStore::set_nx_ex(const std::string& key, const std::string& value,
                                   int ttl_seconds) {
  std::lock_guard lock(mutex_);
  std::string ttl = std::to_string(ttl_seconds);
  auto reply = command({"SET", key, value, "NX", "EX", ttl});
  if (!reply) return reply.error();
  if (reply->type == REDIS_REPLY_NIL) return false;
  if (reply->type != REDIS_REPLY_STATUS) return bad_reply("SET");
  return true;
}

Result<bool> RedisStore::del(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto reply = command({"DEL", key});
  if (!reply) return reply.error();
  if (reply->type != REDIS_REPLY_INTEGER) return bad_reply("DEL");
  return reply->integer > 0;
}

Result<RedisStore::Refresh> RedisStore::refresh_if(
    const std::string& key, const std::function<Result<bool>(const std::string&)>& same,
    int ttl_seconds) {
  std::lock_guard lock(mutex_);
  auto stored = command({"GET", key});
  if (!stored) return stored.error();
  if (stored->type == REDIS_REPLY_NIL) return Refresh::kMissing;
  if (stored->type != REDIS_REPLY_STRING) return bad_reply("GET");
  auto equal = same(stored->str);
  if (!equal) return equal.error();
  if (!*equal) return Refresh::kDiffers;
  std::string ttl = std::to_string(ttl_seconds);
  auto reply = command({"EXPIRE", key, ttl});
  if (!reply) return reply.error();
  if (reply->type != REDIS_REPLY_INTEGER) return bad_reply("EXPIRE");
  // 0: the key expired between GET and EXPIRE.
  return reply->integer > 0 ? Refresh::kRefreshed : Refresh::kMissing;
}

}  // namespace moq::api_server
