#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>

#include "cache/broadcast.h"
#include "cache/segment.h"
#include "cache/track.h"
#include "coding/bytes.h"
#include "coding/error.h"
#include "coding/result.h"
#include "media/segmenter.h"

namespace moq::pub {

// Counters for logs and tests.
struct PublishStats {
  uint64_t fragments = 0;  // moof+mdat pairs published
  uint64_t segments = 0;   // data segments opened
  uint64_t bytes = 0;      // of moof+mdat
};

// Fills a broadcast from a fragmented MP4 byte stream, following the
// publishing conventions (moq-transport.md):
//  - `.catalog`: one segment (sequence 0, priority INT32_MAX, never expires)
//    holding the catalog JSON;
//  - the init track `1.mp4`: one such segment holding ftyp+moov;
//  - one data track per MP4 track, named by its decimal track_ID, with a new
//    segment at each keyframe fragment (the Segmenter decides sequence,
//    priority and expiry); moof and mdat are appended as two chunks that
//    share the input's bytes.
// Requests for any other track name are answered 404. Requests that arrive
// before the moov (when the data track names are not known yet) wait for it.
class MediaPublisher {
 public:
  MediaPublisher(cache::BroadcastWriter broadcast, media::SegmenterOptions options);

  // More input. An error is bad input and final: the caller stops.
  Result<void> feed(Bytes chunk);
  // End of input: publishes what was held back (the catalog), finishes the
  // last segments and ends every track and the broadcast cleanly (code 0).
  Result<void> finish();
  // Gives up (bad input, lost relay): every track ends with `error`. With
  // Error::closed() it is a clean end with what was complete (interrupted).
  void abort(const Error& error);

  // Answers the broadcast's requests for unknown tracks until it closes.
  asio::awaitable<void> serve_requests();

  const PublishStats& stats() const { return stats_; }
  const media::Segmenter& segmenter() const { return ingest_.segmenter(); }

 private:
  Result<void> handle(media::SegmenterEvent& event);
  Result<void> on_init(const media::InitSegment& init);
  Result<void> on_catalog(const media::CatalogReady& catalog);
  Result<void> on_fragment(const media::FragmentReady& fragment);
  // A track this publisher fills: created, or adopted from a parked request.
  Result<cache::TrackWriter*> track(const std::string& name);
  // Writes one whole, never-expiring segment (catalog, init).
  Result<void> write_single(const std::string& name, Bytes payload, uint64_t sequence,
                            int32_t priority);
  void on_request(cache::TrackWriter request);
  // Once the data track names are known: serve or refuse parked requests.
  void settle_parked();

  cache::BroadcastWriter broadcast_;
  std::string init_track_;
  Bytes init_bytes_;  // for the hang catalog.json
  media::Mp4Ingest ingest_;
  std::map<std::string, cache::TrackWriter> tracks_;
  std::map<std::string, cache::SegmentWriter> open_segments_;
  std::vector<cache::TrackWriter> parked_;  // requests before the moov
  bool names_known_ = false;
  bool ended_ = false;
  std::vector<media::SegmenterEvent> events_;  // reused between feeds
  PublishStats stats_;
};

}  // namespace moq::pub
