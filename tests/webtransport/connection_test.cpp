#include "webtransport/connection.h"

#include <gtest/gtest.h>

#include "h3/capsule.h"
#include "h3/error.h"
#include "h3/frame.h"
#include "h3/qpack.h"
#include "h3/stream_type.h"
#include "webtransport/connect.h"
#include "webtransport/error.h"

namespace moq::wt {
namespace {

template <class T>
std::vector<T> only(const std::vector<Event>& events) {
  std::vector<T> out;
  for (const auto& e : events) {
    if (auto* p = std::get_if<T>(&e)) out.push_back(*p);
  }
  return out;
}

std::vector<uint8_t> bytes_of(std::string_view s) {
  return {s.begin(), s.end()};
}

std::vector<uint8_t> headers_frame(const h3::HeaderList& headers, uint64_t stream_id) {
  h3::QpackEncoder enc;
  std::vector<uint8_t> out;
  h3::write_frame(h3::frame_type::kHeaders, enc.encode(static_cast<int64_t>(stream_id), headers),
                  out);
  return out;
}

// A server and a client joined by in-memory streams. `chunk` > 0 delivers
// every write in pieces of that size (1 = byte at a time).
struct Pair {
  Connection server{Config{Role::kServer}};
  Connection client{Config{Role::kClient}};
  std::vector<Event> server_events, client_events;
  size_t chunk = 0;

  static constexpr uint64_t kClientControl = 2;
  static constexpr uint64_t kServerControl = 3;
  static constexpr uint64_t kSession = 0;

  void deliver(Connection& to, const Write& w) {
    if (chunk == 0 || w.data.empty()) {
      to.on_stream_data(w.stream_id, w.data, w.fin);
      return;
    }
    for (size_t off = 0; off < w.data.size(); off += chunk) {
      const size_t n = std::min(chunk, w.data.size() - off);
      to.on_stream_data(w.stream_id, std::span<const uint8_t>(w.data).subspan(off, n),
                        w.fin && off + n == w.data.size());
    }
  }
  // Runs until neither side has anything to write.
  void drive() {
    while (true) {
      auto sw = server.poll_writes();
      auto cw = client.poll_writes();
      if (sw.empty() && cw.empty()) break;
      for (const auto& w : sw)
        deliver(client, w);
      for (const auto& w : cw)
        deliver(server, w);
    }
    for (auto& e : server.poll_events())
      server_events.push_back(std::move(e));
    for (auto& e : client.poll_events())
      client_events.push_back(std::move(e));
  }
  void open_controls() {
    server.control_stream_opened(kServerControl);
    client.control_stream_opened(kClientControl);
    drive();
  }
  // Handshake up to an established session on stream 0.
  void establish(std::string path = "/live") {
    open_controls();
    ASSERT_TRUE(client.open_session(kSession, "relay.example:4443", path, "https://example.com"));
    drive();
    ASSERT_TRUE(server.accept(kSession));
    drive();
    ASSERT_TRUE(server.session_established(kSession));
    ASSERT_TRUE(client.session_established(kSession));
    server_events.clear();
    client_events.clear();
  }
};

TEST(Connection, SettingsExchange) {
  Pair p;
  p.open_controls();
  auto cs = only<SettingsReceived>(p.client_events);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_TRUE(cs[0].webtransport);
  EXPECT_EQ(cs[0].settings, h3::server_settings());
  auto ss = only<SettingsReceived>(p.server_events);
  ASSERT_EQ(ss.size(), 1u);
  EXPECT_TRUE(ss[0].webtransport);
}

TEST(Connection, ClientWaitsForSettings) {
  Pair p;
  EXPECT_FALSE(p.client.open_session(0, "a", "/"));
}

TEST(Connection, HandshakeAcceptAtEveryChunkSize) {
  for (size_t chunk : {0, 1, 2, 3, 7}) {
    Pair p;
    p.chunk = chunk;
    p.open_controls();
    ASSERT_TRUE(p.client.open_session(0, "relay.example:4443", "/watch", "https://example.com"));
    p.drive();
    auto req = only<SessionRequested>(p.server_events);
    ASSERT_EQ(req.size(), 1u) << chunk;
    EXPECT_EQ(req[0].session_id, 0u);
    EXPECT_EQ(req[0].authority, "relay.example:4443");
    EXPECT_EQ(req[0].path, "/watch");
    EXPECT_EQ(req[0].origin, "https://example.com");
    ASSERT_TRUE(p.server.accept(0));
    p.drive();
    auto acc = only<SessionAccepted>(p.client_events);
    ASSERT_EQ(acc.size(), 1u);
    EXPECT_EQ(acc[0].headers, response_headers(200, true));
    EXPECT_TRUE(only<ConnectionError>(p.server_events).empty());
    EXPECT_TRUE(only<ConnectionError>(p.client_events).empty());
  }
}

TEST(Connection, ServerEmits200WithDraftHeaderAndNoFin) {
  Connection server{Config{Role::kServer}};
  server.on_stream_data(0, headers_frame(connect_request_headers("a:1", "/x"), 0), false);
  auto ev = server.poll_events();
  ASSERT_EQ(only<SessionRequested>(ev).size(), 1u);
  ASSERT_TRUE(server.accept(0));
  auto writes = server.poll_writes();
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ(writes[0].stream_id, 0u);
  EXPECT_FALSE(writes[0].fin);
  h3::FrameReader fr;
  std::span<const uint8_t> in(writes[0].data);
  auto f = fr.next(in);
  ASSERT_EQ(f.kind, h3::FrameEvent::Kind::kFrame);
  ASSERT_EQ(f.type, h3::frame_type::kHeaders);
  h3::QpackDecoder dec;
  auto d = dec.decode(0, f.payload);
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.headers,
            (h3::HeaderList{{":status", "200"}, {"sec-webtransport-http3-draft", "draft02"}}));
}

struct Response {
  uint32_t status = 0;
  bool fin = false;
};
Response response_to(const h3::HeaderList& request, bool request_fin = true) {
  Connection server{Config{Role::kServer}};
  server.on_stream_data(4, headers_frame(request, 4), request_fin);
  auto events = server.poll_events();
  EXPECT_TRUE(only<SessionRequested>(events).empty());
  EXPECT_TRUE(only<ConnectionError>(events).empty());
  auto stops = only<StopSending>(events);
  EXPECT_EQ(stops.size(), 1u);
  auto writes = server.poll_writes();
  EXPECT_EQ(writes.size(), 1u);
  if (writes.empty()) return {};
  h3::FrameReader fr;
  std::span<const uint8_t> in(writes[0].data);
  auto f = fr.next(in);
  h3::QpackDecoder dec;
  auto d = dec.decode(4, f.payload);
  auto rc = check_response(d.headers);
  return {rc.status, writes[0].fin};
}

TEST(Connection, GetGets405WithFin) {
  auto r =
      response_to({{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"}});
  EXPECT_EQ(r.status, 405u);
  EXPECT_TRUE(r.fin);
}

TEST(Connection, WrongProtocolGets400) {
  auto h = connect_request_headers("a", "/x");
  h[1].value = "websocket";
  auto r = response_to(h, false);
  EXPECT_EQ(r.status, 400u);
  EXPECT_TRUE(r.fin);
}

TEST(Connection, MalformedGets400) {
  auto r = response_to({{":method", "CONNECT"}, {":protocol", "webtransport"}, {":path", "/"}});
  EXPECT_EQ(r.status, 400u);
  EXPECT_TRUE(r.fin);
}

TEST(Connection, RejectSends404AndClientSeesIt) {
  Pair p;
  p.open_controls();
  ASSERT_TRUE(p.client.open_session(0, "a", "/nope"));
  p.drive();
  ASSERT_TRUE(p.server.reject(0, 404));
  p.drive();
  auto rej = only<SessionRejected>(p.client_events);
  ASSERT_EQ(rej.size(), 1u);
  EXPECT_EQ(rej[0].status, 404u);
  EXPECT_FALSE(p.client.session_established(0));
  EXPECT_FALSE(p.server.accept(0));
}

// A server (the original Rust relay) that puts :status after another field:
// the client still sees the session accepted (issue 9).
TEST(Connection, ClientAcceptsStatusAfterOtherFields) {
  for (const h3::HeaderList& headers :
       {h3::HeaderList{{"sec-webtransport-http3-draft", "draft02"}, {":status", "200"}},
        h3::HeaderList{{":status", "200"}, {"sec-webtransport-http3-draft", "draft02"}},
        h3::HeaderList{{"server", "x"}, {":status", "200"}}}) {
    Pair p;
    p.open_controls();
    ASSERT_TRUE(p.client.open_session(0, "a", "/live"));
    p.drive();
    h3::QpackEncoder enc;
    std::vector<uint8_t> frame;
    h3::write_frame(h3::frame_type::kHeaders, enc.encode(0, headers), frame);
    p.client.on_stream_data(0, Bytes(std::move(frame)), false);
    p.drive();
    auto acc = only<SessionAccepted>(p.client_events);
    ASSERT_EQ(acc.size(), 1u);
    EXPECT_TRUE(p.client.session_established(0));
    EXPECT_TRUE(only<SessionRejected>(p.client_events).empty());
  }
}

TEST(Connection, IncomingUniStreamSplitAtEveryByte) {
  auto wire = encode_uni_stream_header(0);
  const auto payload = bytes_of("hello object");
  wire.insert(wire.end(), payload.begin(), payload.end());
  for (size_t split = 0; split <= wire.size(); ++split) {
    Pair p;
    p.establish();
    p.server.on_stream_data(6, std::span<const uint8_t>(wire).first(split), false);
    p.server.on_stream_data(6, std::span<const uint8_t>(wire).subspan(split), true);
    auto ev = p.server.poll_events();
    auto opened = only<StreamOpened>(ev);
    ASSERT_EQ(opened.size(), 1u) << split;
    EXPECT_EQ(opened[0].stream_id, 6u);
    EXPECT_EQ(opened[0].session_id, 0u);
    EXPECT_FALSE(opened[0].bidi);
    std::string got(opened[0].initial.view());
    bool fin = opened[0].fin;
    for (auto& d : only<StreamData>(ev)) {
      got += d.data.view();
      fin = fin || d.fin;
    }
    EXPECT_EQ(got, "hello object");
    EXPECT_TRUE(fin);
  }
}

TEST(Connection, InitialPayloadIsASliceNotACopy) {
  Pair p;
  p.establish();
  auto wire = encode_uni_stream_header(0);
  wire.push_back(1);
  wire.push_back(2);
  Bytes chunk(std::move(wire));
  p.server.on_stream_data(6, chunk, false);
  auto opened = only<StreamOpened>(p.server.poll_events());
  ASSERT_EQ(opened.size(), 1u);
  EXPECT_TRUE(opened[0].initial.shares_storage_with(chunk));
  EXPECT_EQ(opened[0].initial.size(), 2u);
}

TEST(Connection, IncomingBidiStream) {
  Pair p;
  p.establish();
  auto wire = encode_bidi_stream_header(0);
  wire.push_back('x');
  for (size_t i = 0; i < wire.size(); ++i)
    p.server.on_stream_data(4, std::span(&wire[i], 1), false);
  auto ev = p.server.poll_events();
  auto opened = only<StreamOpened>(ev);
  ASSERT_EQ(opened.size(), 1u);
  EXPECT_TRUE(opened[0].bidi);
  EXPECT_EQ(opened[0].stream_id, 4u);
  EXPECT_TRUE(opened[0].initial.empty());
  auto data = only<StreamData>(ev);
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(data[0].data.view(), "x");
}

TEST(Connection, LocallyOpenedStreamsReachThePeer) {
  Pair p;
  p.establish();
  // Server opens uni stream 7 and bidi stream 1.
  auto uni = p.server.open_stream(7, 0);
  ASSERT_EQ(uni, encode_uni_stream_header(0));
  auto bidi = p.server.open_stream(1, 0);
  ASSERT_EQ(bidi, encode_bidi_stream_header(0));
  uni.push_back('u');
  p.client.on_stream_data(7, uni, true);
  p.client.on_stream_data(1, bidi, false);
  auto opened = only<StreamOpened>(p.client.poll_events());
  ASSERT_EQ(opened.size(), 2u);
  EXPECT_EQ(opened[0].initial.view(), "u");
  EXPECT_TRUE(opened[1].bidi);
  // The client answers on the server's bidi stream: the server sees data.
  p.server.on_stream_data(1, bytes_of("reply"), true);
  auto data = only<StreamData>(p.server.poll_events());
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(data[0].data.view(), "reply");
  // Not for unknown sessions or peer stream ids.
  EXPECT_TRUE(p.server.open_stream(11, 8).empty());
  EXPECT_TRUE(p.server.open_stream(6, 0).empty());
}

TEST(Connection, UnknownSessionIdResetsStreamNeverFatal) {
  Pair p;
  p.establish();
  // Session id 1 cannot be a session (not a client bidi stream).
  p.server.on_stream_data(6, encode_uni_stream_header(1), false);
  // Session 4 was a plain GET: gone.
  p.server.on_stream_data(
      4,
      headers_frame({{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"}},
                    4),
      true);
  p.server.on_stream_data(10, encode_uni_stream_header(4), false);
  auto ev = p.server.poll_events();
  auto resets = only<ResetStream>(ev);
  ASSERT_EQ(resets.size(), 2u);
  EXPECT_EQ(resets[0].stream_id, 6u);
  EXPECT_EQ(resets[0].h3_code, h3::error::kIdError);
  EXPECT_EQ(resets[1].stream_id, 10u);
  EXPECT_EQ(resets[1].h3_code, kSessionGone);
  EXPECT_TRUE(only<ConnectionError>(ev).empty());
  EXPECT_FALSE(p.server.failed());
  // The client resets streams for sessions it never opened.
  p.client.on_stream_data(7, encode_uni_stream_header(8), false);
  auto cr = only<ResetStream>(p.client.poll_events());
  ASSERT_EQ(cr.size(), 1u);
  EXPECT_EQ(cr[0].stream_id, 7u);
  EXPECT_FALSE(p.client.failed());
}

TEST(Connection, StreamsBeforeAcceptAreBufferedThenDelivered) {
  Connection server{Config{Role::kServer}};
  // WT stream for session 0 arrives before the CONNECT.
  auto wire = encode_uni_stream_header(0);
  wire.push_back('a');
  server.on_stream_data(6, wire, false);
  server.on_stream_data(6, bytes_of("b"), true);
  EXPECT_TRUE(server.poll_events().empty());
  server.on_stream_data(0, headers_frame(connect_request_headers("h", "/p"), 0), false);
  ASSERT_EQ(only<SessionRequested>(server.poll_events()).size(), 1u);
  ASSERT_TRUE(server.accept(0));
  auto opened = only<StreamOpened>(server.poll_events());
  ASSERT_EQ(opened.size(), 1u);
  EXPECT_EQ(opened[0].initial.view(), "ab");
  EXPECT_TRUE(opened[0].fin);
}

TEST(Connection, BufferedStreamsOfARejectedSessionAreReset) {
  Config cfg{Role::kServer};
  cfg.max_buffered_streams = 2;
  Connection server{cfg};
  server.on_stream_data(2, encode_uni_stream_header(0), false);
  server.on_stream_data(6, encode_uni_stream_header(0), false);
  server.on_stream_data(10, encode_uni_stream_header(0), false);  // over the cap
  auto ev = only<ResetStream>(server.poll_events());
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].stream_id, 10u);
  EXPECT_EQ(ev[0].h3_code, kBufferedStreamRejected);
  server.on_stream_data(0, headers_frame(connect_request_headers("h", "/p"), 0), false);
  server.poll_events();
  ASSERT_TRUE(server.reject(0, 404));
  auto resets = only<ResetStream>(server.poll_events());
  ASSERT_EQ(resets.size(), 2u);
  EXPECT_EQ(resets[0].h3_code, kSessionGone);
}

TEST(Connection, ClientClosesWithCapsule) {
  Pair p;
  p.establish();
  p.server.on_stream_data(6, encode_uni_stream_header(0), false);
  p.server.poll_events();
  ASSERT_TRUE(p.client.close_session(0, 42, "bye now"));
  auto cw = p.client.poll_writes();
  ASSERT_EQ(cw.size(), 1u);
  EXPECT_TRUE(cw[0].fin);
  EXPECT_EQ(cw[0].data, encode_close_data_frame({42, "bye now"}));
  for (auto& w : cw)
    p.server.on_stream_data(w.stream_id, w.data, w.fin);
  auto ev = p.server.poll_events();
  auto closed = only<SessionClosed>(ev);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].code, 42u);
  EXPECT_EQ(closed[0].reason, "bye now");
  auto resets = only<ResetStream>(ev);
  ASSERT_EQ(resets.size(), 1u);
  EXPECT_EQ(resets[0].stream_id, 6u);
  EXPECT_EQ(resets[0].h3_code, kSessionGone);
  // The server answers with a bare FIN.
  auto sw = p.server.poll_writes();
  ASSERT_EQ(sw.size(), 1u);
  EXPECT_TRUE(sw[0].data.empty());
  EXPECT_TRUE(sw[0].fin);
  EXPECT_FALSE(p.server.session_established(0));
  // Later streams for the closed session are reset.
  p.server.on_stream_data(10, encode_uni_stream_header(0), false);
  auto late = only<ResetStream>(p.server.poll_events());
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].h3_code, kSessionGone);
}

TEST(Connection, ServerClosesAndCapsuleSplitAcrossDataFrames) {
  Pair p;
  p.establish();
  // A capsule split over two DATA frames, after a GREASE capsule.
  std::vector<uint8_t> capsules;
  h3::write_capsule(0x17 + 41, bytes_of("grease"), capsules);
  h3::write_capsule(0x2843, std::vector<uint8_t>{0, 0, 1, 0, 'o', 'k'}, capsules);
  const size_t half = capsules.size() - 3;
  std::vector<uint8_t> wire;
  h3::write_frame(h3::frame_type::kData, std::span(capsules).first(half), wire);
  h3::write_frame(0x21, bytes_of("unknown frame"), wire);
  h3::write_frame(h3::frame_type::kData, std::span(capsules).subspan(half), wire);
  p.client.on_stream_data(0, wire, true);
  auto closed = only<SessionClosed>(p.client.poll_events());
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].code, 256u);
  EXPECT_EQ(closed[0].reason, "ok");
}

TEST(Connection, FinWithoutCapsuleClosesWithZero) {
  Pair p;
  p.establish();
  p.server.on_stream_data(0, std::span<const uint8_t>{}, true);
  auto closed = only<SessionClosed>(p.server.poll_events());
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].code, 0u);
  EXPECT_EQ(closed[0].reason, "");
}

TEST(Connection, DrainAndGreaseCapsulesTolerated) {
  Pair p;
  p.establish();
  ASSERT_TRUE(p.client.drain_session(0));
  p.drive();
  EXPECT_EQ(only<SessionDraining>(p.server_events).size(), 1u);
  EXPECT_TRUE(p.server.session_established(0));
}

TEST(Connection, DataAfterCloseCapsuleResetsConnectStream) {
  Pair p;
  p.establish();
  auto wire = encode_close_data_frame({1, ""});
  h3::write_frame(h3::frame_type::kData, bytes_of("more"), wire);
  p.server.on_stream_data(0, wire, false);
  auto ev = p.server.poll_events();
  EXPECT_EQ(only<SessionClosed>(ev).size(), 1u);
  auto resets = only<ResetStream>(ev);
  ASSERT_EQ(resets.size(), 1u);
  EXPECT_EQ(resets[0].stream_id, 0u);
  EXPECT_EQ(resets[0].h3_code, h3::error::kMessageError);
}

TEST(Connection, PeerResetOfWtStreamMapsCode) {
  Pair p;
  p.establish();
  p.server.on_stream_data(6, encode_uni_stream_header(0), false);
  p.server.poll_events();
  p.server.on_stream_reset(6, to_http3(77));
  auto r = only<StreamReset>(p.server.poll_events());
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].code, 77u);
  EXPECT_EQ(r[0].session_id, 0u);
}

TEST(Connection, ControlStreamErrors) {
  {
    Connection s{Config{Role::kServer}};
    std::vector<uint8_t> w = {0x00};
    auto g = h3::encode_goaway(0);
    w.insert(w.end(), g.begin(), g.end());
    s.on_stream_data(2, w, false);
    auto e = only<ConnectionError>(s.poll_events());
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0].h3_code, h3::error::kMissingSettings);
    EXPECT_TRUE(s.failed());
  }
  {
    Connection s{Config{Role::kServer}};
    auto pre = h3::encode_control_stream_preface(h3::client_settings());
    s.on_stream_data(2, pre, false);
    s.on_stream_data(6, pre, false);
    auto e = only<ConnectionError>(s.poll_events());
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0].h3_code, h3::error::kStreamCreationError);
  }
  {
    Connection s{Config{Role::kServer}};
    s.on_stream_data(2, h3::encode_control_stream_preface(h3::client_settings()), true);
    auto e = only<ConnectionError>(s.poll_events());
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0].h3_code, h3::error::kClosedCriticalStream);
  }
  {
    // DATA before HEADERS on a request stream.
    Connection s{Config{Role::kServer}};
    std::vector<uint8_t> w;
    h3::write_frame(h3::frame_type::kData, bytes_of("x"), w);
    s.on_stream_data(0, w, false);
    auto e = only<ConnectionError>(s.poll_events());
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0].h3_code, h3::error::kFrameUnexpected);
  }
}

TEST(Connection, GreaseAndQpackStreamsIgnored) {
  Connection s{Config{Role::kServer}};
  std::vector<uint8_t> grease;
  h3::write_uni_stream_type(0x21 + 0x1f * 9, grease);
  grease.push_back(0xff);
  s.on_stream_data(2, grease, true);
  // Encoder stream: Set Dynamic Table Capacity 0 (all a zero-capacity table allows).
  s.on_stream_data(6, std::vector<uint8_t>{0x02, 0x20}, false);
  s.on_stream_data(10, std::vector<uint8_t>{0x03}, false);  // decoder stream
  EXPECT_TRUE(s.poll_events().empty());
  EXPECT_FALSE(s.failed());
}

// Issue 9: we allow no dynamic table (QPACK_MAX_TABLE_CAPACITY 0), so a
// larger capacity on the encoder stream is QPACK_ENCODER_STREAM_ERROR
// (RFC 9204 §4.3.1), as is an insertion.
TEST(Connection, OverLimitDynamicTableCapacityIsEncoderStreamError) {
  for (const std::vector<uint8_t>& instructions :
       {std::vector<uint8_t>{0x02, 0x3f, 0xe1, 0x1f},                               // capacity 4000
        std::vector<uint8_t>{0x02, 0x21},                                           // capacity 1
        std::vector<uint8_t>{0x02, 0x40 | 0x04, 'a', 'b', 'c', 'd', 0x01, 'x'}}) {  // insert
    Connection s{Config{Role::kServer}};
    s.on_stream_data(6, instructions, false);
    EXPECT_TRUE(s.failed());
    auto errors = only<ConnectionError>(s.poll_events());
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].h3_code, h3::error::kQpackEncoderStreamError) << errors[0].reason;
  }
}

TEST(Connection, InvalidDecoderStreamInstructionIsDecoderStreamError) {
  Connection s{Config{Role::kServer}};
  s.on_stream_data(10, std::vector<uint8_t>{0x03, 0x00}, false);  // Insert Count Increment 0
  EXPECT_TRUE(s.failed());
  auto errors = only<ConnectionError>(s.poll_events());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].h3_code, h3::error::kQpackDecoderStreamError);
}

TEST(Connection, GoawayIsReported) {
  Pair p;
  p.open_controls();
  ASSERT_TRUE(p.server.send_goaway(4));
  p.drive();
  auto g = only<GoawayReceived>(p.client_events);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].id, 4u);
}

}  // namespace
}  // namespace moq::wt
