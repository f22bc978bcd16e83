// QUIC over real UDP sockets on loopback: our client against our server.

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "quic/endpoint.h"
#include "quic/tls_cert.h"
#include "quic/tls_client.h"
#include "quic/tls_server.h"

namespace moq::quic {
namespace {

using asio::ip::udp;

// Records events and lets a test react to them.
struct Recorder : ConnectionHandler {
  std::shared_ptr<Connection> conn;
  bool handshake = false;
  std::map<int64_t, std::string> data;
  std::set<int64_t> finished;
  std::optional<CloseInfo> closed;
  std::function<void(int64_t, const Bytes&, bool)> on_data;

  void on_handshake_done() override { handshake = true; }
  void on_stream_data(int64_t id, Bytes bytes, bool fin) override {
    conn->consume(id, bytes.size());
    data[id] += bytes.view();
    if (fin) finished.insert(id);
    if (on_data) on_data(id, bytes, fin);
  }
  void on_stream_reset(int64_t, uint64_t) override {}
  void on_stop_sending(int64_t, uint64_t) override {}
  int closed_streams = 0;
  void on_stream_closed(int64_t) override { ++closed_streams; }
  void on_stream_writable(int64_t) override {}
  void on_streams_available() override {}
  void on_closed(const CloseInfo& info) override { closed = info; }
};

class QuicLoopback : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pem = generate_dev_certificate();
    ASSERT_TRUE(pem.ok());
    TlsServerConfig sc;
    sc.pem_pairs.push_back(pem.value());
    auto server_tls = TlsServerContext::create(sc);
    ASSERT_TRUE(server_tls.ok());
    server_tls_.emplace(std::move(server_tls.value()));
    TlsClientConfig cc;
    cc.fingerprint = server_tls_->fingerprint_hex();
    auto client_tls = TlsClientContext::create(cc);
    ASSERT_TRUE(client_tls.ok());
    client_tls_.emplace(std::move(client_tls.value()));

    auto server = Endpoint::bind(io_, udp::endpoint(asio::ip::make_address("::1"), 0), config_,
                                 &*server_tls_);
    ASSERT_TRUE(server.ok()) << server.error().reason;
    server_ = server.value();
    server_->on_accept([this](std::shared_ptr<Connection> c) {
      accepted_.push_back(std::make_shared<Recorder>());
      accepted_.back()->conn = c;
      c->set_handler(accepted_.back());
      if (on_accept_) on_accept_(*accepted_.back());
    });
  }

  std::shared_ptr<Recorder> connect(const std::string& host = "::1", uint16_t port = 0) {
    if (!client_) {
      auto ep = Endpoint::bind(io_, udp::endpoint(asio::ip::make_address("::"), 0), config_);
      EXPECT_TRUE(ep.ok());
      client_ = ep.value();
    }
    auto rec = std::make_shared<Recorder>();
    auto c = client_->connect(
        udp::endpoint(asio::ip::make_address(host), port ? port : server_->local_endpoint().port()),
        "localhost", *client_tls_);
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().reason);
    rec->conn = c.value();
    rec->conn->set_handler(rec);
    return rec;
  }

  // Runs the loop until `done` or the deadline.
  bool run_until(const std::function<bool()>& done,
                 std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io_.run_for(std::chrono::milliseconds(5));
      if (io_.stopped()) io_.restart();
    }
    return true;
  }

  // The server writes back what it reads, stream by stream.
  void serve_echo() {
    on_accept_ = [](Recorder& r) {
      r.on_data = [&r](int64_t id, const Bytes& b, bool fin) {
        ASSERT_TRUE(r.conn->write(id, b, fin).ok());
      };
    };
  }

  asio::io_context io_;
  QuicConfig config_;
  std::optional<TlsServerContext> server_tls_;
  std::optional<TlsClientContext> client_tls_;
  std::shared_ptr<Endpoint> server_;
  std::shared_ptr<Endpoint> client_;
  std::vector<std::shared_ptr<Recorder>> accepted_;
  std::function<void(Recorder&)> on_accept_;
};

TEST_F(QuicLoopback, HandshakeAndBidiEcho) {
  serve_echo();
  auto client = connect();
  ASSERT_TRUE(run_until([&] { return client->handshake; }));
  auto id = client->conn->open_bidi_stream();
  ASSERT_TRUE(id.ok()) << id.error().reason;
  ASSERT_TRUE(client->conn->write(*id, Bytes::copy(std::string_view("hello quic")), true).ok());
  ASSERT_TRUE(run_until([&] { return client->finished.count(*id) > 0; }));
  EXPECT_EQ(client->data[*id], "hello quic");
  ASSERT_EQ(accepted_.size(), 1u);
  EXPECT_TRUE(accepted_[0]->handshake);
}

// Path MTU Discovery: loopback carries any size, so the probes (larger than
// the path's current size, with the don't-fragment bit set) get through and
// both sides move from QUIC's minimum of 1200 bytes to full-size datagrams.
// (Probes once never left: the send buffer was only as large as the path.)
TEST_F(QuicLoopback, PathMtuDiscoveryRaisesTheDatagramSize) {
  serve_echo();
  auto client = connect();
  ASSERT_TRUE(run_until([&] { return client->handshake; }));
  EXPECT_GE(client->conn->path_info().max_udp_payload, 1200u);
  auto id = client->conn->open_bidi_stream();
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(run_until([&] {
    // Keep data flowing: probes go out with the connection's writes.
    if (client->data[*id].size() < 64 * 1024) {
      (void)client->conn->write(*id, Bytes::copy(std::string(1000, 'x')), false);
    }
    return client->conn->path_info().max_udp_payload > 1200 && !accepted_.empty() &&
           accepted_[0]->conn->path_info().max_udp_payload > 1200;
  })) << "client "
      << client->conn->path_info().max_udp_payload << ", server "
      << (accepted_.empty() ? 0 : accepted_[0]->conn->path_info().max_udp_payload);
  EXPECT_LE(client->conn->path_info().max_udp_payload, 1452u);
}

// A UDP relay on loopback between one client and the server that drops
// every `drop_every`-th datagram from the server after the first few.
class LossyProxy {
 public:
  LossyProxy(asio::io_context& io, uint16_t server_port, int drop_every)
      : socket_(io, udp::endpoint(asio::ip::make_address("::1"), 0)),
        server_(asio::ip::make_address("::1"), server_port),
        drop_every_(drop_every) {
    receive();
  }
  uint16_t port() const { return socket_.local_endpoint().port(); }
  int dropped() const { return dropped_; }

 private:
  void receive() {
    socket_.async_receive_from(asio::buffer(buffer_), from_,
                               [this](const asio::error_code& ec, size_t n) {
                                 if (ec) return;
                                 forward(n);
                                 receive();
                               });
  }
  void forward(size_t n) {
    asio::error_code ec;
    if (from_ == server_) {
      if (++from_server_ > 10 && from_server_ % drop_every_ == 0) {
        ++dropped_;
        return;
      }
      socket_.send_to(asio::buffer(buffer_.data(), n), client_, 0, ec);
    } else {
      client_ = from_;
      socket_.send_to(asio::buffer(buffer_.data(), n), server_, 0, ec);
    }
  }

  udp::socket socket_;
  udp::endpoint server_;
  udp::endpoint client_;
  udp::endpoint from_;
  std::array<uint8_t, 65536> buffer_{};
  int drop_every_;
  int from_server_ = 0;
  int dropped_ = 0;
};

// Loss recovery's work is visible to operators: packets with stream data
// declared lost are counted (the relay's /metrics reports this counter).
TEST_F(QuicLoopback, LostStreamPacketsAreCounted) {
  const std::string big(300 * 1024, 'm');
  on_accept_ = [&big](Recorder& r) {
    r.on_data = [&r, &big](int64_t id, const Bytes&, bool fin) {
      if (fin) {
        ASSERT_TRUE(r.conn->write(id, Bytes::copy(std::string_view(big)), true).ok());
      }
    };
  };
  LossyProxy proxy(io_, server_->local_endpoint().port(), 7);
  auto client = connect("::1", proxy.port());
  ASSERT_TRUE(run_until([&] { return client->handshake; }));
  auto id = client->conn->open_bidi_stream();
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(client->conn->write(*id, Bytes::copy(std::string_view("go")), true).ok());
  ASSERT_TRUE(run_until([&] { return client->finished.count(*id) > 0; }, std::chrono::seconds(20)));
  EXPECT_EQ(client->data[*id], big);  // every byte, in spite of the losses
  ASSERT_TRUE(run_until([&] { return server_->stream_packets_lost() > 0; }))
      << "the proxy dropped " << proxy.dropped() << " datagrams";
  EXPECT_GT(proxy.dropped(), 0);
  EXPECT_EQ(client_->stream_packets_lost(), 0u);  // nothing from the client was dropped
}

TEST_F(QuicLoopback, ManyUniStreams) {
  auto client = connect();
  ASSERT_TRUE(run_until([&] { return client->handshake; }));
  std::mt19937 rng(42);
  std::map<int64_t, std::string> sent;
  const int kStreams = 1500;  // more than max_streams_uni: credit must be returned
  int opened = 0;
  std::function<void()> open_more = [&] {
    while (opened < kStreams) {
      auto id = client->conn->open_uni_stream();
      if (!id.ok()) return;  // wait for credit
      std::string payload(rng() % 20000, '\0');
      for (auto& ch : payload)
        ch = static_cast<char>(rng());
      ASSERT_TRUE(client->conn->write(*id, Bytes::copy(std::string_view(payload)), true).ok());
      sent[*id] = std::move(payload);
      ++opened;
    }
  };
  open_more();
  ASSERT_TRUE(run_until(
      [&] {
        open_more();
        return !accepted_.empty() && accepted_[0]->finished.size() == static_cast<size_t>(kStreams);
      },
      std::chrono::seconds(20)))
      << "opened " << opened << " finished "
      << (accepted_.empty() ? 0 : accepted_[0]->finished.size()) << " closed "
      << (accepted_.empty() ? 0 : accepted_[0]->closed_streams) << " data streams "
      << (accepted_.empty() ? 0 : accepted_[0]->data.size());
  for (const auto& [id, payload] : sent) {
    ASSERT_EQ(accepted_[0]->data[id], payload) << "stream " << id;
  }
}

TEST_F(QuicLoopback, CloseCodeAndReasonReachThePeer) {
  auto client = connect();
  ASSERT_TRUE(run_until([&] { return client->handshake && !accepted_.empty(); }));
  ASSERT_TRUE(run_until([&] { return accepted_[0]->handshake; }));
  accepted_[0]->conn->close(42, "bye");
  ASSERT_TRUE(run_until([&] { return client->closed.has_value(); }));
  EXPECT_EQ(client->closed->kind, CloseInfo::Kind::kApplication);
  EXPECT_EQ(client->closed->code, 42u);
  EXPECT_EQ(client->closed->reason, "bye");
  EXPECT_TRUE(client->closed->remote);
  ASSERT_TRUE(accepted_[0]->closed.has_value());
  EXPECT_FALSE(accepted_[0]->closed->remote);
}

TEST_F(QuicLoopback, RandomDatagramsDoNotHurtTheServer) {
  udp::socket junk(io_, udp::endpoint(udp::v6(), 0));
  std::mt19937 rng(7);
  const udp::endpoint target(asio::ip::make_address("::1"), server_->local_endpoint().port());
  for (int i = 0; i < 500; ++i) {
    std::vector<uint8_t> d(1 + rng() % 1400);
    for (auto& b : d)
      b = static_cast<uint8_t>(rng());
    if (i % 3 == 0) d[0] |= 0xc0;  // long header: looks like an Initial
    junk.send_to(asio::buffer(d), target);
  }
  run_until([] { return false; }, std::chrono::milliseconds(200));
  auto client = connect();
  ASSERT_TRUE(run_until([&] { return client->handshake; }));
  EXPECT_GT(server_->dropped_datagrams(), 0u);
}

}  // namespace
}  // namespace moq::quic
