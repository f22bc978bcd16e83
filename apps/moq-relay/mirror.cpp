#include "mirror.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <optional>
#include <string>
#include <utility>

namespace moq::relay {

namespace {

using Sink = Mirror::TrackSink;

// Runs `apply` on the home thread, if the mirrored track is still wanted.
template <class F>
void to_home(const asio::any_io_executor& home, const std::weak_ptr<Sink>& sink, F&& apply) {
  asio::post(home, [sink, apply = std::forward<F>(apply)]() mutable {
    if (auto s = sink.lock()) apply(*s);
  });
}

// Owner thread: what one forwarded track still has in flight. Its end goes
// home only after every segment's end did, so that the home side never sees a
// track end before segments the source still had.
struct TrackForward {
  std::weak_ptr<Sink> sink;
  asio::any_io_executor home;
  size_t segments_in_flight = 0;
  std::optional<Error> end;

  void end_home_if_done() {
    if (!end || segments_in_flight > 0) return;
    to_home(home, sink, [end = *end](Sink& s) { (void)s.track.close(end); });
  }
};

// Owner thread: one segment, its chunks sent home in batches of whatever is
// there when the home thread is told. Its creation was posted home already.
asio::awaitable<void> forward_segment(cache::SegmentReader segment, uint64_t id,
                                      std::shared_ptr<TrackForward> track) {
  const auto& sink = track->sink;
  const auto& home = track->home;
  // A chunk goes home with the frame starts it begins (moq-lite / IETF
  // publishers' frames; none for KIXEL_00 objects).
  struct Piece {
    std::vector<cache::FrameStart> frames;
    std::optional<Bytes> chunk;
  };
  auto write = [](cache::SegmentWriter& w, Piece& p) {
    for (const auto& f : p.frames)
      (void)w.start_frame(f);
    if (p.chunk) (void)w.write(std::move(*p.chunk));
  };
  for (;;) {
    const size_t index = segment.next_chunk_index();
    auto chunk = co_await segment.next_chunk();
    if (sink.expired()) break;
    if (!chunk) {
      Piece tail{segment.frames_at(segment.next_chunk_index()), std::nullopt};
      to_home(home, sink, [id, end = chunk.error(), tail, write](Sink& s) mutable {
        auto it = s.segments.find(id);
        if (it == s.segments.end()) return;
        write(it->second, tail);
        (void)it->second.close(end);
        s.segments.erase(it);
      });
      break;
    }
    std::vector<Piece> batch;
    batch.push_back(Piece{segment.frames_at(index), std::move(*chunk)});
    for (;;) {
      const size_t more_index = segment.next_chunk_index();
      auto more = segment.try_next_chunk();
      if (!more || !*more) break;
      batch.push_back(Piece{segment.frames_at(more_index), std::move(**more)});
    }
    to_home(home, sink, [id, batch = std::move(batch), write](Sink& s) mutable {
      auto it = s.segments.find(id);
      if (it == s.segments.end()) return;
      for (auto& p : batch)
        write(it->second, p);
    });
  }
  --track->segments_in_flight;
  track->end_home_if_done();
}

// Owner thread: one track of the source, its segments forwarded as they come.
// Each segment's creation is posted home here, in the source's order (a
// spawned forwarder would post it only when it first runs, possibly after the
// track's end).
asio::awaitable<void> forward_track(cache::BroadcastReader source, std::string name,
                                    std::weak_ptr<Sink> sink, asio::any_io_executor home) {
  auto owner = co_await asio::this_coro::executor;
  auto forward = std::make_shared<TrackForward>();
  forward->sink = sink;
  forward->home = home;
  auto track = source.request_track(name);
  if (!track) {
    forward->end = track.error();
    forward->end_home_if_done();
    co_return;
  }
  uint64_t next_id = 0;
  for (;;) {
    auto segment = co_await track->next_segment();
    if (sink.expired()) co_return;
    if (!segment) {
      forward->end = segment.error();
      forward->end_home_if_done();
      co_return;
    }
    const uint64_t id = next_id++;
    to_home(home, sink, [id, info = segment->info()](Sink& s) {
      auto created = s.track.create_segment(info);
      if (created) s.segments.emplace(id, std::move(*created));
    });
    ++forward->segments_in_flight;
    asio::co_spawn(owner, forward_segment(std::move(*segment), id, forward), asio::detached);
  }
}

// Home thread: the mirror's unknown-track requests, each forwarded to the
// owner. Holds only the writer, so that the mirror can go away.
asio::awaitable<void> serve_requests(std::weak_ptr<Mirror> mirror, cache::BroadcastWriter writer,
                                     std::shared_ptr<std::vector<std::shared_ptr<Sink>>> sinks,
                                     asio::any_io_executor owner, cache::BroadcastReader source) {
  auto home = co_await asio::this_coro::executor;
  for (;;) {
    auto request = co_await writer.next_request();
    if (!request || mirror.expired()) co_return;
    // Tracks that ended are forgotten (a failed one may be asked for again).
    std::erase_if(*sinks, [](const auto& s) { return s->track.closed().has_value(); });
    sinks->push_back(fill_track(std::move(*request), home, owner, source));
  }
}

}  // namespace

std::shared_ptr<Mirror::TrackSink> fill_track(cache::TrackWriter track, asio::any_io_executor home,
                                              asio::any_io_executor owner,
                                              cache::BroadcastReader source) {
  auto sink = std::make_shared<Sink>(std::move(track));
  std::string name = sink->track.name();
  asio::co_spawn(owner, forward_track(std::move(source), std::move(name), sink, std::move(home)),
                 asio::detached);
  return sink;
}

Mirror::Mirror(asio::any_io_executor home, asio::any_io_executor owner,
               cache::BroadcastReader source,
               std::pair<cache::BroadcastWriter, cache::BroadcastReader> local)
    : home_(std::move(home)),
      owner_(std::move(owner)),
      source_(std::move(source)),
      writer_(std::move(local.first)),
      reader_(std::move(local.second)) {}

std::shared_ptr<Mirror> Mirror::create(asio::any_io_executor home, asio::any_io_executor owner,
                                       cache::BroadcastReader source) {
  std::shared_ptr<Mirror> mirror(
      new Mirror(home, owner, std::move(source), cache::make_broadcast()));
  auto sinks = std::make_shared<std::vector<std::shared_ptr<TrackSink>>>();
  mirror->sinks_ = sinks;
  asio::co_spawn(
      home,
      serve_requests(mirror, mirror->writer_, std::move(sinks), mirror->owner_, mirror->source_),
      asio::detached);
  return mirror;
}

Mirror::~Mirror() {
  // Ends the request loop; the owner's forwarders stop at their next step.
  (void)writer_.close(Error::closed());
}

std::shared_ptr<Mirror> Mirrors::get(uint64_t token, asio::any_io_executor owner,
                                     const cache::BroadcastReader& source) {
  if (auto it = by_token_.find(token); it != by_token_.end()) {
    if (auto live = it->second.lock()) return live;
  }
  std::erase_if(by_token_, [](const auto& entry) { return entry.second.expired(); });
  auto mirror = Mirror::create(home_, std::move(owner), source);
  by_token_[token] = mirror;
  return mirror;
}

}  // namespace moq::relay
