#pragma once

// Internal to moq_http: one libmicrohttpd daemon with this library's request
// handling (whole bodies, limits, logging, TLS through TlsServerContext).
// ThreadedServer and AsioServer drive it in their two ways.

#include <sys/socket.h>

#include <memory>
#include <string>

#include "coding/result.h"
#include "http/server.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace moq::http {

struct DaemonConfig {
  // libmicrohttpd's own threads (a pool of `threads` epoll loops), else
  // external epoll: the caller runs it (epoll_fd(), timeout(), run()).
  bool threaded = false;
  unsigned threads = 1;
  // Listen on host:port itself, else take connections from add().
  bool listen = false;
  std::string host;
  uint16_t port = 0;
  bool tls = false;  // HTTPS with options.tls (which must be set)
};

class Daemon {
 public:
  static Result<std::unique_ptr<Daemon>> start(const DaemonConfig& config,
                                               const ServerOptions& options, Handler handler);
  ~Daemon();  // stop()s
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  uint16_t port() const;  // the bound port, with `listen`
  // External epoll only (from the thread that runs it):
  int epoll_fd() const;
  // Milliseconds until run() is due even without I/O, or -1 for "no timer".
  long long timeout() const;
  void run();
  // Takes over `fd` (a connected TCP socket, closed in any case). False when
  // refused (connection limit, out of memory).
  bool add(int fd, const sockaddr* peer, socklen_t peer_len);
  unsigned connections() const;
  void stop();

  struct Callbacks;  // the C callbacks (server.cpp)

 private:
  Daemon(const ServerOptions& options, Handler handler, bool tls);
  struct RequestState;
  // Run the handler / queue a response and log the request; false: close.
  bool handle(MHD_Connection* connection, const char* method, const char* url, RequestState& state);
  bool reply(MHD_Connection* connection, const char* method, const char* target,
             const RequestState& state, const Response& response);

  const ServerOptions options_;
  const Handler handler_;
  const bool tls_;
  const std::string prefix_;  // of log lines: "NAME: " or ""
  const size_t drain_limit_;  // request bodies up to this are read (and dropped) before a 413
  MHD_Daemon* daemon_ = nullptr;
};

}  // namespace moq::http
