#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "async/notify.h"
#include "cache/broadcast.h"
#include "cache/segment.h"
#include "cache/track.h"
#include "coding/bytes.h"
#include "coding/error.h"
#include "coding/result.h"
#include "media/catalog.h"
#include "media/fmp4_writer.h"

namespace moq::sub {

struct SubscribeStats {
  uint64_t segments = 0;          // data segments taken
  uint64_t segments_skipped = 0;  // older than one already written
  uint64_t segments_failed = 0;   // reset by the relay or malformed
};

// Turns a MoQ broadcast (the publishing conventions of moq-transport.md)
// back into one fragmented MP4: reads `.catalog`, subscribes the init track
// and the chosen data tracks, and hands the init segment and then whole
// moof+mdat fragments to `sink` in arrival order (media::Fmp4Writer).
//
// Per data track, segments are taken in sequence order: the cache hands out
// the newest first when several are ready (right for a relay, wrong for a
// file), so every ready segment is collected and the oldest one not older
// than what was already written goes first; when the next sequence is
// missing, a short reorder window lets it catch up. A segment older than one
// already written is skipped (the output never goes back in time). A late
// joiner, who gets the relay's cached segments (seconds of them) newest
// first, starts at the newest one: the live edge, at a keyframe; or, with
// set_from_start(), at the oldest one, after a moment (kStartWindow) for the
// cached segments to arrive.
class MediaSubscriber {
 public:
  using Sink = std::function<void(Bytes)>;

  MediaSubscriber(asio::any_io_executor executor, cache::BroadcastReader broadcast, Sink sink);

  // Reads the catalog (waits for its segment). 404 when there is no such
  // broadcast; 500 for JSON that is not a catalog.
  asio::awaitable<Result<std::string>> read_catalog_json();

  // Subscribes `data_tracks` of `catalog` (all when empty) and writes until
  // every one of them and the init track ended. Ok when they all ended
  // cleanly; otherwise the first error.
  asio::awaitable<Result<void>> run(media::Catalog catalog, std::vector<std::string> data_tracks);

  // Start every data track at the oldest cached segment instead of the
  // newest (call before run()).
  void set_from_start(bool from_start) { from_start_ = from_start; }

  const SubscribeStats& stats() const { return stats_; }
  const media::Fmp4Writer& writer() const { return writer_; }

 private:
  asio::awaitable<void> run_init(cache::TrackReader track);
  asio::awaitable<void> run_data(cache::TrackReader track);
  asio::awaitable<void> copy_segment(const std::string& track, cache::SegmentReader segment);
  void emit(std::vector<Bytes>& out);
  // A track task ended: with an error, the whole run ends with it.
  void task_done(const std::string& track, std::optional<Error> error);

  asio::any_io_executor executor_;
  cache::BroadcastReader broadcast_;
  Sink sink_;
  media::Fmp4Writer writer_;
  async::Notify changed_;
  bool init_written_ = false;
  bool from_start_ = false;
  size_t tasks_ = 0;
  std::optional<Error> error_;
  SubscribeStats stats_;
};

// A readable error for a track that ended with `error` (404 → "not found").
Error track_error(const std::string& track, const Error& error);

}  // namespace moq::sub
