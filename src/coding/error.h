#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace moq {

// Error codes carried on the wire (SUBSCRIBE_RESET, ANNOUNCE_RESET, session
// close). The numbers are fixed by KIXEL_00; see shared/spec/moq-transport.md.
namespace code {
inline constexpr uint64_t kClosed = 0;           // clean end
inline constexpr uint64_t kStop = 206;           // subscriber asked to stop
inline constexpr uint64_t kRoleBoth = 300;       // role "both" not supported
inline constexpr uint64_t kBadRequest = 400;     // malformed request (an empty broadcast name)
inline constexpr uint64_t kUnauthorized = 401;   // no valid token, or not granted
inline constexpr uint64_t kNotFound = 404;       // unknown track / broadcast
inline constexpr uint64_t kRoleViolation = 405;  // message sent by the wrong role
inline constexpr uint64_t kUnsupported = 406;    // version or role incompatible
inline constexpr uint64_t kDuplicate = 409;      // name or id already in use
inline constexpr uint64_t kInternal = 500;       // internal / decode / encode error
inline constexpr uint64_t kWrite = 501;          // transport write error
inline constexpr uint64_t kRead = 502;           // transport read error
inline constexpr uint64_t kSession = 503;        // transport session error
inline constexpr uint64_t kUpstream = 504;       // origin or API unreachable
}  // namespace code

// An error as it travels on the wire: a code and a human-readable reason.
// Every failure in the library is reported as one of these values; nothing
// that a peer sends may abort the process.
struct Error {
  uint64_t code = code::kInternal;
  std::string reason;

  static Error closed() { return {code::kClosed, "closed"}; }
  static Error stop() { return {code::kStop, "stop"}; }
  static Error not_found() { return {code::kNotFound, "not found"}; }
  static Error duplicate() { return {code::kDuplicate, "duplicate"}; }
  static Error internal(std::string why) { return {code::kInternal, std::move(why)}; }

  bool is_closed() const { return code == code::kClosed; }
  friend bool operator==(const Error&, const Error&) = default;
};

}  // namespace moq
