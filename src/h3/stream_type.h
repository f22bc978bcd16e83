#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "h3/varint_parser.h"

namespace moq::h3 {

// Unidirectional stream types (RFC 9114 §6.2, RFC 9204 §4.2,
// draft-ietf-webtrans-http3 §4.1). Anything else (including GREASE
// 0x1f * N + 0x21) is ignored by the receiver.
namespace uni_type {
inline constexpr uint64_t kControl = 0x00;
inline constexpr uint64_t kPush = 0x01;
inline constexpr uint64_t kQpackEncoder = 0x02;
inline constexpr uint64_t kQpackDecoder = 0x03;
inline constexpr uint64_t kWebTransport = 0x54;
}  // namespace uni_type

enum class UniStreamKind { kControl, kPush, kQpackEncoder, kQpackDecoder, kWebTransport, kUnknown };

UniStreamKind classify_uni_stream_type(uint64_t type);

// The varint stream type at the start of a unidirectional stream, read
// incrementally.
class UniStreamTypeReader {
 public:
  // Consumes from `in`; true once the type is known (then kind()/type()).
  bool feed(std::span<const uint8_t>& in) { return parser_.feed(in); }
  uint64_t type() const { return parser_.value(); }
  UniStreamKind kind() const { return classify_uni_stream_type(parser_.value()); }
  std::span<const uint8_t> bytes() const { return parser_.bytes(); }

 private:
  VarintParser parser_;
};

// Appends the stream type prefix for a locally opened unidirectional stream.
void write_uni_stream_type(uint64_t type, std::vector<uint8_t>& out);

}  // namespace moq::h3
