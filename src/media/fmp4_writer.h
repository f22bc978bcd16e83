#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "coding/bytes.h"
#include "coding/result.h"
#include "media/box_reader.h"

namespace moq::media {

// moq-sub's output side, sans-IO: turns the init segment and the data tracks'
// segments (arriving as chunks, several segments and tracks at once) back
// into one fragmented MP4 byte stream: the init segment, then whole moof+mdat
// pairs in arrival order. The bytes are passed through, never rewritten:
// the ecosystem puts every track's moov in ONE init track ("1.mp4"), so the
// init segment already describes every data track. Several different init
// segments would need a merged moov and are refused.
//
// Each call appends what may be written now to `out` (slices of the input).
// Ordering rules, because the relay sends newest segments first:
//  - fragments completed before the init segment is known are dropped (a
//    player cannot use them); subscribe to the init track first;
//  - per data track, once a fragment of segment S was written, fragments of
//    older segments (sequence < S) are dropped rather than going back in time.
class Fmp4Writer {
 public:
  explicit Fmp4Writer(uint64_t max_box_size = kDefaultMaxBoxSize) : max_(max_box_size) {}

  // The init track's segment (ftyp+moov, complete). It must start with ftyp
  // and contain a moov. The same bytes again are ignored.
  Result<void> init(Bytes init_segment, std::vector<Bytes>& out);

  // More bytes of segment `sequence` of data track `track`. An error means
  // this segment is malformed: its state is dropped, other segments go on.
  Result<void> data(std::string_view track, uint64_t sequence, Bytes chunk,
                    std::vector<Bytes>& out);
  // The segment's stream ended (FIN): it must not stop inside a box or
  // between a moof and its mdat.
  Result<void> end(std::string_view track, uint64_t sequence);
  // The segment's stream was reset: forget it.
  void abort(std::string_view track, uint64_t sequence);

  bool has_init() const { return !init_.empty(); }
  uint64_t fragments_written() const { return written_; }
  uint64_t fragments_dropped() const { return dropped_; }
  size_t open_segments() const { return segments_.size(); }

 private:
  struct Segment {
    explicit Segment(uint64_t max) : reader(max) {}
    BoxReader reader;
    std::optional<Box> moof;
  };
  using Key = std::pair<std::string, uint64_t>;

  Result<void> pull(const Key& key, Segment& s, std::vector<Bytes>& out);

  uint64_t max_;
  Bytes init_;
  std::map<Key, Segment> segments_;
  std::map<std::string, uint64_t, std::less<>> newest_written_;  // per track
  uint64_t written_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace moq::media
