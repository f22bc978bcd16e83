#include "coding/writer.h"

#include <string>

#include "coding/varint.h"

namespace moq {

bool Writer::varint(uint64_t value) {
  uint8_t buf[8];
  const size_t n = varint::encode(value, buf);
  if (n == 0) {
    if (ok_) error_ = Error{code::kInternal, "varint too large: " + std::to_string(value)};
    ok_ = false;
    return false;
  }
  out_.insert(out_.end(), buf, buf + n);
  return true;
}

void Writer::i32(int32_t value) {
  const auto v = static_cast<uint32_t>(value);
  for (int shift = 24; shift >= 0; shift -= 8)
    out_.push_back(static_cast<uint8_t>(v >> shift));
}

bool Writer::string(std::string_view s) {
  if (!varint(s.size())) return false;
  out_.insert(out_.end(), s.begin(), s.end());
  return true;
}

}  // namespace moq
