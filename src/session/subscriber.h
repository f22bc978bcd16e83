#pragma once

#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "async/notify.h"
#include "cache/broadcast.h"
#include "cache/track.h"
#include "coding/error.h"
#include "session/core.h"
#include "transport/transport.h"
#include "wire/announce.h"
#include "wire/subscribe.h"

namespace moq::session {

// Counters of the subscriber half (for tests and logs).
struct SubscriberStats {
  uint64_t subscribes_sent = 0;
  uint64_t objects_received = 0;         // object streams routed into a segment
  uint64_t objects_rejected = 0;         // unknown track id, bad header, duplicate, wrong role
  uint64_t objects_from_subscriber = 0;  // opened by a peer that may not publish (405)
  uint64_t tracks_ended = 0;             // SUBSCRIBE_RESET with code 0: the track is over
  uint64_t payload_bytes_received = 0;   // object payload written into the cache
};

// The subscriber half of a session: fills a broadcast from the peer.
//
// Requests for tracks the broadcast doesn't have (BroadcastWriter's pending
// requests) become SUBSCRIBEs with ids counting from 0; every incoming object
// stream becomes a segment of the track its header names.
class Subscriber {
 public:
  explicit Subscriber(Core& core) : core_(core) {}

  // What to fill; without one nothing is subscribed.
  void set_broadcast(cache::BroadcastWriter broadcast) { broadcast_ = std::move(broadcast); }

  // Turns the broadcast's track requests into SUBSCRIBEs until it closes.
  asio::awaitable<void> run_requests();
  // Accepts object streams until the session ends.
  asio::awaitable<void> run_objects();

  void on_subscribe_ok(const wire::SubscribeOk& message);
  void on_subscribe_reset(const wire::SubscribeReset& message);
  void on_announce(const wire::Announce& message);
  void on_announce_stop(const wire::AnnounceStop& message);

  // The session ended: every track (and the broadcast) closes with `error`.
  void close(const Error& error);

  bool has_broadcast() const { return broadcast_.has_value(); }
  const SubscriberStats& stats() const { return stats_; }

 private:
  struct Subscription {
    cache::TrackWriter track;
    bool ok = false;  // SUBSCRIBE_OK seen
    // A clean SUBSCRIBE_RESET came: the track ends when this goes off.
    std::unique_ptr<asio::steady_timer> ending;
  };

  // A publisher ends a track cleanly once its last objects were acknowledged,
  // that is once they reached our QUIC stack; but their streams may still
  // wait to be accepted and read here, behind the control stream. Objects
  // routed until the grace period is over still belong to the track.
  static constexpr std::chrono::milliseconds kCleanEndGrace{200};
  void end_track(uint64_t id);

  asio::awaitable<void> read_object(std::shared_ptr<transport::RecvStream> stream);

  Core& core_;
  std::optional<cache::BroadcastWriter> broadcast_;
  std::map<uint64_t, Subscription> subscriptions_;
  uint64_t next_id_ = 0;
  size_t reading_ = 0;  // read_object() tasks running
  async::Notify reading_changed_;
  SubscriberStats stats_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // for timer handlers
};

}  // namespace moq::session
