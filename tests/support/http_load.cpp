#include "support/http_load.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace moq::test {
namespace {

using Clock = std::chrono::steady_clock;

sockaddr_storage address_of(const LoadTarget& target, socklen_t& len) {
  sockaddr_storage storage{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (inet_pton(AF_INET, target.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(target.port));
    len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, target.host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(target.port));
    len = sizeof(sockaddr_in6);
  } else {
    throw std::invalid_argument("not a numeric address: " + target.host);
  }
  return storage;
}

// A non-blocking socket with a connect() in progress, or -1.
int start_connect(const sockaddr_storage& address, socklen_t len, std::string& error) {
  const int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), len) != 0 &&
      errno != EINPROGRESS) {
    error = std::string("connect: ") + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct Connection {
  enum class State { kConnecting, kHandshake, kSending, kReceiving, kDone };
  int fd = -1;
  State state = State::kConnecting;
  gnutls_session_t tls = nullptr;
  std::string out;
  size_t sent = 0;
  std::string in;
  Clock::time_point start;
  LoadOutcome* outcome = nullptr;

  ~Connection() {
    if (tls != nullptr) gnutls_deinit(tls);
    if (fd >= 0) ::close(fd);
  }

  void finish(std::string error) {
    outcome->error = std::move(error);
    if (outcome->error.empty()) {
      outcome->latency =
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
    } else {
      outcome->status = 0;
    }
    state = State::kDone;
    if (fd >= 0) ::close(fd);
    fd = -1;
  }

  // True once `in` holds a whole response; sets the outcome's status and body.
  bool complete(bool eof) {
    const size_t end = in.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    if (in.compare(0, 7, "HTTP/1.") != 0 || in.size() < 12) return false;
    const int status = std::atoi(in.c_str() + 9);
    std::istringstream head(in.substr(0, end));
    std::string line;
    long long length = -1;
    while (std::getline(head, line)) {
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      if (lower(line.substr(0, colon)) == "content-length") {
        length = std::atoll(line.c_str() + colon + 1);
      }
    }
    const size_t body_at = end + 4;
    if (length < 0) {
      if (!eof) return false;  // read to the end
      length = static_cast<long long>(in.size() - body_at);
    }
    if (in.size() < body_at + static_cast<size_t>(length)) return false;
    outcome->status = status;
    outcome->body = in.substr(body_at, static_cast<size_t>(length));
    return true;
  }

  // Makes as much progress as the socket allows without blocking.
  void drive() {
    while (state != State::kDone) {
      switch (state) {
        case State::kConnecting: {
          int err = 0;
          socklen_t len = sizeof err;
          ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
          if (err != 0) return finish(std::string("connect: ") + std::strerror(err));
          // Still in progress: no error yet and not writable. A zero-byte
          // send tells the two apart.
          if (::send(fd, "", 0, MSG_NOSIGNAL) < 0) {
            if (errno == EAGAIN || errno == ENOTCONN) return;
            return finish(std::string("connect: ") + std::strerror(errno));
          }
          state = tls != nullptr ? State::kHandshake : State::kSending;
          break;
        }
        case State::kHandshake: {
          const int rv = gnutls_handshake(tls);
          if (rv == GNUTLS_E_AGAIN || rv == GNUTLS_E_INTERRUPTED) return;
          if (rv < 0) return finish(std::string("tls: ") + gnutls_strerror(rv));
          state = State::kSending;
          break;
        }
        case State::kSending: {
          while (sent < out.size()) {
            ssize_t n = 0;
            if (tls != nullptr) {
              n = gnutls_record_send(tls, out.data() + sent, out.size() - sent);
              if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) return;
              if (n < 0)
                return finish(std::string("tls send: ") + gnutls_strerror(static_cast<int>(n)));
            } else {
              n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
              if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
              if (n < 0) {
                return finish(errno == ECONNRESET || errno == EPIPE
                                  ? "reset"
                                  : std::string("send: ") + std::strerror(errno));
              }
            }
            sent += static_cast<size_t>(n);
          }
          state = State::kReceiving;
          break;
        }
        case State::kReceiving: {
          char buf[16384];
          ssize_t n = 0;
          if (tls != nullptr) {
            n = gnutls_record_recv(tls, buf, sizeof buf);
            if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) return;
            if (n == GNUTLS_E_PREMATURE_TERMINATION) n = 0;
            if (n < 0) {
              if (complete(true)) return finish("");
              return finish(std::string("tls recv: ") + gnutls_strerror(static_cast<int>(n)));
            }
          } else {
            n = ::recv(fd, buf, sizeof buf, 0);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
            if (n < 0) {
              if (complete(true)) return finish("");
              return finish(errno == ECONNRESET ? "reset"
                                                : std::string("recv: ") + std::strerror(errno));
            }
          }
          if (n == 0) {
            if (complete(true)) return finish("");
            return finish(in.empty() ? "closed without a response" : "closed mid-response");
          }
          in.append(buf, static_cast<size_t>(n));
          if (complete(false)) return finish("");
          break;
        }
        case State::kDone:
          return;
      }
    }
  }
};

std::string request_bytes(const LoadTarget& target, const LoadRequest& r) {
  const bool v6 = target.host.find(':') != std::string::npos;
  std::string out = r.method + " " + r.path +
                    " HTTP/1.1\r\nHost: " + (v6 ? "[" + target.host + "]" : target.host) + ":" +
                    std::to_string(target.port) + "\r\nConnection: close\r\n";
  if (!r.body.empty() || r.method == "POST" || r.method == "PATCH") {
    out += "Content-Type: " + r.content_type + "\r\n";
    out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  }
  out += "\r\n";
  out += r.body;
  return out;
}

std::string format_ms(std::chrono::microseconds us) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f ms", static_cast<double>(us.count()) / 1000.0);
  return buf;
}

}  // namespace

std::string LoadReport::summary() const {
  std::string s = "answered " + std::to_string(answered) + "/" + std::to_string(outcomes.size()) +
                  " (failed " + std::to_string(failed) + ", timed out " +
                  std::to_string(timed_out) + ")";
  for (const auto& [status, count] : statuses) {
    s += ", " + std::to_string(status) + " x" + std::to_string(count);
  }
  for (const auto& [error, count] : errors) {
    s += ", '" + error + "' x" + std::to_string(count);
  }
  s += ", latency median " + format_ms(median) + " p99 " + format_ms(p99) + " max " +
       format_ms(max) + ", wall " + std::to_string(wall.count()) + " ms";
  return s;
}

LoadReport run_load(const LoadTarget& target, const std::vector<LoadRequest>& requests,
                    std::chrono::milliseconds deadline) {
  raise_open_file_limit();
  LoadReport report;
  report.outcomes.resize(requests.size());
  socklen_t len = 0;
  const sockaddr_storage address = address_of(target, len);
  gnutls_certificate_credentials_t cred = nullptr;
  if (target.tls) gnutls_certificate_allocate_credentials(&cred);

  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  const auto started = Clock::now();
  const auto until = started + deadline;
  std::vector<std::unique_ptr<Connection>> connections;
  connections.reserve(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    auto c = std::make_unique<Connection>();
    c->outcome = &report.outcomes[i];
    c->out = request_bytes(target, requests[i]);
    c->start = Clock::now();
    std::string error;
    c->fd = start_connect(address, len, error);
    if (c->fd < 0) {
      c->finish(error);
      connections.push_back(std::move(c));
      continue;
    }
    if (target.tls) {
      gnutls_init(&c->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
      gnutls_set_default_priority(c->tls);
      gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, cred);
      gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, target.server_name.data(),
                             target.server_name.size());
      gnutls_transport_set_int(c->tls, c->fd);
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = c.get();
    ::epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    connections.push_back(std::move(c));
  }

  size_t done = 0;
  for (const auto& c : connections)
    done += c->state == Connection::State::kDone ? 1 : 0;
  std::vector<epoll_event> events(1024);
  while (done < connections.size()) {
    const auto now = Clock::now();
    if (now >= until) break;
    const int wait_ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count() + 1);
    const int n =
        ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), std::min(wait_ms, 100));
    for (int i = 0; i < n; ++i) {
      auto* c = static_cast<Connection*>(events[i].data.ptr);
      if (c->state == Connection::State::kDone) continue;
      c->drive();
      if (c->state == Connection::State::kDone) ++done;
    }
  }
  for (auto& c : connections) {
    if (c->state != Connection::State::kDone) c->finish("timed out");
  }
  connections.clear();
  ::close(ep);
  if (cred != nullptr) gnutls_certificate_free_credentials(cred);
  report.wall = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);

  std::vector<std::chrono::microseconds> latencies;
  for (const auto& o : report.outcomes) {
    if (o.error.empty()) {
      ++report.answered;
      ++report.statuses[o.status];
      latencies.push_back(o.latency);
    } else {
      ++report.errors[o.error];
      if (o.error == "timed out") {
        ++report.timed_out;
      } else {
        ++report.failed;
      }
    }
  }
  if (!latencies.empty()) {
    std::sort(latencies.begin(), latencies.end());
    report.median = latencies[latencies.size() / 2];
    report.p99 = latencies[std::min(latencies.size() - 1, latencies.size() * 99 / 100)];
    report.max = latencies.back();
  }
  return report;
}

size_t IdleConnections::open(const LoadTarget& target, size_t count,
                             std::chrono::milliseconds deadline) {
  raise_open_file_limit();
  socklen_t len = 0;
  const sockaddr_storage address = address_of(target, len);
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  std::vector<int> pending;
  for (size_t i = 0; i < count; ++i) {
    std::string error;
    const int fd = start_connect(address, len, error);
    if (fd < 0) continue;
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.fd = fd;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    pending.push_back(fd);
  }
  const auto until = Clock::now() + deadline;
  size_t connected = 0;
  std::vector<epoll_event> events(1024);
  while (connected + (count - pending.size()) < count && Clock::now() < until) {
    const int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 50);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      ::epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
      int err = 0;
      socklen_t elen = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
      std::erase(pending, fd);
      if (err == 0) {
        fds_.push_back(fd);
        ++connected;
      } else {
        ::close(fd);
        --count;  // failed for good: stop waiting for it
      }
    }
  }
  for (int fd : pending)
    ::close(fd);
  ::close(ep);
  return connected;
}

size_t IdleConnections::closed_by_peer() const {
  size_t closed = 0;
  for (int fd : fds_) {
    char c = 0;
    const ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) ++closed;
  }
  return closed;
}

size_t IdleConnections::wait_closed(std::chrono::milliseconds deadline) const {
  const auto until = Clock::now() + deadline;
  size_t closed = closed_by_peer();
  while (closed < fds_.size() && Clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    closed = closed_by_peer();
  }
  return closed;
}

void IdleConnections::close_all() {
  for (int fd : fds_)
    ::close(fd);
  fds_.clear();
}

size_t raise_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  return static_cast<size_t>(limit.rlim_cur);
}

}  // namespace moq::test
