#pragma once

#include <cstdint>
#include <string_view>

namespace moq::h3 {

// HTTP/3 error codes (RFC 9114 §8.1, RFC 9204 §6). Used for CONNECTION_CLOSE,
// RESET_STREAM and STOP_SENDING.
namespace error {
inline constexpr uint64_t kNoError = 0x100;
inline constexpr uint64_t kGeneralProtocolError = 0x101;
inline constexpr uint64_t kInternalError = 0x102;
inline constexpr uint64_t kStreamCreationError = 0x103;
inline constexpr uint64_t kClosedCriticalStream = 0x104;
inline constexpr uint64_t kFrameUnexpected = 0x105;
inline constexpr uint64_t kFrameError = 0x106;
inline constexpr uint64_t kExcessiveLoad = 0x107;
inline constexpr uint64_t kIdError = 0x108;
inline constexpr uint64_t kSettingsError = 0x109;
inline constexpr uint64_t kMissingSettings = 0x10a;
inline constexpr uint64_t kRequestRejected = 0x10b;
inline constexpr uint64_t kRequestCancelled = 0x10c;
inline constexpr uint64_t kRequestIncomplete = 0x10d;
inline constexpr uint64_t kMessageError = 0x10e;
inline constexpr uint64_t kConnectError = 0x10f;
inline constexpr uint64_t kVersionFallback = 0x110;
// QPACK (RFC 9204 §6).
inline constexpr uint64_t kQpackDecompressionFailed = 0x200;
inline constexpr uint64_t kQpackEncoderStreamError = 0x201;
inline constexpr uint64_t kQpackDecoderStreamError = 0x202;
// HTTP datagrams (RFC 9297 §5.2).
inline constexpr uint64_t kDatagramError = 0x33;
}  // namespace error

// "H3_FRAME_UNEXPECTED" etc.; "unknown" for codes not listed above.
std::string_view error_name(uint64_t code);
// One of the codes listed above. RFC 9114 §8.1: a code the receiver does not
// know is equivalent to H3_NO_ERROR.
bool is_known_error(uint64_t code);

}  // namespace moq::h3
