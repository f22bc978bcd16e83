#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "h3/varint_parser.h"

namespace moq::h3 {

// The capsule protocol (RFC 9297 §3.2): Capsule { Type (i), Length (i),
// Value (..) }. On HTTP/3 the capsules of a request form the payload of its
// DATA frames, so capsules may span DATA frames and a DATA frame may hold
// several capsules: feed the DATA payload chunks in order.

// Appends one capsule. False if a value > 2^62.
bool write_capsule(uint64_t type, std::span<const uint8_t> value, std::vector<uint8_t>& out);

struct CapsuleEvent {
  enum class Kind {
    kNeedMore,  // input exhausted
    kCapsule,   // a whole capsule of an interesting type; `value` valid until next call
    kError,     // a capsule of an interesting type longer than the cap
  };
  Kind kind = Kind::kNeedMore;
  uint64_t type = 0;
  std::span<const uint8_t> value;
  std::string reason;
};

// Incremental reader. Capsules whose type is in `interesting` are buffered (up
// to `max_value` bytes, checked before buffering); all others (GREASE,
// DATAGRAM, unknown) are skipped without buffering, as RFC 9297 requires.
class CapsuleReader {
 public:
  CapsuleReader(std::vector<uint64_t> interesting, size_t max_value)
      : interesting_(std::move(interesting)), max_value_(max_value) {}

  CapsuleEvent next(std::span<const uint8_t>& in);
  // True between capsules (a FIN here is clean).
  bool at_boundary() const { return state_ == State::kType && !type_.started(); }

 private:
  enum class State { kType, kLength, kBuffer, kSkip, kFailed };
  std::vector<uint64_t> interesting_;
  size_t max_value_;
  State state_ = State::kType;
  VarintParser type_;
  VarintParser length_;
  uint64_t remaining_ = 0;
  std::vector<uint8_t> buffer_;
};

}  // namespace moq::h3
