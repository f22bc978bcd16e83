#pragma once

// `moq-bench run`: the driver. Starts a relay pinned to one core and, for
// each cell of the matrix (N subscribers x stream mode), a `moq-bench pub`
// and a `moq-bench sub --json` pinned to the other cores; reads the relay's
// CPU time and RSS from /proc over the measurement window and prints a
// table.

#include <CLI/CLI.hpp>
#include <cstddef>
#include <string>
#include <vector>

namespace moq::bench {

struct RunOptions {
  std::string relay;  // default: moq-relay beside this program
  std::vector<int> matrix = {1, 10, 100, 400, 1000};
  std::vector<std::string> modes = {"group", "frame"};
  double seconds = 20;
  double warmup = 5;
  double drain = 2;
  int relay_core = -1;  // default: the last core this process may use
  std::vector<int>
      relay_cores;        // several cores instead (the load generator shares them if none is left)
  int relay_threads = 1;  // the relay's worker threads (MOQ_RELAY_THREADS)
  int threads = 0;        // subscriber threads; default: the cores left to the load generator
  int tracks = 1;
  size_t frame_size = 4096;
  double fps = 30;
  int frames_per_group = 30;
  bool short_run = false;
  bool json = false;
  std::string csv;   // write the table as CSV here too
  std::string keep;  // folder for logs (default: a new temporary one)
};

void add_run_options(CLI::App& app, RunOptions& options);

// Exit status: 0 done (with --short: and nothing missing, nothing crashed),
// 1 a process crashed or a cell could not run (--short: or a frame was
// missing), 2 usage.
int run_driver(RunOptions options);

}  // namespace moq::bench
