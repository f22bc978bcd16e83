#include "server.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>

#include "api/origin.h"
#include "api/path.h"

namespace moq::api_server {
namespace {

using Clock = std::chrono::steady_clock;

// Every route under /origin/; [\s\S] because '.' would not match a decoded
// newline, and names may hold any byte.
const std::string kOriginRoute = std::string(api::kOriginPrefix) + R"([\s\S]*)";

// cpp-httplib handles each request start-to-finish on one worker thread, so
// the pre-routing hook and the logger meet through a thread_local.
thread_local std::optional<Clock::time_point> request_start;

void reply_error(httplib::Response& res, int status, const std::string& message) {
  // Server-side failures (Redis down, ...) are worth a log line of their own;
  // client mistakes are visible enough in the request line.
  if (status >= 500) spdlog::warn("{}", message);
  res.status = status;
  res.set_content(message + "\n", "text/plain");
}

void reply_error(httplib::Response& res, const Error& error) {
  reply_error(res, static_cast<int>(error.code), error.reason);
}

// The request target as a log-safe string: bytes outside printable ASCII are
// shown as \xNN so a hostile path can't forge log lines.
std::string printable(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char ch : s.substr(0, 512)) {
    auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(ch);
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0f]);
    }
  }
  if (s.size() > 512) out += "...";
  return out;
}

// The Redis key of the name in the request path, or a 400 reply.
std::optional<std::string> key_of(const httplib::Request& req, httplib::Response& res) {
  auto name = api::origin_name(req.path);
  if (!name) {
    reply_error(res, 400, "missing origin name: use /origin/{name}");
    return std::nullopt;
  }
  return "origin." + *name;
}

}  // namespace

ApiServer::ApiServer(RedisStore& store) : store_(store) {
  http_.set_payload_max_length(kMaxBodyBytes);
  // cpp-httplib's default also sets SO_REUSEPORT, which would let a second
  // moq-api silently share the port; keep only SO_REUSEADDR (fast restarts).
  http_.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  http_.set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
    request_start = Clock::now();
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http_.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    std::string took = "-";
    if (request_start) {
      auto us =
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - *request_start);
      took = fmt::format("{:.3f}ms", static_cast<double>(us.count()) / 1000.0);
    }
    request_start.reset();
    spdlog::info("{} {} {} {}", req.method, printable(req.target), res.status, took);
  });
  http_.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    // Give bare errors (unknown route, wrong method, too large) a readable body.
    if (res.body.empty()) {
      reply_error(res, res.status,
                  res.status == 404
                      ? "not found: the API serves /origin/{name}"
                      : "request failed with HTTP status " + std::to_string(res.status));
    }
  });
  http_.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown exception";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        spdlog::error("{} {}: internal error: {}", req.method, printable(req.target), what);
        reply_error(res, 500, "internal error");
      });

  http_.Get(kOriginRoute, [this](const auto& req, auto& res) { get(req, res); });
  http_.Post(kOriginRoute, [this](const auto& req, auto& res) { post(req, res); });
  http_.Patch(kOriginRoute, [this](const auto& req, auto& res) { patch(req, res); });
  http_.Delete(kOriginRoute, [this](const auto& req, auto& res) { remove(req, res); });
}

bool ApiServer::bind(const std::string& host, int port) {
  return http_.bind_to_port(host, port);
}

bool ApiServer::run() {
  return http_.listen_after_bind();
}

void ApiServer::get(const httplib::Request& req, httplib::Response& res) {
  auto key = key_of(req, res);
  if (!key) return;
  auto stored = store_.get(*key);
  if (!stored) return reply_error(res, stored.error());
  if (!*stored) return reply_error(res, 404, "no origin registered for this name");
  auto origin = api::parse_origin(**stored);
  if (!origin) return reply_error(res, 500, "stored origin is malformed: " + origin.error().reason);
  res.status = 200;
  res.set_content(api::to_json(*origin), "application/json");
}

void ApiServer::post(const httplib::Request& req, httplib::Response& res) {
  auto key = key_of(req, res);
  if (!key) return;
  auto origin = api::parse_origin(req.body);
  if (!origin) return reply_error(res, origin.error());
  // Store the canonical form, so stored values are always our own JSON.
  auto created = store_.set_nx_ex(*key, api::to_json(*origin), kOriginTtlSeconds);
  if (!created) return reply_error(res, created.error());
  if (!*created) return reply_error(res, 409, "duplicate: an origin is already registered");
  res.status = 200;
}

void ApiServer::patch(const httplib::Request& req, httplib::Response& res) {
  auto key = key_of(req, res);
  if (!key) return;
  auto origin = api::parse_origin(req.body);
  if (!origin) return reply_error(res, origin.error());
  // Compare parsed origins, not bytes, so formatting differences don't count.
  auto same = [&](const std::string& stored) -> Result<bool> {
    auto current = api::parse_origin(stored);
    if (!current) return Error{500, "stored origin is malformed: " + current.error().reason};
    return *current == *origin;
  };
  auto refreshed = store_.refresh_if(*key, same, kOriginTtlSeconds);
  if (!refreshed) return reply_error(res, refreshed.error());
  switch (*refreshed) {
    case RedisStore::Refresh::kRefreshed:
      res.status = 200;
      return;
    case RedisStore::Refresh::kMissing:
      return reply_error(res, 404, "no origin registered for this name");
    case RedisStore::Refresh::kDiffers:
      return reply_error(res, 409, "a different origin is registered for this name");
  }
}

void ApiServer::remove(const httplib::Request& req, httplib::Response& res) {
  auto key = key_of(req, res);
  if (!key) return;
  auto deleted = store_.del(*key);
  if (!deleted) return reply_error(res, deleted.error());
  if (!*deleted) return reply_error(res, 404, "no origin registered for this name");
  res.status = 200;
}

}  // namespace moq::api_server
