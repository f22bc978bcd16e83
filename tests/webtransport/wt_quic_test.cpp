// WebTransport over real QUIC on loopback: our client against our server
// (the moq-wt-echo behaviour), plus malformed and hostile peers.

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <map>
#include <random>

#include "coding/writer.h"
#include "echo.h"
#include "h3/control.h"
#include "h3/error.h"
#include "h3/frame.h"
#include "h3/qpack.h"
#include "h3/settings.h"
#include "quic/tls_cert.h"
#include "webtransport/client.h"
#include "webtransport/server.h"
#include "webtransport/stream_header.h"

namespace moq::wt {
namespace {

using asio::ip::udp;

class WtLoopback : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pem = quic::generate_dev_certificate();
    ASSERT_TRUE(pem.ok());
    quic::TlsServerConfig sc;
    sc.pem_pairs.push_back(pem.value());
    auto server_tls = quic::TlsServerContext::create(sc);
    ASSERT_TRUE(server_tls.ok());
    server_tls_.emplace(std::move(server_tls.value()));
    start_server(quic::QuicConfig{});
  }

  void start_server(const quic::QuicConfig& config) {
    server_.reset();
    auto server = Server::start(
        io_, udp::endpoint(asio::ip::make_address("::"), 0), config, *server_tls_,
        [](const SessionRequested& r) { return r.path == "/missing" ? 404u : 200u; },
        [this](std::shared_ptr<WtSession> s) {
          ++sessions_;
          if (on_session_) {
            on_session_(s);
          } else {
            asio::co_spawn(io_, echo::serve(std::move(s)), asio::detached);
          }
        });
    ASSERT_TRUE(server.ok()) << server.error().reason;
    server_ = std::move(server.value());
  }

  std::unique_ptr<Client> make_client(quic::QuicConfig config = {}) {
    quic::TlsClientConfig cc;
    cc.fingerprint = server_tls_->fingerprint_hex();
    auto tls = quic::TlsClientContext::create(cc);
    EXPECT_TRUE(tls.ok());
    auto c = Client::create(io_, udp::endpoint(udp::v6(), 0), config, std::move(tls.value()));
    EXPECT_TRUE(c.ok());
    return std::move(c.value());
  }

  std::string url(const std::string& path = "/test") const {
    return "https://localhost:" + std::to_string(server_->local_endpoint().port()) + path;
  }

  // Runs `task` to completion (or fails after `limit`).
  template <class T>
  T run(asio::awaitable<T> task, std::chrono::seconds limit = std::chrono::seconds(30)) {
    std::optional<T> result;
    std::exception_ptr error;
    asio::co_spawn(io_, std::move(task), [&](std::exception_ptr e, T value) {
      error = e;
      result.emplace(std::move(value));
    });
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!result && !error && std::chrono::steady_clock::now() < deadline) {
      io_.run_for(std::chrono::milliseconds(10));
      if (io_.stopped()) io_.restart();
    }
    if (error) std::rethrow_exception(error);
    if (!result) throw std::runtime_error("timed out");
    return std::move(*result);
  }

  static asio::awaitable<std::string> read_all(std::shared_ptr<transport::RecvStream> r) {
    std::string out;
    for (;;) {
      auto chunk = co_await r->read();
      if (!chunk || !chunk.value()) break;
      out += chunk.value()->view();
    }
    co_return out;
  }

  asio::io_context io_;
  std::optional<quic::TlsServerContext> server_tls_;
  std::unique_ptr<Server> server_;
  std::function<void(std::shared_ptr<WtSession>)> on_session_;
  int sessions_ = 0;
};

TEST_F(WtLoopback, BidiEcho) {
  auto client = make_client();
  auto reply = run([&]() -> asio::awaitable<std::string> {
    auto s = co_await client->connect(url());
    if (!s) co_return "connect failed: " + s.error().reason;
    auto bidi = co_await s.value()->open_bidi();
    (void)bidi->send->write(Bytes::copy(std::string_view("ping")));
    (void)bidi->send->finish();
    auto awaited = co_await read_all(bidi->recv);
    co_return awaited;
  }());
  EXPECT_EQ(reply, "ping");
  EXPECT_EQ(sessions_, 1);
}

TEST_F(WtLoopback, UnknownPathIsRefusedWith404) {
  auto client = make_client();
  auto err = run([&]() -> asio::awaitable<Error> {
    auto s = co_await client->connect(url("/missing"));
    co_return s ? Error{0, "accepted"} : s.error();
  }());
  EXPECT_EQ(err.code, code::kNotFound);
  EXPECT_NE(err.reason.find("404"), std::string::npos);
}

// Checks one echoed stream against what was sent (its first bytes say which).
struct EchoTally {
  const std::vector<std::string>* sent;
  int ok = 0;
  int received = 0;
};

// Coroutine lambdas must not capture: their closure dies before the frame.
asio::awaitable<void> check_echo(std::shared_ptr<transport::RecvStream> in, EchoTally* tally) {
  std::string got;
  for (;;) {
    auto chunk = co_await in->read();
    if (!chunk || !chunk.value()) break;
    got += chunk.value()->view();
  }
  int tag = -1;
  if (got.size() >= sizeof(tag)) std::memcpy(&tag, got.data(), sizeof(tag));
  if (tag >= 0 && tag < static_cast<int>(tally->sent->size()) && got == (*tally->sent)[tag]) {
    ++tally->ok;
  }
  ++tally->received;
}

asio::awaitable<void> accept_echoes(std::shared_ptr<WtSession> session, EchoTally* tally,
                                    int expected) {
  auto ex = co_await asio::this_coro::executor;
  for (int i = 0; i < expected; ++i) {
    auto in = co_await session->accept_uni();
    if (!in) co_return;
    asio::co_spawn(ex, check_echo(in.value(), tally), asio::detached);
  }
}

asio::awaitable<int> send_and_count(Client* client, std::string url,
                                    const std::vector<std::string>* payloads, EchoTally* tally) {
  auto s = co_await client->connect(url);
  if (!s) co_return -1;
  auto session = s.value();
  auto ex = co_await asio::this_coro::executor;
  const int total = static_cast<int>(payloads->size());
  asio::co_spawn(ex, accept_echoes(session, tally, total), asio::detached);
  for (const std::string& p : *payloads) {
    auto out = co_await session->open_uni();
    if (!out) co_return -2;
    (void)out.value()->write(Bytes::copy(std::string_view(p)));
    (void)out.value()->finish();
  }
  asio::steady_timer t(ex);
  while (tally->received < total && !session->is_closed()) {
    t.expires_after(std::chrono::milliseconds(20));
    co_await t.async_wait(asio::use_awaitable);
  }
  co_return tally->ok;
}

TEST_F(WtLoopback, ThousandUniStreamsOfRandomSizesComeBackIntact) {
  auto client = make_client();
  const int kStreams = 1000;
  std::mt19937 rng(1234);
  std::vector<std::string> payloads(kStreams);
  for (int i = 0; i < kStreams; ++i) {
    // Mostly small with a tail of large ones, up to 1 MiB.
    const size_t size = (i % 50 == 0) ? (rng() % (1 << 20)) + 1 : (rng() % 16384) + 8;
    payloads[i].resize(size);
    for (auto& ch : payloads[i])
      ch = static_cast<char>(rng());
    std::memcpy(payloads[i].data(), &i, sizeof(i));  // tag: which stream this is
  }
  EchoTally tally{&payloads};
  const int matched =
      run(send_and_count(client.get(), url(), &payloads, &tally), std::chrono::seconds(240));
  EXPECT_EQ(matched, kStreams);
}

TEST_F(WtLoopback, ServerCloseCodeAndReasonReachTheClient) {
  auto client = make_client();
  auto why = run([&]() -> asio::awaitable<Error> {
    auto s = co_await client->connect(url());
    if (!s) co_return s.error();
    auto bidi = co_await s.value()->open_bidi();
    (void)bidi->send->write(Bytes::copy(std::string_view("close")));
    (void)bidi->send->finish();
    auto awaited = co_await s.value()->closed();
    co_return awaited;
  }());
  EXPECT_EQ(why.code, 42u);
  EXPECT_EQ(why.reason, "bye");
}

TEST_F(WtLoopback, ClientCloseCodeAndReasonReachTheServer) {
  std::shared_ptr<WtSession> server_session;
  on_session_ = [&](std::shared_ptr<WtSession> s) { server_session = std::move(s); };
  auto client = make_client();
  auto why = run([&]() -> asio::awaitable<Error> {
    auto s = co_await client->connect(url());
    if (!s) co_return s.error();
    s.value()->close(7, "done here");
    while (!server_session) {
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(5));
      co_await t.async_wait(asio::use_awaitable);
    }
    auto awaited = co_await server_session->closed();
    co_return awaited;
  }());
  EXPECT_EQ(why.code, 7u);
  EXPECT_EQ(why.reason, "done here");
}

// The client's receive window is tiny, so the server is flow-control limited
// and its scheduler must pick: higher priority streams finish first.
TEST_F(WtLoopback, HigherPriorityStreamsGoFirstWhenWindowLimited) {
  on_session_ = [&](std::shared_ptr<WtSession> s) {
    asio::co_spawn(
        io_,
        [s]() -> asio::awaitable<void> {
          const int32_t priorities[] = {1, 5, 10, -3, 7};
          std::vector<std::shared_ptr<transport::SendStream>> streams;
          for (int32_t p : priorities) {
            auto out = co_await s->open_uni();
            if (!out) co_return;
            out.value()->set_priority(p);
            std::string body(64 * 1024, static_cast<char>('a' + (p + 3)));
            body[0] = static_cast<char>(p + 3);  // tag
            (void)out.value()->write(Bytes::copy(std::string_view(body)));
            (void)out.value()->finish();
            streams.push_back(out.value());
          }
          co_await s->closed();
        },
        asio::detached);
  };
  quic::QuicConfig small;
  small.connection_window = 16 * 1024;
  small.stream_window = 16 * 1024;
  auto client = make_client(small);
  auto order = run([&]() -> asio::awaitable<std::vector<int>> {
    std::vector<int> done;
    auto s = co_await client->connect(url());
    if (!s) co_return done;
    auto ex = co_await asio::this_coro::executor;
    for (int i = 0; i < 5; ++i) {
      auto in = co_await s.value()->accept_uni();
      if (!in) co_return done;
      asio::co_spawn(
          ex,
          [&done, in = in.value()]() -> asio::awaitable<void> {
            std::string got = co_await read_all(in);
            if (!got.empty()) done.push_back(static_cast<int>(got[0]) - 3);
          },
          asio::detached);
    }
    asio::steady_timer t(ex);
    while (done.size() < 5) {
      t.expires_after(std::chrono::milliseconds(10));
      co_await t.async_wait(asio::use_awaitable);
    }
    co_return done;
  }());
  // All five streams were queued at once; the scheduler sends by priority.
  EXPECT_EQ(order, (std::vector<int>{10, 7, 5, 1, -3}));
}

// ---------------------------------------------------------------- bad input

// A bare HTTP/3 client on our QUIC layer, to send what browsers never would.
struct RawH3 : quic::ConnectionHandler {
  std::shared_ptr<quic::Connection> conn;
  int64_t control = -1;  // our HTTP/3 control stream
  bool ready = false;
  std::map<int64_t, std::string> data;
  std::set<int64_t> finished;
  std::map<int64_t, uint64_t> resets;
  std::optional<quic::CloseInfo> closed;
  void on_handshake_done() override { ready = true; }
  void on_stream_data(int64_t id, Bytes b, bool fin) override {
    conn->consume(id, b.size());
    data[id] += b.view();
    if (fin) finished.insert(id);
  }
  void on_stream_reset(int64_t id, uint64_t code) override { resets[id] = code; }
  void on_stop_sending(int64_t id, uint64_t code) override { resets[id] = code; }
  void on_stream_closed(int64_t) override {}
  void on_stream_writable(int64_t) override {}
  void on_streams_available() override {}
  void on_closed(const quic::CloseInfo& info) override { closed = info; }

  // Sends a request with these headers on a new bidi stream.
  int64_t request(const h3::HeaderList& headers) {
    auto id = conn->open_bidi_stream();
    h3::QpackEncoder enc;
    std::vector<uint8_t> out;
    h3::write_frame(h3::frame_type::kHeaders, enc.encode(*id, headers), out);
    (void)conn->write(*id, Bytes(std::move(out)), false);
    return *id;
  }
  // The :status of the response on `id` ("" if none).
  std::string status(int64_t id) {
    const std::string& raw = data[id];
    std::span<const uint8_t> in(reinterpret_cast<const uint8_t*>(raw.data()), raw.size());
    h3::FrameReader reader;
    auto ev = reader.next(in);
    if (ev.kind != h3::FrameEvent::Kind::kFrame || ev.type != h3::frame_type::kHeaders) return "";
    h3::QpackDecoder dec;
    auto decoded = dec.decode(id, ev.payload);
    auto* s = h3::find_header(decoded.headers, ":status");
    return s ? *s : "";
  }
};

class WtBadInput : public WtLoopback {
 protected:
  std::shared_ptr<RawH3> raw_connect(quic::QuicConfig config = {}) {
    if (!raw_endpoint_) {
      auto ep = quic::Endpoint::bind(io_, udp::endpoint(udp::v6(), 0), config);
      EXPECT_TRUE(ep.ok());
      raw_endpoint_ = ep.value();
      quic::TlsClientConfig cc;
      cc.fingerprint = server_tls_->fingerprint_hex();
      raw_tls_.emplace(std::move(quic::TlsClientContext::create(cc).value()));
    }
    auto raw = std::make_shared<RawH3>();
    auto c = raw_endpoint_->connect(
        udp::endpoint(asio::ip::make_address("::1"), server_->local_endpoint().port()), "localhost",
        *raw_tls_);
    EXPECT_TRUE(c.ok());
    raw->conn = c.value();
    raw->conn->set_handler(raw);
    pump([&] { return raw->ready; });
    // Like every HTTP/3 client: a control stream with our SETTINGS first.
    auto control = raw->conn->open_uni_stream();
    EXPECT_TRUE(control.ok());
    raw->control = *control;
    (void)raw->conn->write(*control,
                           Bytes(h3::encode_control_stream_preface(h3::client_settings())));
    return raw;
  }

  bool pump(const std::function<bool()>& done,
            std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io_.run_for(std::chrono::milliseconds(5));
      if (io_.stopped()) io_.restart();
    }
    return true;
  }

  // After each abuse the server still serves a well-behaved client.
  void expect_server_still_serves() {
    auto client = make_client();
    auto reply = run([&]() -> asio::awaitable<std::string> {
      auto s = co_await client->connect(url());
      if (!s) co_return "connect failed: " + s.error().reason;
      auto bidi = co_await s.value()->open_bidi();
      (void)bidi->send->write(Bytes::copy(std::string_view("still there?")));
      (void)bidi->send->finish();
      auto awaited = co_await read_all(bidi->recv);
      co_return awaited;
    }());
    EXPECT_EQ(reply, "still there?");
  }

  std::shared_ptr<quic::Endpoint> raw_endpoint_;
  std::optional<quic::TlsClientContext> raw_tls_;
};

h3::HeaderList connect_headers(const std::string& protocol, const std::string& path = "/x") {
  return {{":method", "CONNECT"},
          {":protocol", protocol},
          {":scheme", "https"},
          {":authority", "localhost"},
          {":path", path}};
}

TEST_F(WtBadInput, PlainGetGets405AndTheConnectionSurvives) {
  auto raw = raw_connect();
  const int64_t get = raw->request(
      {{":method", "GET"}, {":scheme", "https"}, {":authority", "localhost"}, {":path", "/"}});
  ASSERT_TRUE(pump([&] { return raw->finished.count(get) > 0; }));
  EXPECT_EQ(raw->status(get), "405");
  // Same connection: a proper CONNECT still works.
  const int64_t wt = raw->request(connect_headers("webtransport"));
  ASSERT_TRUE(pump([&] { return !raw->status(wt).empty(); }));
  EXPECT_EQ(raw->status(wt), "200");
  EXPECT_FALSE(raw->closed.has_value());
  expect_server_still_serves();
}

TEST_F(WtBadInput, ConnectWithAnotherProtocolGets400) {
  auto raw = raw_connect();
  const int64_t id = raw->request(connect_headers("websocket"));
  ASSERT_TRUE(pump([&] { return raw->finished.count(id) > 0; }));
  EXPECT_EQ(raw->status(id), "400");
  EXPECT_FALSE(raw->closed.has_value());
  expect_server_still_serves();
}

TEST_F(WtBadInput, StreamNamingAnUnknownSessionIsResetNotFatal) {
  auto raw = raw_connect();
  auto id = raw->conn->open_uni_stream();
  ASSERT_TRUE(id.ok());
  std::vector<uint8_t> header = encode_uni_stream_header(/*session id*/ 4000);
  header.push_back('x');
  (void)raw->conn->write(*id, Bytes(std::move(header)), false);
  // The server stops reading it (STOP_SENDING, answered by a reset from the
  // client's QUIC stack) within its buffering time; the connection lives.
  pump([] { return false; }, std::chrono::milliseconds(1500));
  (void)raw->conn->write(*id, Bytes::copy(std::string_view("more")), false);
  EXPECT_TRUE(pump([&] { return raw->resets.count(*id) > 0; }));
  EXPECT_FALSE(raw->closed.has_value());
  const int64_t wt = raw->request(connect_headers("webtransport"));
  ASSERT_TRUE(pump([&] { return !raw->status(wt).empty(); }));
  EXPECT_EQ(raw->status(wt), "200");
  expect_server_still_serves();
}

TEST_F(WtBadInput, ClientOpeningStreamsPastTheLimitLosesOnlyItsConnection) {
  quic::QuicConfig few;
  few.max_streams_bidi = 4;
  start_server(few);
  auto raw = raw_connect();
  // Our QUIC layer refuses to exceed the peer's limit, so the abuse is a
  // connection that keeps asking; then a second client must be unaffected.
  int opened = 0;
  while (raw->conn->open_bidi_stream().ok())
    ++opened;
  EXPECT_EQ(opened, 4);
  expect_server_still_serves();
}

// ---- HTTP/3 connection errors before any WebTransport session (issue 9:
// each of these used to end with the server calling a destroyed handler).

// Opens a unidirectional stream of HTTP/3 type `type` and writes `rest`.
int64_t open_typed_uni(RawH3& raw, uint64_t type, std::vector<uint8_t> rest, bool fin) {
  auto id = raw.conn->open_uni_stream();
  EXPECT_TRUE(id.ok());
  std::vector<uint8_t> out;
  Writer w(out);
  w.varint(type);
  out.insert(out.end(), rest.begin(), rest.end());
  (void)raw.conn->write(*id, Bytes(std::move(out)), fin);
  return *id;
}

TEST_F(WtBadInput, ControlStreamEndedBeforeConnectClosesOnlyThatConnection) {
  auto raw = raw_connect();
  ASSERT_TRUE(pump([&] { return raw->data.size() > 0; }));  // the server's SETTINGS came
  (void)raw->conn->finish(raw->control);
  ASSERT_TRUE(pump([&] { return raw->closed.has_value(); }));
  EXPECT_EQ(raw->closed->code, h3::error::kClosedCriticalStream);
  expect_server_still_serves();
}

TEST_F(WtBadInput, QpackEncoderStreamEndedBeforeConnectClosesOnlyThatConnection) {
  auto raw = raw_connect();
  const int64_t enc = open_typed_uni(*raw, 0x02, {}, false);
  ASSERT_TRUE(pump([&] { return raw->data.size() > 0; }));
  (void)raw->conn->finish(enc);
  ASSERT_TRUE(pump([&] { return raw->closed.has_value(); }));
  EXPECT_EQ(raw->closed->code, h3::error::kClosedCriticalStream);
  expect_server_still_serves();
}

TEST_F(WtBadInput, QpackDecoderStreamEndedBeforeConnectClosesOnlyThatConnection) {
  auto raw = raw_connect();
  const int64_t dec = open_typed_uni(*raw, 0x03, {}, false);
  ASSERT_TRUE(pump([&] { return raw->data.size() > 0; }));
  (void)raw->conn->finish(dec);
  ASSERT_TRUE(pump([&] { return raw->closed.has_value(); }));
  EXPECT_EQ(raw->closed->code, h3::error::kClosedCriticalStream);
  expect_server_still_serves();
}

TEST_F(WtBadInput, GreaseStreamWithFinAndDataOnControlInOneFlight) {
  auto raw = raw_connect();
  ASSERT_TRUE(pump([&] { return raw->data.size() > 0; }));
  // Both in the same flush, so they reach the server in one datagram.
  open_typed_uni(*raw, 0x1f * 3 + 0x21, {'g', 'r', 'e', 'a', 's', 'e'}, /*fin=*/true);
  std::vector<uint8_t> data_frame;
  h3::write_frame(h3::frame_type::kData, std::vector<uint8_t>{1, 2, 3}, data_frame);
  (void)raw->conn->write(raw->control, Bytes(std::move(data_frame)));
  ASSERT_TRUE(pump([&] { return raw->closed.has_value(); }));
  EXPECT_EQ(raw->closed->code, h3::error::kFrameUnexpected);
  expect_server_still_serves();
}

TEST_F(WtBadInput, RandomDatagramsAreDropped) {
  udp::socket junk(io_, udp::endpoint(udp::v6(), 0));
  std::mt19937 rng(99);
  const udp::endpoint target(asio::ip::make_address("::1"), server_->local_endpoint().port());
  for (int i = 0; i < 300; ++i) {
    std::vector<uint8_t> d(1 + rng() % 1300);
    for (auto& b : d)
      b = static_cast<uint8_t>(rng());
    junk.send_to(asio::buffer(d), target);
  }
  pump([] { return false; }, std::chrono::milliseconds(100));
  expect_server_still_serves();
}

}  // namespace
}  // namespace moq::wt
