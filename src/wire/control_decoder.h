#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "coding/error.h"
#include "coding/reader.h"
#include "wire/message.h"

namespace moq::wire {

// Incremental decoder for the control stream. KIXEL_00 messages carry no
// length prefix, so bytes are buffered until a whole message parses; this is
// what lets the same code run from a socket callback, a coroutine or a test
// that feeds one byte at a time.
class ControlDecoder {
 public:
  // Limits what a peer can make us buffer: no valid message is longer
  // (two capped strings plus a few varints).
  static constexpr size_t kMaxBuffered = 2 * kDefaultStringCap + 64;

  // Appends newly arrived bytes.
  void feed(std::span<const uint8_t> bytes);

  // Tries to take the next whole message out of the buffer. kOk: `out` holds
  // it. kNeedMore: wait for more bytes. kError: the stream is broken for
  // good (error() says why, with its wire code); later calls return kError.
  DecodeStatus next(Message& out);

  const Error& error() const { return error_; }
  size_t buffered() const { return buffer_.size() - offset_; }

 private:
  std::vector<uint8_t> buffer_;
  size_t offset_ = 0;  // start of the first undecoded byte
  Error error_;
  bool failed_ = false;
};

}  // namespace moq::wire
