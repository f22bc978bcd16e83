// Control-message handling, driven by a hand-written peer (RawPeer) that
// sends what a well-behaved session never would.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "session/fixture.h"
#include "wire/object.h"

namespace moq::session {
namespace {

using test::RawPeer;
using test::run_until;
using test::spawn;
using wire::Role;

// A server session (publisher of `published`) facing a raw subscriber client.
struct RawClient {
  RawPeer raw;
  std::shared_ptr<Session> server;
  std::optional<Error> server_end;
  std::vector<wire::Message> received;  // control messages the raw peer got
  std::optional<Error> control_end;
};

std::unique_ptr<RawClient> raw_client(asio::io_context& io, Role client_role, Role server_role,
                                      std::optional<cache::BroadcastReader> published) {
  auto t = std::make_unique<RawClient>();
  auto [client_transport, server_transport] = test::make_memory_pair();
  t->raw.transport = client_transport;
  std::optional<Result<std::shared_ptr<Session>>> server;
  spawn(io, [](RawPeer* raw, Role role) -> asio::awaitable<void> {
    co_await raw->connect(role);
  }(&t->raw, client_role));
  spawn(io, [](auto transport, Role role, auto* out) -> asio::awaitable<void> {
    auto hs = co_await accept(transport);
    if (!hs) co_return;
    *out = hs->accept(role);
  }(server_transport, server_role, &server));
  EXPECT_TRUE(run_until(io, [&] { return server.has_value(); }));
  EXPECT_TRUE(server->ok());
  t->server = server->value();
  if (published) {
    EXPECT_TRUE(t->server->publish(*published));
  }
  spawn(io, [](RawClient* self) -> asio::awaitable<void> {
    auto session = self->server;
    self->server_end = co_await session->run();
  }(t.get()));
  // Collect whatever the server sends on the control stream.
  spawn(io, [](RawClient* self) -> asio::awaitable<void> {
    for (;;) {
      auto message = co_await self->raw.next();
      if (!message) {
        self->control_end = message.error();
        co_return;
      }
      self->received.push_back(*message);
    }
  }(t.get()));
  return t;
}

template <class M>
std::vector<M> messages_of(const std::vector<wire::Message>& all) {
  std::vector<M> out;
  for (auto& m : all) {
    if (auto* p = std::get_if<M>(&m)) out.push_back(*p);
  }
  return out;
}

TEST(Control, NonEmptyNamespaceIsRefused404) {
  asio::io_context io;
  auto [pub, published] = cache::make_broadcast();
  auto track = pub.create_track("video");
  auto t = raw_client(io, Role::kSubscriber, Role::kPublisher, published);
  t->raw.send(wire::Subscribe{.id = 0, .ns = "other", .name = "video"});
  ASSERT_TRUE(run_until(io, [&] { return !t->received.empty(); }));
  auto resets = messages_of<wire::SubscribeReset>(t->received);
  ASSERT_EQ(resets.size(), 1u);
  EXPECT_EQ(resets[0].id, 0u);
  EXPECT_EQ(resets[0].code, code::kNotFound);
  EXPECT_FALSE(t->server_end);  // the session goes on
}

// Issue 9: a SUBSCRIBE_RESET for the reused id could not be told apart from
// the end of the live subscription, so the peer's bug ends the session.
TEST(Control, SubscribeReusingALiveIdClosesTheSession409) {
  asio::io_context io;
  auto [pub, published] = cache::make_broadcast();
  auto track = pub.create_track("video");
  auto t = raw_client(io, Role::kSubscriber, Role::kPublisher, published);
  t->raw.send(wire::Subscribe{.id = 5, .ns = "", .name = "video"});
  t->raw.send(wire::Subscribe{.id = 5, .ns = "", .name = "video"});
  ASSERT_TRUE(run_until(io, [&] { return t->server_end.has_value(); }));
  EXPECT_EQ(t->server_end->code, code::kDuplicate);
  EXPECT_NE(t->server_end->reason.find("live subscribe id 5"), std::string::npos);
  EXPECT_TRUE(messages_of<wire::SubscribeReset>(t->received).empty());
  EXPECT_TRUE(t->raw.transport->is_closed());
}

// A used id whose subscription has ended may be used again.
TEST(Control, SubscribeIdOfAnEndedSubscriptionMayBeReused) {
  asio::io_context io;
  auto [pub, published] = cache::make_broadcast();
  auto first = pub.create_track("a");
  auto second = pub.create_track("b");
  auto t = raw_client(io, Role::kSubscriber, Role::kPublisher, published);
  t->raw.send(wire::Subscribe{.id = 1, .ns = "", .name = "a"});
  ASSERT_TRUE(run_until(io, [&] { return !t->received.empty(); }));
  ASSERT_TRUE(first->finish());
  ASSERT_TRUE(
      run_until(io, [&] { return !messages_of<wire::SubscribeReset>(t->received).empty(); }));
  t->raw.send(wire::Subscribe{.id = 1, .ns = "", .name = "b"});
  ASSERT_TRUE(
      run_until(io, [&] { return messages_of<wire::SubscribeOk>(t->received).size() == 2; }));
  EXPECT_FALSE(t->server_end);
}

// Issue 9: a message cut off by FIN is a protocol error, not a clean close.
TEST(Control, TruncatedMessageThenFinClosesWith500) {
  asio::io_context io;
  auto [pub, published] = cache::make_broadcast();
  auto t = raw_client(io, Role::kSubscriber, Role::kPublisher, published);
  t->raw.send_bytes({0x03, 0x00, 0x05, 'v', 'i'});  // SUBSCRIBE id 0, name of 5 bytes: 2 sent
  (void)t->raw.control.send->finish();
  ASSERT_TRUE(run_until(io, [&] { return t->server_end.has_value(); }));
  EXPECT_EQ(t->server_end->code, code::kInternal);
  EXPECT_NE(t->server_end->reason.find("inside a message"), std::string::npos);
}

TEST(Control, FinBetweenMessagesIsACleanClose) {
  asio::io_context io;
  auto [pub, published] = cache::make_broadcast();
  auto t = raw_client(io, Role::kSubscriber, Role::kPublisher, published);
  (void)t->raw.control.send->finish();
  ASSERT_TRUE(run_until(io, [&] { return t->server_end.has_value(); }));
  EXPECT_EQ(t->server_end->code, code::kClosed);
}

// Issue 9: objects flow from publishers only. A subscriber's object stream
// is stopped with 405 and counted; its session goes on.
TEST(Control, ObjectStreamFromASubscriberIsStopped405) {
  asio::io_context io;
  auto [pub, published] = cache::make_broadcast();
  auto track = pub.create_track("video");
  auto t = raw_client(io, Role::kSubscriber, Role::kPublisher, published);
  std::shared_ptr<transport::SendStream> stray;
  spawn(io, [](RawPeer* raw, std::shared_ptr<transport::SendStream>* out) -> asio::awaitable<void> {
    auto stream = co_await raw->transport->open_uni();
    if (!stream) co_return;
    std::vector<uint8_t> bytes;
    (void)wire::encode(wire::ObjectHeader{.track = 0, .sequence = 0, .priority = 0, .expires = 0},
                       bytes);
    (void)(*stream)->write(Bytes(std::move(bytes)));
    *out = *stream;
  }(&t->raw, &stray));
  ASSERT_TRUE(run_until(io, [&] { return stray && t->raw.transport->open_uni_streams() == 0; }));
  EXPECT_FALSE(stray->write(Bytes::copy("more")));
  EXPECT_EQ(t->server->subscriber_stats().objects_from_subscriber, 1u);
  EXPECT_EQ(t->server->subscriber_stats().objects_rejected, 1u);
  EXPECT_FALSE(t->server_end);
}

TEST(Control, SubscribeStopIsAnswered206AndStopsTheTrack) {
  asio::io_context io;
  auto [pub, published] = cache::make_broadcast();
  auto track = pub.create_track("video");
  auto t = raw_client(io, Role::kSubscriber, Role::kPublisher, published);
  t->raw.send(wire::Subscribe{.id = 0, .ns = "", .name = "video"});
  ASSERT_TRUE(run_until(io, [&] { return !t->received.empty(); }));
  // An object in flight: the stop must reset its stream.
  auto open = track->create_segment({0, 0, {}});
  ASSERT_TRUE(open->write(Bytes::copy("abc")));
  std::shared_ptr<transport::RecvStream> object;
  spawn(io, [](RawPeer* raw, auto* out) -> asio::awaitable<void> {
    auto s = co_await raw->transport->accept_uni();
    if (s) *out = *s;
  }(&t->raw, &object));
  ASSERT_TRUE(run_until(io, [&] { return object != nullptr; }));

  t->raw.send(wire::SubscribeStop{0});
  ASSERT_TRUE(run_until(io, [&] { return t->received.size() >= 2; }));
  EXPECT_EQ(messages_of<wire::SubscribeReset>(t->received),
            (std::vector<wire::SubscribeReset>{{0, code::kStop, "stop"}}));
  // Reading the object ends in a reset, not a FIN.
  std::optional<Error> object_end;
  spawn(io, [](auto stream, auto* out) -> asio::awaitable<void> {
    for (;;) {
      auto chunk = co_await stream->read();
      if (!chunk) {
        *out = chunk.error();
        co_return;
      }
      if (!*chunk) {
        *out = Error::closed();
        co_return;
      }
    }
  }(object, &object_end));
  ASSERT_TRUE(run_until(io, [&] { return object_end.has_value(); }));
  EXPECT_EQ(object_end->code, stream_code::kDropped);
  // Later segments are not sent.
  ASSERT_TRUE(track->create_segment({1, 0, {}}));
  test::settle(io);
  EXPECT_EQ(t->raw.transport->open_uni_streams(), 0u);
  EXPECT_EQ(t->server->publisher_stats().objects_started, 1u);
  // The id may be used again.
  t->raw.send(wire::Subscribe{.id = 0, .ns = "", .name = "video"});
  ASSERT_TRUE(
      run_until(io, [&] { return messages_of<wire::SubscribeOk>(t->received).size() == 2; }));
}

TEST(Control, CleanEndOfTrackIsReset0) {
  asio::io_context io;
  auto [pub, published] = cache::make_broadcast();
  auto track = pub.create_track("video");
  auto t = raw_client(io, Role::kSubscriber, Role::kPublisher, published);
  t->raw.send(wire::Subscribe{.id = 3, .ns = "", .name = "video"});
  ASSERT_TRUE(run_until(io, [&] { return !t->received.empty(); }));
  ASSERT_TRUE(track->finish());
  ASSERT_TRUE(run_until(io, [&] { return t->received.size() >= 2; }));
  EXPECT_EQ(messages_of<wire::SubscribeReset>(t->received),
            (std::vector<wire::SubscribeReset>{{3, code::kClosed, "closed"}}));
}

TEST(Control, GarbageClosesTheSessionWith500) {
  asio::io_context io;
  auto [pub, published] = cache::make_broadcast();
  auto t = raw_client(io, Role::kSubscriber, Role::kPublisher, published);
  t->raw.send_bytes({0x3f, 0x01, 0x02});  // unknown message type 0x3f
  ASSERT_TRUE(run_until(io, [&] { return t->server_end.has_value(); }));
  EXPECT_EQ(t->server_end->code, code::kInternal);
  EXPECT_TRUE(t->raw.transport->is_closed());
}

TEST(Control, OversizedStringClosesTheSessionWith500) {
  asio::io_context io;
  auto t = raw_client(io, Role::kSubscriber, Role::kPublisher, std::nullopt);
  // SUBSCRIBE id 0, namespace claiming 2^30 bytes.
  t->raw.send_bytes({0x03, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00});
  ASSERT_TRUE(run_until(io, [&] { return t->server_end.has_value(); }));
  EXPECT_EQ(t->server_end->code, code::kInternal);
}

TEST(Control, MessageFromTheWrongRoleCloses405) {
  asio::io_context io;
  auto [pub, published] = cache::make_broadcast();
  auto t = raw_client(io, Role::kSubscriber, Role::kPublisher, published);
  t->raw.send(wire::SubscribeOk{0});  // only publishers send it
  ASSERT_TRUE(run_until(io, [&] { return t->server_end.has_value(); }));
  EXPECT_EQ(t->server_end->code, code::kRoleViolation);
}

TEST(Control, GoawayFromAClientCloses405) {
  asio::io_context io;
  auto t = raw_client(io, Role::kSubscriber, Role::kPublisher, std::nullopt);
  t->raw.send(wire::GoAway{"https://elsewhere/"});
  ASSERT_TRUE(run_until(io, [&] { return t->server_end.has_value(); }));
  EXPECT_EQ(t->server_end->code, code::kRoleViolation);
}

TEST(Control, SecondSetupCloses500) {
  asio::io_context io;
  auto t = raw_client(io, Role::kSubscriber, Role::kPublisher, std::nullopt);
  t->raw.send(wire::ClientSetup{{wire::kKixel00}, Role::kSubscriber});
  ASSERT_TRUE(run_until(io, [&] { return t->server_end.has_value(); }));
  EXPECT_EQ(t->server_end->code, code::kInternal);
}

TEST(Control, NoBroadcastMeans404) {
  asio::io_context io;
  auto t = raw_client(io, Role::kSubscriber, Role::kPublisher, std::nullopt);
  t->raw.send(wire::Subscribe{.id = 0, .ns = "", .name = "video"});
  ASSERT_TRUE(run_until(io, [&] { return !t->received.empty(); }));
  auto resets = messages_of<wire::SubscribeReset>(t->received);
  ASSERT_EQ(resets.size(), 1u);
  EXPECT_EQ(resets[0].code, code::kNotFound);
}

TEST(Control, AnnounceOkAndResetAreAccepted) {
  asio::io_context io;
  auto t = raw_client(io, Role::kSubscriber, Role::kPublisher, std::nullopt);
  t->server->announce("ns");
  ASSERT_TRUE(run_until(io, [&] { return !t->received.empty(); }));
  EXPECT_EQ(messages_of<wire::Announce>(t->received), std::vector<wire::Announce>{{"ns"}});
  t->raw.send(wire::AnnounceOk{"ns"});
  t->raw.send(wire::AnnounceReset{"ns", 404, "no"});
  test::settle(io);
  EXPECT_FALSE(t->server_end);
}

TEST(Control, GoawayEndsTheClientCleanlyAndKeepsTheUrl) {
  asio::io_context io;
  auto pair = test::handshake(io, Role::kSubscriber, Role::kPublisher);
  ASSERT_TRUE(pair->client->ok() && pair->server->ok());
  test::run_both(io, *pair);
  pair->s().goaway("https://relay-2.example/live");
  ASSERT_TRUE(run_until(io, [&] { return pair->client_end && pair->server_end; }));
  EXPECT_TRUE(pair->client_end->is_closed());
  EXPECT_TRUE(pair->server_end->is_closed());
  EXPECT_EQ(pair->c().goaway_url(), "https://relay-2.example/live");
}

// A raw publisher server facing a session client that subscribes.
struct RawServer {
  RawPeer raw;
  std::shared_ptr<Session> client;
  std::optional<Error> client_end;
  cache::BroadcastReader broadcast;
  std::vector<wire::Message> received;
};

std::unique_ptr<RawServer> raw_server(asio::io_context& io) {
  auto [writer, reader] = cache::make_broadcast();
  auto t = std::unique_ptr<RawServer>(new RawServer{{}, nullptr, std::nullopt, reader, {}});
  auto [client_transport, server_transport] = test::make_memory_pair();
  t->raw.transport = server_transport;
  std::optional<Result<std::shared_ptr<Session>>> client;
  spawn(io, [](RawPeer* raw) -> asio::awaitable<void> {
    co_await raw->accept(Role::kPublisher);
  }(&t->raw));
  spawn(io, [](auto transport, auto* out) -> asio::awaitable<void> {
    *out = co_await connect(transport, Role::kSubscriber);
  }(client_transport, &client));
  EXPECT_TRUE(run_until(io, [&] { return client.has_value(); }));
  EXPECT_TRUE(client->ok());
  t->client = client->value();
  EXPECT_TRUE(t->client->subscribe(writer));
  spawn(io, [](RawServer* self) -> asio::awaitable<void> {
    auto session = self->client;
    self->client_end = co_await session->run();
  }(t.get()));
  spawn(io, [](RawServer* self) -> asio::awaitable<void> {
    for (;;) {
      auto message = co_await self->raw.next();
      if (!message) co_return;
      self->received.push_back(*message);
    }
  }(t.get()));
  return t;
}

// Opens an object stream from the raw publisher with `header` and `payload`.
asio::awaitable<void> send_object(RawPeer* raw, wire::ObjectHeader header, std::string payload,
                                  std::shared_ptr<transport::SendStream>* out) {
  auto stream = co_await raw->transport->open_uni();
  if (!stream) co_return;
  std::vector<uint8_t> bytes;
  (void)wire::encode(header, bytes);
  (void)(*stream)->write(Bytes(std::move(bytes)));
  (void)(*stream)->write(Bytes::copy(payload));
  (void)(*stream)->finish();
  *out = *stream;
}

TEST(Control, SubscriberSendsSubscribeWithIdsFromZeroAndAnswersAnnounce) {
  asio::io_context io;
  auto t = raw_server(io);
  auto a = t->broadcast.request_track("a");
  auto b = t->broadcast.request_track("b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(run_until(io, [&] { return t->received.size() >= 2; }));
  auto subs = messages_of<wire::Subscribe>(t->received);
  ASSERT_EQ(subs.size(), 2u);
  EXPECT_EQ(subs[0], (wire::Subscribe{0, "", "a"}));
  EXPECT_EQ(subs[1], (wire::Subscribe{1, "", "b"}));

  t->raw.send(wire::Announce{"x"});
  ASSERT_TRUE(run_until(io, [&] { return t->received.size() >= 3; }));
  EXPECT_EQ(std::get<wire::AnnounceOk>(t->received[2]), (wire::AnnounceOk{"x"}));

  // SUBSCRIBE_RESET closes the track with its code.
  t->raw.send(wire::SubscribeOk{0});
  t->raw.send(wire::SubscribeReset{1, code::kNotFound, "no b"});
  test::ReceivedTrack got_b;
  spawn(io, test::read_track(*b, &got_b));
  ASSERT_TRUE(run_until(io, [&] { return got_b.end.has_value(); }));
  EXPECT_EQ(*got_b.end, (Error{code::kNotFound, "no b"}));
  EXPECT_FALSE(t->client_end);
}

TEST(Control, ObjectForUnknownTrackIdIsStoppedNotFatal) {
  asio::io_context io;
  auto t = raw_server(io);
  auto a = t->broadcast.request_track("a");
  ASSERT_TRUE(run_until(io, [&] { return !t->received.empty(); }));
  t->raw.send(wire::SubscribeOk{0});

  std::shared_ptr<transport::SendStream> stray, good;
  spawn(io, send_object(&t->raw, {.track = 42, .sequence = 0, .priority = 0, .expires = 0}, "stray",
                        &stray));
  ASSERT_TRUE(run_until(io, [&] { return stray && t->raw.transport->open_uni_streams() == 0; }));
  EXPECT_FALSE(stray->write(Bytes::copy("more")));  // stopped by the subscriber
  EXPECT_EQ(t->client->subscriber_stats().objects_rejected, 1u);

  // The session and the real track carry on.
  spawn(io, send_object(&t->raw, {.track = 0, .sequence = 7, .priority = 1, .expires = 0},
                        "payload", &good));
  test::ReceivedTrack got;
  spawn(io, test::read_track(*a, &got));
  ASSERT_TRUE(run_until(io, [&] { return got.complete() == 1; }));
  EXPECT_EQ(got.segments[0].sequence, 7u);
  EXPECT_EQ(got.segments[0].payload, "payload");
  EXPECT_FALSE(t->client_end);
}

TEST(Control, ResetObjectStreamClosesTheSegmentWithItsCode) {
  asio::io_context io;
  auto t = raw_server(io);
  auto a = t->broadcast.request_track("a");
  ASSERT_TRUE(run_until(io, [&] { return !t->received.empty(); }));
  std::shared_ptr<transport::SendStream> stream;
  spawn(io, [](RawPeer* raw, auto* out) -> asio::awaitable<void> {
    auto s = co_await raw->transport->open_uni();
    std::vector<uint8_t> bytes;
    (void)wire::encode(wire::ObjectHeader{0, 1, 2, 3}, bytes);
    (void)(*s)->write(Bytes(std::move(bytes)));
    (void)(*s)->write(Bytes::copy("part"));
    *out = *s;
  }(&t->raw, &stream));
  test::ReceivedTrack got;
  spawn(io, test::read_track(*a, &got));
  ASSERT_TRUE(
      run_until(io, [&] { return !got.segments.empty() && !got.segments[0].payload.empty(); }));
  EXPECT_EQ(got.segments[0].expires, std::chrono::seconds(3));
  stream->reset(504);
  ASSERT_TRUE(run_until(io, [&] { return got.segments[0].end.has_value(); }));
  EXPECT_EQ(got.segments[0].end->code, 504u);
}

}  // namespace
}  // namespace moq::session
