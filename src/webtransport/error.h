#pragma once

#include <cstdint>
#include <optional>

namespace moq::wt {

// WebTransport application error codes (u32) travel in the HTTP/3 error space
// when they reset or stop a stream (draft-ietf-webtrans-http3 §4.3):
//   h3 = 0x52e4a40fa8db + code + code / 0x1e
// which steps over the reserved GREASE codepoints 0x1f * N + 0x21.
inline constexpr uint64_t kFirstMappedCode = 0x52e4a40fa8db;
inline constexpr uint64_t kLastMappedCode = 0x52e5ac983162;  // to_http3(0xffffffff)

// WebTransport-specific HTTP/3 codes (draft-ietf-webtrans-http3 §9.5).
inline constexpr uint64_t kBufferedStreamRejected = 0x3994bd84;  // WT_BUFFERED_STREAM_REJECTED
inline constexpr uint64_t kSessionGone = 0x170d7b68;             // WT_SESSION_GONE

constexpr uint64_t to_http3(uint32_t code) {
  return kFirstMappedCode + code + code / 0x1e;
}

// The WebTransport code an HTTP/3 code stands for; nullopt outside the mapped
// range or on a GREASE codepoint (which no WebTransport code maps to).
constexpr std::optional<uint32_t> from_http3(uint64_t h3) {
  if (h3 < kFirstMappedCode || h3 > kLastMappedCode) return std::nullopt;
  if ((h3 - 0x21) % 0x1f == 0) return std::nullopt;
  const uint64_t shifted = h3 - kFirstMappedCode;
  return static_cast<uint32_t>(shifted - shifted / 0x1f);
}

}  // namespace moq::wt
