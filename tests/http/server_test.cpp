// moq_http in-process: both ways of running a server (libmicrohttpd's thread
// pool, an Asio io_context), the request a handler sees, the limits, idle
// timeouts, HTTPS with SNI certificate selection and HTTPS + plain HTTP on
// one port. Real sockets on loopback, driven by the load generator and a
// small blocking GnuTLS client.
#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <atomic>
#include <future>
#include <thread>

#include "http/message.h"
#include "http/server.h"
#include "quic/tls_cert.h"
#include "quic/tls_server.h"
#include "support/http_load.h"

namespace moq::http {
namespace {

using namespace std::chrono_literals;
using test::IdleConnections;
using test::LoadRequest;
using test::LoadTarget;
using test::run_load;

// Echoes what the handler saw, as "key=value" lines.
Response echo(const Request& r) {
  std::string out = "method=" + r.method + "\ntarget=" + r.target + "\npath=" + printable(r.path) +
                    "\nquery=" + r.query + "\nbody=" + r.body + "\n";
  if (auto v = r.header("x-test")) out += "x-test=" + std::string(*v) + "\n";
  Response response = Response::text(r.path == "/teapot" ? 418 : 200, out);
  response.headers.push_back({"X-Served-By", "moq"});
  if (r.path == "/throw") throw std::runtime_error("boom");
  return response;
}

// A blocking TCP connection to 127.0.0.1:port.
int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// Sends `raw` and reads until the server closes (or 10 s).
std::string exchange(int port, const std::string& raw) {
  const int fd = connect_to(port);
  if (fd < 0) return "connect failed";
  ::send(fd, raw.data(), raw.size(), MSG_NOSIGNAL);
  std::string in;
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0)
    in.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return in;
}

// The SHA-256 of the certificate a TLS server presents for `sni`.
std::string presented_fingerprint(int port, const std::string& sni) {
  const int fd = connect_to(port);
  if (fd < 0) return "connect failed";
  gnutls_certificate_credentials_t cred = nullptr;
  gnutls_certificate_allocate_credentials(&cred);
  gnutls_session_t s = nullptr;
  gnutls_init(&s, GNUTLS_CLIENT);
  gnutls_set_default_priority(s);
  gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
  gnutls_server_name_set(s, GNUTLS_NAME_DNS, sni.data(), sni.size());
  gnutls_transport_set_int(s, fd);
  std::string out = "handshake failed";
  int rv = 0;
  do {
    rv = gnutls_handshake(s);
  } while (rv < 0 && gnutls_error_is_fatal(rv) == 0);
  if (rv == 0) {
    unsigned n = 0;
    const gnutls_datum_t* certs = gnutls_certificate_get_peers(s, &n);
    out = n > 0 ? quic::sha256_fingerprint_hex({certs[0].data, certs[0].size}) : "no certificate";
    gnutls_bye(s, GNUTLS_SHUT_WR);
  } else {
    out += std::string(": ") + gnutls_strerror(rv);
  }
  gnutls_deinit(s);
  gnutls_certificate_free_credentials(cred);
  ::close(fd);
  return out;
}

quic::TlsServerContext two_certificates() {
  quic::TlsServerConfig config;
  for (const char* name : {"a.example", "b.example"}) {
    quic::SelfSignedOptions o;
    o.common_name = name;
    o.dns_names = {name};
    o.ip_addresses = {};
    auto pair = quic::generate_self_signed(o);
    EXPECT_TRUE(pair.ok());
    config.pem_pairs.push_back(*pair);
  }
  auto tls = quic::TlsServerContext::create(config);
  EXPECT_TRUE(tls.ok());
  return std::move(tls).value();
}

// An io_context running on its own thread for the test's duration.
class IoThread {
 public:
  IoThread() : work_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~IoThread() {
    work_.reset();
    io_.stop();
    thread_.join();
  }
  asio::io_context& io() { return io_; }
  std::thread::id id() const { return thread_.get_id(); }
  // Runs `f` on the io thread and waits for it.
  template <class F>
  auto call(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    asio::post(io_, [&task] { task(); });
    return result.get();
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

TEST(Message, PercentDecodingAndPrintable) {
  EXPECT_EQ(percent_decode("/a%2Fb%20c"), "/a/b c");
  EXPECT_EQ(percent_decode("%00x"), std::string("\0x", 2));
  EXPECT_EQ(percent_decode("100%"), "100%");
  EXPECT_EQ(percent_decode("%zz%4"), "%zz%4");
  EXPECT_EQ(printable(std::string("a\nb\\\0", 5)), "a\\x0ab\\x5c\\x00");
  Request r;
  r.headers = {{"Content-Type", "text/plain"}};
  EXPECT_EQ(r.header("content-type"), "text/plain");
  EXPECT_FALSE(r.header("accept").has_value());
}

TEST(ThreadedServer, HandsTheWholeRequestToTheHandler) {
  auto server = ThreadedServer::start("127.0.0.1", 0, 2, ServerOptions{}, echo);
  ASSERT_TRUE(server.ok()) << server.error().reason;
  const int port = (*server)->port();
  ASSERT_NE(port, 0);
  LoadTarget target{"127.0.0.1", port, false, ""};

  auto report = run_load(target,
                         {{"GET", "/a%2Fb%20c%00d?x=1&y=%20&z", ""},
                          {"POST", "/post", R"({"k": "v"})"},
                          {"GET", "/teapot", ""},
                          {"GET", "/throw", ""}},
                         10s);
  ASSERT_EQ(report.answered, 4u) << report.summary();
  EXPECT_EQ(report.outcomes[0].status, 200);
  EXPECT_EQ(report.outcomes[0].body,
            "method=GET\ntarget=/a%2Fb%20c%00d?x=1&y=%20&z\npath=/a/b c\\x00d\nquery=x=1&y=%20&z\n"
            "body=\n");
  EXPECT_EQ(report.outcomes[1].body,
            "method=POST\ntarget=/post\npath=/post\nquery=\nbody={\"k\": \"v\"}\n");
  EXPECT_EQ(report.outcomes[2].status, 418);
  EXPECT_EQ(report.outcomes[3].status, 500);

  // Headers both ways, and HEAD (no body, same length).
  const std::string head =
      exchange(port, "HEAD /h HTTP/1.1\r\nHost: x\r\nX-Test: yes\r\nConnection: close\r\n\r\n");
  EXPECT_NE(head.find("HTTP/1.1 200"), std::string::npos) << head;
  EXPECT_NE(head.find("X-Served-By: moq"), std::string::npos) << head;
  EXPECT_NE(head.find("Content-Type: text/plain"), std::string::npos) << head;
  EXPECT_EQ(head.find("method="), std::string::npos) << head;
  const std::string got =
      exchange(port, "GET /h HTTP/1.1\r\nHost: x\r\nX-Test: yes\r\nConnection: close\r\n\r\n");
  EXPECT_NE(got.find("x-test=yes"), std::string::npos) << got;
}

TEST(ThreadedServer, KeepsConnectionsAliveBetweenRequests) {
  auto server = ThreadedServer::start("127.0.0.1", 0, 1, ServerOptions{}, echo);
  ASSERT_TRUE(server.ok());
  const std::string two =
      exchange((*server)->port(),
               "GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\nConnection: "
               "close\r\n\r\n");
  EXPECT_NE(two.find("path=/one"), std::string::npos) << two;
  EXPECT_NE(two.find("path=/two"), std::string::npos) << two;
}

TEST(ThreadedServer, RefusesOversizedBodiesAndHeads) {
  ServerOptions options;
  options.max_body_bytes = 1000;
  auto server = ThreadedServer::start("127.0.0.1", 0, 1, options, echo);
  ASSERT_TRUE(server.ok());
  LoadTarget target{"127.0.0.1", (*server)->port(), false, ""};
  auto report = run_load(target,
                         {{"POST", "/small", std::string(1000, 'x')},
                          {"POST", "/big", std::string(1001, 'x')},
                          {"POST", "/huge", std::string(3 << 20, 'x')}},
                         10s);
  EXPECT_EQ(report.outcomes[0].status, 200);
  EXPECT_EQ(report.outcomes[1].status, 413);
  // Not even read: answered at once (a client still sending may see a reset).
  EXPECT_TRUE(report.outcomes[2].status == 413 || report.outcomes[2].error == "reset")
      << report.summary();

  const std::string big_head =
      exchange((*server)->port(),
               "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(9000, 'x') + "\r\n\r\n");
  EXPECT_EQ(big_head.rfind("HTTP/1.1 431", 0), 0u) << big_head.substr(0, 200);
  // Chunked bodies are bounded the same way.
  const std::string chunked = exchange(
      (*server)->port(),
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
      "7d0\r\n" +
          std::string(2000, 'y') + "\r\n0\r\n\r\n");
  EXPECT_EQ(chunked.rfind("HTTP/1.1 413", 0), 0u) << chunked.substr(0, 200);
}

TEST(ThreadedServer, ClosesIdleConnectionsAfterTheTimeout) {
  ServerOptions options;
  options.idle_timeout = 1s;
  auto server = ThreadedServer::start("127.0.0.1", 0, 2, options, echo);
  ASSERT_TRUE(server.ok());
  LoadTarget target{"127.0.0.1", (*server)->port(), false, ""};
  IdleConnections idle;
  ASSERT_EQ(idle.open(target, 50, 5s), 50u);
  EXPECT_EQ(idle.closed_by_peer(), 0u);
  EXPECT_EQ(idle.wait_closed(8s), 50u);
}

TEST(ThreadedServer, ListensOnIpv6AndIpv4WithTheDualStackAddress) {
  auto server = ThreadedServer::start("::", 0, 1, ServerOptions{}, echo);
  ASSERT_TRUE(server.ok()) << server.error().reason;
  for (const std::string host : {"127.0.0.1", "::1"}) {
    auto report = run_load({host, (*server)->port(), false, ""}, {{"GET", "/x", ""}}, 5s);
    EXPECT_EQ(report.answered, 1u) << host << ": " << report.summary();
  }
}

TEST(ThreadedServer, ABusyPortIsAnError) {
  auto first = ThreadedServer::start("127.0.0.1", 0, 1, ServerOptions{}, echo);
  ASSERT_TRUE(first.ok());
  auto second = ThreadedServer::start("127.0.0.1", (*first)->port(), 1, ServerOptions{}, echo);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().reason.find("can't listen"), std::string::npos);
}

TEST(ThreadedServer, ServesHttpsWithTheCertificateChosenBySni) {
  auto tls = two_certificates();
  ServerOptions options;
  options.tls = tls;
  auto server = ThreadedServer::start("127.0.0.1", 0, 2, options, echo);
  ASSERT_TRUE(server.ok()) << server.error().reason;
  const int port = (*server)->port();
  EXPECT_EQ(presented_fingerprint(port, "a.example"), tls.fingerprint_hex(0));
  EXPECT_EQ(presented_fingerprint(port, "b.example"), tls.fingerprint_hex(1));
  EXPECT_EQ(presented_fingerprint(port, "other.example"), tls.fingerprint_hex(1));  // the last
  auto report = run_load({"127.0.0.1", port, true, "a.example"}, {{"GET", "/s", ""}}, 5s);
  ASSERT_EQ(report.answered, 1u) << report.summary();
  EXPECT_NE(report.outcomes[0].body.find("path=/s"), std::string::npos);
}

TEST(AsioServer, RunsHandlersOnTheIoContextThread) {
  IoThread io;
  std::atomic<bool> on_io_thread{true};
  auto handler = [&](const Request& r) {
    if (std::this_thread::get_id() != io.id()) on_io_thread = false;
    return echo(r);
  };
  auto server = io.call([&] {
    return AsioServer::start(io.io(), {asio::ip::make_address("127.0.0.1"), 0}, ServerOptions{},
                             handler);
  });
  ASSERT_TRUE(server.ok()) << server.error().reason;
  const int port = (*server)->port();
  std::vector<LoadRequest> requests(200, LoadRequest{"GET", "/x?y=1", ""});
  requests.push_back({"POST", "/p", "body"});
  auto report = run_load({"127.0.0.1", port, false, ""}, requests, 20s);
  EXPECT_EQ(report.answered, requests.size()) << report.summary();
  EXPECT_EQ(report.statuses[200], requests.size());
  EXPECT_NE(report.outcomes.back().body.find("body=body"), std::string::npos);
  EXPECT_TRUE(on_io_thread);
  io.call([&] {
    (*server)->stop();
    return 0;
  });
  EXPECT_EQ(connect_to(port), -1);
  io.call([&] {
    server.value().reset();
    return 0;
  });
}

TEST(AsioServer, ServesHttpsAndPlainHttpOnOnePort) {
  IoThread io;
  auto tls = two_certificates();
  ServerOptions options;
  options.tls = tls;
  auto server = io.call([&] {
    return AsioServer::start(io.io(), {asio::ip::make_address("::"), 0}, options, echo);
  });
  ASSERT_TRUE(server.ok()) << server.error().reason;
  const int port = (*server)->port();
  for (const bool secure : {true, false}) {
    for (const std::string host : {"127.0.0.1", "::1"}) {
      std::vector<LoadRequest> requests(100, LoadRequest{"GET", "/both", ""});
      auto report = run_load({host, port, secure, "a.example"}, requests, 20s);
      EXPECT_EQ(report.answered, requests.size()) << secure << host << report.summary();
      EXPECT_EQ(report.statuses[200], requests.size());
    }
  }
  EXPECT_EQ(presented_fingerprint(port, "a.example"), tls.fingerprint_hex(0));
  EXPECT_EQ(presented_fingerprint(port, "b.example"), tls.fingerprint_hex(1));
  io.call([&] {
    server.value().reset();
    return 0;
  });
}

TEST(AsioServer, ClosesSilentAndIdleConnectionsWithoutDelayingOthers) {
  IoThread io;
  ServerOptions options;
  options.idle_timeout = 1s;
  options.tls = two_certificates();
  auto server = io.call([&] {
    return AsioServer::start(io.io(), {asio::ip::make_address("127.0.0.1"), 0}, options, echo);
  });
  ASSERT_TRUE(server.ok());
  const int port = (*server)->port();
  LoadTarget plain{"127.0.0.1", port, false, ""};
  IdleConnections silent;  // never send a byte: held by the first-byte check
  ASSERT_EQ(silent.open(plain, 100, 5s), 100u);
  // Half a request: held by libmicrohttpd.
  const int partial = connect_to(port);
  ASSERT_GE(partial, 0);
  ::send(partial, "GET / HTTP/1.1\r\n", 16, MSG_NOSIGNAL);

  auto report = run_load(plain, {{"GET", "/meanwhile", ""}}, 5s);
  ASSERT_EQ(report.answered, 1u) << report.summary();
  EXPECT_LT(report.outcomes[0].latency, 500ms);
  EXPECT_GE(io.call([&] { return (*server)->connections(); }), 101u);

  EXPECT_EQ(silent.wait_closed(6s), 100u);
  char c = 0;
  EXPECT_EQ(::recv(partial, &c, 1, 0), 0);  // closed by the server (SO_RCVTIMEO is 10 s)
  ::close(partial);
  // The server forgets a connection in the event-loop pass after the one that
  // closed it: the count may lag the FIN the client saw.
  const auto give_up = std::chrono::steady_clock::now() + 2s;
  size_t open = 0;
  while ((open = io.call([&] { return (*server)->connections(); })) != 0 &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(open, 0u);
  io.call([&] {
    server.value().reset();
    return 0;
  });
}

TEST(AsioServer, RefusesConnectionsOverTheLimit) {
  IoThread io;
  ServerOptions options;
  options.connection_limit = 10;
  auto server = io.call([&] {
    return AsioServer::start(io.io(), {asio::ip::make_address("127.0.0.1"), 0}, options, echo);
  });
  ASSERT_TRUE(server.ok());
  LoadTarget target{"127.0.0.1", (*server)->port(), false, ""};
  IdleConnections idle;
  ASSERT_EQ(idle.open(target, 20, 5s), 20u);  // TCP accepts them all (backlog)
  // The ten over the limit are closed at once; the ten others are kept.
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(idle.closed_by_peer(), 10u);
  idle.close_all();
  io.call([&] {
    server.value().reset();
    return 0;
  });
}

}  // namespace
}  // namespace moq::http
