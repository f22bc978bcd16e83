#include "media_publisher.h"

#include "media/hang.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <limits>
#include <utility>
#include <variant>

namespace moq::pub {
namespace {

constexpr int32_t kTopPriority = std::numeric_limits<int32_t>::max();

}  // namespace

MediaPublisher::MediaPublisher(cache::BroadcastWriter broadcast, media::SegmenterOptions options)
    : broadcast_(std::move(broadcast)),
      init_track_(options.init_track),
      ingest_(std::move(options)) {
  // Known from the start, so a subscriber that asks before they are filled
  // simply waits for their segment instead of getting 404.
  (void)track(std::string(media::kCatalogTrack));
  (void)track(init_track_);
}

Result<void> MediaPublisher::feed(Bytes chunk) {
  if (ended_) return Error::internal("input after the end");
  events_.clear();
  auto fed = ingest_.feed(std::move(chunk), events_);
  // Publish what was complete before an error too; the caller then aborts.
  for (auto& event : events_) {
    if (auto r = handle(event); !r) return r;
  }
  return fed;
}

Result<void> MediaPublisher::finish() {
  if (ended_) return {};
  events_.clear();
  auto finished = ingest_.finish(events_);
  for (auto& event : events_) {
    if (auto r = handle(event); !r) return r;
  }
  if (!finished) return finished;
  ended_ = true;
  for (auto& [name, segment] : open_segments_)
    (void)segment.finish();
  open_segments_.clear();
  for (auto& [name, writer] : tracks_)
    (void)writer.finish();
  for (auto& request : parked_)
    (void)request.close(Error::not_found());
  parked_.clear();
  (void)broadcast_.close(Error::closed());
  spdlog::info("input ended: {} fragments in {} segments, {} bytes", stats_.fragments,
               stats_.segments, stats_.bytes);
  return {};
}

void MediaPublisher::abort(const Error& error) {
  ended_ = true;
  for (auto& [name, segment] : open_segments_)
    (void)segment.close(error);
  open_segments_.clear();
  for (auto& [name, writer] : tracks_)
    (void)writer.close(error);
  for (auto& request : parked_)
    (void)request.close(error);
  parked_.clear();
  (void)broadcast_.close(error);
}

asio::awaitable<void> MediaPublisher::serve_requests() {
  for (;;) {
    auto request = co_await broadcast_.next_request();
    if (!request) co_return;  // the broadcast is over
    on_request(std::move(*request));
  }
}

void MediaPublisher::on_request(cache::TrackWriter request) {
  // Known tracks live in the broadcast, so their requests never come here;
  // before the moov a data track name may still turn out to be valid.
  if (!names_known_ && !ended_) {
    spdlog::debug("request for '{}' waits for the moov", request.name());
    parked_.push_back(std::move(request));
    return;
  }
  spdlog::debug("request for unknown track '{}': 404", request.name());
  (void)request.close(Error::not_found());
}

void MediaPublisher::settle_parked() {
  auto parked = std::move(parked_);
  parked_.clear();
  for (auto& request : parked) {
    auto it = tracks_.find(request.name());
    if (it == tracks_.end()) (void)request.close(Error::not_found());
  }
}

Result<cache::TrackWriter*> MediaPublisher::track(const std::string& name) {
  auto it = tracks_.find(name);
  if (it != tracks_.end()) return &it->second;
  // A request for this name may be parked: it holds the name, so fill it.
  for (auto p = parked_.begin(); p != parked_.end(); ++p) {
    if (p->name() == name) {
      auto [inserted, ok] = tracks_.emplace(name, std::move(*p));
      parked_.erase(p);
      return &inserted->second;
    }
  }
  auto created = broadcast_.create_track(name);
  if (!created) return created.error();
  auto [inserted, ok] = tracks_.emplace(name, std::move(*created));
  return &inserted->second;
}

Result<void> MediaPublisher::write_single(const std::string& name, Bytes payload, uint64_t sequence,
                                          int32_t priority) {
  auto writer = track(name);
  if (!writer) return writer.error();
  auto segment = (*writer)->create_segment(
      cache::SegmentInfo{.sequence = sequence, .priority = priority, .expires = std::nullopt});
  if (!segment) return segment.error();
  if (auto r = segment->write(std::move(payload)); !r) return r;
  return segment->finish();
}

Result<void> MediaPublisher::handle(media::SegmenterEvent& event) {
  if (auto* init = std::get_if<media::InitSegment>(&event)) return on_init(*init);
  if (auto* catalog = std::get_if<media::CatalogReady>(&event)) return on_catalog(*catalog);
  return on_fragment(std::get<media::FragmentReady>(event));
}

Result<void> MediaPublisher::on_init(const media::InitSegment& init) {
  if (auto r = write_single(init.track, init.bytes, 0, kTopPriority); !r) return r;
  init_bytes_ = init.bytes;
  // The moov names the data tracks: create them all now, so subscribers may
  // ask for them before their first fragment.
  if (const media::MovieInfo* movie = segmenter().movie()) {
    for (const auto& info : movie->tracks) {
      if (auto t = track(std::to_string(info.id)); !t) return t.error();
    }
  }
  names_known_ = true;
  settle_parked();
  spdlog::info("init segment: {} bytes, {} tracks", init.bytes.size(),
               segmenter().movie() ? segmenter().movie()->tracks.size() : 0);
  return {};
}

Result<void> MediaPublisher::on_catalog(const media::CatalogReady& catalog) {
  spdlog::info(
      "catalog{} (segment {}): {}",
      catalog.provisional ? ", provisional until frame rate and bit rate are measured" : "",
      catalog.sequence, catalog.json);
  // Both stay cached (they never expire). A viewer that joins later is handed
  // the highest priority first: the correction outranks the provisional one,
  // so even a player that reads only one segment of `.catalog` gets it.
  const int32_t priority = catalog.provisional ? kTopPriority - 1 : kTopPriority;
  if (auto r = write_single(std::string(media::kCatalogTrack), Bytes::copy(catalog.json),
                            catalog.sequence, priority);
      !r) {
    return r;
  }
  // The same in the hang format, for today's players (@moq/watch) when the
  // session speaks moq-lite (docs/dialects.md §4): catalog.json, one
  // single-track CMAF init per rendition; the data tracks are shared.
  auto hang = media::hang_catalog_from_kixel(catalog.json, init_bytes_.span());
  if (!hang) {
    spdlog::warn("no hang catalog.json: {}", hang.error().reason);
    return {};
  }
  return write_single(std::string(media::kHangCatalogTrack), Bytes::copy(*hang), catalog.sequence,
                      priority);
}

Result<void> MediaPublisher::on_fragment(const media::FragmentReady& f) {
  auto writer = track(f.track);
  if (!writer) return writer.error();
  auto open = open_segments_.find(f.track);
  if (f.new_segment || open == open_segments_.end()) {
    if (open != open_segments_.end()) {
      (void)open->second.finish();
      open_segments_.erase(open);
    }
    const auto expires =
        std::chrono::duration_cast<async::Clock::duration>(std::chrono::seconds(f.expires_seconds));
    auto segment = (*writer)->create_segment(
        cache::SegmentInfo{.sequence = f.sequence, .priority = f.priority, .expires = expires});
    if (!segment) return segment.error();
    open = open_segments_.emplace(f.track, std::move(*segment)).first;
    ++stats_.segments;
  }
  // Two chunks that share the input's memory: no copy here or per subscriber.
  if (auto r = open->second.write(f.moof); !r) return r;
  if (auto r = open->second.write(f.mdat); !r) return r;
  ++stats_.fragments;
  stats_.bytes += f.moof.size() + f.mdat.size();
  return {};
}

}  // namespace moq::pub
