#pragma once

// The frames moq-bench publishes and measures, and the clocks it reads.
//
// Every frame is `frame_size` bytes: a 16-byte header (u64 send time in ns
// on CLOCK_MONOTONIC, u64 frame sequence number of its track, both
// big-endian) and then filler. CLOCK_MONOTONIC is one clock for every
// process of a machine, so a subscriber process can subtract a publisher
// process's send time from its own arrival time.

#include <time.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace moq::bench {

inline constexpr size_t kFrameHeaderSize = 16;

// CLOCK_MONOTONIC in nanoseconds.
inline int64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// Seconds (possibly fractional) as nanoseconds.
inline int64_t seconds_ns(double seconds) {
  return static_cast<int64_t>(seconds * 1e9);
}

// CPU time of the calling thread in nanoseconds.
inline int64_t thread_cpu_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

struct FrameHeader {
  int64_t send_ns = 0;
  uint64_t sequence = 0;
};

inline void encode_header(const FrameHeader& header, uint8_t* out) {
  const auto put = [&out](uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8)
      *out++ = static_cast<uint8_t>(v >> shift);
  };
  put(static_cast<uint64_t>(header.send_ns));
  put(header.sequence);
}

inline FrameHeader decode_header(const uint8_t* in) {
  const auto get = [&in] {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v = (v << 8) | *in++;
    return v;
  };
  FrameHeader header;
  header.send_ns = static_cast<int64_t>(get());
  header.sequence = get();
  return header;
}

// Cuts frames of a fixed size out of one segment's byte stream, whatever
// the chunk boundaries (QUIC does not preserve the publisher's). feed()
// calls `on_frame(header)` for every frame whose last byte is in `chunk`.
class FrameCutter {
 public:
  explicit FrameCutter(size_t frame_size) : frame_size_(frame_size) {}

  template <typename OnFrame>
  void feed(std::span<const uint8_t> chunk, OnFrame&& on_frame) {
    size_t at = 0;
    while (at < chunk.size()) {
      if (in_frame_ < kFrameHeaderSize) {
        const size_t n = std::min(kFrameHeaderSize - in_frame_, chunk.size() - at);
        for (size_t i = 0; i < n; ++i)
          header_[in_frame_ + i] = chunk[at + i];
        in_frame_ += n;
        at += n;
      } else {
        const size_t n = std::min(frame_size_ - in_frame_, chunk.size() - at);
        in_frame_ += n;
        at += n;
      }
      if (in_frame_ == frame_size_) {
        on_frame(decode_header(header_));
        in_frame_ = 0;
      }
    }
  }

  // True when the stream ended between two frames.
  bool at_boundary() const { return in_frame_ == 0; }

 private:
  size_t frame_size_;
  size_t in_frame_ = 0;  // bytes of the current frame seen so far
  uint8_t header_[kFrameHeaderSize] = {};
};

}  // namespace moq::bench
