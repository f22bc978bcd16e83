#pragma once

// `moq-bench sub`: N subscriber sessions in one process, spread over T
// threads (each its own io_context and wt::Client), each subscribing to
// every track of a `moq-bench pub` broadcast, measuring per-frame latency,
// missing frames, bytes and join time, and its own CPU load.

#include <CLI/CLI.hpp>
#include <cstddef>
#include <cstdint>
#include <string>

#include "moq_client.h"

namespace moq::bench {

struct SubOptions {
  app::MoqClientOptions client;
  int sessions = 1;  // -n
  int threads = 0;   // 0: cores - 1, at least 1
  int tracks = 1;
  size_t frame_size = 4096;
  double warmup = 2;             // seconds before the measurement window
  double duration = 10;          // seconds of the window
  double drain = 2;              // seconds after it for frames sent in it to arrive
  int64_t clock_start_ns = 0;    // when the warm-up starts (CLOCK_MONOTONIC); 0: now
  int connect_concurrency = 16;  // handshakes in flight per thread
  int receive_buffer = -1;       // SO_RCVBUF per socket; -1: net.core.rmem_max; 0: leave
  bool json = false;
};

void add_sub_options(CLI::App& app, SubOptions& options);

// Runs the sessions through warm-up, window and drain, then prints the
// result (text, or one JSON object with --json). Exit status: 0 every
// session ran and received frames, 1 some failed, 2 usage.
int run_sub(SubOptions options);

}  // namespace moq::bench
