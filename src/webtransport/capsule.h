#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace moq::wt {

// WebTransport capsules on the CONNECT stream (draft-ietf-webtrans-http3 §5).
//
// Framing, as Chromium does it: capsules are the *payload of HTTP/3 DATA
// frames* on the CONNECT stream, never raw bytes after HEADERS. quiche's
// QuicSpdyStream::WriteCapsule serializes the capsule and hands it to
// WriteOrBufferBody, which writes a DATA frame header first; the receiving
// side runs its capsule parser over the DATA payload (OnBodyAvailable).
// WebTransportHttp3::CloseSession sends CLOSE_WEBTRANSPORT_SESSION with
// fin=true; on receiving one, quiche answers with an empty FIN
// (WriteOrBufferBody("", fin=true)). Sources: google/quiche
// quiche/quic/core/http/quic_spdy_stream.cc and web_transport_http3.cc;
// moq-dev/web-transport PR #176 ("Browsers expect ... capsule inside an
// HTTP/3 DATA frame ... Without this, Chrome's WebTransport.closed promise
// never resolves with the correct close code"); picoquic PR #1962 made the
// same fix. Chromium's client also writes a GREASE capsule right after its
// CONNECT HEADERS, so unknown capsule types must be skipped.
namespace capsule_type {
inline constexpr uint64_t kCloseSession = 0x2843;  // CLOSE_WEBTRANSPORT_SESSION / WT_CLOSE_SESSION
inline constexpr uint64_t kDrainSession = 0x78ae;  // DRAIN_WEBTRANSPORT_SESSION
}  // namespace capsule_type

inline constexpr size_t kMaxCloseReason = 1024;

struct CloseSession {
  uint32_t code = 0;
  std::string reason;  // UTF-8, at most 1024 bytes
  friend bool operator==(const CloseSession&, const CloseSession&) = default;
};

// The capsule alone (type, length, u32 code, reason). A reason over 1024 bytes
// is cut at the last UTF-8 character boundary that fits.
std::vector<uint8_t> encode_close_capsule(const CloseSession& close);
// The capsule wrapped in one HTTP/3 DATA frame: what goes on the CONNECT stream.
std::vector<uint8_t> encode_close_data_frame(const CloseSession& close);
std::vector<uint8_t> encode_drain_data_frame();

// Parses a CLOSE_WEBTRANSPORT_SESSION capsule value; nullopt if shorter than 4
// bytes or the reason exceeds 1024 bytes.
std::optional<CloseSession> decode_close_value(std::span<const uint8_t> value);

// `reason` cut to at most `max` bytes without splitting a UTF-8 sequence.
std::string_view truncate_utf8(std::string_view reason, size_t max);

}  // namespace moq::wt
