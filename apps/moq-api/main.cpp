// moq-api: the origin registry. A thin HTTP/1.1 JSON API over Redis so that
// relays need no Redis access of their own. See shared/spec/programs.md.
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdlib>
#include <thread>

#include "listen_address.h"
#include "redis_store.h"
#include "server.h"

namespace {

// Redis is on the same network as moq-api: a second is a generous bound for
// connecting or answering, and keeps requests from hanging when it is gone.
constexpr std::chrono::milliseconds kRedisConnectTimeout{1000};
constexpr std::chrono::milliseconds kRedisCommandTimeout{1000};

// SIGINT/SIGTERM are blocked in every thread and taken by this one, which can
// then stop the server with an ordinary call (not from a signal handler).
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
  app.add_option("--listen", listen, "HTTP listen address, HOST:PORT ([::] for IPv4 and IPv6)")
      ->envname("MOQ_API_LISTEN")
      ->capture_default_str();
  app.add_option("--redis", redis, "Redis server, redis://HOST[:PORT][/DB]")
      ->envname("MOQ_API_REDIS")
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

  sigset_t signals = stop_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  RedisStore store(*redis_address, kRedisConnectTimeout, kRedisCommandTimeout);
  ApiServer server(store);
  if (!server.bind(address->host, address->port)) {
    spdlog::critical("can't listen on {}: address in use or not available", listen);
    return EXIT_FAILURE;
  }
  spdlog::info("serving /origin/{{name}} on {} with redis at {}", listen,
               redis_address->to_string());

  std::atomic<bool> run_returned{false};
  std::thread stopper([&server, &run_returned, signals] {
    int sig = 0;
    sigwait(&signals, &sig);
    if (!run_returned) spdlog::info("stopping on signal {}", sig);
    // cpp-httplib's stop() is a no-op until the accept loop runs: a signal
    // that arrives during start-up must wait for it.
    while (!server.running() && !run_returned) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    server.stop();
  });
  bool ok = server.run();
  run_returned = true;
  // Wake the stopper if run() returned on its own (it is blocked in sigwait).
  kill(getpid(), SIGTERM);
  stopper.join();
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
