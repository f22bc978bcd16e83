// Version negotiation and the role-compatibility rule, with their codes.

#include <gtest/gtest.h>

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
