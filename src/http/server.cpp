#include "http/server.h"

#include <microhttpd.h>
#include <netdb.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <vector>

#include "http/daemon.h"

namespace moq::http {
namespace {

using Clock = std::chrono::steady_clock;

Error os_error(const std::string& what) {
  return Error{code::kInternal, what + ": " + std::strerror(errno)};
}

}  // namespace

// What one request accumulates between the handler calls libmicrohttpd makes
// for it (headers, then the body in pieces, then the end).
struct Daemon::RequestState {
  Clock::time_point start = Clock::now();
  std::string body;
  size_t received = 0;     // body bytes, kept or not
  bool too_large = false;  // the body passed max_body_bytes: 413 at the end
};

// The C callbacks libmicrohttpd calls; `cls` is the Daemon.
struct Daemon::Callbacks {
  static MHD_Result as_result(bool ok) { return ok ? MHD_YES : MHD_NO; }

  static MHD_Result on_request(void* cls, MHD_Connection* connection, const char* url,
                               const char* method, const char* /*version*/, const char* upload_data,
                               size_t* upload_data_size, void** request_cls) {
    auto& self = *static_cast<Daemon*>(cls);
    auto* state = static_cast<Daemon::RequestState*>(*request_cls);
    if (state == nullptr) {
      // The head is in: refuse what can be refused before reading a body.
      state = new Daemon::RequestState();
      *request_cls = state;
      const auto* head =
          MHD_get_connection_info(connection, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
      if (head != nullptr && head->header_size > self.options_.max_head_bytes) {
        return as_result(self.reply(connection, method, url, *state,
                                    Response::text(431, "request header fields too large\n")));
      }
      if (const char* length = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                           MHD_HTTP_HEADER_CONTENT_LENGTH);
          length != nullptr && std::strtoull(length, nullptr, 10) > self.drain_limit_) {
        // Not worth reading: answer now (libmicrohttpd then closes).
        return as_result(self.reply(connection, method, url, *state,
                                    Response::text(413, "request body too large\n")));
      }
      return MHD_YES;
    }
    if (*upload_data_size > 0) {
      const size_t n = *upload_data_size;
      *upload_data_size = 0;
      state->received += n;
      if (state->received > self.drain_limit_) return MHD_NO;  // a flood: close
      if (!state->too_large && state->body.size() + n > self.options_.max_body_bytes) {
        state->too_large = true;
        std::string().swap(state->body);
      }
      if (!state->too_large) state->body.append(upload_data, n);
      return MHD_YES;
    }
    if (state->too_large) {
      return as_result(self.reply(connection, method, url, *state,
                                  Response::text(413, "request body too large\n")));
    }
    return as_result(self.handle(connection, method, url, *state));
  }

  static void on_completed(void* /*cls*/, MHD_Connection* /*connection*/, void** request_cls,
                           MHD_RequestTerminationCode /*code*/) {
    delete static_cast<Daemon::RequestState*>(*request_cls);
    *request_cls = nullptr;
  }

  static void on_connection(void* cls, MHD_Connection* connection, void** /*socket_context*/,
                            MHD_ConnectionNotificationCode code) {
    auto& self = *static_cast<Daemon*>(cls);
    if (code != MHD_CONNECTION_NOTIFY_STARTED || !self.tls_) return;
    // Before any byte is read: the handshake's certificate callback finds
    // the context through the session.
    const auto* info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (info != nullptr && info->tls_session != nullptr) {
      self.options_.tls->attach(static_cast<gnutls_session_t>(info->tls_session));
    }
  }

  // Leaves the path as sent: the handler gets it percent-decoded by us, NUL
  // bytes included, which a C string could not carry.
  static size_t keep_escaped(void* /*cls*/, MHD_Connection* /*connection*/, char* s) {
    return std::strlen(s);
  }

  static void log(void* cls, const char* format, va_list args) {
    auto& self = *static_cast<Daemon*>(cls);
    char message[512];
    std::vsnprintf(message, sizeof message, format, args);
    std::string_view text(message);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
      text.remove_suffix(1);
    spdlog::debug("{}{}", self.prefix_, text);
  }

  static MHD_Result collect_header(void* cls, MHD_ValueKind /*kind*/, const char* key,
                                   const char* value) {
    static_cast<std::vector<Header>*>(cls)->push_back(
        Header{key != nullptr ? key : "", value != nullptr ? value : ""});
    return MHD_YES;
  }

  static MHD_Result collect_argument(void* cls, MHD_ValueKind /*kind*/, const char* key,
                                     const char* value) {
    auto& query = *static_cast<std::string*>(cls);
    if (!query.empty()) query.push_back('&');
    query += key != nullptr ? key : "";
    if (value != nullptr) {
      query.push_back('=');
      query += value;
    }
    return MHD_YES;
  }
};

Daemon::Daemon(const ServerOptions& options, Handler handler, bool tls)
    : options_(options),
      handler_(std::move(handler)),
      tls_(tls),
      prefix_(options.name.empty() ? "" : options.name + ": "),
      drain_limit_(std::max<size_t>(1 << 20, options.max_body_bytes * 4)) {}

Daemon::~Daemon() {
  stop();
}

void Daemon::stop() {
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
  daemon_ = nullptr;
}

Result<std::unique_ptr<Daemon>> Daemon::start(const DaemonConfig& config,
                                              const ServerOptions& options, Handler handler) {
  if (config.tls && !options.tls) return Error{code::kInternal, "HTTPS needs certificates"};
  std::unique_ptr<Daemon> self(new Daemon(options, std::move(handler), config.tls));
  using Cb = Callbacks;

  unsigned flags = MHD_USE_ERROR_LOG | MHD_USE_EPOLL;
  if (config.threaded) flags |= MHD_USE_INTERNAL_POLLING_THREAD;
  if (config.tls) flags |= MHD_USE_TLS;
  std::vector<MHD_OptionItem> ops = {
      {MHD_OPTION_EXTERNAL_LOGGER, reinterpret_cast<intptr_t>(&Cb::log), self.get()},
      {MHD_OPTION_CONNECTION_LIMIT, static_cast<intptr_t>(options.connection_limit), nullptr},
      {MHD_OPTION_CONNECTION_TIMEOUT, static_cast<intptr_t>(options.idle_timeout.count()), nullptr},
      {MHD_OPTION_NOTIFY_COMPLETED, reinterpret_cast<intptr_t>(&Cb::on_completed), self.get()},
      {MHD_OPTION_NOTIFY_CONNECTION, reinterpret_cast<intptr_t>(&Cb::on_connection), self.get()},
      {MHD_OPTION_UNESCAPE_CALLBACK, reinterpret_cast<intptr_t>(&Cb::keep_escaped), self.get()},
  };
  if (config.threaded && config.threads > 1) {
    ops.push_back({MHD_OPTION_THREAD_POOL_SIZE, static_cast<intptr_t>(config.threads), nullptr});
  }
  if (config.tls) {
    ops.push_back({MHD_OPTION_HTTPS_CERT_CALLBACK, 0,
                   reinterpret_cast<void*>(quic::TlsServerContext::certificate_callback())});
  }

  uint16_t port = 0;
  addrinfo* resolved = nullptr;
  if (!config.listen) {
    flags |= MHD_USE_NO_LISTEN_SOCKET;
  } else {
    ops.push_back(
        {MHD_OPTION_LISTEN_BACKLOG_SIZE, static_cast<intptr_t>(options.listen_backlog), nullptr});
    if (config.host == "::") {
      flags |= MHD_USE_DUAL_STACK;  // IPv6 and IPv4
      port = config.port;
    } else {
      addrinfo hints{};
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      hints.ai_flags = AI_PASSIVE;
      const std::string service = std::to_string(config.port);
      if (int rv = ::getaddrinfo(config.host.c_str(), service.c_str(), &hints, &resolved);
          rv != 0 || resolved == nullptr) {
        return Error{code::kInternal, "can't resolve " + config.host + ": " + gai_strerror(rv)};
      }
      if (resolved->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
      ops.push_back({MHD_OPTION_SOCK_ADDR, 0, resolved->ai_addr});
    }
  }
  ops.push_back({MHD_OPTION_END, 0, nullptr});

  errno = 0;
  self->daemon_ = MHD_start_daemon(flags, port, nullptr, nullptr, &Cb::on_request, self.get(),
                                   MHD_OPTION_ARRAY, ops.data(), MHD_OPTION_END);
  if (resolved != nullptr) ::freeaddrinfo(resolved);
  if (self->daemon_ == nullptr) {
    return config.listen
               ? os_error("can't listen on " + config.host + " port " + std::to_string(config.port))
               : Error{code::kInternal, "can't start the HTTP server"};
  }
  return self;
}

uint16_t Daemon::port() const {
  const auto* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
  return info != nullptr ? info->port : 0;
}

int Daemon::epoll_fd() const {
  const auto* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_EPOLL_FD);
  return info != nullptr ? info->epoll_fd : -1;
}

long long Daemon::timeout() const {
  MHD_UNSIGNED_LONG_LONG ms = 0;
  if (daemon_ == nullptr || MHD_get_timeout(daemon_, &ms) != MHD_YES) return -1;
  return static_cast<long long>(ms);
}

void Daemon::run() {
  if (daemon_ != nullptr) MHD_run(daemon_);
}

bool Daemon::add(int fd, const sockaddr* peer, socklen_t peer_len) {
  return MHD_add_connection(daemon_, fd, peer, peer_len) == MHD_YES;
}

unsigned Daemon::connections() const {
  const auto* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
  return info != nullptr ? info->num_connections : 0;
}

bool Daemon::handle(MHD_Connection* connection, const char* method, const char* url,
                    RequestState& state) {
  Request request;
  request.method = method;
  request.target = url;
  request.path = percent_decode(url);
  MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, &Callbacks::collect_argument,
                            &request.query);
  if (!request.query.empty()) request.target += "?" + request.query;
  MHD_get_connection_values(connection, MHD_HEADER_KIND, &Callbacks::collect_header,
                            &request.headers);
  request.body = std::move(state.body);

  Response response;
  try {
    response = handler_(request);
  } catch (const std::exception& e) {
    spdlog::error("{}{} {}: internal error: {}", prefix_, request.method, printable(request.target),
                  e.what());
    response = Response::text(500, "internal error\n");
  } catch (...) {
    spdlog::error("{}{} {}: internal error", prefix_, request.method, printable(request.target));
    response = Response::text(500, "internal error\n");
  }
  return reply(connection, method, request.target.c_str(), state, response);
}

bool Daemon::reply(MHD_Connection* connection, const char* method, const char* target,
                   const RequestState& state, const Response& response) {
  MHD_Response* r = MHD_create_response_from_buffer(
      response.body.size(), const_cast<char*>(response.body.data()), MHD_RESPMEM_MUST_COPY);
  if (r == nullptr) return false;
  if (!response.content_type.empty()) {
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, response.content_type.c_str());
  }
  for (const auto& h : response.headers) {
    MHD_add_response_header(r, h.name.c_str(), h.value.c_str());
  }
  const MHD_Result queued =
      MHD_queue_response(connection, static_cast<unsigned>(response.status), r);
  MHD_destroy_response(r);
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - state.start).count();
  spdlog::log(options_.log_level, "{}{} {} {} {:.3f}ms", prefix_, method, printable(target),
              response.status, static_cast<double>(us) / 1000.0);
  return queued == MHD_YES;
}

// ---- ThreadedServer

ThreadedServer::ThreadedServer(std::unique_ptr<Daemon> daemon)
    : daemon_(std::move(daemon)), port_(daemon_->port()) {}

ThreadedServer::~ThreadedServer() {
  stop();
}

Result<std::unique_ptr<ThreadedServer>> ThreadedServer::start(const std::string& host,
                                                              uint16_t port, unsigned threads,
                                                              ServerOptions options,
                                                              Handler handler) {
  DaemonConfig config;
  config.threaded = true;
  config.threads = std::max(1u, threads);
  config.listen = true;
  config.host = host;
  config.port = port;
  config.tls = options.tls.has_value();
  auto daemon = Daemon::start(config, options, std::move(handler));
  if (!daemon) return daemon.error();
  return std::unique_ptr<ThreadedServer>(new ThreadedServer(std::move(daemon.value())));
}

void ThreadedServer::stop() {
  if (daemon_) daemon_->stop();
}

size_t raise_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) ::getrlimit(RLIMIT_NOFILE, &limit);
  }
  return static_cast<size_t>(limit.rlim_cur);
}

}  // namespace moq::http
