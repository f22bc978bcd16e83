#include "wire/setup.h"

#include <algorithm>
#include <string>

namespace moq::wire {
namespace {

bool decode_role(Reader& r, Role& out) {
  uint64_t v = 0;
  if (!r.varint(v)) return false;
  if (v > static_cast<uint64_t>(Role::kBoth)) {
    return r.fail(code::kInternal, "invalid role " + std::to_string(v));
  }
  out = static_cast<Role>(v);
  return true;
}

}  // namespace

std::string_view role_name(Role role) {
  switch (role) {
    case Role::kPublisher:
      return "publisher";
    case Role::kSubscriber:
      return "subscriber";
    case Role::kBoth:
      return "both";
  }
  return "invalid";
}

bool ClientSetup::decode(Reader& r) {
  uint64_t count = 0;
  if (!r.varint(count)) return false;
  versions.clear();
  const size_t start = r.consumed();
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t v = 0;
    if (!r.varint(v)) return false;
    if (r.consumed() - start > kMaxSetupVersionBytes) {
      return r.fail(code::kInternal, "CLIENT_SETUP version list longer than " +
                                         std::to_string(kMaxSetupVersionBytes) + " bytes");
    }
    versions.push_back(v);
  }
  return decode_role(r, role);
}

void ClientSetup::encode(Writer& w) const {
  w.varint(versions.size());
  for (uint64_t v : versions)
    w.varint(v);
  w.varint(static_cast<uint64_t>(role));
}

bool ServerSetup::decode(Reader& r) {
  return r.varint(version) && decode_role(r, role);
}

void ServerSetup::encode(Writer& w) const {
  w.varint(version);
  w.varint(static_cast<uint64_t>(role));
}

Result<ServerSetup> negotiate(const ClientSetup& client, Role server_role) {
  if (std::find(client.versions.begin(), client.versions.end(), kKixel00) ==
      client.versions.end()) {
    return Error{code::kUnsupported, "unsupported version"};
  }
  if (!roles_compatible(client.role, server_role)) {
    return Error{code::kUnsupported, "role incompatible"};
  }
  return ServerSetup{kKixel00, server_role};
}

Result<void> check_server_setup(const ServerSetup& server, Role client_role) {
  if (server.version != kKixel00) return Error{code::kUnsupported, "unsupported version"};
  if (!roles_compatible(client_role, server.role)) {
    return Error{code::kUnsupported, "role incompatible"};
  }
  return {};
}

}  // namespace moq::wire
