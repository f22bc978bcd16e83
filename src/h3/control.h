#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "h3/frame.h"
#include "h3/settings.h"

namespace moq::h3 {

// Encodes the start of our control stream: stream type 0x00 + SETTINGS frame.
std::vector<uint8_t> encode_control_stream_preface(const Settings& settings);
// A GOAWAY frame (RFC 9114 §5.2): `id` is a request stream id (server) or a
// push id (client).
std::vector<uint8_t> encode_goaway(uint64_t id);

struct ControlEvent {
  enum class Kind { kNeedMore, kSettings, kGoaway, kError };
  Kind kind = Kind::kNeedMore;
  Settings settings;  // kSettings
  uint64_t id = 0;    // kGoaway
  uint64_t error_code = 0;
  std::string reason;
};

// The peer's control stream after its type byte (RFC 9114 §6.2.1): SETTINGS
// first and exactly once, then GOAWAY / MAX_PUSH_ID / CANCEL_PUSH / unknown
// frames. DATA, HEADERS, PUSH_PROMISE and HTTP/2-reserved types are
// H3_FRAME_UNEXPECTED; anything before SETTINGS is H3_MISSING_SETTINGS. Every
// error is a connection error.
class ControlStreamParser {
 public:
  // `is_server`: whether *we* are the server (the peer is then a client).
  explicit ControlStreamParser(bool is_server) : is_server_(is_server) {}
  ControlEvent next(std::span<const uint8_t>& in);
  bool settings_received() const { return settings_received_; }

 private:
  ControlEvent fail(uint64_t code, std::string reason);

  bool is_server_;
  FrameReader reader_;
  bool settings_received_ = false;
  bool failed_ = false;
  ControlEvent failure_;
};

}  // namespace moq::h3
