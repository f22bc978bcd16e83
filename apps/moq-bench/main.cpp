// moq-bench: the relay benchmark (issue 10). Three modes:
//
//   moq-bench pub URL ...     a synthetic broadcast: fixed-size frames at a
//                             fixed rate, each with its send time and number
//   moq-bench sub URL -n N    N subscriber sessions on T threads: latency,
//                             missing frames, bytes, join time, own CPU load
//   moq-bench run             the driver: a relay pinned to one core, pub and
//                             sub on the others, a matrix of N x stream mode,
//                             relay CPU and RSS from /proc, a table
//
// See BENCHMARKS.md for the method and the figures.

#include <CLI/CLI.hpp>

#include "driver.h"
#include "moq_client.h"
#include "pub.h"
#include "sub.h"

int main(int argc, char** argv) {
  CLI::App app{"moq-bench: measures a MoQ relay (KIXEL_00) with synthetic media", "moq-bench"};
  app.set_version_flag("--version", "moq-bench 0.1.0");
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  moq-bench run                        # the default matrix; prints a table\n"
      "  moq-bench run --short                # CI smoke run (about 40 s)\n"
      "  moq-bench pub https://localhost:4443/bench --fingerprint HEX --duration 60\n"
      "  moq-bench sub https://localhost:4443/bench --fingerprint HEX -n 100 --duration 10\n"
      "See BENCHMARKS.md.");

  moq::bench::PubOptions pub;
  auto* pub_cmd = app.add_subcommand(
      "pub", "Publish one broadcast of K tracks of fixed-size frames at a fixed rate");
  moq::bench::add_pub_options(*pub_cmd, pub);
  pub_cmd->footer(
      "Each frame: u64 send time (ns, CLOCK_MONOTONIC) and u64 sequence number, then filler.\n"
      "Prints 'ready: ...' once the relay accepted the session. Exit status: 0 done,\n"
      "2 usage, 3 relay unreachable, refused or lost.");

  moq::bench::SubOptions sub;
  auto* sub_cmd =
      app.add_subcommand("sub", "Run N subscriber sessions on T threads and measure what arrives");
  moq::bench::add_sub_options(*sub_cmd, sub);
  sub_cmd->footer(
      "Runs warm-up + duration + drain seconds, then prints the result. Exit status: 0 every\n"
      "session connected and frames arrived, 1 otherwise, 2 usage.");

  moq::bench::RunOptions run;
  auto* run_cmd = app.add_subcommand(
      "run", "Drive a relay pinned to one core through a matrix of subscriber counts");
  moq::bench::add_run_options(*run_cmd, run);
  run_cmd->footer(
      "Per cell: a fresh moq-relay pinned to --relay-core, moq-bench pub and moq-bench sub\n"
      "pinned to the other cores; relay CPU (utime + stime) and RSS from /proc over the window.\n"
      "Relay µs per delivered frame = relay CPU time in the window / frames that arrived in it.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : moq::app::kExitUsage;
  }
  if (pub_cmd->parsed()) return moq::bench::run_pub(pub);
  if (sub_cmd->parsed()) return moq::bench::run_sub(sub);
  return moq::bench::run_driver(run);
}
