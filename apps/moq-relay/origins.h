#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cache/broadcast.h"

namespace moq::relay {

// The broadcast name of a WebTransport path: leading and trailing slashes
// removed ("/live/cam/" -> "live/cam"). Names are compared as exact strings.
std::string broadcast_name(std::string_view path);

// The broadcasts published to this relay, by name, across its workers. Each
// entry is the reader side of the cache that the publisher's session fills,
// on the worker (thread) that owns that session: sessions of the same worker
// serve that reader directly; sessions of other workers serve a Mirror of it
// (mirror.h). So N subscribers of a track share one cached track and one
// upstream SUBSCRIBE, whatever worker they are on.
//
// Touched by every worker, but only when a session starts or ends: a mutex,
// never on the per-packet path. The readers it holds are only ever used on
// their owner's thread.
class Origins {
 public:
  struct Live {
    uint64_t token = 0;  // this publisher (a name can be published again)
    unsigned owner = 0;  // the worker whose thread owns `broadcast`
    cache::BroadcastReader broadcast;
  };

  // What the relay's index page shows of a live broadcast.
  struct Listing {
    std::string name;
    std::chrono::system_clock::time_point started;
    std::shared_ptr<const std::string> catalog;  // the newest `.catalog`; null: none yet
    size_t viewers = 0;                          // subscriber sessions it serves here
    // The mdhd timescale of each fMP4 data track (from the init segment),
    // for moq-lite-05 frame timestamps.
    std::shared_ptr<const std::map<std::string, uint32_t>> timescales;
  };

  // Registers a publisher for `name` on worker `owner`; nullopt when the
  // name is live already. The returned token identifies this publisher for
  // remove().
  std::optional<uint64_t> add(const std::string& name, unsigned owner,
                              cache::BroadcastReader broadcast);
  // Frees the name if it is still held by the publisher `token` (a newer
  // publisher of the same name is left alone).
  void remove(const std::string& name, uint64_t token);
  // The live broadcast of that name, if any.
  std::optional<Live> find(const std::string& name) const;

  size_t size() const;

  // For the index (issue 11): the catalog a publisher's broadcast carries,
  // and the viewers it serves, both kept by the name's current publisher
  // `token` (calls about an older publisher of the name are ignored).
  void set_catalog(const std::string& name, uint64_t token, std::string catalog);
  void set_timescales(const std::string& name, uint64_t token,
                      std::map<std::string, uint32_t> timescales);
  // The timescale of a data track of a live broadcast; 0 when unknown.
  uint32_t timescale(const std::string& name, const std::string& track) const;
  // Changes whenever a name is added or removed (announcement streams poll
  // it rather than take the lock).
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  void add_viewers(const std::string& name, uint64_t token, int delta);
  // Every live broadcast, by name.
  std::vector<Listing> list() const;

 private:
  struct Entry {
    Live live;
    Listing listing;
  };
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> live_;
  uint64_t next_token_ = 1;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace moq::relay
