#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "coding/reader.h"
#include "coding/result.h"
#include "coding/writer.h"

namespace moq::wire {

// KIXEL_00: the only version this project speaks (0xbad00 on the wire).
//
// It is a fork of draft-ietf-moq-transport-00 (0xff00, not supported). What
// KIXEL_00 changes relative to draft-00, as the ecosystem of late 2023 (the
// Rust moq-transport 0.2 crate and moq-js) implements it:
//  - SETUP carries no parameters: CLIENT_SETUP is a version list plus a role,
//    SERVER_SETUP the chosen version plus a role (the sender's role).
//  - Control messages have no length prefix; decoders are incremental.
//  - SUBSCRIBE names the track by (namespace, name) and assigns a small id
//    that OBJECT headers carry instead of the full name; no location params.
//  - SUBSCRIBE_RESET (0x5) and SUBSCRIBE_STOP (0x15) replace SUBSCRIBE_ERROR
//    and UNSUBSCRIBE; ANNOUNCE_RESET (0x8) and ANNOUNCE_STOP (0x18) likewise.
//  - OBJECT carries track id, sequence, an i32 priority (larger first) and an
//    expiry in seconds; one object per unidirectional stream, payload to FIN.
inline constexpr uint64_t kKixel00 = 0xbad00;
inline constexpr uint64_t kDraft00 = 0xff00;

// The role of the sender of a SETUP message.
enum class Role : uint64_t { kPublisher = 0, kSubscriber = 1, kBoth = 2 };

std::string_view role_name(Role role);
constexpr bool is_publisher(Role r) {
  return r == Role::kPublisher || r == Role::kBoth;
}
constexpr bool is_subscriber(Role r) {
  return r == Role::kSubscriber || r == Role::kBoth;
}

// Compatible when one side publishes what the other subscribes:
// publisher<->subscriber, both<->both.
constexpr bool roles_compatible(Role a, Role b) {
  if (a == Role::kBoth || b == Role::kBoth) return a == b;
  return a != b;
}

// A CLIENT_SETUP may offer any number of versions (an empty list is legal
// too, and answered 406 by negotiation); what is capped is the bytes the list
// takes, so a peer cannot make us buffer or store without bound.
inline constexpr size_t kMaxSetupVersionBytes = 64 * 1024;

struct ClientSetup {
  static constexpr uint64_t kType = 0x1;
  static constexpr std::string_view kName = "CLIENT_SETUP";
  std::vector<uint64_t> versions;  // preference order
  Role role = Role::kSubscriber;

  bool decode(Reader& r);
  void encode(Writer& w) const;
  friend bool operator==(const ClientSetup&, const ClientSetup&) = default;
};

struct ServerSetup {
  static constexpr uint64_t kType = 0x2;
  static constexpr std::string_view kName = "SERVER_SETUP";
  uint64_t version = kKixel00;
  Role role = Role::kPublisher;

  bool decode(Reader& r);
  void encode(Writer& w) const;
  friend bool operator==(const ServerSetup&, const ServerSetup&) = default;
};

// Server side: pick KIXEL_00 if offered and check roles. Fails with 406
// "unsupported version" or 406 "role incompatible".
Result<ServerSetup> negotiate(const ClientSetup& client, Role server_role);

// Client side: the server must have chosen KIXEL_00 and a compatible role.
Result<void> check_server_setup(const ServerSetup& server, Role client_role);

}  // namespace moq::wire
