#include "h3/frame.h"

#include <algorithm>

#include "coding/writer.h"
#include "h3/error.h"

namespace moq::h3 {

bool write_frame_header(uint64_t type, uint64_t length, std::vector<uint8_t>& out) {
  Writer w(out);
  return w.varint(type) && w.varint(length);
}

bool write_frame(uint64_t type, std::span<const uint8_t> payload, std::vector<uint8_t>& out) {
  if (!write_frame_header(type, payload.size(), out)) return false;
  out.insert(out.end(), payload.begin(), payload.end());
  return true;
}

bool FrameReader::is_known(uint64_t type) {
  switch (type) {
    case frame_type::kHeaders:
    case frame_type::kCancelPush:
    case frame_type::kSettings:
    case frame_type::kPushPromise:
    case frame_type::kGoaway:
    case frame_type::kMaxPushId:
      return true;
    default:
      return is_reserved_http2_frame_type(type);
  }
}

FrameEvent FrameReader::next(std::span<const uint8_t>& in) {
  FrameEvent ev;
  while (true) {
    switch (state_) {
      case State::kFailed:
        ev.kind = FrameEvent::Kind::kError;
        ev.error_code = error::kFrameError;
        ev.reason = "frame reader already failed";
        return ev;
      case State::kType:
        if (!type_.feed(in)) return ev;
        state_ = State::kLength;
        break;
      case State::kLength: {
        if (!length_.feed(in)) return ev;
        const uint64_t type = type_.value();
        remaining_ = length_.value();
        if (type == frame_type::kData) {
          state_ = State::kData;
          if (remaining_ == 0) {
            // An empty DATA frame: report it so callers can see frame order.
            type_.reset(), length_.reset();
            state_ = State::kType;
            ev.kind = FrameEvent::Kind::kData;
            ev.end = true;
            return ev;
          }
        } else if (is_known(type)) {
          if (remaining_ > max_payload_) {
            state_ = State::kFailed;
            ev.kind = FrameEvent::Kind::kError;
            ev.error_code = error::kExcessiveLoad;
            ev.reason = "frame type " + std::to_string(type) + " of " + std::to_string(remaining_) +
                        " bytes exceeds cap " + std::to_string(max_payload_);
            return ev;
          }
          buffer_.clear();
          buffer_.reserve(static_cast<size_t>(remaining_));
          state_ = State::kBuffer;
        } else {
          state_ = State::kSkip;
        }
        break;
      }
      case State::kBuffer: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, in.size()));
        buffer_.insert(buffer_.end(), in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n));
        in = in.subspan(n);
        remaining_ -= n;
        if (remaining_ > 0) return ev;
        ev.kind = FrameEvent::Kind::kFrame;
        ev.type = type_.value();
        ev.payload = buffer_;
        ev.end = true;
        type_.reset(), length_.reset();
        state_ = State::kType;
        return ev;
      }
      case State::kData: {
        if (in.empty()) return ev;
        const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, in.size()));
        ev.kind = FrameEvent::Kind::kData;
        ev.type = frame_type::kData;
        ev.payload = in.first(n);
        in = in.subspan(n);
        remaining_ -= n;
        if (remaining_ == 0) {
          ev.end = true;
          type_.reset(), length_.reset();
          state_ = State::kType;
        }
        return ev;
      }
      case State::kSkip: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, in.size()));
        in = in.subspan(n);
        remaining_ -= n;
        if (remaining_ > 0) return ev;
        type_.reset(), length_.reset();
        state_ = State::kType;
        break;
      }
    }
  }
}

}  // namespace moq::h3
