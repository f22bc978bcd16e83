#pragma once

// `moq-bench pub`: a synthetic broadcast of fixed-size frames at a fixed
// rate, each carrying its send time and sequence number (frame.h).

#include <CLI/CLI.hpp>
#include <cstddef>
#include <string>

#include "moq_client.h"

namespace moq::bench {

struct PubOptions {
  app::MoqClientOptions client;
  int tracks = 1;
  size_t frame_size = 4096;
  double fps = 30;
  int frames_per_group = 30;
  std::string stream_per = "group";  // "group": one object per group; "frame": per frame
  double duration = 60;              // seconds
  double expires = 0;                // seconds; 0: max(2, group duration + 1)
};

// Adds pub's flags to its subcommand.
void add_pub_options(CLI::App& app, PubOptions& options);

// Publishes until the duration elapsed or SIGINT/SIGTERM; returns the exit
// status (0 clean end, 2 usage, 3 relay unreachable, refused or lost).
int run_pub(const PubOptions& options);

}  // namespace moq::bench
