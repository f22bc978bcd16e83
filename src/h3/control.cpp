#include "h3/control.h"

#include "coding/reader.h"
#include "coding/writer.h"
#include "h3/error.h"
#include "h3/stream_type.h"

namespace moq::h3 {

std::vector<uint8_t> encode_control_stream_preface(const Settings& settings) {
  std::vector<uint8_t> out;
  write_uni_stream_type(uni_type::kControl, out);
  write_frame(frame_type::kSettings, encode_settings(settings), out);
  return out;
}

std::vector<uint8_t> encode_goaway(uint64_t id) {
  std::vector<uint8_t> payload;
  Writer(payload).varint(id);
  std::vector<uint8_t> out;
  write_frame(frame_type::kGoaway, payload, out);
  return out;
}

ControlEvent ControlStreamParser::fail(uint64_t code, std::string reason) {
  failed_ = true;
  failure_.kind = ControlEvent::Kind::kError;
  failure_.error_code = code;
  failure_.reason = std::move(reason);
  return failure_;
}

ControlEvent ControlStreamParser::next(std::span<const uint8_t>& in) {
  if (failed_) return failure_;
  while (true) {
    FrameEvent fe = reader_.next(in);
    switch (fe.kind) {
      case FrameEvent::Kind::kNeedMore:
        return {};
      case FrameEvent::Kind::kError:
        return fail(fe.error_code, "control stream: " + fe.reason);
      case FrameEvent::Kind::kData:
        return fail(settings_received_ ? error::kFrameUnexpected : error::kMissingSettings,
                    "DATA on control stream");
      case FrameEvent::Kind::kFrame:
        break;
    }
    if (!settings_received_ && fe.type != frame_type::kSettings) {
      return fail(error::kMissingSettings, "first control frame is not SETTINGS");
    }
    switch (fe.type) {
      case frame_type::kSettings: {
        if (settings_received_) return fail(error::kFrameUnexpected, "second SETTINGS frame");
        auto d = decode_settings(fe.payload);
        if (!d.ok) return fail(d.error_code, d.reason);
        settings_received_ = true;
        ControlEvent ev;
        ev.kind = ControlEvent::Kind::kSettings;
        ev.settings = std::move(d.settings);
        return ev;
      }
      case frame_type::kGoaway: {
        Reader r(fe.payload);
        uint64_t id = 0;
        if (!r.varint(id) || r.remaining() != 0) return fail(error::kFrameError, "bad GOAWAY");
        // A server's GOAWAY names a client-initiated bidi stream.
        if (!is_server_ && (id & 0x3) != 0) return fail(error::kIdError, "GOAWAY id not a request");
        ControlEvent ev;
        ev.kind = ControlEvent::Kind::kGoaway;
        ev.id = id;
        return ev;
      }
      case frame_type::kMaxPushId:
        // Only a client may send it; we never push, so the value is unused.
        if (!is_server_) return fail(error::kFrameUnexpected, "MAX_PUSH_ID from server");
        break;
      case frame_type::kCancelPush:
        break;
      default:
        // HEADERS, PUSH_PROMISE, HTTP/2-reserved types.
        return fail(error::kFrameUnexpected,
                    "frame type " + std::to_string(fe.type) + " on control stream");
    }
  }
}

}  // namespace moq::h3
