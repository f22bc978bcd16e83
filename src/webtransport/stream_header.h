#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "h3/varint_parser.h"

namespace moq::wt {

// WebTransport stream headers (draft-ietf-webtrans-http3 §4.1, §4.2): the
// opener writes them before any data, so the receiver can route the stream.
//   uni:  varint 0x54 (stream type), varint session id
//   bidi: varint 0x41 (WEBTRANSPORT_STREAM signal), varint session id
inline constexpr uint64_t kUniStreamType = 0x54;
inline constexpr uint64_t kBidiSignal = 0x41;

std::vector<uint8_t> encode_uni_stream_header(uint64_t session_id);
std::vector<uint8_t> encode_bidi_stream_header(uint64_t session_id);

// Parses a whole header incrementally: the type/signal varint then the session
// id varint. `expected_type` is 0x54 or 0x41; a different first varint makes
// feed() report kNotWebTransport (and the consumed bytes stay available in
// type_bytes() for replay into an HTTP/3 frame reader).
class StreamHeaderReader {
 public:
  enum class Status { kNeedMore, kDone, kNotWebTransport };
  explicit StreamHeaderReader(uint64_t expected_type) : expected_(expected_type) {}

  Status feed(std::span<const uint8_t>& in);
  uint64_t session_id() const { return session_.value(); }
  std::span<const uint8_t> type_bytes() const { return type_.bytes(); }

 private:
  uint64_t expected_;
  h3::VarintParser type_;
  h3::VarintParser session_;
};

}  // namespace moq::wt
