#include "cache/track.h"

namespace moq::cache {
namespace detail {

Track::Track(TrackInfo i, std::shared_ptr<const async::Clock> c)
    : info(std::move(i)), clock(std::move(c)) {}

Result<std::shared_ptr<Segment>> Track::create(SegmentInfo segment_info) {
  if (closed_) return *closed_;
  // Expire first: a sequence that has left the cache may be used again.
  expire();
  if (arrival_by_sequence_.contains(segment_info.sequence)) return Error::duplicate();

  const uint64_t arrival = next_arrival_++;
  std::optional<TimePoint> deadline;
  if (!segment_info.never_expires()) {
    deadline = clock->now() + *segment_info.expires;
    expiries_.push({*deadline, arrival});
  }
  arrival_by_sequence_.emplace(segment_info.sequence, arrival);
  auto segment = std::make_shared<Segment>(std::move(segment_info));
  by_arrival_.emplace(arrival, Cached{segment, deadline});
  changed.notify_all();
  return segment;
}

Result<void> Track::close(Error error) {
  if (closed_) return *closed_;
  closed_ = std::move(error);
  changed.notify_all();
  return {};
}

void Track::expire() {
  const TimePoint now = clock->now();
  while (!expiries_.empty() && expiries_.top().deadline <= now) {
    auto found = by_arrival_.find(expiries_.top().arrival);
    expiries_.pop();
    if (found == by_arrival_.end()) continue;  // can't happen: each arrival expires once
    arrival_by_sequence_.erase(found->second.segment->info.sequence);
    by_arrival_.erase(found);
  }
}

std::optional<Track::TimePoint> Track::next_expiry() const {
  if (expiries_.empty()) return std::nullopt;
  return expiries_.top().deadline;
}

}  // namespace detail

TrackWriter::TrackWriter(std::shared_ptr<detail::Track> track)
    : token_(std::make_shared<detail::WriterToken<detail::Track>>(std::move(track))) {}

Result<SegmentWriter> TrackWriter::create_segment(SegmentInfo info) {
  if (!token_) return detail::empty_handle();
  auto segment = track()->create(std::move(info));
  if (!segment) return segment.error();
  return SegmentWriter(std::move(*segment));
}

Result<void> TrackWriter::close(Error error) {
  if (!token_) return detail::empty_handle();
  return track()->close(std::move(error));
}

void TrackWriter::expire() {
  if (token_) track()->expire();
}

TrackReader TrackWriter::reader() const {
  return TrackReader(track());
}

TrackReader::TrackReader(std::shared_ptr<detail::Track> track) : track_(std::move(track)) {}

bool TrackReader::LowerPriority::operator()(const Ready& a, const Ready& b) const {
  const int32_t pa = a.cached.segment->info.priority;
  const int32_t pb = b.cached.segment->info.priority;
  if (pa != pb) return pa < pb;
  return a.arrival > b.arrival;
}

void TrackReader::take_new_segments() {
  for (auto it = track_->from(next_arrival_); it != track_->end(); ++it) {
    ready_.push({it->second, it->first});
  }
  next_arrival_ = track_->next_arrival();
  drop_expired_ready();
}

void TrackReader::drop_expired_ready() {
  // A live segment in ready_ is also in the cache, so anything beyond twice
  // the cache size is expired: rebuilding then keeps a slow reader's heap
  // bounded at amortised O(1) per segment.
  if (ready_.size() <= 2 * track_->size() + 16) return;
  const auto now = track_->clock->now();
  std::vector<Ready> live;
  while (!ready_.empty()) {
    const auto& deadline = ready_.top().cached.deadline;
    if (!deadline || *deadline > now) live.push_back(ready_.top());
    ready_.pop();
  }
  ready_ = decltype(ready_)(LowerPriority{}, std::move(live));
}

Result<std::optional<SegmentReader>> TrackReader::try_next_segment() {
  if (!track_) return detail::empty_handle();
  track_->expire();
  take_new_segments();
  const auto now = track_->clock->now();
  while (!ready_.empty()) {
    Ready next = ready_.top();
    ready_.pop();
    const auto& deadline = next.cached.deadline;
    if (deadline && *deadline <= now) continue;  // expired while queued
    return std::optional<SegmentReader>(SegmentReader(std::move(next.cached.segment)));
  }
  if (track_->closed()) return *track_->closed();
  return std::optional<SegmentReader>();
}

asio::awaitable<Result<SegmentReader>> TrackReader::next_segment() {
  for (;;) {
    auto polled = try_next_segment();
    if (!polled) co_return polled.error();
    if (*polled) co_return std::move(**polled);
    auto track = track_;  // keep the state alive while parked
    const bool woke = co_await track->changed.wait();
    if (!woke) co_return detail::cancelled();
  }
}

std::pair<TrackWriter, TrackReader> make_track(std::string name,
                                               std::shared_ptr<const async::Clock> clock) {
  auto track = std::make_shared<detail::Track>(TrackInfo{std::move(name)}, std::move(clock));
  return {TrackWriter(track), TrackReader(track)};
}

}  // namespace moq::cache
