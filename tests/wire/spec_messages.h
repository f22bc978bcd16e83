#pragma once

// Builds wire structs from the "fields" objects of kixel00-vectors.json.

#include <stdexcept>
#include <string>

#include "support/spec_vectors.h"
#include "wire/message.h"
#include "wire/object.h"

namespace moq::test {

inline wire::Role role_from(const std::string& s) {
  if (s == "publisher") return wire::Role::kPublisher;
  if (s == "subscriber") return wire::Role::kSubscriber;
  if (s == "both") return wire::Role::kBoth;
  throw std::runtime_error("unknown role " + s);
}

inline wire::Message message_from(const std::string& name, const nlohmann::json& f) {
  using namespace wire;
  if (name == "CLIENT_SETUP") {
    return ClientSetup{f["versions"].get<std::vector<uint64_t>>(), role_from(f["role"])};
  }
  if (name == "SERVER_SETUP") return ServerSetup{f["version"], role_from(f["role"])};
  if (name == "SUBSCRIBE") return Subscribe{f["id"], f["namespace"], f["name"]};
  if (name == "SUBSCRIBE_OK") return SubscribeOk{f["id"]};
  if (name == "SUBSCRIBE_RESET") return SubscribeReset{f["id"], f["code"], f["reason"]};
  if (name == "SUBSCRIBE_STOP") return SubscribeStop{f["id"]};
  if (name == "ANNOUNCE") return Announce{f["namespace"]};
  if (name == "ANNOUNCE_OK") return AnnounceOk{f["namespace"]};
  if (name == "ANNOUNCE_RESET") return AnnounceReset{f["namespace"], f["code"], f["reason"]};
  if (name == "ANNOUNCE_STOP") return AnnounceStop{f["namespace"]};
  if (name == "GOAWAY") return GoAway{f["url"]};
  throw std::runtime_error("no control message named " + name);
}

inline wire::ObjectHeader object_from(const nlohmann::json& f) {
  return wire::ObjectHeader{f["track"], f["sequence"], f["priority"].get<int32_t>(), f["expires"]};
}

}  // namespace moq::test
