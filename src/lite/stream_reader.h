#pragma once

#include <asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "coding/error.h"
#include "coding/result.h"
#include "lite/message.h"
#include "transport/transport.h"

namespace moq::lite {

// Reads whole messages off a stream: buffers what the transport hands over
// until a decoder has a complete message (bounded by the message size cap).
class StreamReader {
 public:
  StreamReader(std::shared_ptr<transport::RecvStream> recv, std::vector<uint8_t> buffered = {})
      : recv_(std::move(recv)), buffer_(std::move(buffered)) {}

  template <class T>
  using Decoder = Decoded<T> (*)(std::span<const uint8_t>, Version);

  // The next message; nullopt when the stream ended cleanly between
  // messages. An error for a reset stream, a malformed message or a stream
  // that ended inside one.
  template <class T>
  asio::awaitable<Result<std::optional<T>>> next(Decoder<T> decode, Version v) {
    for (;;) {
      if (!buffer_.empty()) {
        Decoded<T> d = decode(buffer_, v);
        if (d.status == DecodeStatus::kOk) {
          buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<ptrdiff_t>(d.consumed));
          co_return std::optional<T>(std::move(d.message));
        }
        if (d.status == DecodeStatus::kError) co_return d.error;
      }
      if (fin_) {
        if (buffer_.empty()) co_return std::optional<T>();
        co_return Error{close_code::kProtocolViolation, "stream ended inside a message"};
      }
      if (buffer_.size() > kMaxMessageSize + 16) {
        co_return Error{close_code::kProtocolViolation, "message too long"};
      }
      auto chunk = co_await recv_->read();
      if (!chunk) co_return chunk.error();
      if (!*chunk) {
        fin_ = true;
        continue;
      }
      buffer_.insert(buffer_.end(), (*chunk)->data(), (*chunk)->data() + (*chunk)->size());
    }
  }

  // A bare varint (a stream or reply type); nullopt on a clean FIN first.
  asio::awaitable<Result<std::optional<uint64_t>>> next_varint() {
    return next<uint64_t>(&varint_decoder, Version::kLite05);
  }

  std::vector<uint8_t> take_buffer() { return std::move(buffer_); }
  const std::shared_ptr<transport::RecvStream>& recv() const { return recv_; }

 private:
  static Decoded<uint64_t> varint_decoder(std::span<const uint8_t> in, Version) {
    return decode_varint(in);
  }
  std::shared_ptr<transport::RecvStream> recv_;
  std::vector<uint8_t> buffer_;
  bool fin_ = false;
};

}  // namespace moq::lite
