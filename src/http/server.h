#pragma once

// HTTP/1.1 (and HTTPS) servers on libmicrohttpd, for moq-api and the relay's
// HTTP listener. libmicrohttpd parses, keeps connections alive, enforces the
// limits and timeouts and speaks TLS (GnuTLS); a handler only maps a whole
// Request to a Response. Two ways to run one:
//
//  - ThreadedServer: libmicrohttpd's own threads (a pool, each with its own
//    epoll), for handlers that block (moq-api waits on Redis).
//  - AsioServer: on the caller's asio::io_context, no thread of its own:
//    libmicrohttpd in external-epoll mode, its epoll fd watched by the event
//    loop and its timeout driving a timer. Handlers run on the io_context, so
//    they may read state owned by that loop without locks (the relay).
//
// Both hold thousands of connections: a listen backlog of 4096, a connection
// limit, and idle connections closed after `idle_timeout`.

#include <spdlog/common.h>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "coding/result.h"
#include "http/message.h"
#include "quic/tls_server.h"

namespace moq::http {

struct ServerOptions {
  // A connection with nothing to do for this long is closed (a keep-alive
  // connection between requests, one that never sends a request, one that
  // stalls mid-request).
  std::chrono::seconds idle_timeout{30};
  // Connections open at once; more are closed as soon as they are accepted.
  unsigned connection_limit = 10000;
  unsigned listen_backlog = 4096;
  size_t max_body_bytes = 64 * 1024;  // a larger request body gets 413
  size_t max_head_bytes = 8 * 1024;   // a larger request line + headers gets 431
  // HTTPS with these certificates (chosen by SNI as for QUIC). Without: plain HTTP.
  std::optional<quic::TlsServerContext> tls;
  // One log line per request ("GET /path 200 0.123ms") at this level.
  spdlog::level::level_enum log_level = spdlog::level::info;
  std::string name;  // prefix of the server's log lines ("NAME: "), if any
};

class Daemon;  // one libmicrohttpd daemon (server.cpp)

// Lifts the process's open-file soft limit to its hard limit, so that
// thousands of sockets fit; programs call it at start-up. Returns the new
// soft limit.
size_t raise_open_file_limit();

// (a) On libmicrohttpd's threads: `threads` event loops (epoll), each serving
// its share of the connections; the handler runs on them, concurrently.
class ThreadedServer {
 public:
  // Listens on host:port: "::" is every IPv6 and IPv4 address, "0.0.0.0"
  // every IPv4 one, else an address or a name; port 0 picks a free port.
  static Result<std::unique_ptr<ThreadedServer>> start(const std::string& host, uint16_t port,
                                                       unsigned threads, ServerOptions options,
                                                       Handler handler);
  ~ThreadedServer();  // stop()s
  ThreadedServer(const ThreadedServer&) = delete;
  ThreadedServer& operator=(const ThreadedServer&) = delete;

  uint16_t port() const { return port_; }
  // Closes the listener and every connection, waits for the threads.
  // Not from a handler.
  void stop();

 private:
  explicit ThreadedServer(std::unique_ptr<Daemon> daemon);
  std::unique_ptr<Daemon> daemon_;
  uint16_t port_ = 0;
};

// (b) On an io_context, in its thread. Accepts TCP on `listen` itself and
// hands each connection to libmicrohttpd. With TLS and `plain_http` both,
// HTTPS and plain HTTP share the port: the first byte a client sends decides
// (0x16 opens a TLS handshake); a connection that sends nothing is closed
// after idle_timeout without holding anything else up.
class AsioServer : public std::enable_shared_from_this<AsioServer> {
 public:
  // `listen` on "::" also takes IPv4; port 0 picks a free port.
  static Result<std::shared_ptr<AsioServer>> start(asio::io_context& io,
                                                   const asio::ip::tcp::endpoint& listen,
                                                   ServerOptions options, Handler handler,
                                                   bool plain_http = true);
  ~AsioServer();
  AsioServer(const AsioServer&) = delete;
  AsioServer& operator=(const AsioServer&) = delete;

  uint16_t port() const { return port_; }
  // Connections open now (being sniffed or served). On the io_context's thread.
  size_t connections() const;
  // Stops accepting, closes every connection. On the io_context's thread;
  // handlers already queued on the io_context then do nothing.
  void stop();

  struct Engine;   // a libmicrohttpd daemon driven by the io_context
  struct Pending;  // an accepted connection whose first byte is awaited

 private:
  AsioServer(asio::io_context& io, ServerOptions options);
  void accept();
  void accepted(asio::ip::tcp::socket socket);
  void wait_first_byte(const std::shared_ptr<Pending>& pending);
  void hand_over(asio::ip::tcp::socket& socket, Engine& engine);

  const ServerOptions options_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer backoff_;  // after an accept error (out of file descriptors)
  uint16_t port_ = 0;
  std::shared_ptr<Engine> tls_;    // HTTPS, when options.tls
  std::shared_ptr<Engine> plain_;  // plain HTTP, when plain_http
  std::set<std::shared_ptr<Pending>> pending_;
  bool stopped_ = false;
};

}  // namespace moq::http
