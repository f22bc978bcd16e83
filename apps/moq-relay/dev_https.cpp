#include "dev_https.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "http_request.h"

namespace moq::relay {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kConnectionDeadline = std::chrono::seconds(5);
// Blocking calls wake up this often to check the deadline and stop().
constexpr int kPollMs = 200;

Error os_error(const std::string& what) {
  return Error{code::kInternal, what + ": " + std::strerror(errno)};
}

}  // namespace

Result<std::unique_ptr<DevHttpsServer>> DevHttpsServer::start(const asio::ip::address& address,
                                                              uint16_t port,
                                                              quic::TlsServerContext tls) {
  sockaddr_storage storage{};
  socklen_t len = 0;
  const int family = address.is_v6() ? AF_INET6 : AF_INET;
  if (address.is_v6()) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&storage);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    const auto bytes = address.to_v6().to_bytes();
    std::memcpy(&a->sin6_addr, bytes.data(), bytes.size());
    a->sin6_scope_id = address.to_v6().scope_id();
    len = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&storage);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    const auto bytes = address.to_v4().to_bytes();
    std::memcpy(&a->sin_addr, bytes.data(), bytes.size());
    len = sizeof(sockaddr_in);
  }
  const int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return os_error("dev https: socket");
  const int one = 1, zero = 0;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  // "[::]" serves IPv4 too, like the QUIC socket.
  if (family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&storage), len) != 0 || ::listen(fd, 64) != 0) {
    Error error = os_error("dev https: can't listen on TCP port " + std::to_string(port));
    ::close(fd);
    return error;
  }
  return std::unique_ptr<DevHttpsServer>(new DevHttpsServer(fd, port, std::move(tls)));
}

DevHttpsServer::DevHttpsServer(int listen_fd, uint16_t port, quic::TlsServerContext tls)
    : listen_fd_(listen_fd),
      port_(port),
      tls_(std::move(tls)),
      fingerprint_(tls_.fingerprint_hex()) {
  acceptor_ = std::thread([this] { accept_loop(); });
}

DevHttpsServer::~DevHttpsServer() {
  stop();
}

void DevHttpsServer::stop() {
  if (stopping_.exchange(true)) return;
  if (acceptor_.joinable()) acceptor_.join();
  reap_workers(/*all=*/true);
  ::close(listen_fd_);
}

void DevHttpsServer::reap_workers(bool all) {
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (all || it->done.load()) {
      it->thread.join();
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
}

void DevHttpsServer::accept_loop() {
  while (!stopping_.load()) {
    reap_workers(/*all=*/false);
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, kPollMs) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    if (workers_.size() >= kMaxConnections) {
      ::close(fd);  // dev only: a flood is simply refused
      continue;
    }
    Worker& worker = workers_.emplace_back();
    worker.thread = std::thread([this, fd, &worker] {
      serve_connection(fd);
      worker.done.store(true);
    });
  }
}

void DevHttpsServer::serve_connection(int fd) {
  const auto deadline = Clock::now() + kConnectionDeadline;
  auto in_time = [&] { return !stopping_.load() && Clock::now() < deadline; };
  // Blocking I/O that gives up every kPollMs, so deadlines and stop() hold.
  timeval tv{0, kPollMs * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);

  auto tls = tls_.new_stream_session(quic::AlpnPolicy::http11());
  if (!tls) {
    spdlog::warn("dev https: {}", tls.error().message);
    ::close(fd);
    return;
  }
  gnutls_session_t s = tls->get();
  gnutls_transport_set_int(s, fd);

  int rv = 0;
  do {
    rv = gnutls_handshake(s);
  } while (rv < 0 && gnutls_error_is_fatal(rv) == 0 && in_time());
  if (rv < 0) {
    spdlog::debug("dev https: handshake failed: {}", gnutls_strerror(rv));
    ::close(fd);
    return;
  }

  std::string received;
  HttpRequestHead head;
  char buf[2048];
  while (in_time()) {
    const ssize_t n = gnutls_record_recv(s, buf, sizeof buf);
    if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) continue;
    if (n <= 0) break;  // closed or failed before a whole request
    received.append(buf, static_cast<size_t>(n));
    head = parse_request_head(received);
    if (head.status != HttpRequestHead::Status::kNeedMore) break;
  }
  if (head.status != HttpRequestHead::Status::kNeedMore) {
    const std::string reply = fingerprint_response(head, fingerprint_);
    size_t sent = 0;
    while (sent < reply.size() && in_time()) {
      const ssize_t n = gnutls_record_send(s, reply.data() + sent, reply.size() - sent);
      if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) continue;
      if (n < 0) break;
      sent += static_cast<size_t>(n);
    }
    spdlog::debug("dev https: {} {}", head.method, head.target);
    gnutls_bye(s, GNUTLS_SHUT_WR);
  }
  ::close(fd);
}

}  // namespace moq::relay
