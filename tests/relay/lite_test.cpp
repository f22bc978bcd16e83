// moq-lite at the relay (issue 12): negotiation, and hostile input that must
// end one stream or one session with the right code, never the relay, never
// another session (the KIXEL_00 pair beside it keeps working).

#include "lite/message.h"
#include "relay/dialect_fixture.h"

namespace moq::relay_test {
namespace {

class RelayLite : public DialectTest {
 protected:
  std::shared_ptr<LitePeer> lite(std::vector<std::string> protocols = {"moq-lite-05"},
                                 const std::string& path = "") {
    return connect_raw(std::move(protocols), path);
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
};

TEST_F(RelayLite, ChoosesTheClientsFirstDialectItSpeaks) {
  auto peer = lite({"moq-lite-06", "moq-lite-04", "moq-lite-05", "moql"});
  ASSERT_TRUE(peer->session) << peer->end->reason;
  EXPECT_EQ(peer->session->protocol(), "moq-lite-04");
  // Nothing we speak: no wt-protocol, the session goes on as KIXEL_00 (its
  // SETUP decides; the URL path names the broadcast).
  auto none = lite({"moqt-15", "moq-lite-02"}, "live");
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
