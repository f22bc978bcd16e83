#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>

#include <ngtcp2/ngtcp2.h>

#include "coding/bytes.h"

namespace moq::quic {

// Outgoing bytes of one stream, kept until the peer acknowledges them.
//
// ngtcp2 does not copy stream data: the memory handed to writev_stream must
// stay valid until acked (it is retransmitted from there). So the buffer is a
// queue of shared Bytes slices with three offsets, acked <= sent <= written;
// acks arrive in order and pop slices off the front. Appending a Bytes only
// adds a reference: the same media chunk sits in every subscriber's buffer.
class SendBuffer {
 public:
  void append(Bytes data) {
    written_ += data.size();
    if (!data.empty()) chunks_.push_back(std::move(data));
  }

  // Fills `out` with vectors over the unsent bytes; returns how many.
  size_t unsent(std::span<ngtcp2_vec> out) const;

  void mark_sent(uint64_t n) { sent_ += n; }
  // The peer acknowledged [acked, acked + n).
  void ack(uint64_t n);
  // Forget everything (stream reset or closed): no acks will come.
  void clear() {
    chunks_.clear();
    acked_ = sent_ = written_;
  }

  uint64_t unsent_bytes() const { return written_ - sent_; }
  uint64_t unacked_bytes() const { return written_ - acked_; }
  uint64_t written() const { return written_; }

 private:
  std::deque<Bytes> chunks_;  // chunks_.front() starts at acked_
  uint64_t acked_ = 0;
  uint64_t sent_ = 0;
  uint64_t written_ = 0;
};

}  // namespace moq::quic
