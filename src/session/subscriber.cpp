#include "session/subscriber.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <utility>

#include "wire/object.h"

namespace moq::session {

asio::awaitable<void> Subscriber::run_requests() {
  if (!broadcast_) co_return;
  for (;;) {
    auto request = co_await broadcast_->next_request();
    if (!request) co_return;  // the broadcast closed (or the session ended)
    if (core_.closed()) {
      (void)request->close({code::kSession, "session closed"});
      co_return;
    }
    const uint64_t id = next_id_++;
    core_.control.send(wire::Subscribe{.id = id, .ns = "", .name = request->name()});
    subscriptions_.emplace(id, Subscription{std::move(*request), false, nullptr});
    ++stats_.subscribes_sent;
  }
}

void Subscriber::on_subscribe_ok(const wire::SubscribeOk& message) {
  auto it = subscriptions_.find(message.id);
  if (it != subscriptions_.end()) it->second.ok = true;
}

void Subscriber::on_subscribe_reset(const wire::SubscribeReset& message) {
  auto it = subscriptions_.find(message.id);
  if (it == subscriptions_.end()) return;  // never ours, or already ended
  Error error =
      message.code == code::kClosed ? Error::closed() : Error{message.code, message.reason};
  if (!error.is_closed()) {
    (void)it->second.track.close(std::move(error));
    subscriptions_.erase(it);
    return;
  }
  ++stats_.tracks_ended;
  if (it->second.ending) return;  // a second clean end changes nothing
  it->second.ending = std::make_unique<asio::steady_timer>(core_.tasks.executor(), kCleanEndGrace);
  it->second.ending->async_wait(
      [this, alive = std::weak_ptr<int>(alive_), id = message.id](std::error_code ec) {
        if (ec || alive.expired()) return;
        end_track(id);
      });
}

void Subscriber::end_track(uint64_t id) {
  auto it = subscriptions_.find(id);
  if (it == subscriptions_.end()) return;
  (void)it->second.track.finish();
  subscriptions_.erase(it);
}

void Subscriber::on_announce(const wire::Announce& message) {
  // Tracks are requested by name in an empty namespace; announces are
  // acknowledged and otherwise only logged.
  spdlog::debug("moq {}: ANNOUNCE '{}'", core_.peer, message.ns);
  core_.control.send(wire::AnnounceOk{message.ns});
}

void Subscriber::on_announce_stop(const wire::AnnounceStop& message) {
  spdlog::debug("moq {}: ANNOUNCE_STOP '{}'", core_.peer, message.ns);
}

void Subscriber::close(const Error& error) {
  for (auto& [id, subscription] : subscriptions_) {
    // A track whose clean end came is over cleanly, whatever ends the session.
    (void)subscription.track.close(subscription.ending ? Error::closed() : error);
  }
  subscriptions_.clear();
  if (broadcast_) (void)broadcast_->close(error);
  reading_changed_.notify_all();
}

asio::awaitable<void> Subscriber::run_objects() {
  for (;;) {
    while (reading_ >= core_.config.max_incoming_objects) {
      const bool woke = co_await reading_changed_.wait();
      if (!woke || core_.closed()) co_return;
    }
    auto stream = co_await core_.transport->accept_uni();
    if (!stream) co_return;  // the session ended
    if (!wire::is_publisher(core_.peer_role)) {
      // Objects flow from publishers only: a subscriber's object stream is
      // refused (not fatal, like an unknown track) and counted.
      ++stats_.objects_rejected;
      ++stats_.objects_from_subscriber;
      spdlog::debug("moq {}: object stream from a subscriber refused", core_.peer);
      (*stream)->stop(app_code(code::kRoleViolation));
      continue;
    }
    ++reading_;
    if (core_.tasks.spawn(read_object(std::move(*stream))) == 0) --reading_;
  }
}

asio::awaitable<void> Subscriber::read_object(std::shared_ptr<transport::RecvStream> stream) {
  // Counts this task as running until it returns, whichever way.
  struct Running {
    Subscriber& self;
    ~Running() {
      --self.reading_;
      self.reading_changed_.notify_all();
    }
  } running{*this};

  // A read error with code 0 must not look like a clean end of the object.
  auto failure = [](const Error& e) {
    return e.is_closed() ? Error{code::kSession, "session closed"} : e;
  };

  wire::ObjectStreamDecoder decoder;
  for (;;) {
    auto chunk = co_await stream->read();
    if (!chunk || !*chunk) co_return;  // reset or FIN before a whole header: nothing to keep
    auto status = decoder.feed(**chunk);
    if (status == DecodeStatus::kOk) break;
    if (status == DecodeStatus::kError) {
      ++stats_.objects_rejected;
      spdlog::debug("moq {}: bad object header: {}", core_.peer, decoder.error().reason);
      stream->stop(app_code(decoder.error().code));
      co_return;
    }
  }
  const wire::ObjectHeader& header = decoder.header();
  auto it = subscriptions_.find(header.track);
  if (it == subscriptions_.end()) {
    // Not fatal (spec): the track may have just ended, or was never ours.
    ++stats_.objects_rejected;
    spdlog::debug("moq {}: object for unknown track id {}", core_.peer, header.track);
    stream->stop(app_code(code::kNotFound));
    co_return;
  }
  cache::SegmentInfo info{.sequence = header.sequence, .priority = header.priority, .expires = {}};
  if (header.expires > 0) {
    info.expires = std::chrono::duration_cast<async::Clock::duration>(
        std::chrono::seconds(static_cast<int64_t>(std::min<uint64_t>(header.expires, 1u << 30))));
  }
  auto created = it->second.track.create_segment(info);
  if (!created) {
    ++stats_.objects_rejected;
    stream->stop(app_code(created.error().code));
    co_return;
  }
  cache::SegmentWriter segment = std::move(*created);
  ++stats_.objects_received;

  if (auto first = decoder.take_payload(); !first.empty()) {
    stats_.payload_bytes_received += first.size();
    (void)segment.write(std::move(first));
  }
  for (;;) {
    auto chunk = co_await stream->read();
    if (!chunk) {
      (void)segment.close(failure(chunk.error()));
      co_return;
    }
    if (!*chunk) {
      (void)segment.finish();
      co_return;
    }
    // The transport's Bytes go into the cache as they are: no copy.
    stats_.payload_bytes_received += (*chunk)->size();
    if (!segment.write(std::move(**chunk))) {
      stream->stop(app_code(code::kInternal));
      co_return;
    }
  }
}

}  // namespace moq::session
