// Version negotiation and the role-compatibility rule, with their codes.

#include <gtest/gtest.h>

#include "wire/control_decoder.h"
#include "wire/message.h"
#include "wire/setup.h"

namespace moq::wire {
namespace {

TEST(Setup, ServerPicksKixel00WhenOffered) {
  auto r = negotiate(ClientSetup{{kDraft00, kKixel00}, Role::kPublisher}, Role::kSubscriber);
  ASSERT_TRUE(r.ok()) << r.error().reason;
  EXPECT_EQ(r->version, kKixel00);
  EXPECT_EQ(r->role, Role::kSubscriber);
}

TEST(Setup, UnsupportedVersionIs406) {
  auto r = negotiate(ClientSetup{{kDraft00, 0x1234}, Role::kSubscriber}, Role::kPublisher);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, code::kUnsupported);
  EXPECT_EQ(r.error().reason, "unsupported version");
}

TEST(Setup, RoleCompatibility) {
  const Role P = Role::kPublisher, S = Role::kSubscriber, B = Role::kBoth;
  EXPECT_TRUE(roles_compatible(P, S));
  EXPECT_TRUE(roles_compatible(S, P));
  EXPECT_TRUE(roles_compatible(B, B));
  EXPECT_FALSE(roles_compatible(P, P));
  EXPECT_FALSE(roles_compatible(S, S));
  EXPECT_FALSE(roles_compatible(B, P));
  EXPECT_FALSE(roles_compatible(S, B));
}

TEST(Setup, IncompatibleRolesAre406) {
  auto r = negotiate(ClientSetup{{kKixel00}, Role::kPublisher}, Role::kPublisher);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, code::kUnsupported);
  EXPECT_EQ(r.error().reason, "role incompatible");
}

TEST(Setup, ClientChecksTheServerAnswer) {
  EXPECT_TRUE(check_server_setup(ServerSetup{kKixel00, Role::kPublisher}, Role::kSubscriber).ok());
  auto bad_version = check_server_setup(ServerSetup{kDraft00, Role::kPublisher}, Role::kSubscriber);
  ASSERT_FALSE(bad_version.ok());
  EXPECT_EQ(bad_version.error().code, code::kUnsupported);
  auto bad_role = check_server_setup(ServerSetup{kKixel00, Role::kSubscriber}, Role::kSubscriber);
  ASSERT_FALSE(bad_role.ok());
  EXPECT_EQ(bad_role.error().reason, "role incompatible");
}

// Issue 9: an empty list is a version mismatch (406), not a decode error.
TEST(Setup, EmptyVersionListDecodesAndIs406) {
  ControlDecoder d;
  d.feed(std::vector<uint8_t>{0x01, 0x00, 0x01});  // CLIENT_SETUP, 0 versions, subscriber
  Message m;
  ASSERT_EQ(d.next(m), DecodeStatus::kOk) << d.error().reason;
  auto& setup = std::get<ClientSetup>(m);
  EXPECT_TRUE(setup.versions.empty());
  auto r = negotiate(setup, Role::kPublisher);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, code::kUnsupported);
}

// Issue 9: a long list is legal; ours anywhere in it is accepted.
TEST(Setup, FiveThousandVersionsIncludingOursAreAccepted) {
  ClientSetup offer;
  for (uint64_t v = 1; v <= 5000; ++v)
    offer.versions.push_back(v == 4321 ? kKixel00 : 0xff000000 + v);
  offer.role = Role::kPublisher;
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(encode(Message{offer}, bytes).ok());
  ControlDecoder d;
  d.feed(bytes);
  Message m;
  ASSERT_EQ(d.next(m), DecodeStatus::kOk) << d.error().reason;
  EXPECT_EQ(std::get<ClientSetup>(m).versions.size(), 5000u);
  auto r = negotiate(std::get<ClientSetup>(m), Role::kSubscriber);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->version, kKixel00);
}

// What is capped is the bytes of the list: a claim of 2^62 versions fails
// once the list passes the cap, however the bytes arrive.
TEST(Setup, VersionListBeyondTheByteCapFails) {
  ControlDecoder d;
  d.feed(std::vector<uint8_t>{0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
  Message m;
  DecodeStatus s = DecodeStatus::kNeedMore;
  size_t fed = 0;
  while (s == DecodeStatus::kNeedMore && fed < 2 * kMaxSetupVersionBytes) {
    d.feed(std::vector<uint8_t>(1024, 0x05));
    fed += 1024;
    s = d.next(m);
  }
  ASSERT_EQ(s, DecodeStatus::kError);
  EXPECT_LE(fed, kMaxSetupVersionBytes + 1024);
  EXPECT_NE(d.error().reason.find("version list longer than"), std::string::npos);
}

TEST(Setup, RoleNames) {
  EXPECT_EQ(role_name(Role::kPublisher), "publisher");
  EXPECT_EQ(role_name(Role::kSubscriber), "subscriber");
  EXPECT_EQ(role_name(Role::kBoth), "both");
  EXPECT_TRUE(is_publisher(Role::kBoth));
  EXPECT_TRUE(is_subscriber(Role::kBoth));
  EXPECT_FALSE(is_subscriber(Role::kPublisher));
}

}  // namespace
}  // namespace moq::wire
