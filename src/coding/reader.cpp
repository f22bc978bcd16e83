#include "coding/reader.h"

#include "coding/varint.h"

namespace moq {

bool Reader::varint(uint64_t& out) {
  if (!ok()) return false;
  auto d = varint::decode(rest());
  if (!d) return need_more();
  out = d->value;
  pos_ += d->length;
  return true;
}

bool Reader::i32(int32_t& out) {
  if (!ok()) return false;
  if (remaining() < 4) return need_more();
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i)
    v = (v << 8) | data_[pos_ + i];
  out = static_cast<int32_t>(v);
  pos_ += 4;
  return true;
}

bool Reader::take(size_t n, std::span<const uint8_t>& out) {
  if (status_ != DecodeStatus::kOk) return false;
  if (remaining() < n) return need_more();
  out = data_.subspan(pos_, n);
  pos_ += n;
  return true;
}

bool Reader::u8(uint8_t& out) {
  if (!ok()) return false;
  if (remaining() < 1) return need_more();
  out = data_[pos_++];
  return true;
}

bool Reader::string(std::string& out) {
  uint64_t len = 0;
  if (!varint(len)) return false;
  // Checked before waiting for the bytes: a huge claimed length is an error
  // at once, never an allocation or an endless wait.
  if (len > string_cap_) {
    return fail(code::kInternal, "string too long: " + std::to_string(len) + " bytes (cap " +
                                     std::to_string(string_cap_) + ")");
  }
  if (remaining() < len) return need_more();
  out.assign(reinterpret_cast<const char*>(data_.data() + pos_), static_cast<size_t>(len));
  pos_ += static_cast<size_t>(len);
  return true;
}

bool Reader::fail(uint64_t code, std::string reason) {
  if (status_ != DecodeStatus::kError) {
    status_ = DecodeStatus::kError;
    error_ = Error{code, std::move(reason)};
  }
  return false;
}

}  // namespace moq
