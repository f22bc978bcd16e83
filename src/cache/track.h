#pragma once

#include <asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "async/clock.h"
#include "async/notify.h"
#include "cache/handle.h"
#include "cache/segment.h"
#include "coding/error.h"
#include "coding/result.h"

// A track is a named, ordered set of segments keyed by sequence number.
//
// One TrackWriter (copies share it) creates segments; sequences may have gaps
// but never repeat while cached (409). Every TrackReader sees every segment
// still cached when it starts and every later one; when several are ready it
// takes the highest priority first (ties: the earliest inserted).
//
// Segments with an expiry leave the cache once it has elapsed on the track's
// injected clock. Expiry runs on every insert, on every reader poll and on
// expire(), so an endless track stays bounded even with no new readers; an
// owner that wants exact timing can arm its own timer from next_expiry().

namespace moq::cache {

struct TrackInfo {
  std::string name;
};

namespace detail {

// The state every handle of one track points at.
class Track {
 public:
  using TimePoint = async::Clock::time_point;

  Track(TrackInfo info, std::shared_ptr<const async::Clock> clock);

  const TrackInfo info;
  const std::shared_ptr<const async::Clock> clock;
  async::Notify changed;

  Result<std::shared_ptr<Segment>> create(SegmentInfo info);
  Result<void> close(Error error);  // refuses (returns the old error) when closed
  void expire();

  const std::optional<Error>& closed() const { return closed_; }
  size_t size() const { return by_arrival_.size(); }
  std::optional<TimePoint> next_expiry() const;

  // A cached segment and when it leaves the cache (none = never).
  struct Cached {
    std::shared_ptr<Segment> segment;
    std::optional<TimePoint> deadline;
  };

  // Segments inserted at or after `arrival`, in insertion order, and the
  // arrival number the next insert will get.
  using ByArrival = std::map<uint64_t, Cached>;
  ByArrival::const_iterator from(uint64_t arrival) const {
    return by_arrival_.lower_bound(arrival);
  }
  ByArrival::const_iterator end() const { return by_arrival_.end(); }
  uint64_t next_arrival() const { return next_arrival_; }

 private:
  struct Expiry {
    TimePoint deadline;
    uint64_t arrival;
    friend auto operator<=>(const Expiry&, const Expiry&) = default;
  };

  // Keyed by a counter that only grows, so readers can resume where they left
  // off and expired entries can be erased from the middle without holes.
  ByArrival by_arrival_;
  std::unordered_map<uint64_t, uint64_t> arrival_by_sequence_;
  std::priority_queue<Expiry, std::vector<Expiry>, std::greater<>> expiries_;  // soonest on top
  uint64_t next_arrival_ = 0;
  std::optional<Error> closed_;
};

}  // namespace detail

class TrackReader;

// Creates the segments of a track. Destroying the last copy closes the track
// with code 0 if it wasn't closed already.
class TrackWriter {
 public:
  explicit TrackWriter(std::shared_ptr<detail::Track> track);

  const std::string& name() const { return track()->info.name; }

  // A new segment in the track; 409 if its sequence is still cached, the close
  // error if the track is closed.
  Result<SegmentWriter> create_segment(SegmentInfo info);

  // Clean end of the track (code 0): readers drain, then see "closed".
  Result<void> finish() { return close(Error::closed()); }
  // Ends the track with an error (e.g. 404 for a request that can't be served).
  Result<void> close(Error error);

  // Drops segments whose expiry has elapsed.
  void expire();
  size_t cached_segments() const { return track()->size(); }
  std::optional<async::Clock::time_point> next_expiry() const { return track()->next_expiry(); }

  // A new reader that starts with every segment still cached.
  TrackReader reader() const;
  // How the track ended, once it has.
  const std::optional<Error>& closed() const { return track()->closed(); }

 private:
  const std::shared_ptr<detail::Track>& track() const { return token_->shared(); }
  std::shared_ptr<detail::WriterToken<detail::Track>> token_;
};

// Hands out a track's segments, highest priority first among those ready.
// Copying a reader copies its position.
class TrackReader {
 public:
  explicit TrackReader(std::shared_ptr<detail::Track> track);

  const std::string& name() const { return track_->info.name; }

  // The next segment if one is ready, nullopt if not yet. After the last one:
  // Error::closed() for a clean end, or the error the track was closed with.
  Result<std::optional<SegmentReader>> try_next_segment();

  // Waits (without polling) for the next segment; same end results as above.
  // The reader must outlive the returned awaitable.
  asio::awaitable<Result<SegmentReader>> next_segment();

  std::optional<Error> closed() const { return track_->closed(); }
  size_t cached_segments() const { return track_->size(); }
  // Segments taken from the cache but not yet handed out (bounded by expiry).
  size_t queued() const { return ready_.size(); }

 private:
  friend class BroadcastWriter;  // inserts the shared track by reader
  struct Ready {
    detail::Track::Cached cached;
    uint64_t arrival;
  };
  // Orders the heap: higher priority on top, then earlier arrival.
  struct LowerPriority {
    bool operator()(const Ready& a, const Ready& b) const;
  };

  void take_new_segments();
  void drop_expired_ready();

  std::shared_ptr<detail::Track> track_;
  uint64_t next_arrival_ = 0;  // first arrival not yet moved into ready_
  std::priority_queue<Ready, std::vector<Ready>, LowerPriority> ready_;
};

// A standalone track (not in a broadcast): the writer and a first reader.
std::pair<TrackWriter, TrackReader> make_track(
    std::string name, std::shared_ptr<const async::Clock> clock = async::steady_clock());

}  // namespace moq::cache
