#include "origins.h"

#include <algorithm>

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
  live_.emplace(name, Entry{Live{token, owner, std::move(broadcast)},
                            Listing{name, std::chrono::system_clock::now(), nullptr, 0, nullptr}});
  generation_.fetch_add(1, std::memory_order_release);
  return token;
}

void Origins::remove(const std::string& name, uint64_t token) {
  std::lock_guard lock(mutex_);
  auto it = live_.find(name);
  if (it != live_.end() && it->second.live.token == token) {
    live_.erase(it);
    generation_.fetch_add(1, std::memory_order_release);
  }
}

void Origins::set_timescales(const std::string& name, uint64_t token,
                             std::map<std::string, uint32_t> timescales) {
  auto shared = std::make_shared<const std::map<std::string, uint32_t>>(std::move(timescales));
  std::lock_guard lock(mutex_);
  auto it = live_.find(name);
  if (it != live_.end() && it->second.live.token == token) it->second.listing.timescales = shared;
}

uint32_t Origins::timescale(const std::string& name, const std::string& track) const {
  std::lock_guard lock(mutex_);
  auto it = live_.find(name);
  if (it == live_.end() || !it->second.listing.timescales) return 0;
  auto t = it->second.listing.timescales->find(track);
  return t == it->second.listing.timescales->end() ? 0 : t->second;
}

std::optional<Origins::Live> Origins::find(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = live_.find(name);
  if (it == live_.end()) return std::nullopt;
  return it->second.live;
}

size_t Origins::size() const {
  std::lock_guard lock(mutex_);
  return live_.size();
}

void Origins::set_catalog(const std::string& name, uint64_t token, std::string catalog) {
  auto text = std::make_shared<const std::string>(std::move(catalog));
  std::lock_guard lock(mutex_);
  auto it = live_.find(name);
  if (it != live_.end() && it->second.live.token == token) it->second.listing.catalog = text;
}

void Origins::add_viewers(const std::string& name, uint64_t token, int delta) {
  std::lock_guard lock(mutex_);
  auto it = live_.find(name);
  if (it == live_.end() || it->second.live.token != token) return;
  size_t& viewers = it->second.listing.viewers;
  viewers = delta >= 0 ? viewers + static_cast<size_t>(delta)
                       : viewers - std::min(viewers, static_cast<size_t>(-delta));
}

std::vector<Origins::Listing> Origins::list() const {
  std::vector<Listing> out;
  {
    std::lock_guard lock(mutex_);
    out.reserve(live_.size());
    for (const auto& [name, entry] : live_)
      out.push_back(entry.listing);
  }
  std::sort(out.begin(), out.end(),
            [](const Listing& a, const Listing& b) { return a.name < b.name; });
  return out;
}

}  // namespace moq::relay
