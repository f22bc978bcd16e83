#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace moq::media {

// Big-endian cursor over a span for the fixed-layout fields inside boxes.
// Failure is sticky: once a read runs past the end every later read fails and
// returns 0, so a parser reads a whole structure and checks ok() once.
class BeReader {
 public:
  explicit BeReader(std::span<const uint8_t> data) : data_(data) {}

  uint8_t u8() { return static_cast<uint8_t>(read(1)); }
  uint16_t u16() { return static_cast<uint16_t>(read(2)); }
  uint32_t u24() { return static_cast<uint32_t>(read(3)); }
  uint32_t u32() { return static_cast<uint32_t>(read(4)); }
  uint64_t u64() { return read(8); }

  void skip(size_t n) {
    if (!ok_ || n > remaining()) {
      ok_ = false;
      return;
    }
    pos_ += n;
  }
  // The next n bytes (empty and failed when fewer remain).
  std::span<const uint8_t> bytes(size_t n) {
    if (!ok_ || n > remaining()) {
      ok_ = false;
      return {};
    }
    auto out = data_.subspan(pos_, n);
    pos_ += n;
    return out;
  }

  bool ok() const { return ok_; }
  size_t pos() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }
  std::span<const uint8_t> rest() const { return data_.subspan(pos_); }

 private:
  uint64_t read(size_t n) {
    if (!ok_ || n > remaining()) {
      ok_ = false;
      return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i)
      v = (v << 8) | data_[pos_ + i];
    pos_ += n;
    return v;
  }

  std::span<const uint8_t> data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace moq::media
