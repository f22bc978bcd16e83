#include "media_subscriber.h"

#include <spdlog/spdlog.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <map>
#include <set>
#include <utility>

namespace moq::sub {
namespace {

// How long a data track waits for a missing older segment (see run_data).
constexpr std::chrono::milliseconds kReorderWindow{60};
constexpr std::chrono::milliseconds kReorderStep{5};
// Ready segments spanning more media time than this (priority = decode time
// in ms) at the start are a relay's cache, not live arrivals (see run_data).
constexpr std::chrono::milliseconds kLiveSpan{500};
// From the start: how long the first segment waits for older cached ones,
// which the relay sends after newer ones.
constexpr std::chrono::milliseconds kStartWindow{300};

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  asio::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace

Error track_error(const std::string& track, const Error& error) {
  if (error.code == code::kNotFound) return {code::kNotFound, "track '" + track + "' not found"};
  return {error.code, "track '" + track + "' ended: " + error.reason + " (code " +
                          std::to_string(error.code) + ")"};
}

MediaSubscriber::MediaSubscriber(asio::any_io_executor executor, cache::BroadcastReader broadcast,
                                 Sink sink)
    : executor_(std::move(executor)), broadcast_(std::move(broadcast)), sink_(std::move(sink)) {}

asio::awaitable<Result<std::string>> MediaSubscriber::read_catalog_json() {
  const std::string name(media::kCatalogTrack);
  auto track = broadcast_.request_track(name);
  if (!track) co_return track_error(name, track.error());
  auto segment = co_await track->next_segment();
  if (!segment) {
    const Error& e = segment.error();
    if (e.code == code::kNotFound) co_return Error{code::kNotFound, "broadcast not found"};
    if (e.is_closed()) co_return Error{code::kNotFound, "the broadcast ended before its catalog"};
    co_return track_error(name, e);
  }
  std::string json;
  for (;;) {
    auto chunk = co_await segment->next_chunk();
    if (!chunk) {
      if (chunk.error().is_closed()) break;
      co_return track_error(name, chunk.error());
    }
    json += chunk->view();
  }
  co_return json;
}

asio::awaitable<Result<void>> MediaSubscriber::run(media::Catalog catalog,
                                                   std::vector<std::string> data_tracks) {
  std::vector<const media::CatalogTrack*> picks;
  std::string available;
  for (const auto& t : catalog.tracks)
    available += (available.empty() ? "" : ", ") + t.data_track + " (" + t.kind + ")";
  if (data_tracks.empty()) {
    for (const auto& t : catalog.tracks)
      picks.push_back(&t);
  } else {
    for (const auto& name : data_tracks) {
      const media::CatalogTrack* found = nullptr;
      for (const auto& t : catalog.tracks) {
        if (t.data_track == name) found = &t;
      }
      if (!found) {
        co_return Error{code::kNotFound,
                        "track '" + name + "' is not in the catalog (tracks: " + available + ")"};
      }
      picks.push_back(found);
    }
  }
  if (picks.empty()) co_return Error{code::kNotFound, "the catalog lists no tracks"};
  std::set<std::string> init_tracks;
  for (const auto* t : picks)
    init_tracks.insert(t->init_track);
  if (init_tracks.size() > 1) {
    co_return Error{code::kInternal,
                    "tracks with different init tracks can't share one MP4 output; "
                    "choose tracks with --track"};
  }

  // Every subscription goes out at once; the data tasks hold their segments
  // (in the cache) until the init segment was written.
  const std::string init_name = *init_tracks.begin();
  auto init = broadcast_.request_track(init_name);
  if (!init) co_return track_error(init_name, init.error());
  std::vector<cache::TrackReader> readers;
  std::set<std::string> seen;
  for (const auto* t : picks) {
    if (!seen.insert(t->data_track).second) continue;
    auto reader = broadcast_.request_track(t->data_track);
    if (!reader) co_return track_error(t->data_track, reader.error());
    readers.push_back(std::move(*reader));
  }
  tasks_ = 1 + readers.size();
  asio::co_spawn(executor_, run_init(std::move(*init)), asio::detached);
  for (auto& reader : readers)
    asio::co_spawn(executor_, run_data(std::move(reader)), asio::detached);
  while (!error_ && tasks_ > 0) {
    const bool woke = co_await changed_.wait();
    if (!woke) co_return Error{code::kStop, "cancelled"};
  }
  if (error_) co_return *error_;
  co_return Result<void>{};
}

asio::awaitable<void> MediaSubscriber::run_init(cache::TrackReader track) {
  const std::string name = track.name();
  auto segment = co_await track.next_segment();
  if (!segment) {
    const Error& e = segment.error();
    co_return task_done(
        name, e.is_closed() ? Error{code::kInternal, "init track '" + name + "' ended without data"}
                            : track_error(name, e));
  }
  std::vector<uint8_t> bytes;
  for (;;) {
    auto chunk = co_await segment->next_chunk();
    if (!chunk) {
      if (chunk.error().is_closed()) break;
      co_return task_done(name, track_error(name, chunk.error()));
    }
    bytes.insert(bytes.end(), chunk->data(), chunk->data() + chunk->size());
  }
  const size_t size = bytes.size();
  std::vector<Bytes> out;
  auto written = writer_.init(Bytes(std::move(bytes)), out);
  if (!written) {
    co_return task_done(name,
                        Error{code::kInternal, "bad init segment: " + written.error().reason});
  }
  emit(out);
  init_written_ = true;
  changed_.notify_all();
  spdlog::info("init segment written ({} bytes)", size);
  // The init track stays open for the broadcast's lifetime.
  for (;;) {
    auto more = co_await track.next_segment();
    if (!more) {
      const Error& e = more.error();
      co_return task_done(name, e.is_closed() ? std::nullopt : std::optional(track_error(name, e)));
    }
  }
}

asio::awaitable<void> MediaSubscriber::run_data(cache::TrackReader track) {
  const std::string name = track.name();
  while (!init_written_) {
    if (error_) co_return task_done(name, std::nullopt);
    const bool woke = co_await changed_.wait();
    if (!woke) co_return;
  }
  std::map<uint64_t, cache::SegmentReader> ready;  // by sequence
  std::optional<uint64_t> newest;                  // last sequence taken
  std::optional<Error> end;
  // Moves every segment that is ready now into `ready`, dropping those older
  // than one already taken.
  auto collect = [&] {
    while (!end) {
      auto more = track.try_next_segment();
      if (!more) {
        end = more.error();
        break;
      }
      if (!*more) break;
      ready.emplace((*more)->sequence(), std::move(**more));
    }
    while (newest && !ready.empty() && ready.begin()->first <= *newest) {
      ready.erase(ready.begin());
      ++stats_.segments_skipped;
    }
  };
  for (;;) {
    if (error_) break;
    if (ready.empty()) {
      if (end) break;
      auto segment = co_await track.next_segment();
      if (!segment) {
        end = segment.error();
        continue;
      }
      ready.emplace(segment->sequence(), std::move(*segment));
    }
    collect();
    if (ready.empty()) continue;
    if (!newest && from_start_) {
      co_await sleep_for(kStartWindow);
      collect();
    }
    if (!newest && ready.size() > 1 && !from_start_) {
      // The first segment. A late joiner gets the relay's cache (seconds of
      // segments, newest first): start at the newest, the live edge. Segments
      // only a moment apart are live ones that queued up: keep them all.
      const int64_t span =
          int64_t{ready.rbegin()->second.priority()} - int64_t{ready.begin()->second.priority()};
      if (span < 0 || span > kLiveSpan.count()) {
        while (ready.size() > 1) {
          ready.erase(ready.begin());
          ++stats_.segments_skipped;
        }
      }
    }
    // A gap before the oldest ready segment: the missing one may be a moment
    // behind (a relay sends the newest first when several are ready), so
    // give it a short chance before going on without it.
    const uint64_t expected = newest ? *newest + 1 : ready.begin()->first;
    for (auto waited = std::chrono::milliseconds(0);
         !end && !error_ && ready.begin()->first != expected && waited < kReorderWindow;
         waited += kReorderStep) {
      co_await sleep_for(kReorderStep);
      collect();
    }
    if (error_) break;
    auto node = ready.extract(ready.begin());
    newest = node.key();
    ++stats_.segments;
    co_await copy_segment(name, std::move(node.mapped()));
  }
  if (!end || end->is_closed()) co_return task_done(name, std::nullopt);
  task_done(name, track_error(name, *end));
}

asio::awaitable<void> MediaSubscriber::copy_segment(const std::string& track,
                                                    cache::SegmentReader segment) {
  const uint64_t sequence = segment.sequence();
  std::vector<Bytes> out;
  for (;;) {
    auto chunk = co_await segment.next_chunk();
    if (!chunk) {
      if (chunk.error().is_closed()) {
        if (auto ended = writer_.end(track, sequence); !ended) {
          ++stats_.segments_failed;
          spdlog::warn("track {} segment {}: {}", track, sequence, ended.error().reason);
        }
      } else {
        // Dropped by the relay (a slow subscriber) or the session ended.
        ++stats_.segments_failed;
        spdlog::debug("track {} segment {} reset: {}", track, sequence, chunk.error().reason);
        writer_.abort(track, sequence);
      }
      co_return;
    }
    out.clear();
    auto written = writer_.data(track, sequence, std::move(*chunk), out);
    emit(out);
    if (!written) {
      ++stats_.segments_failed;
      spdlog::warn("track {} segment {}: {}", track, sequence, written.error().reason);
      co_return;
    }
  }
}

void MediaSubscriber::emit(std::vector<Bytes>& out) {
  for (auto& bytes : out)
    sink_(std::move(bytes));
  out.clear();
}

void MediaSubscriber::task_done(const std::string& track, std::optional<Error> error) {
  if (tasks_ > 0) --tasks_;
  if (error && !error_) {
    spdlog::debug("track {} failed: {}", track, error->reason);
    error_ = std::move(error);
  }
  changed_.notify_all();
}

}  // namespace moq::sub
