#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>

#include "coding/bytes.h"
#include "coding/result.h"
#include "media/box.h"

namespace moq::media {

// One complete top-level box of the input.
struct Box {
  FourCC type;
  size_t header_size = 0;
  Bytes bytes;  // the whole box, header included

  std::span<const uint8_t> payload() const { return bytes.span().subspan(header_size); }
};

// Splits a byte stream (a pipe: chunks of any size) into top-level boxes,
// sans-IO. A box that lies inside one fed chunk is returned as a slice of that
// chunk; a box that straddles chunks is gathered once into its own buffer, and
// only after all its bytes have arrived, so a lying size never allocates.
//
//   reader.feed(chunk);                  // (reader.finish() at end of input)
//   for (;;) {
//     auto box = reader.next();
//     if (!box) return box.error();        // malformed input, final
//     if (!*box) break;                    // need more input
//     use(**box);
//   }
class BoxReader {
 public:
  explicit BoxReader(uint64_t max_box_size = kDefaultMaxBoxSize) : max_(max_box_size) {}

  // Appends input. Chunks are kept by reference, never copied here.
  void feed(Bytes chunk);
  // Marks the end of input: a size-0 box is then complete, and a partial box
  // becomes a "truncated" error.
  void finish() { finished_ = true; }

  // The next complete box; nullopt when more input is needed (or, after
  // finish(), when the input is exhausted). Errors are sticky.
  Result<std::optional<Box>> next();

  bool finished() const { return finished_; }
  // True once finish() was called and every byte was returned as a box.
  bool done() const { return finished_ && buffered_ == 0 && !error_; }
  size_t buffered() const { return buffered_; }
  uint64_t boxes_read() const { return boxes_; }
  // Type of the box at the front of the buffer, when its header has arrived.
  std::optional<FourCC> peek_type() const;

 private:
  Error fail(std::string why);
  // Copies up to out.size() bytes from the front of the buffer.
  size_t peek(std::span<uint8_t> out) const;
  Bytes take(size_t n);

  uint64_t max_;
  std::deque<Bytes> chunks_;
  size_t buffered_ = 0;
  uint64_t boxes_ = 0;
  bool finished_ = false;
  std::optional<Error> error_;
};

}  // namespace moq::media
