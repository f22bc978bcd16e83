#pragma once

#include <asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "async/clock.h"
#include "async/notify.h"
#include "cache/handle.h"
#include "coding/bytes.h"
#include "coding/error.h"
#include "coding/result.h"

// A segment is one OBJECT of a track: a sequence number, a priority and an
// expiry, then payload bytes appended in chunks until the producer finishes it.
//
// One SegmentWriter (copies share it) appends chunks; any number of
// SegmentReaders each keep their own position and read every chunk from the
// start, late joiners included. Chunks are moq::Bytes handles onto the same
// storage, so N readers cost N reference-count bumps and no copies.

namespace moq::cache {

// Where a frame begins inside a segment (moq-lite and IETF publishers send
// groups of frames; KIXEL_00 objects are bytes only and have none): its size
// and, when the publisher gave one, its timestamp in the track's timescale.
// A frame's bytes are whole chunks: a chunk never holds parts of two frames.
struct FrameStart {
  uint64_t size = 0;
  std::optional<uint64_t> timestamp;
  friend bool operator==(const FrameStart&, const FrameStart&) = default;
};

// Fixed at creation, never changes.
struct SegmentInfo {
  uint64_t sequence = 0;
  int32_t priority = 0;  // larger is more important: readers get it first
  // How long the track keeps the segment after insertion. None, zero or
  // negative means forever (the wire's "expires = 0").
  std::optional<async::Clock::duration> expires;

  bool never_expires() const { return !expires || expires->count() <= 0; }
};

namespace detail {

// The state every handle of one segment points at.
struct Segment {
  explicit Segment(SegmentInfo i) : info(std::move(i)) {}

  Result<void> write(Bytes chunk);
  Result<void> start_frame(FrameStart frame);
  Result<void> close(Error error);  // refuses (returns the old error) when closed

  const SegmentInfo info;

  // Changing state.
  std::vector<Bytes> chunks;
  // Frame starts, by the index of their first chunk (non-decreasing: a
  // zero-size frame shares its index with the next frame).
  std::vector<std::pair<size_t, FrameStart>> frames;
  size_t bytes = 0;
  std::optional<Error> closed;
  async::Notify changed;
};

}  // namespace detail

class SegmentReader;

// Appends a segment's payload. Destroying the last copy finishes the segment
// (code 0) if it wasn't closed already.
class SegmentWriter {
 public:
  explicit SegmentWriter(std::shared_ptr<detail::Segment> segment);

  const SegmentInfo& info() const { return segment()->info; }
  uint64_t sequence() const { return info().sequence; }
  int32_t priority() const { return info().priority; }

  // Appends a chunk; readers get the same Bytes, not a copy.
  Result<void> write(Bytes chunk);
  // Marks the start of a frame at the next chunk (write the frame's bytes
  // next, as whole chunks).
  Result<void> start_frame(FrameStart frame);
  // Clean end of the payload (code 0).
  Result<void> finish() { return close(Error::closed()); }
  // Ends the segment with an error; readers see it after the chunks so far.
  Result<void> close(Error error);

  // A new reader starting at the first chunk.
  SegmentReader reader() const;

 private:
  const std::shared_ptr<detail::Segment>& segment() const { return token_->shared(); }
  std::shared_ptr<detail::WriterToken<detail::Segment>> token_;
};

// Reads a segment's chunks in order from its own position.
class SegmentReader {
 public:
  explicit SegmentReader(std::shared_ptr<detail::Segment> segment);

  const SegmentInfo& info() const { return segment_->info; }
  uint64_t sequence() const { return info().sequence; }
  int32_t priority() const { return info().priority; }

  // The next chunk if one is ready, nullopt if not yet. After the last chunk:
  // Error::closed() for a clean finish, or the error it was closed with.
  Result<std::optional<Bytes>> try_next_chunk();

  // Waits (without polling) for the next chunk; same end results as above.
  // The reader must outlive the returned awaitable.
  asio::awaitable<Result<Bytes>> next_chunk();

  // The frames that start at chunk `index` (index = the chunk count: the
  // zero-size frames at the end); empty for KIXEL_00 objects. A chunk's
  // frame starts are there once the chunk is.
  std::vector<FrameStart> frames_at(size_t index) const;
  // Whether the publisher marked frames (checked once the first chunk or
  // frame is there).
  bool framed() const { return segment_ && !segment_->frames.empty(); }
  // Every frame start so far, in order: (index of its first chunk, frame).
  size_t frame_count() const { return segment_ ? segment_->frames.size() : 0; }
  const std::pair<size_t, FrameStart>& frame(size_t i) const { return segment_->frames[i]; }
  size_t next_chunk_index() const { return next_chunk_; }

  // Bytes written so far, and whether the writer is done.
  size_t size() const { return segment_ ? segment_->bytes : 0; }
  std::optional<Error> closed() const;

 private:
  std::shared_ptr<detail::Segment> segment_;
  size_t next_chunk_ = 0;
};

// A new segment: the writer side and a first reader.
std::pair<SegmentWriter, SegmentReader> make_segment(SegmentInfo info);

}  // namespace moq::cache
