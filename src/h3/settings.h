#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace moq::h3 {

// SETTINGS identifiers (RFC 9114 §7.2.4.1, RFC 9204, RFC 9220, RFC 9297 and
// the WebTransport drafts). See shared/spec/webtransport.md for why the server
// sends every dialect.
namespace setting {
inline constexpr uint64_t kQpackMaxTableCapacity = 0x01;
inline constexpr uint64_t kMaxFieldSectionSize = 0x06;
inline constexpr uint64_t kQpackBlockedStreams = 0x07;
inline constexpr uint64_t kEnableConnectProtocol = 0x08;
inline constexpr uint64_t kH3Datagram = 0x33;
inline constexpr uint64_t kH3DatagramDraft04 = 0xffd277;     // still sent by Chrome
inline constexpr uint64_t kEnableWebTransport = 0x2b603742;  // draft-02; Chrome requires it
inline constexpr uint64_t kWebTransportMaxSessionsDraft02 = 0x2b603743;
inline constexpr uint64_t kWebTransportMaxSessionsDraft07 = 0xc671706a;
inline constexpr uint64_t kWtMaxSessions = 0x14e9cd29;  // draft-13/14; Safari requires it
inline constexpr uint64_t kWtEnabled = 0x2c7cf000;      // draft-15+
}  // namespace setting

// A SETTINGS frame payload: (id, value) pairs in wire order.
struct Settings {
  std::vector<std::pair<uint64_t, uint64_t>> entries;

  std::optional<uint64_t> get(uint64_t id) const;
  void set(uint64_t id, uint64_t value);  // replaces an existing entry

  friend bool operator==(const Settings&, const Settings&) = default;
};

// What a server sends so that every browser in the field accepts WebTransport
// (the exact table of webtransport.md).
Settings server_settings(uint64_t max_sessions = 1);
// What our client sends: the same minus ENABLE_CONNECT_PROTOCOL, which only a
// server advertises (RFC 9220 §3).
Settings client_settings(uint64_t max_sessions = 1);

// True if a server's SETTINGS allow a WebTransport session in any dialect:
// extended CONNECT, HTTP datagrams (either codepoint) and one of the
// WebTransport enable / max-sessions settings.
bool supports_webtransport(const Settings& peer);

// SETTINGS payload (not the frame header).
std::vector<uint8_t> encode_settings(const Settings& settings);

struct SettingsDecode {
  bool ok = false;
  Settings settings;
  uint64_t error_code = 0;  // H3_FRAME_ERROR or H3_SETTINGS_ERROR
  std::string reason;
};
// Parses a SETTINGS payload. Unknown ids are kept (the caller ignores them);
// duplicates and HTTP/2-only ids are H3_SETTINGS_ERROR; truncation is
// H3_FRAME_ERROR.
SettingsDecode decode_settings(std::span<const uint8_t> payload);

}  // namespace moq::h3
