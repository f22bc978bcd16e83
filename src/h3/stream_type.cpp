#include "h3/stream_type.h"

#include "coding/writer.h"

namespace moq::h3 {

UniStreamKind classify_uni_stream_type(uint64_t type) {
  switch (type) {
    case uni_type::kControl:
      return UniStreamKind::kControl;
    case uni_type::kPush:
      return UniStreamKind::kPush;
    case uni_type::kQpackEncoder:
      return UniStreamKind::kQpackEncoder;
    case uni_type::kQpackDecoder:
      return UniStreamKind::kQpackDecoder;
    case uni_type::kWebTransport:
      return UniStreamKind::kWebTransport;
    default:
      return UniStreamKind::kUnknown;
  }
}

void write_uni_stream_type(uint64_t type, std::vector<uint8_t>& out) {
  Writer(out).varint(type);
}

}  // namespace moq::h3
