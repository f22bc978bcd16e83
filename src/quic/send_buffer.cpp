#include "quic/send_buffer.h"

namespace moq::quic {

size_t SendBuffer::unsent(std::span<ngtcp2_vec> out) const {
  uint64_t skip = sent_ - acked_;
  size_t n = 0;
  for (const Bytes& chunk : chunks_) {
    if (n == out.size()) break;
    if (skip >= chunk.size()) {
      skip -= chunk.size();
      continue;
    }
    const size_t start = static_cast<size_t>(skip);
    skip = 0;
    // ngtcp2_vec is not const-correct; ngtcp2 only reads through it.
    out[n].base = const_cast<uint8_t*>(chunk.data() + start);
    out[n].len = chunk.size() - start;
    ++n;
  }
  return n;
}

void SendBuffer::ack(uint64_t n) {
  acked_ += n;
  uint64_t front_offset = acked_ - n;
  while (!chunks_.empty()) {
    const uint64_t end = front_offset + chunks_.front().size();
    if (end <= acked_) {
      front_offset = end;
      chunks_.pop_front();
      continue;
    }
    if (front_offset < acked_) {
      chunks_.front() = chunks_.front().slice(static_cast<size_t>(acked_ - front_offset));
    }
    break;
  }
}

}  // namespace moq::quic
