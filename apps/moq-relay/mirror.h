#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "cache/broadcast.h"

namespace moq::relay {

// A broadcast owned by another worker (thread), as the sessions of this
// worker see it: a cache broadcast of this worker whose track requests go to
// the owner worker, which streams each track's segments back.
//
// Threads: the mirror and its cache live on `home`; the source broadcast is
// only touched on `owner`, by the forwarding coroutines that run there. Chunks
// cross as the very Bytes the owner's cache holds (a reference-count bump, no
// copy), once per worker however many subscribers this worker has, in posted
// batches: no lock is taken per packet, only Asio's queue per batch.
class Mirror : public std::enable_shared_from_this<Mirror> {
 public:
  // Call on `home`.
  static std::shared_ptr<Mirror> create(asio::any_io_executor home, asio::any_io_executor owner,
                                        cache::BroadcastReader source);
  ~Mirror();
  Mirror(const Mirror&) = delete;
  Mirror& operator=(const Mirror&) = delete;

  // What this worker's subscriber sessions serve (home thread only).
  const cache::BroadcastReader& broadcast() const { return reader_; }

  // One track filled from the source (see fill_track).
  struct TrackSink {
    explicit TrackSink(cache::TrackWriter t) : track(std::move(t)) {}
    cache::TrackWriter track;
    // Segments being copied in, by the owner side's number for them.
    std::unordered_map<uint64_t, cache::SegmentWriter> segments;
  };

 private:
  Mirror(asio::any_io_executor home, asio::any_io_executor owner, cache::BroadcastReader source,
         std::pair<cache::BroadcastWriter, cache::BroadcastReader> local);

  asio::any_io_executor home_;
  asio::any_io_executor owner_;
  cache::BroadcastReader source_;  // used on owner_ only (copied there)
  cache::BroadcastWriter writer_;
  cache::BroadcastReader reader_;
  // Home: the mirrored tracks (shared with the request loop).
  std::shared_ptr<std::vector<std::shared_ptr<TrackSink>>> sinks_;
};

// Fills `track` (a track request of a broadcast on `home`, the calling
// thread) with the track of the same name of `source`, a broadcast that lives
// on `owner` (which may be `home`): its segments and chunks as the source's
// cache holds them, no copy. Forwarding lasts while the returned sink lives.
std::shared_ptr<Mirror::TrackSink> fill_track(cache::TrackWriter track, asio::any_io_executor home,
                                              asio::any_io_executor owner,
                                              cache::BroadcastReader source);

// The mirrors of one worker, by the origin token of what they mirror: every
// session of the worker that wants the same foreign broadcast shares one.
// Home thread only.
class Mirrors {
 public:
  explicit Mirrors(asio::any_io_executor home) : home_(std::move(home)) {}
  std::shared_ptr<Mirror> get(uint64_t token, asio::any_io_executor owner,
                              const cache::BroadcastReader& source);
  size_t size() const { return by_token_.size(); }

 private:
  asio::any_io_executor home_;
  std::unordered_map<uint64_t, std::weak_ptr<Mirror>> by_token_;
};

}  // namespace moq::relay
