#include "origins.h"

namespace moq::relay {

std::string broadcast_name(std::string_view path) {
  while (!path.empty() && path.front() == '/')
    path.remove_prefix(1);
  while (!path.empty() && path.back() == '/')
    path.remove_suffix(1);
  return std::string(path);
}

std::optional<uint64_t> Origins::add(const std::string& name, unsigned owner,
                                     cache::BroadcastReader broadcast) {
  std::lock_guard lock(mutex_);
  if (live_.contains(name)) return std::nullopt;
  const uint64_t token = next_token_++;
  live_.emplace(name, Live{token, owner, std::move(broadcast)});
  return token;
}

void Origins::remove(const std::string& name, uint64_t token) {
  std::lock_guard lock(mutex_);
  auto it = live_.find(name);
  if (it != live_.end() && it->second.token == token) live_.erase(it);
}

std::optional<Origins::Live> Origins::find(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = live_.find(name);
  if (it == live_.end()) return std::nullopt;
  return it->second;
}

size_t Origins::size() const {
  std::lock_guard lock(mutex_);
  return live_.size();
}

}  // namespace moq::relay
