#include "origins.h"

namespace moq::relay {

std::string broadcast_name(std::string_view path) {
  while (!path.empty() && path.front() == '/')
    path.remove_prefix(1);
  while (!path.empty() && path.back() == '/')
    path.remove_suffix(1);
  return std::string(path);
}

std::optional<uint64_t> Origins::add(const std::string& name, cache::BroadcastReader broadcast) {
  if (auto it = live_.find(name); it != live_.end()) {
    // A broadcast whose publisher is gone but not yet removed frees the name.
    if (!it->second.broadcast.closed()) return std::nullopt;
    live_.erase(it);
  }
  const uint64_t token = next_token_++;
  live_.emplace(name, Entry{token, std::move(broadcast)});
  return token;
}

void Origins::remove(const std::string& name, uint64_t token) {
  auto it = live_.find(name);
  if (it != live_.end() && it->second.token == token) live_.erase(it);
}

std::optional<cache::BroadcastReader> Origins::find(const std::string& name) const {
  auto it = live_.find(name);
  if (it == live_.end() || it->second.broadcast.closed()) return std::nullopt;
  return it->second.broadcast;
}

}  // namespace moq::relay
