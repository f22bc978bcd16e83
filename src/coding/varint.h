#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace moq::varint {

// QUIC variable-length integers (RFC 9000 §16): the two high bits of the first
// byte give the length (1, 2, 4 or 8 bytes), the rest is big-endian.
inline constexpr uint64_t kMax = (uint64_t{1} << 62) - 1;

// Bytes needed for the minimal encoding of `value` (0 when value > kMax).
constexpr size_t encoded_size(uint64_t value) {
  if (value < (uint64_t{1} << 6)) return 1;
  if (value < (uint64_t{1} << 14)) return 2;
  if (value < (uint64_t{1} << 30)) return 4;
  if (value <= kMax) return 8;
  return 0;
}

// Length of the varint whose first byte is `first`.
constexpr size_t length_from_first_byte(uint8_t first) {
  return size_t{1} << (first >> 6);
}

// Writes the minimal encoding into `out` (which must have encoded_size(value)
// bytes). Returns the bytes written, or 0 when value > kMax (refused).
size_t encode(uint64_t value, std::span<uint8_t> out);

struct Decoded {
  uint64_t value;
  size_t length;
};

// Decodes one varint from the front of `in`; non-minimal encodings are
// accepted. std::nullopt means "need more bytes".
std::optional<Decoded> decode(std::span<const uint8_t> in);

}  // namespace moq::varint
