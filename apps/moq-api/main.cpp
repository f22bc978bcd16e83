// moq-api: the origin registry. A thin HTTP/1.1 JSON API over Redis so that
// relays need no Redis access of their own. See shared/spec/programs.md.
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>

#include "http/server.h"
#include "listen_address.h"
#include "redis_store.h"
#include "server.h"

namespace {

// Redis is on the same network as moq-api: a second is a generous bound for
// connecting or answering, and keeps requests from hanging when it is gone.
constexpr std::chrono::milliseconds kRedisConnectTimeout{1000};
constexpr std::chrono::milliseconds kRedisCommandTimeout{1000};

// libmicrohttpd event loops (each epoll, each running handlers). Handlers
// share one Redis connection, so more would only wait on its lock.
constexpr unsigned kHttpThreads = 4;

// SIGINT/SIGTERM are blocked in every thread and taken by main() with
// sigwait(), which then stops the server with an ordinary call (not from a
// signal handler).
sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace moq::api_server;

  CLI::App app{"moq-api: origin registry for moq-relay clusters (HTTP API backed by Redis)",
               "moq-api"};
  std::string listen = "[::]:4442";
  std::string redis = "redis://127.0.0.1:6379";
  std::string log_level = "info";
  int idle_timeout = 30;
  app.add_option("--listen", listen, "HTTP listen address, HOST:PORT ([::] for IPv4 and IPv6)")
      ->envname("MOQ_API_LISTEN")
      ->capture_default_str();
  app.add_option("--redis", redis, "Redis server, redis://HOST[:PORT][/DB]")
      ->envname("MOQ_API_REDIS")
      ->capture_default_str();
  app.add_option("--idle-timeout", idle_timeout,
                 "seconds after which an idle HTTP connection is closed (kept alive between "
                 "requests, or never sending one)")
      ->envname("MOQ_API_IDLE_TIMEOUT")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical or off")
      ->envname("MOQ_API_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  app.set_version_flag("--version", std::string("moq-api ") + MOQ_VERSION);
  CLI11_PARSE(app, argc, argv);

  spdlog::set_default_logger(spdlog::stderr_color_mt("moq-api"));
  spdlog::set_level(spdlog::level::from_str(log_level));

  auto address = parse_listen_address(listen);
  if (!address) {
    spdlog::critical("{}", address.error().reason);
    return EXIT_FAILURE;
  }
  auto redis_address = parse_redis_url(redis);
  if (!redis_address) {
    spdlog::critical("{}", redis_address.error().reason);
    return EXIT_FAILURE;
  }

  // Thousands of connections at once need as many file descriptors.
  moq::http::raise_open_file_limit();
  // Blocked before the server's threads start, so they inherit the mask and
  // only sigwait() below takes the signals.
  sigset_t signals = stop_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  RedisStore store(*redis_address, kRedisConnectTimeout, kRedisCommandTimeout);
  ApiServer api(store);
  moq::http::ServerOptions http_options;
  http_options.idle_timeout = std::chrono::seconds(idle_timeout);
  http_options.max_body_bytes = kMaxBodyBytes;
  http_options.log_level = spdlog::level::info;
  auto server = moq::http::ThreadedServer::start(
      address->host, static_cast<uint16_t>(address->port), kHttpThreads, http_options,
      [&api](const moq::http::Request& request) { return api.handle(request); });
  if (!server) {
    spdlog::critical("--listen {}: {}", listen, server.error().reason);
    return EXIT_FAILURE;
  }
  spdlog::info("serving /origin/{{name}} on {} with redis at {}", listen,
               redis_address->to_string());

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("stopping on signal {}", sig);
  server.value()->stop();
  return EXIT_SUCCESS;
}
