#include "session/publisher.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <string>
#include <utility>

#include "wire/object.h"

namespace moq::session {

// One object stream in flight.
struct Publisher::Object {
  uint64_t task = 0;  // in core_.tasks
  int32_t priority = 0;
  uint64_t order = 0;                             // start order: smaller is older
  std::shared_ptr<transport::SendStream> stream;  // once opened
  // Since when it waits for a peer more than the high-water mark behind.
  std::optional<std::chrono::steady_clock::time_point> waiting_since;
  bool done = false;  // released: no longer counted, stream no longer ours
};

struct Publisher::Subscription {
  Subscription(uint64_t id_, cache::TrackReader track_) : id(id_), track(std::move(track_)) {}
  const uint64_t id;
  cache::TrackReader track;
  uint64_t task = 0;  // the serve() coroutine
  std::vector<std::shared_ptr<Object>> objects;
  async::Notify changed;                            // an object was released or started waiting
  std::unique_ptr<asio::steady_timer> stall_timer;  // wakes wait_for_slot()
  uint64_t next_order = 0;
  bool ended = false;
};

namespace {

// The wire's expiry: whole seconds rounded up; 0 = never.
uint64_t expires_seconds(const cache::SegmentInfo& info) {
  if (info.never_expires()) return 0;
  auto seconds = std::chrono::ceil<std::chrono::seconds>(*info.expires).count();
  return static_cast<uint64_t>(std::max<int64_t>(seconds, 1));
}

}  // namespace

Result<void> Publisher::on_subscribe(const wire::Subscribe& message) {
  auto refuse = [&](uint64_t code, std::string reason) {
    spdlog::debug("moq {}: SUBSCRIBE {} '{}' refused: {} {}", core_.peer, message.id, message.name,
                  code, reason);
    core_.control.send(wire::SubscribeReset{message.id, code, std::move(reason)});
    return Result<void>();
  };
  if (subscriptions_.contains(message.id)) {
    return Error{code::kDuplicate,
                 "SUBSCRIBE reuses the live subscribe id " + std::to_string(message.id)};
  }
  if (!message.ns.empty()) return refuse(code::kNotFound, "unknown namespace");
  if (!broadcast_) return refuse(code::kNotFound, "not found");
  if (subscriptions_.size() >= core_.config.max_subscriptions) {
    return refuse(code::kInternal, "too many subscriptions");
  }
  auto track = broadcast_->request_track(message.name);
  if (!track) {
    // A broadcast that ended cleanly has no tracks to give: still "not found".
    const Error& e = track.error();
    if (e.is_closed()) return refuse(code::kNotFound, "not found");
    return refuse(e.code, e.reason);
  }
  auto subscription = std::make_shared<Subscription>(message.id, std::move(*track));
  subscriptions_[message.id] = subscription;
  ++stats_.subscriptions;
  // Accepted at once; a track the producer can't serve ends with its error
  // (404 for an unknown name) as a later SUBSCRIBE_RESET.
  core_.control.send(wire::SubscribeOk{message.id});
  subscription->task = core_.tasks.spawn(serve(subscription));
  return {};
}

void Publisher::on_subscribe_stop(const wire::SubscribeStop& message) {
  auto it = subscriptions_.find(message.id);
  if (it == subscriptions_.end()) return;  // already ended: the RESET crossed this
  auto subscription = it->second;
  subscriptions_.erase(it);
  end(*subscription, stream_code::kDropped);
  core_.control.send(wire::SubscribeReset{message.id, code::kStop, "stop"});
}

void Publisher::on_announce_ok(const wire::AnnounceOk& message) {
  spdlog::debug("moq {}: ANNOUNCE_OK '{}'", core_.peer, message.ns);
}

void Publisher::on_announce_reset(const wire::AnnounceReset& message) {
  spdlog::debug("moq {}: ANNOUNCE_RESET '{}' {} {}", core_.peer, message.ns, message.code,
                message.reason);
}

void Publisher::close() {
  auto subscriptions = std::move(subscriptions_);
  subscriptions_.clear();
  for (auto& [id, subscription] : subscriptions)
    end(*subscription, stream_code::kDropped);
}

void Publisher::end(Subscription& subscription, uint32_t reset_code) {
  subscription.ended = true;
  if (subscription.stall_timer) subscription.stall_timer->cancel();
  core_.tasks.cancel(subscription.task);
  auto objects = subscription.objects;
  for (auto& object : objects)
    release(subscription, object, reset_code);
  subscription.changed.notify_all();
}

void Publisher::release(Subscription& subscription, const std::shared_ptr<Object>& object,
                        std::optional<uint32_t> reset_code) {
  if (object->done) return;
  object->done = true;
  std::erase(subscription.objects, object);
  if (reset_code) {
    // A stream not opened yet is reset by its task when open_uni() returns.
    if (object->stream) object->stream->reset(*reset_code);
    core_.tasks.cancel(object->task);
  }
  subscription.changed.notify_all();
}

asio::awaitable<Publisher::Slot> Publisher::wait_for_slot(
    const std::shared_ptr<Subscription>& subscription, int32_t priority) {
  using Clock = std::chrono::steady_clock;
  const auto timeout = core_.config.stall_timeout;
  for (;;) {
    if (subscription->ended) co_return Slot::kEnded;
    auto& objects = subscription->objects;
    if (objects.size() < core_.config.max_streams_per_subscription) co_return Slot::kFree;
    // Every slot is taken. Drop the least useful stalled stream, if any:
    // lowest priority first, then the oldest.
    const auto now = Clock::now();
    std::shared_ptr<Object> victim;
    std::optional<Clock::time_point> next_stall;
    for (auto& object : objects) {
      if (!object->waiting_since) continue;
      const auto stalls_at = *object->waiting_since + timeout;
      if (stalls_at > now) {
        next_stall = next_stall ? std::min(*next_stall, stalls_at) : stalls_at;
        continue;
      }
      if (!victim || object->priority < victim->priority ||
          (object->priority == victim->priority && object->order < victim->order)) {
        victim = object;
      }
    }
    if (victim && victim->priority > priority) {
      ++stats_.objects_dropped;
      co_return Slot::kSkip;
    }
    if (victim) {
      ++stats_.objects_dropped;
      spdlog::debug("moq {}: subscription {} drops a stalled object (priority {})", core_.peer,
                    subscription->id, victim->priority);
      release(*subscription, victim, stream_code::kDropped);
      continue;
    }
    if (next_stall) {
      // Look again when the first waiting stream would count as stalled.
      if (!subscription->stall_timer) {
        subscription->stall_timer = std::make_unique<asio::steady_timer>(core_.tasks.executor());
      }
      subscription->stall_timer->expires_at(*next_stall);
      std::weak_ptr<Subscription> weak = subscription;
      subscription->stall_timer->async_wait([weak](std::error_code ec) {
        if (ec) return;  // re-armed or cancelled
        if (auto s = weak.lock()) s->changed.notify_all();
      });
    }
    const bool woke = co_await subscription->changed.wait();
    if (!woke) co_return Slot::kEnded;
  }
}

asio::awaitable<void> Publisher::serve(std::shared_ptr<Subscription> subscription) {
  Error end_error = Error::closed();
  for (;;) {
    auto segment = co_await subscription->track.next_segment();
    if (subscription->ended) co_return;
    if (!segment) {
      end_error = segment.error();
      break;
    }
    const Slot slot = co_await wait_for_slot(subscription, segment->priority());
    if (slot == Slot::kEnded) co_return;
    if (slot == Slot::kSkip) continue;
    auto object = std::make_shared<Object>();
    object->priority = segment->priority();
    object->order = subscription->next_order++;
    subscription->objects.push_back(object);
    ++stats_.objects_started;
    object->task = core_.tasks.spawn(send_object(subscription, object, std::move(*segment)));
    if (object->task == 0) co_return;  // the session is shutting down
  }
  // A clean end waits for the streams in flight, so the subscriber sees
  // every object before it learns that the track is over.
  if (end_error.is_closed()) {
    while (!subscription->objects.empty()) {
      const bool woke = co_await subscription->changed.wait();
      if (!woke || subscription->ended) co_return;
    }
  }
  if (subscription->ended) co_return;
  subscription->ended = true;
  if (subscription->stall_timer) subscription->stall_timer->cancel();
  auto it = subscriptions_.find(subscription->id);
  if (it != subscriptions_.end() && it->second == subscription) subscriptions_.erase(it);
  auto remaining = subscription->objects;
  for (auto& object : remaining)
    release(*subscription, object, stream_code::kDropped);
  core_.control.send(wire::SubscribeReset{subscription->id, end_error.code, end_error.reason});
}

asio::awaitable<void> Publisher::send_object(std::shared_ptr<Subscription> subscription,
                                             std::shared_ptr<Object> object,
                                             cache::SegmentReader segment) {
  auto opened = co_await core_.transport->open_uni();
  if (!opened) {
    release(*subscription, object, std::nullopt);
    co_return;
  }
  auto stream = std::move(*opened);
  if (object->done) {  // dropped or stopped while waiting for stream credit
    stream->reset(stream_code::kDropped);
    co_return;
  }
  object->stream = stream;
  stream->set_priority(segment.priority());

  std::vector<uint8_t> header;
  auto encoded = wire::encode(wire::ObjectHeader{.track = subscription->id,
                                                 .sequence = segment.sequence(),
                                                 .priority = segment.priority(),
                                                 .expires = expires_seconds(segment.info())},
                              header);
  if (!encoded || !stream->write(Bytes(std::move(header)))) {
    stream->reset(app_code(code::kInternal));
    release(*subscription, object, std::nullopt);
    co_return;
  }

  // Waits while the peer is more than a high-water mark behind; the stream
  // counts as stalled meanwhile and may be dropped to make room.
  const uint64_t high_water = core_.config.stream_high_water;
  auto drain = [&]() -> asio::awaitable<bool> {
    if (stream->buffered() > high_water) {
      object->waiting_since = std::chrono::steady_clock::now();
      subscription->changed.notify_all();
    }
    auto drained = co_await stream->drained();
    object->waiting_since.reset();
    co_return drained.ok() && !object->done;
  };

  for (;;) {
    auto chunk = co_await segment.next_chunk();
    if (object->done) co_return;  // dropped: the stream was reset for us
    if (!chunk) {
      const Error& end = chunk.error();
      if (!end.is_closed()) {
        stream->reset(app_code(end.code));
        release(*subscription, object, std::nullopt);
        co_return;
      }
      break;
    }
    // The cache's Bytes go to the transport as they are: no copy.
    stats_.payload_bytes_sent += chunk->size();
    if (!stream->write(std::move(*chunk))) {
      release(*subscription, object, std::nullopt);  // the peer stopped it
      co_return;
    }
    if (stream->buffered() > high_water) {
      const bool drained = co_await drain();
      if (!drained) {
        release(*subscription, object, std::nullopt);
        co_return;
      }
    }
  }
  if (!stream->finish()) {
    release(*subscription, object, std::nullopt);
    co_return;
  }
  // Keep the slot until the peer took the object, which bounds what a slow
  // peer leaves buffered and orders the track's end after its objects.
  (void)co_await drain();
  release(*subscription, object, std::nullopt);
}

}  // namespace moq::session
