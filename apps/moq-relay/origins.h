#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "cache/broadcast.h"

namespace moq::relay {

// The broadcast name of a WebTransport path: leading and trailing slashes
// removed ("/live/cam/" -> "live/cam"). Names are compared as exact strings.
std::string broadcast_name(std::string_view path);

// The broadcasts published to this relay, by name. Each entry is the reader
// side of the cache that the publisher's session fills; every subscriber
// session serves that same reader, so N subscribers of a track share one
// cached track and one upstream SUBSCRIBE.
//
// Only touched from the io_context thread: no locks.
class Origins {
 public:
  // Registers a publisher for `name`; nullopt when the name is live already.
  // The returned token identifies this publisher for remove().
  std::optional<uint64_t> add(const std::string& name, cache::BroadcastReader broadcast);
  // Frees the name if it is still held by the publisher `token` (a newer
  // publisher of the same name is left alone).
  void remove(const std::string& name, uint64_t token);
  // The live broadcast of that name, if any.
  std::optional<cache::BroadcastReader> find(const std::string& name) const;

  size_t size() const { return live_.size(); }

 private:
  struct Entry {
    uint64_t token;
    cache::BroadcastReader broadcast;
  };
  std::unordered_map<std::string, Entry> live_;
  uint64_t next_token_ = 1;
};

}  // namespace moq::relay
