#include "wire/control_decoder.h"

namespace moq::wire {

void ControlDecoder::feed(std::span<const uint8_t> bytes) {
  if (failed_) return;
  // Drop consumed bytes before growing, so the buffer holds one message at most.
  if (offset_ > 0) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(offset_));
    offset_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

DecodeStatus ControlDecoder::next(Message& out) {
  if (failed_) return DecodeStatus::kError;
  Reader r(std::span<const uint8_t>(buffer_).subspan(offset_));
  const DecodeStatus status = decode(r, out);
  switch (status) {
    case DecodeStatus::kOk:
      offset_ += r.consumed();
      break;
    case DecodeStatus::kNeedMore:
      if (buffered() > kMaxBuffered) {
        failed_ = true;
        error_ = Error{code::kInternal, "control message too long"};
        return DecodeStatus::kError;
      }
      break;
    case DecodeStatus::kError:
      failed_ = true;
      error_ = r.error();
      break;
  }
  return status;
}

}  // namespace moq::wire
