#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace moq::h3 {

// Reads one QUIC varint from input that may arrive in arbitrary pieces. Keeps
// at most 8 bytes, so a peer can never make it allocate.
class VarintParser {
 public:
  // Consumes bytes from the front of `in` (advancing it). True once the value
  // is complete; further calls then consume nothing until reset().
  bool feed(std::span<const uint8_t>& in);

  bool done() const { return need_ != 0 && have_ == need_; }
  bool started() const { return have_ != 0; }
  uint64_t value() const { return value_; }
  // The raw bytes consumed so far (to replay them into another parser).
  std::span<const uint8_t> bytes() const { return {buf_, have_}; }
  void reset() { have_ = need_ = 0, value_ = 0; }

 private:
  uint8_t buf_[8] = {};
  size_t have_ = 0;
  size_t need_ = 0;
  uint64_t value_ = 0;
};

}  // namespace moq::h3
