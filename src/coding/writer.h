#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "coding/error.h"

namespace moq {

// Appends KIXEL_00 primitives to a byte vector. Like Reader the failure is
// sticky: encode a whole message, then check ok() once.
class Writer {
 public:
  explicit Writer(std::vector<uint8_t>& out) : out_(out) {}

  // Minimal encoding; values >= 2^62 are refused (ok() becomes false).
  bool varint(uint64_t value);
  void i32(int32_t value);
  void u8(uint8_t value) { out_.push_back(value); }
  bool string(std::string_view s);
  void bytes(std::span<const uint8_t> data) { out_.insert(out_.end(), data.begin(), data.end()); }

  bool ok() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  std::vector<uint8_t>& out_;
  bool ok_ = true;
  Error error_;
};

}  // namespace moq
