// What the relay refuses, with which code, and that a misbehaving peer only
// ever ends its own session.

#include <asio/detached.hpp>

#include "relay/relay_fixture.h"
#include "wire/message.h"

namespace moq::relay_test {
namespace {

// A WebTransport session that speaks raw bytes on its control stream.
struct RawPeer {
  std::shared_ptr<wt::WtSession> session;
  transport::BidiStream control;
  std::optional<Error> end;
};

asio::awaitable<void> raw_connect(wt::Client* client, std::string url, std::vector<uint8_t> bytes,
                                  std::shared_ptr<RawPeer> out) {
  auto session = co_await client->connect(url);
  if (!session) {
    out->end = session.error();
    co_return;
  }
  out->session = session.value();
  auto control = co_await out->session->open_bidi();
  if (!control) {
    out->end = control.error();
    co_return;
  }
  out->control = *control;
  (void)out->control.send->write(Bytes(std::move(bytes)));
  Error end = co_await out->session->closed();
  out->end = end;
}

std::vector<uint8_t> encoded(const wire::Message& message) {
  std::vector<uint8_t> out;
  (void)wire::encode(message, out);
  return out;
}

class RelayRefusal : public RelayTest {
 protected:
  // A publisher of "live" with a subscriber that keeps receiving.
  void start_healthy_pair() {
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
  // The healthy pair still works: a new segment arrives, nobody ended.
  void expect_healthy_pair_unaffected() {
    write_segment(*video_, next_, 1, std::nullopt, payload_for("video", next_));
    ++next_;
    ASSERT_TRUE(run_until([&] { return sub_->tracks["video"]->complete() == next_; }));
    EXPECT_FALSE(pub_->end.has_value());
    EXPECT_FALSE(sub_->end.has_value());
    EXPECT_FALSE(sub_->tracks["video"]->end.has_value());
  }

  Error raw(const std::string& name, std::vector<uint8_t> bytes) {
    auto peer = std::make_shared<RawPeer>();
    asio::co_spawn(io_, raw_connect(client_.get(), relay_->url(name), std::move(bytes), peer),
                   asio::detached);
    EXPECT_TRUE(run_until([&] { return peer->end.has_value(); }));
    return peer->end.value_or(Error{0, "still open"});
  }

  std::shared_ptr<Publisher> pub_;
  std::shared_ptr<Subscriber> sub_;
  std::optional<cache::TrackWriter> video_;
  size_t next_ = 0;
};

TEST_F(RelayRefusal, DuplicatePublisherGets409) {
  start_healthy_pair();
  auto second = connect("live", setup_for(wire::Role::kPublisher));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, code::kDuplicate) << second.error().reason;
  expect_healthy_pair_unaffected();
  // Another name is free.
  auto other = connect("other", setup_for(wire::Role::kPublisher));
  EXPECT_TRUE(other.ok());
}

TEST_F(RelayRefusal, RoleBothGets300) {
  start_healthy_pair();
  auto both = connect("live", setup_for(wire::Role::kBoth));
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(both.error().code, code::kRoleBoth) << both.error().reason;
  expect_healthy_pair_unaffected();
}

TEST_F(RelayRefusal, UnknownVersionGets406) {
  start_healthy_pair();
  auto draft = connect("live", setup_for(wire::Role::kSubscriber, wire::kDraft00));
  ASSERT_FALSE(draft.ok());
  EXPECT_EQ(draft.error().code, code::kUnsupported) << draft.error().reason;
  auto pub = connect("fresh", setup_for(wire::Role::kPublisher, 0x12345));
  ASSERT_FALSE(pub.ok());
  EXPECT_EQ(pub.error().code, code::kUnsupported) << pub.error().reason;
  expect_healthy_pair_unaffected();
  // The refused publisher did not take the name.
  EXPECT_TRUE(connect("fresh", setup_for(wire::Role::kPublisher)).ok());
}

TEST_F(RelayRefusal, GarbageInsteadOfSetupClosesOnlyThatSession) {
  start_healthy_pair();
  const Error end = raw("live", {0x3f, 0xff, 0xff, 0xff, 0x42, 0x42, 0x42, 0x42});
  EXPECT_NE(end.code, code::kClosed) << end.reason;
  expect_healthy_pair_unaffected();
}

TEST_F(RelayRefusal, GarbageAfterSetupClosesOnlyThatSession) {
  start_healthy_pair();
  // A valid subscriber SETUP, then an unknown message type.
  std::vector<uint8_t> bytes = encoded(setup_for(wire::Role::kSubscriber));
  for (int b : {0x3e, 0x01, 0x02, 0x03})
    bytes.push_back(static_cast<uint8_t>(b));
  const Error as_subscriber = raw("live", bytes);
  EXPECT_NE(as_subscriber.code, code::kClosed) << as_subscriber.reason;

  // A publisher SETUP, a SUBSCRIBE_OK for nothing (ignored), an unknown type.
  bytes = encoded(setup_for(wire::Role::kPublisher));
  for (int b : {0x04, 0x07, 0x3e, 0x00})
    bytes.push_back(static_cast<uint8_t>(b));
  const Error as_publisher = raw("garbage-pub", bytes);
  EXPECT_NE(as_publisher.code, code::kClosed) << as_publisher.reason;
  expect_healthy_pair_unaffected();
  // The broken publisher's name was freed.
  EXPECT_TRUE(connect("garbage-pub", setup_for(wire::Role::kPublisher)).ok());
}

TEST_F(RelayRefusal, SubscriberSendingPublisherMessagesGets405) {
  start_healthy_pair();
  std::vector<uint8_t> bytes = encoded(setup_for(wire::Role::kSubscriber));
  auto more = encoded(wire::Announce{"ns"});
  bytes.insert(bytes.end(), more.begin(), more.end());
  const Error end = raw("live", bytes);
  EXPECT_EQ(end.code, code::kRoleViolation) << end.reason;
  expect_healthy_pair_unaffected();
}

}  // namespace
}  // namespace moq::relay_test
