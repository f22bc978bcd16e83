#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace moq::quic {

enum class CongestionControl { kCubic, kBbr };

// Transport settings of an endpoint and its connections. The defaults suit
// media: many unidirectional streams (every MoQ object is one), generous
// windows for bursts, and the original relay's idle timeout and keep-alive.
struct QuicConfig {
  CongestionControl congestion_control = CongestionControl::kCubic;
  std::chrono::milliseconds idle_timeout{10'000};
  std::chrono::milliseconds keep_alive{4'000};
  std::chrono::milliseconds handshake_timeout{10'000};

  // Streams the peer may have open at once; raised again as they close.
  uint64_t max_streams_bidi = 100;
  uint64_t max_streams_uni = 1000;
  // Flow-control windows: per stream and for the whole connection.
  uint64_t stream_window = 4 * 1024 * 1024;
  uint64_t connection_window = 32 * 1024 * 1024;
  // Browsers only offer WebTransport on connections that allow datagrams.
  uint64_t max_datagram_frame_size = 65535;

  // Server: connections accepted at once; more are refused.
  size_t max_connections = 10'000;

  // Print ngtcp2's own debug log to stderr.
  bool debug_log = false;
};

}  // namespace moq::quic
