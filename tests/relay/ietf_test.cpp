// IETF moq-transport draft-14 at the relay (issue 12): negotiation, serving
// a KIXEL_00 broadcast, taking a broadcast a draft-14 client publishes, and
// hostile input that must end one stream or one session with the right
// code, never the relay, never another session (the KIXEL_00 pair beside it
// keeps working).

#include "ietf/message.h"
#include "relay/dialect_fixture.h"

namespace moq::relay_test {
namespace {

// The control stream of a raw draft-14 session: what we write, and every
// byte the relay sent back.
struct ControlStream {
  std::shared_ptr<transport::SendStream> send;
  std::shared_ptr<Reply> reply = std::make_shared<Reply>();
  bool opened = false;
};

asio::awaitable<void> open_control(std::shared_ptr<wt::WtSession> session,
                                   std::vector<uint8_t> first, std::shared_ptr<ControlStream> out) {
  auto stream = co_await session->open_bidi();
  if (!stream) {
    out->reply->reset = stream.error();
    co_return;
  }
  out->send = stream->send;
  out->opened = true;
  (void)stream->send->write(Bytes(std::move(first)));
  for (;;) {
    auto chunk = co_await stream->recv->read();
    if (!chunk) {
      out->reply->reset = chunk.error();
      co_return;
    }
    if (!*chunk) {
      out->reply->fin = true;
      co_return;
    }
    auto& bytes = out->reply->bytes;
    bytes.insert(bytes.end(), (*chunk)->data(), (*chunk)->data() + (*chunk)->size());
  }
}

// Every uni stream the relay opens: its bytes.
asio::awaitable<void> collect_uni(std::shared_ptr<wt::WtSession> session,
                                  std::shared_ptr<std::vector<std::shared_ptr<Reply>>> out) {
  for (;;) {
    auto stream = co_await session->accept_uni();
    if (!stream) co_return;
    auto reply = std::make_shared<Reply>();
    out->push_back(reply);
    auto recv = *stream;
    for (;;) {
      auto chunk = co_await recv->read();
      if (!chunk) {
        reply->reset = chunk.error();
        break;
      }
      if (!*chunk) {
        reply->fin = true;
        break;
      }
      reply->bytes.insert(reply->bytes.end(), (*chunk)->data(),
                          (*chunk)->data() + (*chunk)->size());
    }
  }
}

std::vector<uint8_t> encoded(const ietf::Control& m) {
  std::vector<uint8_t> out;
  EXPECT_TRUE(ietf::encode(m, out));
  return out;
}

std::vector<ietf::Control> decoded(const std::vector<uint8_t>& bytes) {
  std::vector<ietf::Control> messages;
  std::span<const uint8_t> rest(bytes);
  for (;;) {
    auto d = ietf::decode_control(rest);
    if (d.status != DecodeStatus::kOk) break;
    messages.push_back(std::move(d.message));
    rest = rest.subspan(d.consumed);
  }
  return messages;
}

ietf::ClientSetup client_setup(std::vector<uint64_t> versions = {ietf::kDraft14}) {
  ietf::ClientSetup setup;
  setup.versions = std::move(versions);
  setup.params.push_back({ietf::setup_param::kMaxRequestId, 100, {}});
  return setup;
}

class RelayIetf : public DialectTest {
 protected:
  std::shared_ptr<LitePeer> ietf_peer(std::vector<std::string> protocols = {"moq-00"}) {
    return connect_raw(std::move(protocols));
  }
  std::shared_ptr<ControlStream> control(const LitePeer& peer, std::vector<uint8_t> first) {
    auto c = std::make_shared<ControlStream>();
    asio::co_spawn(io_, open_control(peer.session, std::move(first), c), asio::detached);
    EXPECT_TRUE(run_until([&] { return c->opened || c->reply->done(); }));
    return c;
  }
  // A session past SETUP; `uni` collects the streams the relay opens.
  std::shared_ptr<ControlStream> set_up(
      const LitePeer& peer, std::shared_ptr<std::vector<std::shared_ptr<Reply>>> uni = nullptr) {
    if (uni) asio::co_spawn(io_, collect_uni(peer.session, uni), asio::detached);
    auto c = control(peer, encoded(client_setup()));
    auto server = wait_for<ietf::ServerSetup>(*c);
    EXPECT_TRUE(server);
    if (server) {
      EXPECT_EQ(server->version, ietf::kDraft14);
      EXPECT_GT(ietf::find_param(server->params, ietf::setup_param::kMaxRequestId).value_or(0), 0u);
    }
    return c;
  }
  void write(ControlStream& c, const ietf::Control& m) { (void)c.send->write(Bytes(encoded(m))); }
  // The first message of type T the relay sent (waits for it).
  template <class T>
  std::optional<T> wait_for(const ControlStream& c, std::function<bool(const T&)> match = {}) {
    std::optional<T> found;
    run_until([&] {
      for (auto& m : decoded(c.reply->bytes)) {
        if (auto* t = std::get_if<T>(&m); t && (!match || match(*t))) {
          found = *t;
          return true;
        }
      }
      return c.reply->done();
    });
    return found;
  }
  // SUBSCRIBE_NAMESPACE "" is answered, with "live" and "live.hang".
  void expect_session_works(ControlStream& c, uint64_t request_id) {
    write(c, ietf::SubscribeNamespace{request_id, {}, {}});
    auto ok = wait_for<ietf::SubscribeNamespaceOk>(
        c, [&](const auto& m) { return m.request_id == request_id; });
    ASSERT_TRUE(ok);
    ASSERT_TRUE(wait_for<ietf::PublishNamespace>(
        c, [](const auto& m) { return m.track_namespace == ietf::Namespace{"live.hang"}; }));
    ASSERT_TRUE(wait_for<ietf::PublishNamespace>(
        c, [](const auto& m) { return m.track_namespace == ietf::Namespace{"live"}; }));
  }
};

TEST_F(RelayIetf, NegotiatesDraft14ByProtocolAndSetup) {
  auto rust = ietf_peer({"moqt-16", "moq-00", "moq-lite-02"});
  ASSERT_TRUE(rust->session) << rust->end->reason;
  EXPECT_EQ(rust->session->protocol(), "moq-00");
  auto c = set_up(*rust);
  // The relay asks what the client publishes (as moq-relay does).
  auto asked = wait_for<ietf::SubscribeNamespace>(*c);
  ASSERT_TRUE(asked);
  EXPECT_EQ(asked->request_id % 2, 1u);  // the server's ids are odd
  EXPECT_TRUE(asked->prefix.empty());
  // The JS clients' `moql` offers moq-lite-01/02 beside draft-14 in SETUP.
  auto js = ietf_peer({"moql"});
  ASSERT_TRUE(js->session);
  EXPECT_EQ(js->session->protocol(), "moql");
  auto cjs = control(*js, encoded(client_setup({0xff0dad02, 0xff0dad01, ietf::kDraft14})));
  auto server = wait_for<ietf::ServerSetup>(*cjs);
  ASSERT_TRUE(server);
  EXPECT_EQ(server->version, ietf::kDraft14);
  expect_kixel_pair_unaffected();
}

TEST_F(RelayIetf, AnnouncesAndServesAKixelBroadcast) {
  auto peer = ietf_peer();
  ASSERT_TRUE(peer->session);
  auto uni = std::make_shared<std::vector<std::shared_ptr<Reply>>>();
  auto c = set_up(*peer, uni);
  expect_session_works(*c, 0);
  ietf::Subscribe subscribe;
  subscribe.request_id = 2;
  subscribe.track_namespace = {"live"};
  subscribe.track_name = "video";
  write(*c, subscribe);
  auto ok = wait_for<ietf::SubscribeOk>(*c);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->request_id, 2u);
  EXPECT_FALSE(ok->largest.has_value());
  // The newest group from its start, then each new one: a subgroup stream
  // each, one object carrying the KIXEL object's bytes.
  write_segment(*video_, next_, 1, std::nullopt, payload_for("video", next_));
  ++next_;
  ASSERT_TRUE(run_until([&] { return uni->size() >= 2 && (*uni)[1]->fin; }));
  for (size_t i = 0; i < 2; ++i) {
    const auto& bytes = (*uni)[i]->bytes;
    auto header = ietf::decode_subgroup_header(bytes);
    ASSERT_EQ(header.status, DecodeStatus::kOk);
    EXPECT_EQ(header.header.track_alias, ok->track_alias);
    EXPECT_EQ(header.header.group_id, i);
    auto object = ietf::decode_object_header(std::span(bytes).subspan(header.consumed), false);
    ASSERT_EQ(object.status, DecodeStatus::kOk);
    const std::string payload = payload_for("video", i);
    EXPECT_EQ(object.header.payload_length, payload.size());
    EXPECT_EQ(std::string(bytes.begin() + static_cast<ptrdiff_t>(header.consumed + object.consumed),
                          bytes.end()),
              payload);
  }
  // The empty namespace names no broadcast: SUBSCRIBE_ERROR "does not
  // exist". (An unknown name waits --publisher-wait for its publisher, as
  // on every dialect.) FETCH: not supported.
  subscribe.request_id = 4;
  subscribe.track_namespace = {};
  write(*c, subscribe);
  auto error = wait_for<ietf::SubscribeError>(*c);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->request_id, 4u);
  EXPECT_EQ(error->error_code, ietf::request_error::kDoesNotExist);
  write(*c, ietf::Refusable{ietf::message_type::kFetch, 6, {0x80, 0x02, 0x01, 0x02, 0x00}});
  auto fetch = wait_for<ietf::RequestError>(*c);
  ASSERT_TRUE(fetch);
  EXPECT_EQ(fetch->type, ietf::message_type::kFetchError);
  EXPECT_EQ(fetch->request_id, 6u);
  write(*c, ietf::Refusable{ietf::message_type::kTrackStatusRequest, 8, {0x01, 0x00, 0x00}});
  auto status = wait_for<ietf::RequestError>(
      *c, [](const auto& m) { return m.type == ietf::message_type::kTrackStatusError; });
  ASSERT_TRUE(status);
  EXPECT_EQ(status->request_id, 8u);
  // UNSUBSCRIBE: PUBLISH_DONE for it.
  write(*c, ietf::Unsubscribe{2});
  auto done = wait_for<ietf::PublishDone>(*c);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->request_id, 2u);
  EXPECT_FALSE(peer->end.has_value());
  expect_kixel_pair_unaffected();
}

TEST_F(RelayIetf, ABroadcastPublishedOverDraft14ReachesAKixelViewer) {
  auto peer = ietf_peer();
  ASSERT_TRUE(peer->session);
  auto c = set_up(*peer);
  write(*c, ietf::PublishNamespace{0, {"pub14"}, {}});
  ASSERT_TRUE(wait_for<ietf::PublishNamespaceOk>(*c));
  auto viewer = subscriber("pub14");
  ASSERT_TRUE(viewer);
  subscribe(*viewer, "video");
  // The relay SUBSCRIBEs to us on the viewer's behalf.
  // (It asks for catalog.json too, for the index: left unanswered.)
  auto asked = wait_for<ietf::Subscribe>(*c, [](const auto& m) { return m.track_name == "video"; });
  ASSERT_TRUE(asked);
  EXPECT_EQ(asked->track_namespace, ietf::Namespace{"pub14"});
  write(*c, ietf::SubscribeOk{asked->request_id, 7, 0, 1, std::nullopt, {}});
  // Group 0 as a subgroup stream (type 0x19 with a Timestamp extension, as
  // @moq/net writes it), two objects.
  struct Uni {
    static asio::awaitable<void> run(std::shared_ptr<wt::WtSession> s) {
      auto stream = co_await s->open_uni();
      if (!stream) co_return;
      std::vector<uint8_t> bytes;
      ietf::encode(ietf::SubgroupHeader{0x19, 7, 0, 0, 128}, bytes);
      ietf::encode(ietf::ObjectHeader{0, {0x10, 0x05}, 3, 0}, true, bytes);
      bytes.insert(bytes.end(), {'a', 'b', 'c'});
      ietf::encode(ietf::ObjectHeader{0, {}, 2, 0}, true, bytes);
      bytes.insert(bytes.end(), {'d', 'e'});
      (void)(*stream)->write(Bytes(std::move(bytes)));
      (void)(*stream)->finish();
    }
  };
  asio::co_spawn(io_, Uni::run(peer->session), asio::detached);
  ASSERT_TRUE(run_until([&] { return viewer->tracks["video"]->complete() == 1; }));
  EXPECT_EQ(viewer->tracks["video"]->segments[0].payload, "abcde");
  // PUBLISH_DONE ends the track, cleanly, for the viewer too.
  write(*c, ietf::PublishDone{asked->request_id, ietf::publish_done::kTrackEnded, 1, ""});
  ASSERT_TRUE(run_until([&] { return viewer->tracks["video"]->end.has_value(); }));
  EXPECT_TRUE(viewer->tracks["video"]->end->is_closed()) << viewer->tracks["video"]->end->reason;
  expect_kixel_pair_unaffected();
}

TEST_F(RelayIetf, BrokenControlMessagesCloseThatSessionOnly) {
  using namespace ietf;
  struct Case {
    const char* what;
    std::vector<uint8_t> bytes;
    bool after_setup;
    uint32_t code;
  };
  std::vector<uint8_t> unknown = {0x3f, 0x00, 0x01, 0x00};
  std::vector<uint8_t> truncated = {0x03, 0x00, 0x01, 0x00};  // SUBSCRIBE shorter than its fields
  std::vector<uint8_t> left_over = {0x15, 0x00, 0x02, 0x05, 0x05};  // MAX_REQUEST_ID + a byte
  const std::vector<Case> cases = {
      {"no draft-14 in CLIENT_SETUP", encoded(client_setup({0xff000001})), false,
       close_code::kVersionNegotiationFailed},
      {"UNSUBSCRIBE before CLIENT_SETUP", encoded(Unsubscribe{0}), false,
       close_code::kProtocolViolation},
      {"an unknown message type", unknown, true, close_code::kProtocolViolation},
      {"a message shorter than its fields", truncated, true, close_code::kProtocolViolation},
      {"bytes left over", left_over, true, close_code::kProtocolViolation},
      {"a request id beyond the grant", encoded(SubscribeNamespace{1000, {}, {}}), true,
       close_code::kTooManyRequests},
      {"a second CLIENT_SETUP", encoded(client_setup()), true, close_code::kProtocolViolation},
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(k.what);
    auto peer = ietf_peer();
    ASSERT_TRUE(peer->session);
    if (k.after_setup) {
      auto c = set_up(*peer);
      (void)c->send->write(Bytes(std::vector<uint8_t>(k.bytes)));
    } else {
      control(*peer, k.bytes);
    }
    ASSERT_TRUE(run_until([&] { return peer->end.has_value(); }));
    EXPECT_EQ(peer->end->code, k.code) << peer->end->reason;
  }
  // A claimed 65535-byte message, then the stream ends: closed too.
  auto peer = ietf_peer();
  auto c = set_up(*peer);
  (void)c->send->write(Bytes(std::vector<uint8_t>{0x03, 0xff, 0xff, 0x00, 0x01}));
  (void)c->send->finish();
  ASSERT_TRUE(run_until([&] { return peer->end.has_value(); }));
  EXPECT_EQ(peer->end->code, close_code::kProtocolViolation) << peer->end->reason;
  expect_kixel_pair_unaffected();
  auto again = ietf_peer();
  ASSERT_TRUE(again->session);
  auto ca = set_up(*again);
  expect_session_works(*ca, 0);
}

TEST_F(RelayIetf, ABrokenDataStreamEndsThatStreamOnly) {
  auto peer = ietf_peer();
  ASSERT_TRUE(peer->session);
  auto c = set_up(*peer);
  struct Uni {
    static asio::awaitable<void> run(std::shared_ptr<wt::WtSession> s, std::vector<uint8_t> b) {
      auto stream = co_await s->open_uni();
      if (!stream) co_return;
      (void)(*stream)->write(Bytes(std::move(b)));
      (void)(*stream)->finish();
    }
  };
  // Type 0x16 (invalid on draft-14); a subgroup of an alias nobody has; an
  // object claiming 1 GB.
  asio::co_spawn(io_, Uni::run(peer->session, {0x16, 0x00, 0x00, 0x80}), asio::detached);
  asio::co_spawn(io_, Uni::run(peer->session, {0x18, 0x09, 0x00, 0x80, 0x00, 0x01, 0x61}),
                 asio::detached);
  asio::co_spawn(io_, Uni::run(peer->session, {0x18, 0x00, 0x00, 0x80, 0x00, 0xbf, 0xff, 0xff}),
                 asio::detached);
  expect_session_works(*c, 0);
  EXPECT_FALSE(peer->end.has_value());
  expect_kixel_pair_unaffected();
}

}  // namespace
}  // namespace moq::relay_test
