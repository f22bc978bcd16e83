#pragma once

#include <asio/ip/address.hpp>
#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "coding/result.h"
#include "quic/tls_server.h"

namespace moq::relay {

// The `--dev` control plane: HTTPS over TCP on the relay's port, serving
// GET /fingerprint (hex SHA-256 of the first certificate, CORS open) so a
// browser page can pin the relay's self-signed certificate for WebTransport.
//
// Development only and tiny, so it runs on its own threads with blocking
// sockets instead of on the media event loop: one thread accepts, each
// connection gets a short-lived thread (at most kMaxConnections at once; one
// request per connection, 5 s deadline, 8 KiB request head). Nothing here
// touches the io_context or the relay's state.
class DevHttpsServer {
 public:
  static constexpr size_t kMaxConnections = 16;

  // Binds TCP `address`:`port` (dual-stack for "::") and starts serving.
  static Result<std::unique_ptr<DevHttpsServer>> start(const asio::ip::address& address,
                                                       uint16_t port, quic::TlsServerContext tls);
  ~DevHttpsServer();  // stop()s
  DevHttpsServer(const DevHttpsServer&) = delete;
  DevHttpsServer& operator=(const DevHttpsServer&) = delete;

  uint16_t port() const { return port_; }
  // Stops accepting, ends the connections in progress and joins the threads.
  void stop();

 private:
  struct Worker {
    std::thread thread;
    std::atomic<bool> done{false};
  };

  DevHttpsServer(int listen_fd, uint16_t port, quic::TlsServerContext tls);
  void accept_loop();
  void serve_connection(int fd);
  void reap_workers(bool all);

  int listen_fd_;
  uint16_t port_;
  quic::TlsServerContext tls_;
  const std::string fingerprint_;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::list<Worker> workers_;  // only touched by the acceptor thread (and stop() after it)
};

}  // namespace moq::relay
