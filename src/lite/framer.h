#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "coding/bytes.h"
#include "coding/result.h"

namespace moq::lite {

// One frame of a moq-lite group: slices of the cached chunks (never a copy)
// and, when known, its media time.
struct Frame {
  std::vector<Bytes> parts;
  uint64_t size = 0;
  std::optional<uint64_t> timestamp_us;
};

// Cuts a cached segment (a KIXEL_00 object: bytes only) into frames, as it
// arrives. Which cut is chosen from the segment's first bytes: an fMP4
// segment (moof/styp/sidx/prft/emsg first) gives one frame per moof+mdat
// fragment, the hang CMAF container's frame; anything else (a catalog, a
// custom track) is one frame, sent once the segment is complete.
class Framer {
 public:
  virtual ~Framer() = default;
  // More bytes; complete frames are appended to `out`.
  virtual Result<void> push(Bytes chunk, std::vector<Frame>& out) = 0;
  // The segment is complete: whatever remains, or an error if it stops
  // inside a frame.
  virtual Result<void> finish(std::vector<Frame>& out) = 0;

  // Picks by the first chunk (at least 8 bytes, or the whole segment).
  // `timescale`: the fMP4 track's mdhd timescale, for frame timestamps (0:
  // unknown).
  static std::unique_ptr<Framer> for_segment(const Bytes& first_chunk, uint32_t timescale);
};

}  // namespace moq::lite
