#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "coding/result.h"
#include "media/fourcc.h"

namespace moq::media {

enum class TrackKind { kVideo, kAudio, kOther };

const char* to_string(TrackKind kind);

// Per-sample defaults (trex in mvex, overridable by tfhd in each traf).
struct SampleDefaults {
  uint32_t description_index = 0;
  uint32_t duration = 0;
  uint32_t size = 0;
  uint32_t flags = 0;
};

// What the catalog and the fragment parser need to know about one trak.
struct TrackInfo {
  uint32_t id = 0;  // tkhd track_ID: names the data track
  FourCC handler;   // hdlr handler_type: 'vide', 'soun', ...
  TrackKind kind = TrackKind::kOther;
  uint32_t timescale = 0;  // mdhd: ticks per second
  FourCC sample_entry;     // first stsd entry: avc1, hev1, av01, mp4a, Opus, ...
  // RFC 6381 codec string; empty when the sample entry is not one we know
  // (the track is still forwarded, but the catalog leaves it out).
  std::string codec;

  // Visual sample entry.
  uint16_t width = 0;
  uint16_t height = 0;
  // Audio sample entry.
  uint16_t channel_count = 0;
  uint32_t sample_rate = 0;
  uint16_t sample_size = 0;
  // From esds or btrt; 0 when the muxer did not know (typical for live).
  uint32_t max_bitrate = 0;
  uint32_t avg_bitrate = 0;
  // The decoder configuration WebCodecs calls "description": the avcC /
  // hvcC / av1C payload, or the esds AudioSpecificConfig; empty if none.
  std::vector<uint8_t> decoder_config;

  SampleDefaults trex;  // mvex/trex for this track (zeros when absent)
};

struct MovieInfo {
  std::vector<TrackInfo> tracks;

  const TrackInfo* find(uint32_t track_id) const;
};

// Parses a whole moov box (header included). Fails on a layout error, a trak
// without tkhd/mdhd/hdlr, a zero timescale or a duplicate track_ID; an
// unknown codec is not an error (codec stays empty).
Result<MovieInfo> parse_moov(std::span<const uint8_t> moov_box);

}  // namespace moq::media
