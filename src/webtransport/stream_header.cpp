#include "webtransport/stream_header.h"

#include "coding/writer.h"

namespace moq::wt {

namespace {
std::vector<uint8_t> encode(uint64_t type, uint64_t session_id) {
  std::vector<uint8_t> out;
  Writer w(out);
  w.varint(type);
  w.varint(session_id);
  return out;
}
}  // namespace

std::vector<uint8_t> encode_uni_stream_header(uint64_t session_id) {
  return encode(kUniStreamType, session_id);
}
std::vector<uint8_t> encode_bidi_stream_header(uint64_t session_id) {
  return encode(kBidiSignal, session_id);
}

StreamHeaderReader::Status StreamHeaderReader::feed(std::span<const uint8_t>& in) {
  if (!type_.done()) {
    if (!type_.feed(in)) return Status::kNeedMore;
    if (type_.value() != expected_) return Status::kNotWebTransport;
  }
  if (type_.value() != expected_) return Status::kNotWebTransport;
  return session_.feed(in) ? Status::kDone : Status::kNeedMore;
}

}  // namespace moq::wt
