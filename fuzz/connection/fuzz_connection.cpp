// The whole server side of a connection under a hostile client: the input is
// a script of QUIC stream operations (open, write, FIN, reset, stop-sending,
// close) by up to two clients against the real relay core
//   quic::Endpoint -> quic::Connection -> HTTP/3 + WebTransport (WtConnection)
//   -> MoQ session -> cache,
// with every packet carried in memory, so that the order of events inside one
// datagram or one batch is the fuzzer's to choose. Whatever the script, the
// process must neither crash nor leak, and the relay must shut down cleanly.
//
// Input format: a sequence of operations, each one opcode byte followed by its
// arguments (bytes past the end read as 0):
//   0 open bidi stream             1 open uni stream
//   2 K S   write canned record K on stream slot S (HTTP/3, WebTransport and
//           MoQ building blocks, see canned())
//   3 S L.. write L raw bytes on slot S
//   4 S     FIN slot S              5 S C  reset slot S with code C
//   6 S C   stop-sending slot S     7     deliver every packet in flight
//   8       switch to the other client (connects it the first time)
//   9 C     close the client's connection with code C
//   10 K S  canned record K then FIN on slot S

#include <spdlog/spdlog.h>

#include <array>
#include <asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "coding/writer.h"
#include "h3/control.h"
#include "h3/frame.h"
#include "h3/qpack.h"
#include "h3/settings.h"
#include "quic/endpoint.h"
#include "quic/tls_cert.h"
#include "quic/tls_client.h"
#include "quic/tls_server.h"
#include "relay.h"
#include "webtransport/capsule.h"
#include "webtransport/connect.h"
#include "webtransport/stream_header.h"
#include "wire/message.h"
#include "wire/object.h"

namespace {

using namespace moq;
using asio::ip::udp;

// TLS set-up is costly and the same for every input.
struct Tls {
  std::optional<quic::TlsServerContext> server;
  std::optional<quic::TlsClientContext> client;
};

Tls& tls() {
  static Tls* t = [] {
    auto* out = new Tls();
    auto pem = quic::generate_dev_certificate();
    quic::TlsServerConfig sc;
    sc.pem_pairs.push_back(pem.value());
    out->server.emplace(std::move(quic::TlsServerContext::create(sc).value()));
    quic::TlsClientConfig cc;
    cc.fingerprint = out->server->fingerprint_hex();
    out->client.emplace(std::move(quic::TlsClientContext::create(cc).value()));
    return out;
  }();
  return *t;
}

class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool done() const { return pos_ >= size_; }
  uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  std::vector<uint8_t> bytes(size_t n) {
    std::vector<uint8_t> out;
    while (n-- > 0 && pos_ < size_)
      out.push_back(data_[pos_++]);
    return out;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// The client's QUIC connection: it only records what the server does.
struct Peer : quic::ConnectionHandler {
  std::shared_ptr<quic::Connection> conn;
  std::vector<int64_t> slots;  // streams the script opened
  bool ready = false;
  bool closed = false;
  void on_handshake_done() override { ready = true; }
  void on_stream_data(int64_t id, Bytes data, bool) override { conn->consume(id, data.size()); }
  void on_stream_reset(int64_t, uint64_t) override {}
  void on_stop_sending(int64_t, uint64_t) override {}
  void on_stream_closed(int64_t) override {}
  void on_stream_writable(int64_t) override {}
  void on_streams_available() override {}
  void on_closed(const quic::CloseInfo&) override { closed = true; }
};

std::vector<uint8_t> encode(const wire::Message& m) {
  std::vector<uint8_t> out;
  (void)wire::encode(m, out);
  return out;
}

std::vector<uint8_t> headers_frame(const h3::HeaderList& headers) {
  h3::QpackEncoder enc;
  std::vector<uint8_t> out;
  h3::write_frame(h3::frame_type::kHeaders, enc.encode(0, headers), out);
  return out;
}

std::vector<uint8_t> varint(uint64_t v) {
  std::vector<uint8_t> out;
  Writer(out).varint(v);
  return out;
}

// Building blocks a script can write; `arg` varies ids and names.
std::vector<uint8_t> canned(uint8_t k, uint8_t arg, uint64_t session_id) {
  static const std::array<const char*, 5> kTracks = {".catalog", "1", "1.mp4", "2", ""};
  const std::string track = kTracks[arg % kTracks.size()];
  const uint64_t small = arg % 4u;
  switch (k % 20) {
    case 0:
      return h3::encode_control_stream_preface(h3::client_settings());
    case 1:
      return varint(0x02);  // QPACK encoder stream
    case 2:
      return varint(0x03);  // QPACK decoder stream
    case 3:
      return varint(0x1f * arg + 0x21);  // reserved (GREASE) stream type
    case 4:
      return headers_frame(wt::connect_request_headers("localhost", arg % 2 ? "/fuzz" : "/"));
    case 5:
      return wt::encode_uni_stream_header(session_id);
    case 6:
      return wt::encode_bidi_stream_header(session_id);
    case 7:
      return encode(wire::ClientSetup{{wire::kKixel00}, wire::Role::kPublisher});
    case 8:
      return encode(wire::ClientSetup{{wire::kKixel00}, wire::Role::kSubscriber});
    case 9:
      return encode(wire::Subscribe{small, "", track});
    case 10:
      return encode(wire::SubscribeStop{small});
    case 11:
      return encode(wire::SubscribeOk{small});
    case 12:
      return encode(wire::SubscribeReset{small, arg % 2u ? 0u : 404u, "gone"});
    case 13: {
      std::vector<uint8_t> out;
      (void)wire::encode(wire::ObjectHeader{small, arg / 4u, static_cast<int32_t>(arg), arg % 3u},
                         out);
      out.insert(out.end(), {'m', 'o', 'o', 'f'});
      return out;
    }
    case 14:
      return encode(wire::Announce{track});
    case 15:
      return encode(wire::GoAway{"https://elsewhere"});
    case 16: {
      std::vector<uint8_t> out;
      h3::write_frame(h3::frame_type::kData, std::vector<uint8_t>{arg}, out);
      return out;
    }
    case 17:
      return wt::encode_close_data_frame(wt::CloseSession{arg, "bye"});
    case 18:
      return encode(wire::ClientSetup{{wire::kKixel00}, wire::Role::kBoth});
    default:
      return headers_frame(
          {{":method", "GET"}, {":scheme", "https"}, {":authority", "localhost"}, {":path", "/"}});
  }
}

struct World {
  asio::io_context io;
  udp::endpoint server_addr{asio::ip::make_address("::1"), 4443};
  udp::endpoint client_addr{asio::ip::make_address("::1"), 50000};
  struct Datagram {
    bool to_server;
    std::vector<uint8_t> bytes;
  };
  std::deque<Datagram> in_flight;
  std::shared_ptr<quic::Endpoint> server_ep;
  std::shared_ptr<quic::Endpoint> client_ep;
  std::unique_ptr<relay::Relay> relay;
  std::array<std::shared_ptr<Peer>, 2> peers;
  size_t active = 0;

  World() {
    quic::QuicConfig config;
    config.max_streams_uni = 16;  // reachable limits
    config.max_streams_bidi = 8;
    server_ep = quic::Endpoint::create_detached(
        io, server_addr, config, &*tls().server, [this](const udp::endpoint&, auto d) {
          in_flight.push_back({false, {d.begin(), d.end()}});
          return true;
        });
    client_ep = quic::Endpoint::create_detached(io, client_addr, config, nullptr,
                                                [this](const udp::endpoint&, auto d) {
                                                  in_flight.push_back({true, {d.begin(), d.end()}});
                                                  return true;
                                                });
    relay::RelayConfig rc;
    rc.quic = config;
    relay = std::move(relay::Relay::start(io, rc, server_ep).value());
  }

  // Delivers packets and runs ready handlers until nothing moves (bounded).
  void pump() {
    for (int round = 0; round < 200; ++round) {
      bool moved = io.poll() > 0;
      if (io.stopped()) io.restart();
      auto batch = std::move(in_flight);
      in_flight.clear();
      for (auto& d : batch) {
        moved = true;
        if (d.to_server) {
          server_ep->receive(d.bytes, client_addr);
        } else {
          client_ep->receive(d.bytes, server_addr);
        }
      }
      if (!moved) return;
    }
  }

  Peer* peer() {
    auto& p = peers[active];
    if (!p) {
      p = std::make_shared<Peer>();
      auto conn = client_ep->connect(server_addr, "localhost", *tls().client);
      if (!conn) return nullptr;
      p->conn = conn.value();
      p->conn->set_handler(p);
      pump();
    }
    return p->ready && !p->closed ? p.get() : nullptr;
  }

  ~World() {
    pump();
    relay->shutdown();
    pump();
    relay.reset();
    client_ep->shutdown();
    pump();
  }
};

void run(Input& in) {
  World w;
  for (int ops = 0; !in.done() && ops < 256; ++ops) {
    const uint8_t op = in.byte() % 11;
    if (op == 7) {
      w.pump();
      continue;
    }
    if (op == 8) {
      w.active ^= 1;
      continue;
    }
    Peer* p = w.peer();
    if (!p) continue;
    auto& conn = *p->conn;
    auto slot = [&]() -> int64_t {
      const uint8_t s = in.byte();
      return p->slots.empty() ? -1 : p->slots[s % p->slots.size()];
    };
    switch (op) {
      case 0:
      case 1: {
        auto id = op == 0 ? conn.open_bidi_stream() : conn.open_uni_stream();
        if (id && p->slots.size() < 32) p->slots.push_back(*id);
        break;
      }
      case 2:
      case 10: {
        const uint8_t k = in.byte();
        const uint8_t arg = in.byte();
        const int64_t id = slot();
        // WebTransport streams name the first request stream as their session.
        const uint64_t session = 0;
        if (id >= 0) (void)conn.write(id, Bytes(canned(k, arg, session)), op == 10);
        break;
      }
      case 3: {
        const int64_t id = slot();
        auto raw = in.bytes(in.byte() % 64);
        if (id >= 0) (void)conn.write(id, Bytes(std::move(raw)));
        break;
      }
      case 4:
        if (const int64_t id = slot(); id >= 0) (void)conn.finish(id);
        break;
      case 5:
        if (const int64_t id = slot(); id >= 0) conn.reset_stream(id, in.byte());
        break;
      case 6:
        if (const int64_t id = slot(); id >= 0) conn.stop_sending(id, in.byte());
        break;
      case 9:
        conn.close(in.byte(), "fuzz");
        break;
      default:
        break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  tls();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  run(in);
  return 0;
}
