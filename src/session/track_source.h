#pragma once

#include <memory>
#include <string>

#include "cache/track.h"
#include "transport/transport.h"

namespace moq::session {

// A session whose peer publishes broadcasts that we take track by track
// (moq-lite, IETF draft-14): the relay turns each track its viewers ask of
// such a broadcast into a subscription to the peer, whatever the dialect.
class TrackSource {
 public:
  virtual ~TrackSource() = default;
  // One track of the peer's broadcast at `path` (relative to the session's
  // root), into `track`, until the peer ends it. `from_start`: every group
  // the peer still has, not just the newest.
  virtual void subscribe(std::string path, cache::TrackWriter track, bool from_start) = 0;
  virtual const std::shared_ptr<transport::Session>& transport() const = 0;
};

}  // namespace moq::session
