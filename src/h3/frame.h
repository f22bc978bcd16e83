#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "h3/varint_parser.h"

namespace moq::h3 {

// HTTP/3 frame types (RFC 9114 §7.2).
namespace frame_type {
inline constexpr uint64_t kData = 0x00;
inline constexpr uint64_t kHeaders = 0x01;
inline constexpr uint64_t kCancelPush = 0x03;
inline constexpr uint64_t kSettings = 0x04;
inline constexpr uint64_t kPushPromise = 0x05;
inline constexpr uint64_t kGoaway = 0x07;
inline constexpr uint64_t kMaxPushId = 0x0d;
// WEBTRANSPORT_STREAM: a "frame" type with no length that turns the rest of a
// bidirectional stream into WebTransport data (draft-ietf-webtrans-http3).
inline constexpr uint64_t kWebTransportStream = 0x41;
}  // namespace frame_type

// Types that HTTP/2 used and HTTP/3 reserves: receiving one is
// H3_FRAME_UNEXPECTED (RFC 9114 §7.2.8).
constexpr bool is_reserved_http2_frame_type(uint64_t type) {
  return type == 0x02 || type == 0x06 || type == 0x08 || type == 0x09;
}
// GREASE / reserved types 0x1f * N + 0x21 (RFC 9114 §7.2.8).
constexpr bool is_grease(uint64_t type) {
  return type >= 0x21 && (type - 0x21) % 0x1f == 0;
}

// Cap on the payload of a frame that is buffered whole (everything but DATA
// and unknown types, which are streamed or skipped). Checked before buffering.
inline constexpr size_t kDefaultMaxFramePayload = 64 * 1024;

// Appends varint type + varint length (+ payload). False if a value > 2^62.
bool write_frame_header(uint64_t type, uint64_t length, std::vector<uint8_t>& out);
bool write_frame(uint64_t type, std::span<const uint8_t> payload, std::vector<uint8_t>& out);

// One step of FrameReader.
struct FrameEvent {
  enum class Kind {
    kNeedMore,  // input exhausted at any point inside a frame
    kFrame,     // a whole non-DATA frame: `type`, `payload` (valid until next call)
    kData,      // a chunk of DATA payload (a view into the caller's input);
                // `end` is true on the chunk that completes the frame
    kError,     // `error_code` (HTTP/3) and `reason`; the reader stays failed
  };
  Kind kind = Kind::kNeedMore;
  uint64_t type = 0;
  std::span<const uint8_t> payload;
  bool end = false;
  uint64_t error_code = 0;
  std::string reason;
};

// Incremental HTTP/3 frame reader for one stream. Feed it arbitrary splits:
//   while (true) { auto ev = r.next(in); if (ev.kind == kNeedMore) break; ... }
// DATA payload is passed through in chunks (never buffered); unknown and GREASE
// frame types are skipped without buffering; every other frame is buffered
// whole, and a claimed length over the cap is H3_EXCESSIVE_LOAD at once.
class FrameReader {
 public:
  explicit FrameReader(size_t max_frame_payload = kDefaultMaxFramePayload)
      : max_payload_(max_frame_payload) {}

  FrameEvent next(std::span<const uint8_t>& in);

  // True between frames (a FIN here is clean; elsewhere it truncates a frame).
  bool at_boundary() const { return state_ == State::kType && !type_.started(); }
  bool failed() const { return state_ == State::kFailed; }
  // Feeds the first bytes of a stream that a caller already consumed while
  // sniffing (e.g. the first varint of a bidi stream that was not 0x41).
  FrameEvent replay(std::span<const uint8_t> prefix) { return next(prefix); }

 private:
  enum class State { kType, kLength, kBuffer, kData, kSkip, kFailed };
  static bool is_known(uint64_t type);

  size_t max_payload_;
  State state_ = State::kType;
  VarintParser type_;
  VarintParser length_;
  uint64_t remaining_ = 0;
  std::vector<uint8_t> buffer_;
};

}  // namespace moq::h3
