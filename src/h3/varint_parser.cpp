#include "h3/varint_parser.h"

#include "coding/varint.h"

namespace moq::h3 {

bool VarintParser::feed(std::span<const uint8_t>& in) {
  if (done()) return true;
  while (!in.empty()) {
    if (have_ == 0) need_ = varint::length_from_first_byte(in[0]);
    buf_[have_++] = in[0];
    in = in.subspan(1);
    if (have_ == need_) {
      value_ = varint::decode({buf_, have_})->value;
      return true;
    }
  }
  return false;
}

}  // namespace moq::h3
