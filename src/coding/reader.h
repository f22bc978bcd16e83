#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "coding/error.h"

namespace moq {

// Outcome of decoding from a byte buffer that may hold only part of a message.
enum class DecodeStatus {
  kOk,        // a whole value was decoded
  kNeedMore,  // the bytes so far are a valid prefix: wait for more
  kError,     // the bytes can never form a valid value (see Reader::error())
};

// Default cap for length-prefixed strings: a longer claimed length is refused
// before any allocation, whatever the peer says.
inline constexpr size_t kDefaultStringCap = 64 * 1024;

// Reads KIXEL_00 primitives from the front of a span. The status is sticky:
// after the first "need more" or error every read fails, so a message decoder
// is a chain of `r.varint(a) && r.string(b) && ...` and checks status() once.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> data, size_t string_cap = kDefaultStringCap)
      : data_(data), string_cap_(string_cap) {}

  bool varint(uint64_t& out);
  bool i32(int32_t& out);
  bool u8(uint8_t& out);  // one raw byte (moq-lite, IETF)
  // The next `n` raw bytes, as a view into the input (IETF extension blocks).
  bool take(size_t n, std::span<const uint8_t>& out);
  // A varint length then that many bytes; longer than the cap is an error.
  bool string(std::string& out);

  // Marks the input as invalid (for checks made by the caller).
  bool fail(uint64_t code, std::string reason);

  DecodeStatus status() const { return status_; }
  bool ok() const { return status_ == DecodeStatus::kOk; }
  const Error& error() const { return error_; }
  size_t consumed() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }
  std::span<const uint8_t> rest() const { return data_.subspan(pos_); }

 private:
  bool need_more() {
    status_ = DecodeStatus::kNeedMore;
    return false;
  }

  std::span<const uint8_t> data_;
  size_t string_cap_;
  size_t pos_ = 0;
  DecodeStatus status_ = DecodeStatus::kOk;
  Error error_;
};

}  // namespace moq
