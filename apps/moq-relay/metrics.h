#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "quic/udp_io.h"

namespace moq::relay {

// RTT histogram bucket bounds, in seconds (Prometheus `le`).
inline constexpr std::array<double, 10> kRttBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                                       0.05,  0.1,    0.25,  0.5,  1.0};

// Smoothed RTTs observed, as a Prometheus histogram (cumulative buckets).
struct RttHistogram {
  std::array<uint64_t, kRttBuckets.size()> buckets{};
  uint64_t count = 0;
  double sum_seconds = 0;
  void observe(double seconds);
};

// One worker's figures, taken on the worker's own thread (so nothing on the
// per-packet path is shared or locked) about once a second.
struct WorkerFigures {
  unsigned worker = 0;
  uint64_t connections = 0;  // QUIC connections held (open or closing)
  uint64_t publishers = 0;   // live sessions by role
  uint64_t subscribers = 0;
  uint64_t sessions_started = 0;  // sessions that got past SETUP
  uint64_t subscriptions = 0;     // SUBSCRIBEs accepted from viewers
  uint64_t objects_in = 0;        // object streams received from publishers
  uint64_t bytes_in = 0;          // their payload bytes
  uint64_t objects_out = 0;       // object streams started to viewers
  uint64_t bytes_out = 0;         // their payload bytes
  uint64_t objects_dropped = 0;   // for slow viewers (reset or skipped)
  uint64_t mirrors = 0;           // other workers' broadcasts mirrored here
  quic::UdpStats udp;
  uint64_t datagrams_unroutable = 0;  // unparsable or for no connection
  uint64_t stream_packets_lost = 0;   // QUIC loss recovery, counted per stream
  RttHistogram rtt;                   // every connection's smoothed RTT, once a second
  double cpu_seconds = 0;             // the worker thread's CPU time
};

// The latest figures of every worker. Each worker writes its own slot about
// once a second; /metrics reads them all: one short lock each, far from the
// per-packet path.
class MetricsBoard {
 public:
  explicit MetricsBoard(size_t workers) : figures_(workers) {}
  void put(const WorkerFigures& figures);
  std::vector<WorkerFigures> get() const;

 private:
  mutable std::mutex mutex_;
  std::vector<WorkerFigures> figures_;
};

struct RelayFigures {
  std::vector<WorkerFigures> workers;
  uint64_t broadcasts = 0;  // published here and live
  bool draining = false;
};

// The Prometheus text exposition format (version 0.0.4) of `figures`:
// per-worker series carry a `worker` label.
std::string render_prometheus(const RelayFigures& figures);

}  // namespace moq::relay
