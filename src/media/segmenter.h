#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "coding/bytes.h"
#include "coding/result.h"
#include "media/box_reader.h"
#include "media/catalog.h"
#include "media/moof.h"
#include "media/moov.h"

namespace moq::media {

// How the publisher fills the catalog's frame_rate and bit_rate.
//
// The catalog goes out as soon as the moov is read, so that viewers can start
// with the broadcast's first group: values not given, not declared (btrt,
// esds) and not yet measured are left out, except frame_rate, which falls
// back to `fallback_frame_rate` (players require it).
//
// Detection policy (for each video track whose value is not given): measure
// the track's fragments from its first one until at least `detect_min_ms` of
// media time has passed AND the next keyframe fragment starts (so whole GOPs
// are measured: bytes of moof+mdat and sample count over summed sample
// durations), or until `detect_max_ms` have passed for very long GOPs. Once
// every such video track is measured (about one second for usual live
// settings), or at end of input, a corrected catalog follows if the measured
// values differ: the next segment of `.catalog`, which players follow.
// Audio tracks never wait: their bit_rate comes from the esds/btrt average
// when declared, else from whatever was measured by then.
struct SegmenterOptions {
  std::optional<double> frame_rate;  // video, e.g. from --fps
  std::optional<uint64_t> bit_rate;  // video, e.g. from --bitrate
  std::string init_track = std::string(kInitTrack);
  uint64_t detect_min_ms = 1000;
  uint64_t detect_max_ms = 5000;
  double fallback_frame_rate = 24;
  uint64_t expires_seconds = 10;  // of every data segment
  // Audio frames are each a keyframe: a segment (one QUIC stream per viewer)
  // per frame would be ~47 streams a second. A new audio segment starts at
  // the first frame at least this long after the current one's start (0: a
  // segment per fragment). Every segment stays decodable on its own.
  uint64_t audio_segment_ms = 200;
  uint64_t max_box_size = kDefaultMaxBoxSize;
};

// The ftyp+moov bytes: the single segment of the init track.
struct InitSegment {
  std::string track;  // options.init_track
  Bytes bytes;
};

// A catalog to publish as segment `sequence` of `.catalog`: the first right
// after the moov (`provisional` when measurements are still to come), then
// at most one correction.
struct CatalogReady {
  Catalog catalog;
  std::string json;
  uint64_t sequence = 0;
  bool provisional = false;
};

// One moof+mdat pair to append to a data track. When `new_segment` is set the
// caller first finishes the track's current segment and opens segment
// `sequence` with `priority` and `expires_seconds`; otherwise the bytes go
// into the open segment (which has that same sequence).
struct FragmentReady {
  uint32_t track_id = 0;
  std::string track;  // data track name: decimal track_ID
  bool new_segment = false;
  uint64_t sequence = 0;
  // Decode time in ms modulo 2^31: non-negative and growing for 24.8 days of
  // media time, then it restarts at 0. Only segments within one expiry
  // window (10 s) compete, so a wrap costs one brief misordering at most.
  int32_t priority = 0;
  uint64_t expires_seconds = 0;
  uint64_t decode_ms = 0;  // base decode time * 1000 / timescale
  TrackFragment info;
  Bytes moof;  // both shared with the input, not copied
  Bytes mdat;
};

using SegmenterEvent = std::variant<InitSegment, CatalogReady, FragmentReady>;

// Turns the top-level boxes of a fragmented MP4 (ftyp, moov, then moof+mdat
// pairs; styp, sidx, free, mfra, ... ignored) into what moq-pub publishes.
// Sans-IO: events are appended to `out`; the first error is final.
class Segmenter {
 public:
  explicit Segmenter(SegmenterOptions options = {});

  Result<void> push(const Box& box, std::vector<SegmenterEvent>& out);
  // End of input: emits the catalog if it was still held back, and fails if
  // the stream stopped before moov or between a moof and its mdat.
  Result<void> finish(std::vector<SegmenterEvent>& out);

  const MovieInfo* movie() const { return moov_seen_ ? &movie_ : nullptr; }
  // The catalog is final: measured, or nothing to measure.
  bool catalog_final() const { return catalog_final_; }

 private:
  struct Measure {
    uint64_t bytes = 0;
    uint64_t samples = 0;
    uint64_t ticks = 0;
    bool complete = false;
  };
  struct TrackState {
    size_t index = 0;  // into movie_.tracks
    std::string name;
    bool started = false;
    uint64_t next_sequence = 0;
    uint64_t next_decode = 0;       // used when a traf has no tfdt
    uint64_t segment_start_ms = 0;  // decode time of the open segment's start
    Measure measure;
  };

  Result<void> fail(std::string why);
  Result<void> on_moov(const Box& box, std::vector<SegmenterEvent>& out);
  Result<void> on_moof(const Box& box);
  Result<void> on_mdat(const Box& box, std::vector<SegmenterEvent>& out);
  void measure(TrackState& t, const TrackFragment& f, uint64_t bytes);
  bool catalog_waiting() const;
  // Emits the catalog as it stands, unless it equals the last one emitted.
  void emit_catalog(std::vector<SegmenterEvent>& out, bool final);

  SegmenterOptions options_;
  std::optional<Error> error_;
  bool first_box_ = true;
  Bytes ftyp_;
  bool moov_seen_ = false;
  MovieInfo movie_;
  std::map<uint32_t, TrackState> tracks_;
  bool catalog_final_ = false;
  uint64_t catalog_sequence_ = 0;
  std::string last_catalog_json_;
  std::optional<Box> pending_moof_;
  TrackFragment pending_info_;
};

// The whole publisher input path: a BoxReader feeding a Segmenter, so the
// caller hands in raw chunks from stdin. An input that does not start with an
// ftyp box is reported as "not an MP4 stream".
class Mp4Ingest {
 public:
  explicit Mp4Ingest(SegmenterOptions options = {});

  Result<void> feed(Bytes chunk, std::vector<SegmenterEvent>& out);
  Result<void> finish(std::vector<SegmenterEvent>& out);

  const Segmenter& segmenter() const { return segmenter_; }

 private:
  Result<void> drain(std::vector<SegmenterEvent>& out);
  Error explain(const Error& e) const;

  BoxReader reader_;
  Segmenter segmenter_;
};

}  // namespace moq::media
