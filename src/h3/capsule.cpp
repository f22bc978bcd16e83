#include "h3/capsule.h"

#include <algorithm>

#include "coding/writer.h"

namespace moq::h3 {

bool write_capsule(uint64_t type, std::span<const uint8_t> value, std::vector<uint8_t>& out) {
  Writer w(out);
  if (!w.varint(type) || !w.varint(value.size())) return false;
  w.bytes(value);
  return true;
}

CapsuleEvent CapsuleReader::next(std::span<const uint8_t>& in) {
  CapsuleEvent ev;
  while (true) {
    switch (state_) {
      case State::kFailed:
        ev.kind = CapsuleEvent::Kind::kError;
        ev.reason = "capsule reader already failed";
        return ev;
      case State::kType:
        if (!type_.feed(in)) return ev;
        state_ = State::kLength;
        break;
      case State::kLength: {
        if (!length_.feed(in)) return ev;
        remaining_ = length_.value();
        const bool wanted = std::find(interesting_.begin(), interesting_.end(), type_.value()) !=
                            interesting_.end();
        if (!wanted) {
          state_ = State::kSkip;
          break;
        }
        if (remaining_ > max_value_) {
          state_ = State::kFailed;
          ev.kind = CapsuleEvent::Kind::kError;
          ev.type = type_.value();
          ev.reason = "capsule of " + std::to_string(remaining_) + " bytes exceeds cap " +
                      std::to_string(max_value_);
          return ev;
        }
        buffer_.clear();
        buffer_.reserve(static_cast<size_t>(remaining_));
        state_ = State::kBuffer;
        break;
      }
      case State::kBuffer: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, in.size()));
        buffer_.insert(buffer_.end(), in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n));
        in = in.subspan(n);
        remaining_ -= n;
        if (remaining_ > 0) return ev;
        ev.kind = CapsuleEvent::Kind::kCapsule;
        ev.type = type_.value();
        ev.value = buffer_;
        type_.reset(), length_.reset();
        state_ = State::kType;
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
