// The KIXEL_00 handshake on the control stream: negotiation, and the codes
// the session is closed with when it fails.

#include <gtest/gtest.h>

#include "session/fixture.h"

namespace moq::session {
namespace {

using test::handshake;
using test::run_until;
using wire::Role;

TEST(Handshake, SubscriberClientMeetsPublisherServer) {
  asio::io_context io;
  auto pair = handshake(io, Role::kSubscriber, Role::kPublisher);
  ASSERT_TRUE(pair->client && pair->client->ok()) << pair->client->error().reason;
  ASSERT_TRUE(pair->server && pair->server->ok()) << pair->server->error().reason;
  EXPECT_EQ(pair->c().setup().role, Role::kSubscriber);
  EXPECT_EQ(pair->c().setup().peer_role, Role::kPublisher);
  EXPECT_FALSE(pair->c().setup().is_server);
  EXPECT_EQ(pair->s().setup().role, Role::kPublisher);
  EXPECT_EQ(pair->s().setup().peer_role, Role::kSubscriber);
  EXPECT_TRUE(pair->s().setup().is_server);
  EXPECT_FALSE(pair->client_transport->is_closed());
}

TEST(Handshake, BothMeetsBoth) {
  asio::io_context io;
  auto pair = handshake(io, Role::kBoth, Role::kBoth);
  ASSERT_TRUE(pair->client->ok());
  ASSERT_TRUE(pair->server->ok());
}

TEST(Handshake, VersionMismatchClosesWith406) {
  asio::io_context io;
  auto [client_transport, server_transport] = test::make_memory_pair();
  std::optional<Result<std::shared_ptr<Session>>> client, server;
  auto draft00 = test::client_setup({wire::kDraft00}, Role::kSubscriber);
  test::spawn(io, [](auto transport, wire::ClientSetup setup, auto* out) -> asio::awaitable<void> {
    *out = co_await connect(transport, std::move(setup));
  }(client_transport, draft00, &client));
  test::spawn(io, [](auto transport, auto* out) -> asio::awaitable<void> {
    auto hs = co_await accept(transport);
    if (!hs) {
      *out = hs.error();
      co_return;
    }
    EXPECT_EQ(hs->client().versions.size(), 1u);
    *out = hs->accept(Role::kPublisher);
  }(server_transport, &server));
  ASSERT_TRUE(run_until(io, [&] { return client && server; }));
  ASSERT_FALSE(server->ok());
  EXPECT_EQ(server->error().code, code::kUnsupported);
  EXPECT_EQ(server->error().reason, "unsupported version");
  ASSERT_FALSE(client->ok());
  EXPECT_EQ(client->error().code, code::kUnsupported);
  EXPECT_TRUE(client_transport->is_closed());
}

TEST(Handshake, IncompatibleRolesClose406) {
  asio::io_context io;
  auto pair = handshake(io, Role::kPublisher, Role::kPublisher);
  ASSERT_FALSE(pair->server->ok());
  EXPECT_EQ(pair->server->error().code, code::kUnsupported);
  EXPECT_EQ(pair->server->error().reason, "role incompatible");
  ASSERT_FALSE(pair->client->ok());
  EXPECT_EQ(pair->client->error().code, code::kUnsupported);
}

TEST(Handshake, ServerSeesTheRoleAndMayRejectWithItsOwnCode) {
  asio::io_context io;
  auto [client_transport, server_transport] = test::make_memory_pair();
  std::optional<Result<std::shared_ptr<Session>>> client;
  std::optional<Role> seen;
  test::spawn(io, [](auto transport, auto* out) -> asio::awaitable<void> {
    *out = co_await connect(transport, Role::kBoth);
  }(client_transport, &client));
  test::spawn(io, [](auto transport, auto* role) -> asio::awaitable<void> {
    auto hs = co_await accept(transport);
    if (!hs) co_return;
    *role = hs->client().role;
    hs->reject({code::kRoleBoth, "role both not supported"});
  }(server_transport, &seen));
  ASSERT_TRUE(run_until(io, [&] { return client.has_value(); }));
  EXPECT_EQ(seen, Role::kBoth);
  ASSERT_FALSE(client->ok());
  EXPECT_EQ(client->error().code, code::kRoleBoth);
  EXPECT_EQ(client->error().reason, "role both not supported");
}

TEST(Handshake, GarbageInsteadOfSetupCloses500) {
  asio::io_context io;
  auto [client_transport, server_transport] = test::make_memory_pair();
  std::optional<Result<ServerHandshake>> server;
  test::RawPeer raw{client_transport, {}, {}, {}};
  test::spawn(io, [](test::RawPeer* peer) -> asio::awaitable<void> {
    auto bidi = co_await peer->transport->open_bidi();
    peer->control = *bidi;
    peer->send_bytes(std::vector<uint8_t>(2, 0x3f));  // unknown message type 0x3f
  }(&raw));
  test::spawn(io, [](auto transport, auto* out) -> asio::awaitable<void> {
    *out = co_await accept(transport);
  }(server_transport, &server));
  ASSERT_TRUE(run_until(io, [&] { return server.has_value(); }));
  ASSERT_FALSE(server->ok());
  EXPECT_EQ(server->error().code, code::kInternal);
  EXPECT_TRUE(server_transport->is_closed());
}

}  // namespace
}  // namespace moq::session
