#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "coding/result.h"
#include "media/moov.h"

namespace moq::media {

// A keyframe (sync sample) per ISO/IEC 14496-12 8.8.3.1 sample flags:
// sample_depends_on == 2 (depends on no other) and not sample_is_non_sync_sample.
constexpr bool is_keyframe(uint32_t sample_flags) {
  const uint32_t depends_on = (sample_flags >> 24) & 0x3;
  const bool non_sync = (sample_flags >> 16) & 0x1;
  return depends_on == 2 && !non_sync;
}

// One traf of a moof: what the segmenter needs about a fragment of a track.
struct TrackFragment {
  uint32_t track_id = 0;
  bool has_decode_time = false;     // a tfdt was present
  uint64_t base_decode_time = 0;    // tfdt, in the track's timescale
  uint64_t sample_count = 0;        // over every trun of the traf
  uint64_t duration = 0;            // sum of sample durations (timescale ticks)
  uint64_t sample_bytes = 0;        // sum of sample sizes
  uint32_t first_sample_flags = 0;  // resolved flags of the first sample
  bool first_is_keyframe = false;
};

// Parses a whole moof box (header included). `movie` supplies the trex
// defaults of each track (may be null: then only tfhd/trun values count).
// Sample flags resolve in the order first_sample_flags -> per-sample flags ->
// tfhd default_sample_flags -> trex default_sample_flags; durations and sizes
// likewise without the first step.
Result<std::vector<TrackFragment>> parse_moof(std::span<const uint8_t> moof_box,
                                              const MovieInfo* movie);

// ticks * 1000 / timescale without overflowing for any 64-bit tick count.
uint64_t ticks_to_millis(uint64_t ticks, uint32_t timescale);

}  // namespace moq::media
