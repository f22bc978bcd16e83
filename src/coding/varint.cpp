#include "coding/varint.h"

namespace moq::varint {

size_t encode(uint64_t value, std::span<uint8_t> out) {
  const size_t len = encoded_size(value);
  if (len == 0 || out.size() < len) return 0;
  static constexpr uint8_t kPrefix[9] = {0, 0x00, 0x40, 0, 0x80, 0, 0, 0, 0xc0};
  for (size_t i = 0; i < len; ++i) {
    out[len - 1 - i] = static_cast<uint8_t>(value >> (8 * i));
  }
  out[0] = static_cast<uint8_t>(out[0] | kPrefix[len]);
  return len;
}

std::optional<Decoded> decode(std::span<const uint8_t> in) {
  if (in.empty()) return std::nullopt;
  const size_t len = length_from_first_byte(in[0]);
  if (in.size() < len) return std::nullopt;
  uint64_t value = in[0] & 0x3f;
  for (size_t i = 1; i < len; ++i)
    value = (value << 8) | in[i];
  return Decoded{value, len};
}

}  // namespace moq::varint
