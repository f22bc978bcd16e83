#pragma once

#include <asio/awaitable.hpp>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "async/clock.h"
#include "async/notify.h"
#include "cache/handle.h"
#include "cache/track.h"
#include "coding/error.h"
#include "coding/result.h"

// A broadcast is a set of tracks by name.
//
// Readers ask for a track by name. A known track is shared. An unknown name
// becomes a pending request for the broadcast's producer, who takes it with
// next_request() and either fills the track (a relay: by subscribing upstream)
// or closes it with 404. Requests for a name already pending share that one
// request, so N subscribers cause one upstream fetch. A track that was closed
// with an error (e.g. 404) is forgotten by the next request for its name, so a
// later retry reaches the producer again; cleanly finished tracks stay cached.

namespace moq::cache {

namespace detail {

// The state every handle of one broadcast points at.
class Broadcast {
 public:
  explicit Broadcast(std::shared_ptr<const async::Clock> clock);

  const std::shared_ptr<const async::Clock> clock;
  async::Notify changed;

  Result<std::shared_ptr<Track>> request(std::string_view name);
  Result<void> insert(std::shared_ptr<Track> track);
  Result<std::optional<TrackWriter>> pop_request();
  Result<void> close(Error error);  // refuses (returns the old error) when closed
  const std::optional<Error>& closed() const { return closed_; }

 private:
  // True when `name` is free, or held by a track that failed (may be retried).
  bool available(const std::string& name) const;

  std::unordered_map<std::string, std::shared_ptr<Track>> tracks_;
  std::deque<TrackWriter> requested_;  // waiting for the producer, oldest first
  std::optional<Error> closed_;
};

}  // namespace detail

// The producer's side: creates tracks and answers requests for unknown ones.
// Destroying the last copy closes the broadcast with code 0.
class BroadcastWriter {
 public:
  explicit BroadcastWriter(std::shared_ptr<detail::Broadcast> broadcast);

  // A new track in the broadcast; 409 if the name is taken.
  Result<TrackWriter> create_track(std::string name);
  // Publishes a track made elsewhere (e.g. by a session) under its name.
  Result<void> insert_track(const TrackReader& track);

  // The oldest pending request if any, nullopt if none. The producer fills the
  // returned TrackWriter or closes it (404). Fails with the close error once
  // the broadcast is closed.
  Result<std::optional<TrackWriter>> try_next_request();
  // Waits (without polling) for the next pending request.
  asio::awaitable<Result<TrackWriter>> next_request();

  // Ends the broadcast. Pending requests are closed with the same error, and
  // later requests fail with it. Tracks already handed out live on.
  Result<void> close(Error error);

 private:
  const std::shared_ptr<detail::Broadcast>& broadcast() const { return token_->shared(); }
  std::shared_ptr<detail::WriterToken<detail::Broadcast>> token_;
};

// The consumers' side: asks for tracks by name. Copies are independent.
class BroadcastReader {
 public:
  explicit BroadcastReader(std::shared_ptr<detail::Broadcast> broadcast);

  // A reader of the named track, starting with every segment still cached.
  // Unknown names are handed to the producer (see above). Fails with the
  // close error once the broadcast is closed.
  Result<TrackReader> request_track(std::string_view name);

  std::optional<Error> closed() const;

 private:
  std::shared_ptr<detail::Broadcast> broadcast_;
};

// A new broadcast; its tracks expire on `clock`.
std::pair<BroadcastWriter, BroadcastReader> make_broadcast(
    std::shared_ptr<const async::Clock> clock = async::steady_clock());

}  // namespace moq::cache
