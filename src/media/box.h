#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "coding/result.h"
#include "media/fourcc.h"

namespace moq::media {

// Boxes larger than this are refused before anything is allocated for them.
// A live fragment (one moof+mdat) is far smaller; ftyp+moov are a few KiB.
inline constexpr uint64_t kDefaultMaxBoxSize = 64ull * 1024 * 1024;

// The fixed part of a box header (ISO/IEC 14496-12 4.2).
struct BoxHeader {
  FourCC type;
  size_t header_size = 0;  // 8, or 16 with a 64-bit largesize
  uint64_t size = 0;       // whole box, header included; 0 when to_end
  bool to_end = false;     // size field 0: the box runs to the end of its container
};

enum class HeaderStatus { kOk, kNeedMore, kError };

// Reads a box header from the front of `data`. kNeedMore when fewer bytes than
// the header are present; kError (with `error` set) for a size that can never
// be valid: below the header size, or above `max_size`.
HeaderStatus parse_box_header(std::span<const uint8_t> data, uint64_t max_size, BoxHeader& out,
                              std::string& error);

// A box inside a parsed buffer (a child of moov, moof, ...): views, no copies.
struct BoxView {
  FourCC type;
  std::span<const uint8_t> bytes;    // the whole box
  std::span<const uint8_t> payload;  // after the header
};

// Calls `fn` for each child box packed in `payload` (the payload of a container
// box), stopping at the first error (from the layout or from `fn`). A child
// whose size runs past its parent is an error; fewer than 8 trailing bytes are
// padding and ignored, as some muxers leave them.
Result<void> for_each_child(std::span<const uint8_t> payload,
                            const std::function<Result<void>(const BoxView&)>& fn);

// The first child of type `type`, or an empty BoxView (type 0) when absent.
Result<BoxView> find_child(std::span<const uint8_t> payload, FourCC type);

// An error for a malformed box, with the box named in the message.
Error box_error(FourCC type, const std::string& what);

}  // namespace moq::media
