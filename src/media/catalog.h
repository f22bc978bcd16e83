#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coding/result.h"

namespace moq::media {

// Track name of the `.catalog` track and of the single init track that holds
// every MP4 track's moov (moq-transport.md "Publishing conventions").
inline constexpr std::string_view kCatalogTrack = ".catalog";
inline constexpr std::string_view kInitTrack = "1.mp4";

// One entry of the catalog's "tracks" array, as moq-js reads it.
struct CatalogTrack {
  std::string container = "mp4";
  std::string kind;  // "video" | "audio"
  std::string init_track;
  std::string data_track;
  std::string codec;
  // Video.
  std::optional<uint32_t> width, height;
  std::optional<double> frame_rate;
  // Audio.
  std::optional<uint32_t> channel_count, sample_rate, sample_size;
  // Both (optional in the player).
  std::optional<uint64_t> bit_rate;

  friend bool operator==(const CatalogTrack&, const CatalogTrack&) = default;
};

struct Catalog {
  std::vector<CatalogTrack> tracks;
  friend bool operator==(const Catalog&, const Catalog&) = default;
};

// Compact JSON with the keys in the spec's order: container, kind,
// init_track, data_track, codec, then width, height, frame_rate, bit_rate
// (video) or channel_count, sample_rate, sample_size, bit_rate (audio).
// Absent optionals are left out; a whole frame_rate is written as an integer.
std::string to_json(const Catalog& catalog);

// Parses a catalog received from a relay (moq-sub). Unknown keys are
// ignored; a missing "tracks" array or a track without string kind,
// container, init_track and data_track is an error.
Result<Catalog> parse_catalog(std::string_view json);

}  // namespace moq::media
