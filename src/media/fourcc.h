#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace moq::media {

// A four-character code (box type, handler type, sample entry type) kept as
// the big-endian 32-bit number it is on the wire, so comparisons are integer
// compares and no string is built while parsing.
struct FourCC {
  uint32_t value = 0;

  constexpr FourCC() = default;
  constexpr explicit FourCC(uint32_t v) : value(v) {}
  // From a 4-character literal: FourCC("moov").
  constexpr FourCC(const char (&s)[5])  // NOLINT: implicit so "moov" reads naturally
      : value((uint32_t(uint8_t(s[0])) << 24) | (uint32_t(uint8_t(s[1])) << 16) |
              (uint32_t(uint8_t(s[2])) << 8) | uint32_t(uint8_t(s[3]))) {}

  friend constexpr bool operator==(FourCC, FourCC) = default;

  // Printable form for messages: the four characters, or hex escapes for
  // bytes that are not printable ASCII (input can be anything).
  std::string str() const {
    std::string out;
    for (int shift = 24; shift >= 0; shift -= 8) {
      const auto c = static_cast<uint8_t>(value >> shift);
      if (c >= 0x20 && c < 0x7f) {
        out += static_cast<char>(c);
      } else {
        static constexpr std::string_view kHex = "0123456789abcdef";
        out += "\\x";
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
      }
    }
    return out;
  }
};

}  // namespace moq::media
