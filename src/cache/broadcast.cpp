#include "cache/broadcast.h"

namespace moq::cache {
namespace detail {
namespace {

// A track closed with an error (e.g. 404) is not worth sharing: its name may
// be requested or created again.
bool failed(const Track& track) {
  return track.closed() && !track.closed()->is_closed();
}

}  // namespace

Broadcast::Broadcast(std::shared_ptr<const async::Clock> c) : clock(std::move(c)) {}

bool Broadcast::available(const std::string& name) const {
  auto found = tracks_.find(name);
  return found == tracks_.end() || failed(*found->second);
}

Result<std::shared_ptr<Track>> Broadcast::request(std::string_view name) {
  if (closed_) return *closed_;
  std::string key(name);
  if (auto found = tracks_.find(key); found != tracks_.end() && !failed(*found->second)) {
    return found->second;
  }

  // Unknown: remember the track now so that concurrent requests share it,
  // and hand its writer to the producer.
  auto track = std::make_shared<Track>(TrackInfo{key}, clock);
  tracks_.insert_or_assign(std::move(key), track);
  requested_.emplace_back(track);
  changed.notify_all();
  return track;
}

Result<void> Broadcast::insert(std::shared_ptr<Track> track) {
  if (closed_) return *closed_;
  if (!available(track->info.name)) return Error::duplicate();
  tracks_.insert_or_assign(track->info.name, std::move(track));
  return {};
}

Result<std::optional<TrackWriter>> Broadcast::pop_request() {
  if (!requested_.empty()) {
    TrackWriter next = std::move(requested_.front());
    requested_.pop_front();
    return std::optional<TrackWriter>(std::move(next));
  }
  if (closed_) return *closed_;
  return std::optional<TrackWriter>();
}

Result<void> Broadcast::close(Error error) {
  if (closed_) return *closed_;
  closed_ = error;
  // Nobody will answer the pending requests now: end them with our error.
  for (auto& pending : requested_)
    (void)pending.close(error);
  requested_.clear();
  changed.notify_all();
  return {};
}

}  // namespace detail

BroadcastWriter::BroadcastWriter(std::shared_ptr<detail::Broadcast> broadcast)
    : token_(std::make_shared<detail::WriterToken<detail::Broadcast>>(std::move(broadcast))) {}

Result<TrackWriter> BroadcastWriter::create_track(std::string name) {
  if (!token_) return detail::empty_handle();
  auto track = std::make_shared<detail::Track>(TrackInfo{std::move(name)}, broadcast()->clock);
  if (auto inserted = broadcast()->insert(track); !inserted) return inserted.error();
  return TrackWriter(std::move(track));
}

Result<void> BroadcastWriter::insert_track(const TrackReader& track) {
  if (!token_) return detail::empty_handle();
  if (!track.track_) return detail::empty_handle();
  return broadcast()->insert(track.track_);
}

Result<std::optional<TrackWriter>> BroadcastWriter::try_next_request() {
  if (!token_) return detail::empty_handle();
  return broadcast()->pop_request();
}

asio::awaitable<Result<TrackWriter>> BroadcastWriter::next_request() {
  if (!token_) co_return detail::empty_handle();
  auto broadcast = token_->shared();  // keep the state alive while parked
  for (;;) {
    auto polled = broadcast->pop_request();
    if (!polled) co_return polled.error();
    if (*polled) co_return std::move(**polled);
    const bool woke = co_await broadcast->changed.wait();
    if (!woke) co_return detail::cancelled();
  }
}

Result<void> BroadcastWriter::close(Error error) {
  if (!token_) return detail::empty_handle();
  return broadcast()->close(std::move(error));
}

BroadcastReader::BroadcastReader(std::shared_ptr<detail::Broadcast> broadcast)
    : broadcast_(std::move(broadcast)) {}

Result<TrackReader> BroadcastReader::request_track(std::string_view name) {
  if (!broadcast_) return detail::empty_handle();
  auto track = broadcast_->request(name);
  if (!track) return track.error();
  return TrackReader(std::move(*track));
}

std::optional<Error> BroadcastReader::closed() const {
  return broadcast_ ? broadcast_->closed() : std::optional<Error>(detail::empty_handle());
}

std::pair<BroadcastWriter, BroadcastReader> make_broadcast(
    std::shared_ptr<const async::Clock> clock) {
  auto broadcast = std::make_shared<detail::Broadcast>(std::move(clock));
  return {BroadcastWriter(broadcast), BroadcastReader(broadcast)};
}

}  // namespace moq::cache
