#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace moq::session {

// Limits that keep one peer from making a session grow without bound.
struct Config {
  // Object streams one subscription may have in flight at once (publisher
  // half). When all are busy and some are stalled, the lowest-priority oldest
  // stalled one is reset so newer media can go out.
  size_t max_streams_per_subscription = 16;
  // A stream with more than this many bytes buffered (unacknowledged) waits
  // for the transport to drain.
  uint64_t stream_high_water = 256 * 1024;
  // A stream waiting that long for the peer counts as stalled and may be
  // dropped. The grace period keeps a healthy peer that is merely a few
  // round trips behind (e.g. during a burst of cached segments) whole.
  std::chrono::milliseconds stall_timeout{1000};
  // Subscriptions a peer may hold at once; more are refused with 500.
  size_t max_subscriptions = 1024;
  // Incoming object streams read at once (subscriber half); more wait in the
  // transport, which applies stream-credit backpressure to the peer.
  size_t max_incoming_objects = 256;
  // What the broadcast this session fills (subscriber half) ends with when
  // the peer disappears (its connection reset, timed out or failed: codes
  // 501-503): false, that error; true, a clean end (0). A relay sets it for
  // its publishers, so that viewers see the tracks of a publisher that went
  // away end like those of one that said goodbye; a client (moq-sub) must
  // not mistake a lost connection for the end of the broadcast.
  bool peer_gone_ends_cleanly = false;
};

// Stream reset codes of the data streams (application codes).
namespace stream_code {
// The publisher dropped the object: the subscriber fell behind or stopped.
inline constexpr uint32_t kDropped = 206;
}  // namespace stream_code

}  // namespace moq::session
