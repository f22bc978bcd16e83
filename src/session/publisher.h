#pragma once

#include <asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "async/notify.h"
#include "cache/broadcast.h"
#include "cache/segment.h"
#include "cache/track.h"
#include "coding/error.h"
#include "session/core.h"
#include "wire/announce.h"
#include "wire/subscribe.h"

namespace moq::session {

// Counters of the publisher half (for tests and logs).
struct PublisherStats {
  uint64_t subscriptions = 0;       // SUBSCRIBEs accepted
  uint64_t objects_started = 0;     // object streams started
  uint64_t objects_dropped = 0;     // reset or skipped: the subscriber fell behind
  uint64_t payload_bytes_sent = 0;  // object payload handed to the transport
};

// The publisher half of a session: serves a broadcast's tracks to the peer.
//
// Each accepted SUBSCRIBE gets one coroutine that takes the track's segments
// (highest priority first, as the cache hands them out) and starts one object
// stream per segment, at most Config::max_streams_per_subscription at once.
// When all are busy and some are stalled on a peer that doesn't drain, the
// lowest-priority oldest stalled stream is reset to make room: a slow
// subscriber skips media rather than making the publisher buffer it.
class Publisher {
 public:
  explicit Publisher(Core& core) : core_(core) {}

  // What to serve; without one every SUBSCRIBE is answered 404.
  void set_broadcast(cache::BroadcastReader broadcast) { broadcast_ = std::move(broadcast); }

  // A SUBSCRIBE reusing a live id is the peer's bug: the error closes the
  // session (a SUBSCRIBE_RESET for that id could not be told apart from the
  // end of the live subscription).
  Result<void> on_subscribe(const wire::Subscribe& message);
  void on_subscribe_stop(const wire::SubscribeStop& message);
  void on_announce_ok(const wire::AnnounceOk& message);
  void on_announce_reset(const wire::AnnounceReset& message);

  // The session ended: stops every subscription and object stream.
  void close();

  size_t active_subscriptions() const { return subscriptions_.size(); }
  const PublisherStats& stats() const { return stats_; }

 private:
  struct Object;
  struct Subscription;

  asio::awaitable<void> serve(std::shared_ptr<Subscription> subscription);
  asio::awaitable<void> send_object(std::shared_ptr<Subscription> subscription,
                                    std::shared_ptr<Object> object, cache::SegmentReader segment);
  enum class Slot { kFree, kSkip, kEnded };
  // Waits until the subscription may start another object stream for a
  // segment of `priority`. When every slot is taken and some stream is
  // stalled, the least useful of the two loses: the stalled stream is reset
  // (kFree), or, if it matters more than the new segment, the new segment is
  // skipped (kSkip).
  asio::awaitable<Slot> wait_for_slot(const std::shared_ptr<Subscription>& subscription,
                                      int32_t priority);
  // Removes `object` from its subscription's streams; with `reset_code`,
  // also resets its stream and cancels its task (a drop or a stop).
  void release(Subscription& subscription, const std::shared_ptr<Object>& object,
               std::optional<uint32_t> reset_code);
  // Stops a subscription's coroutines and streams (no message sent).
  void end(Subscription& subscription, uint32_t reset_code);

  Core& core_;
  std::optional<cache::BroadcastReader> broadcast_;
  std::unordered_map<uint64_t, std::shared_ptr<Subscription>> subscriptions_;
  PublisherStats stats_;
};

}  // namespace moq::session
