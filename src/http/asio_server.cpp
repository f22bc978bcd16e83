// AsioServer: libmicrohttpd in external-epoll mode on an io_context.
//
// libmicrohttpd keeps every connection in an epoll set of its own; that epoll
// fd becomes readable whenever one of them is ready, so the io_context waits
// on it (stream_descriptor::async_wait) and calls MHD_run() when it fires. A
// steady_timer set from MHD_get_timeout() wakes it for idle timeouts. The
// listening socket is ours (an Asio acceptor): each accepted socket is handed
// over with MHD_add_connection(), after a look at its first byte when HTTPS
// and plain HTTP share the port.
#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <asio/ip/v6_only.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>
#include <cerrno>
#include <cstring>

#include "http/daemon.h"
#include "http/server.h"

namespace moq::http {
namespace {

using Clock = std::chrono::steady_clock;

// The first byte of a TLS connection: a handshake record (the ClientHello).
constexpr unsigned char kTlsHandshake = 0x16;

std::string label(const ServerOptions& options) {
  return options.name.empty() ? "http" : options.name;
}

}  // namespace

struct AsioServer::Engine : std::enable_shared_from_this<Engine> {
  Engine(asio::io_context& io, std::unique_ptr<Daemon> d, std::string label)
      : daemon(std::move(d)), epoll(io), timer(io), name(std::move(label)) {
    epoll.assign(daemon->epoll_fd());
  }
  ~Engine() { stop(); }

  void stop() {
    if (stopped) return;
    stopped = true;
    asio::error_code ignored;
    timer.cancel();
    epoll.cancel(ignored);
    // The fd is libmicrohttpd's: take it out of the reactor, don't close it.
    if (epoll.is_open()) epoll.release();
    daemon->stop();
  }

  void add(int fd, const sockaddr* peer, socklen_t peer_len) {
    if (!daemon->add(fd, peer, peer_len)) {
      spdlog::debug("{}: connection refused: {}", name, std::strerror(errno));
    }
    post_run();
  }

  // MHD_run(), then wait for the next event or timeout.
  void run() {
    if (stopped) return;
    daemon->run();
    // MHD_run() takes a bounded batch of events; if more are ready, come
    // back after the io_context's other handlers rather than wait for an
    // edge that will not come.
    pollfd p{daemon->epoll_fd(), POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) {
      post_run();
    } else {
      watch();
    }
    arm_timer();
  }

  void post_run() {
    if (posted || stopped) return;
    posted = true;
    asio::post(epoll.get_executor(), [weak = weak_from_this()] {
      if (auto self = weak.lock()) {
        self->posted = false;
        self->run();
      }
    });
  }

  void watch() {
    if (waiting || stopped) return;
    waiting = true;
    epoll.async_wait(asio::posix::stream_descriptor::wait_read,
                     [weak = weak_from_this()](const asio::error_code& ec) {
                       auto self = weak.lock();
                       if (!self) return;
                       self->waiting = false;
                       if (!ec) self->run();
                     });
  }

  void arm_timer() {
    const long long ms = daemon->timeout();
    if (ms < 0 || stopped) return;  // nothing timed; a timer already set just fires early
    const auto at = Clock::now() + std::chrono::milliseconds(ms);
    if (timer_set && timer_at <= at) return;  // fires in time; run() re-arms then
    timer_set = true;
    timer_at = at;
    timer.expires_at(at);
    timer.async_wait([weak = weak_from_this()](const asio::error_code& ec) {
      if (ec == asio::error::operation_aborted) return;  // re-armed or stopped
      auto self = weak.lock();
      if (!self) return;
      self->timer_set = false;
      self->run();
    });
  }

  std::unique_ptr<Daemon> daemon;
  asio::posix::stream_descriptor epoll;
  asio::steady_timer timer;
  Clock::time_point timer_at{};
  bool timer_set = false;
  bool waiting = false;
  bool posted = false;
  bool stopped = false;
  const std::string name;
};

struct AsioServer::Pending {
  explicit Pending(asio::ip::tcp::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}
  asio::ip::tcp::socket socket;
  asio::steady_timer timer;  // idle timeout before the first byte
};

AsioServer::AsioServer(asio::io_context& io, ServerOptions options)
    : options_(std::move(options)), acceptor_(io), backoff_(io) {}

AsioServer::~AsioServer() {
  stop();
}

Result<std::shared_ptr<AsioServer>> AsioServer::start(asio::io_context& io,
                                                      const asio::ip::tcp::endpoint& listen,
                                                      ServerOptions options, Handler handler,
                                                      bool plain_http) {
  if (!options.tls && !plain_http) return Error{code::kInternal, "neither HTTPS nor HTTP"};
  std::shared_ptr<AsioServer> self(new AsioServer(io, std::move(options)));
  const std::string where = "TCP port " + std::to_string(listen.port());

  asio::error_code ec;
  auto& acceptor = self->acceptor_;
  acceptor.open(listen.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  // "[::]" takes IPv4 too.
  if (!ec && listen.address().is_v6() && listen.address().is_unspecified()) {
    acceptor.set_option(asio::ip::v6_only(false), ec);
  }
  if (!ec) acceptor.bind(listen, ec);
  if (!ec) acceptor.listen(static_cast<int>(self->options_.listen_backlog), ec);
  if (ec) return Error{code::kInternal, "can't listen on " + where + ": " + ec.message()};
  self->port_ = acceptor.local_endpoint(ec).port();

  DaemonConfig config;  // external epoll, no listening socket of its own
  if (self->options_.tls) {
    config.tls = true;
    auto daemon = Daemon::start(config, self->options_, handler);
    if (!daemon) return daemon.error();
    self->tls_ =
        std::make_shared<Engine>(io, std::move(daemon.value()), label(self->options_) + " https");
    self->tls_->watch();
  }
  if (plain_http) {
    config.tls = false;
    auto daemon = Daemon::start(config, self->options_, std::move(handler));
    if (!daemon) return daemon.error();
    self->plain_ =
        std::make_shared<Engine>(io, std::move(daemon.value()), label(self->options_) + " http");
    self->plain_->watch();
  }
  self->accept();
  return self;
}

size_t AsioServer::connections() const {
  size_t n = pending_.size();
  if (tls_ && !tls_->stopped) n += tls_->daemon->connections();
  if (plain_ && !plain_->stopped) n += plain_->daemon->connections();
  return n;
}

void AsioServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  asio::error_code ignored;
  acceptor_.close(ignored);
  backoff_.cancel();
  for (const auto& p : pending_) {
    p->timer.cancel();
    p->socket.close(ignored);
  }
  pending_.clear();
  if (tls_) tls_->stop();
  if (plain_) plain_->stop();
}

void AsioServer::accept() {
  acceptor_.async_accept(
      [weak = weak_from_this()](const asio::error_code& ec, asio::ip::tcp::socket socket) {
        auto self = weak.lock();
        if (!self || self->stopped_ || ec == asio::error::operation_aborted) return;
        if (ec) {
          // Out of file descriptors, most likely: give connections time to end
          // instead of spinning on the error.
          spdlog::warn("{}: accept: {}", label(self->options_), ec.message());
          self->backoff_.expires_after(std::chrono::milliseconds(100));
          self->backoff_.async_wait([weak](const asio::error_code& wait_ec) {
            auto again = weak.lock();
            if (!wait_ec && again && !again->stopped_) again->accept();
          });
          return;
        }
        self->accepted(std::move(socket));
        self->accept();
      });
}

void AsioServer::accepted(asio::ip::tcp::socket socket) {
  if (connections() >= options_.connection_limit) {
    spdlog::debug("{}: connection limit ({}) reached, closing a new connection", label(options_),
                  options_.connection_limit);
    return;  // the socket closes
  }
  if (!tls_ || !plain_) return hand_over(socket, tls_ ? *tls_ : *plain_);
  // Both on one port: the first byte decides. Until it comes, the socket
  // costs a timer and a wait on the io_context, nothing more.
  auto pending = std::make_shared<Pending>(std::move(socket));
  pending_.insert(pending);
  pending->timer.expires_after(options_.idle_timeout);
  pending->timer.async_wait([pending](const asio::error_code& ec) {
    asio::error_code ignored;
    if (!ec) pending->socket.close(ignored);  // idle: the wait below ends the rest
  });
  wait_first_byte(pending);
}

void AsioServer::wait_first_byte(const std::shared_ptr<Pending>& pending) {
  pending->socket.async_wait(asio::ip::tcp::socket::wait_read, [weak = weak_from_this(), pending](
                                                                   const asio::error_code& ec) {
    auto self = weak.lock();
    if (!self || self->stopped_) return;
    unsigned char first = 0;
    ssize_t n = -1;
    if (!ec && pending->socket.is_open()) {
      n = ::recv(pending->socket.native_handle(), &first, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return self->wait_first_byte(pending);
      }
    }
    self->pending_.erase(pending);
    pending->timer.cancel();
    asio::error_code ignored;
    if (n <= 0) {
      pending->socket.close(ignored);  // closed, failed or idle
      return;
    }
    self->hand_over(pending->socket, first == kTlsHandshake ? *self->tls_ : *self->plain_);
  });
}

void AsioServer::hand_over(asio::ip::tcp::socket& socket, Engine& engine) {
  asio::error_code ec;
  const auto peer = socket.remote_endpoint(ec);
  if (ec) return;  // already gone; the socket closes
  const int fd = socket.release(ec);
  if (ec) return;
  // libmicrohttpd's epoll mode wants non-blocking sockets.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  engine.add(fd, peer.data(), static_cast<socklen_t>(peer.size()));
}

}  // namespace moq::http
