// moq-lite at the relay (issue 12): negotiation, and hostile input that must
// end one stream or one session with the right code, never the relay, never
// another session (the KIXEL_00 pair beside it keeps working).

#include <asio/detached.hpp>

#include "lite/message.h"
#include "relay/relay_fixture.h"
#include "support/spec_vectors.h"

namespace moq::relay_test {
namespace {

// The spec vectors' hex reader (the project's one).
std::vector<uint8_t> hex(const std::string& h) {
  return test::from_hex(h);
}

// One moq-lite session made of raw bytes.
struct LitePeer {
  std::shared_ptr<wt::WtSession> session;
  std::optional<Error> end;
};

asio::awaitable<void> lite_connect(wt::Client* client, std::string url,
                                   std::vector<std::string> protocols,
                                   std::shared_ptr<LitePeer> out) {
  auto session = co_await client->connect(url, protocols);
  if (!session) {
    out->end = session.error();
    co_return;
  }
  out->session = session.value();
  Error end = co_await out->session->closed();
  out->end = end;
}

// What came back on a bidi stream we opened: its bytes, and how it ended.
struct Reply {
  std::vector<uint8_t> bytes;
  bool fin = false;
  std::optional<Error> reset;
  bool done() const { return fin || reset.has_value(); }
};

asio::awaitable<void> exchange(std::shared_ptr<wt::WtSession> session, std::vector<uint8_t> send,
                               bool finish, std::shared_ptr<Reply> reply) {
  auto stream = co_await session->open_bidi();
  if (!stream) {
    reply->reset = stream.error();
    co_return;
  }
  (void)stream->send->write(Bytes(std::move(send)));
  if (finish) (void)stream->send->finish();
  for (;;) {
    auto chunk = co_await stream->recv->read();
    if (!chunk) {
      reply->reset = chunk.error();
      co_return;
    }
    if (!*chunk) {
      reply->fin = true;
      co_return;
    }
    reply->bytes.insert(reply->bytes.end(), (*chunk)->data(), (*chunk)->data() + (*chunk)->size());
  }
}

class RelayLite : public RelayTest {
 protected:
  void SetUp() override {
    RelayTest::SetUp();
    pub_ = publish("live");
    ASSERT_TRUE(pub_);
    auto video = pub_->writer.create_track("video");
    ASSERT_TRUE(video);
    video_ = std::move(*video);
    write_segment(*video_, next_, 1, std::nullopt, payload_for("video", next_));
    ++next_;
    sub_ = subscriber("live");
    ASSERT_TRUE(sub_);
    subscribe(*sub_, "video");
    ASSERT_TRUE(run_until([&] { return sub_->tracks["video"]->complete() == 1; }));
  }
  void expect_kixel_pair_unaffected() {
    write_segment(*video_, next_, 1, std::nullopt, payload_for("video", next_));
    ++next_;
    ASSERT_TRUE(run_until([&] { return sub_->tracks["video"]->complete() == next_; }));
    EXPECT_FALSE(pub_->end.has_value());
    EXPECT_FALSE(sub_->end.has_value());
  }
  std::shared_ptr<LitePeer> lite(std::vector<std::string> protocols = {"moq-lite-05"},
                                 const std::string& path = "") {
    auto peer = std::make_shared<LitePeer>();
    asio::co_spawn(io_, lite_connect(client_.get(), relay_->url(path), protocols, peer),
                   asio::detached);
    EXPECT_TRUE(run_until([&] { return peer->session || peer->end; }));
    return peer;
  }
  std::shared_ptr<Reply> send(const LitePeer& peer, std::vector<uint8_t> bytes,
                              bool finish = false) {
    auto reply = std::make_shared<Reply>();
    asio::co_spawn(io_, exchange(peer.session, std::move(bytes), finish, reply), asio::detached);
    return reply;
  }
  // ANNOUNCE_REQUEST "" on 05: ANNOUNCE_OK then "live" and "live.hang".
  void expect_session_works(const LitePeer& peer) {
    std::vector<uint8_t> request = {0x01};
    lite::encode(lite::AnnounceRequest{"", 7}, lite::Version::kLite05, request);
    auto announced = send(peer, request);
    ASSERT_TRUE(run_until([&] { return announced->bytes.size() >= 3; }));
    auto ok = lite::decode_announce_ok(announced->bytes, lite::Version::kLite05);
    ASSERT_EQ(ok.status, DecodeStatus::kOk);
    EXPECT_EQ(ok.message.active_count, 2u);  // "live" and its hang name
  }

  std::shared_ptr<Publisher> pub_;
  std::shared_ptr<Subscriber> sub_;
  std::optional<cache::TrackWriter> video_;
  size_t next_ = 0;
};

TEST_F(RelayLite, ChoosesTheClientsFirstDialectItSpeaks) {
  auto peer = lite({"moq-lite-06", "moq-lite-04", "moq-lite-05", "moql"});
  ASSERT_TRUE(peer->session) << peer->end->reason;
  EXPECT_EQ(peer->session->protocol(), "moq-lite-04");
  // Nothing we speak: no wt-protocol, the session goes on as KIXEL_00 (its
  // SETUP decides; the URL path names the broadcast).
  auto none = lite({"moqt-15", "moql"}, "live");
  ASSERT_TRUE(none->session) << none->end->reason;
  EXPECT_EQ(none->session->protocol(), "");
}

TEST_F(RelayLite, AnnouncesAndServesAKixelBroadcast) {
  auto peer = lite();
  ASSERT_TRUE(peer->session);
  expect_session_works(*peer);
  // SUBSCRIBE live/video from its newest group: a group stream comes.
  std::vector<uint8_t> request = {0x02};
  lite::Subscribe s;
  s.id = 9;
  s.broadcast = "live";
  s.track = "video";
  lite::encode(s, lite::Version::kLite05, request);
  auto reply = send(*peer, request);
  ASSERT_TRUE(run_until([&] { return reply->bytes.size() >= 3; }));
  auto type = lite::decode_varint(reply->bytes);
  EXPECT_EQ(type.message, 0u);  // SUBSCRIBE_START
  expect_kixel_pair_unaffected();
}

TEST_F(RelayLite, AnUnknownStreamTypeResetsThatStreamOnly) {
  auto peer = lite();
  ASSERT_TRUE(peer->session);
  auto reply = send(*peer, hex("3f0102"));
  ASSERT_TRUE(run_until([&] { return reply->done(); }));
  EXPECT_TRUE(reply->reset.has_value());
  expect_session_works(*peer);
  EXPECT_FALSE(peer->end.has_value());
  expect_kixel_pair_unaffected();
}

TEST_F(RelayLite, MalformedRequestsResetTheirStreamsOnly) {
  auto peer = lite();
  ASSERT_TRUE(peer->session);
  std::vector<std::shared_ptr<Reply>> replies = {
      send(*peer, hex("02bfffffff"), true),              // SUBSCRIBE of ~1 GB claimed
      send(*peer, hex("020300"), true),                  // truncated, then FIN
      send(*peer, hex("02060001610162ff"), true),        // fields beyond the body
      send(*peer, hex("0604036262620005"), true),        // TRACK, string past the body
      send(*peer, hex("021700036262620c636174"), true),  // FIN inside a SUBSCRIBE
      send(*peer, hex("0207000376696400017600"), true),  // fields missing
  };
  ASSERT_TRUE(run_until([&] {
    for (auto& r : replies) {
      if (!r->done()) return false;
    }
    return true;
  }));
  for (auto& r : replies)
    EXPECT_TRUE(r->reset.has_value());
  expect_session_works(*peer);
  EXPECT_FALSE(peer->end.has_value());
  expect_kixel_pair_unaffected();
}

TEST_F(RelayLite, ABrokenSetupClosesThatSessionAsAProtocolViolation) {
  auto peer = lite();
  ASSERT_TRUE(peer->session);
  struct Uni {
    static asio::awaitable<void> run(std::shared_ptr<wt::WtSession> s) {
      auto stream = co_await s->open_uni();
      if (!stream) co_return;
      // SETUP with the same parameter twice.
      std::vector<uint8_t> bytes = {0x01, 0x07, 0x02, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01};
      (void)(*stream)->write(Bytes(std::move(bytes)));
      (void)(*stream)->finish();
    }
  };
  asio::co_spawn(io_, Uni::run(peer->session), asio::detached);
  ASSERT_TRUE(run_until([&] { return peer->end.has_value(); }));
  EXPECT_EQ(peer->end->code, lite::close_code::kProtocolViolation) << peer->end->reason;
  expect_kixel_pair_unaffected();
  auto again = lite();
  ASSERT_TRUE(again->session);
  expect_session_works(*again);
}

}  // namespace
}  // namespace moq::relay_test
