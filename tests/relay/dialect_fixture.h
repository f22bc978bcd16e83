#pragma once

// Raw sessions of today's dialects at the relay (issue 12), for the moq-lite
// and IETF draft-14 tests: a WebTransport session that negotiated a
// protocol, streams of hand-made bytes, and beside them a KIXEL_00
// publisher/subscriber pair that must keep working whatever the raw
// session does.

#include <asio/detached.hpp>

#include "relay/relay_fixture.h"
#include "support/spec_vectors.h"

namespace moq::relay_test {

// The spec vectors' hex reader (the project's one).
inline std::vector<uint8_t> hex(const std::string& h) {
  return test::from_hex(h);
}

// One moq-lite session made of raw bytes.
struct LitePeer {
  std::shared_ptr<wt::WtSession> session;
  std::optional<Error> end;
};

inline asio::awaitable<void> lite_connect(wt::Client* client, std::string url,
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

inline asio::awaitable<void> exchange(std::shared_ptr<wt::WtSession> session,
                                      std::vector<uint8_t> send, bool finish,
                                      std::shared_ptr<Reply> reply) {
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

class DialectTest : public RelayTest {
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
  std::shared_ptr<LitePeer> connect_raw(std::vector<std::string> protocols,
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

  std::shared_ptr<Publisher> pub_;
  std::shared_ptr<Subscriber> sub_;
  std::optional<cache::TrackWriter> video_;
  size_t next_ = 0;
};

}  // namespace moq::relay_test
