#include "driver.h"

#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "frame.h"
#include "kernel_stats.h"
#include "process.h"
#include "quic/tls_cert.h"
#include "quic/tls_server.h"

namespace fs = std::filesystem;

namespace moq::bench {
namespace {

using namespace std::chrono_literals;

// A relay busier than this over the window is reported as saturated.
constexpr double kSaturated = 0.90;
// A relay or load generator thread that waited longer than this for a CPU
// shared its core with other work: the machine was not quiet.
constexpr double kContended = 0.05;

// SIGINT/SIGTERM: stop the cell under way, clean up, print what ran.
volatile sig_atomic_t interrupted = 0;
void on_signal(int) {
  interrupted = 1;
}

std::string self_path() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : p.string();
}

std::vector<int> allowed_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cores;
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set)) cores.push_back(c);
    }
  }
  return cores;
}

cpu_set_t to_set(const std::vector<int>& cores) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cores)
    CPU_SET(c, &set);
  return set;
}

std::string join(const std::vector<int>& v, const char* sep = ",") {
  std::string out;
  for (int x : v)
    out += (out.empty() ? "" : sep) + std::to_string(x);
  return out;
}

// 'R', 'S', ... from /proc/PID/stat; 'Z' (exited, not yet reaped) or 0 (gone).
char process_state(pid_t pid) {
  const std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  const auto close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return 0;
  return stat[close + 2];
}

bool alive(const Process& p) {
  if (!p.started()) return false;
  const char state = process_state(p.pid());
  return state != 0 && state != 'Z' && state != 'X';
}

// "exit 0", "signal 11 (Segmentation fault)".
std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return "signal " + std::to_string(WTERMSIG(status)) + " (" + ::strsignal(WTERMSIG(status)) +
           ")";
  }
  return "status " + std::to_string(status);
}

// The 1, 5 and 15 minute load averages.
std::string loadavg() {
  std::istringstream in(read_text("/proc/loadavg"));
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

std::string tail(const std::string& path, size_t lines = 5) {
  const std::string text = read_text(path);
  size_t at = text.size();
  for (size_t n = 0; n <= lines && at > 0; ++n) {
    at = text.rfind('\n', at - 1);
    if (at == std::string::npos) return text;
  }
  return text.substr(at + 1);
}

// One row of the table.
struct Cell {
  int n = 0;
  std::string mode;
  bool ran = false;  // the measurement completed
  uint64_t delivered = 0;
  double relay_cpu_s = 0;
  double window_s = 0;
  double us_per_frame = 0;
  double cpu_share = 0;      // of the relay's core
  double relay_waiting = 0;  // runnable but waiting for its core, share of the window
  double load_waiting = 0;   // the same for the busiest-waiting load generator thread
  long rss_before_kib = 0;
  long rss_after_kib = 0;
  double rss_per_sub_kib = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0;  // ms
  uint64_t expected = 0;
  uint64_t missing = 0;
  uint64_t objects_reset = 0;
  uint64_t bad_frames = 0;
  double join_p50 = 0, join_max = 0;  // ms
  int connected = 0;
  int failed = 0;
  uint64_t relay_drops = 0;  // on the relay's socket
  uint64_t load_drops = 0;   // on the load generator's sockets
  double load_busy = 0;
  bool bottleneck = false;
  bool crashed = false;
  long relay_rss_max_kib = 0;
  std::vector<std::string> problems;  // --short fails on any
  std::vector<std::string> remarks;   // worth knowing, not failures
};

class Driver {
 public:
  explicit Driver(RunOptions options) : o_(std::move(options)) {}

  int run() {
    if (!prepare()) return 1;
    load_before_ = loadavg();
    std::vector<Cell> cells;
    for (int n : o_.matrix) {
      for (const auto& mode : o_.modes) {
        if (interrupted) break;
        std::fprintf(stderr, "moq-bench run: N = %d, one stream per %s ...\n", n, mode.c_str());
        cells.push_back(run_cell(n, mode));
        const Cell& c = cells.back();
        if (c.ran) {
          std::fprintf(stderr,
                       "  %llu frames, %.1f us of relay CPU per frame, relay CPU %.0f %% (waited "
                       "%.0f %% for its core), p99 %.1f ms, %llu missing\n",
                       static_cast<unsigned long long>(c.delivered), c.us_per_frame,
                       c.cpu_share * 100, c.relay_waiting * 100, c.p99,
                       static_cast<unsigned long long>(c.missing));
        }
        for (auto& p : c.problems)
          std::fprintf(stderr, "  problem: %s\n", p.c_str());
        for (auto& r : c.remarks)
          std::fprintf(stderr, "  note: %s\n", r.c_str());
      }
    }
    load_after_ = loadavg();
    if (o_.json) {
      print_json(cells);
    } else {
      print_table(cells);
    }
    if (!o_.csv.empty()) write_csv(cells);

    int status = 0;
    for (auto& c : cells) {
      if (!c.ran || c.crashed) status = 1;
      if (o_.short_run && (c.missing > 0 || c.failed > 0 || c.bad_frames > 0 || c.delivered == 0 ||
                           !c.problems.empty())) {
        status = 1;
      }
    }
    if (interrupted) status = 130;
    if (status != 0) std::fprintf(stderr, "moq-bench run: FAILED (logs in %s)\n", dir_.c_str());
    return status;
  }

 private:
  bool prepare() {
    self_ = self_path();
    if (self_.empty()) return fail("cannot find this program's path (/proc/self/exe)");
    if (o_.relay.empty()) o_.relay = (fs::path(self_).parent_path() / "moq-relay").string();
    if (::access(o_.relay.c_str(), X_OK) != 0) {
      return fail("no relay at " + o_.relay + " (build moq-relay, or give --relay PATH)");
    }
    const auto cores = allowed_cores();
    if (cores.empty()) return fail("cannot read this process's CPU affinity");
    if (o_.relay_core < 0) o_.relay_core = cores.back();
    if (std::find(cores.begin(), cores.end(), o_.relay_core) == cores.end()) {
      return fail("--relay-core " + std::to_string(o_.relay_core) + " is not one of the cores " +
                  join(cores) + " this process may use");
    }
    relay_cores_ = {o_.relay_core};
    if (!o_.relay_cores.empty()) relay_cores_ = o_.relay_cores;
    for (int c : cores) {
      if (std::find(relay_cores_.begin(), relay_cores_.end(), c) == relay_cores_.end()) {
        load_cores_.push_back(c);
      }
    }
    // Relays without workers ignore it; ours run this many event loops.
    ::setenv("MOQ_RELAY_THREADS", std::to_string(o_.relay_threads).c_str(), 1);
    if (load_cores_.empty()) {
      std::fprintf(stderr,
                   "moq-bench run: only one core: the relay and the load generator share it\n");
      load_cores_ = relay_cores_;
    }
    if (o_.threads <= 0) o_.threads = static_cast<int>(load_cores_.size());
    // The driver mostly sleeps; it stays off the relay's core all the same.
    const cpu_set_t mine = to_set(load_cores_);
    ::sched_setaffinity(0, sizeof mine, &mine);

    if (o_.keep.empty()) {
      std::string tmpl = (fs::temp_directory_path() / "moq-bench-XXXXXX").string();
      if (!::mkdtemp(tmpl.data())) return fail("cannot make a temporary folder");
      dir_ = tmpl;
    } else {
      std::error_code ec;
      fs::create_directories(o_.keep, ec);
      if (ec) return fail("cannot make " + o_.keep + ": " + ec.message());
      dir_ = o_.keep;
    }
    auto pem = quic::generate_dev_certificate();
    if (!pem) return fail("cannot make a certificate");
    if (!quic::write_pem_files(*pem, path("cert.pem"), path("key.pem"))) {
      return fail("cannot write the certificate to " + dir_);
    }
    quic::TlsServerConfig sc;
    sc.pem_pairs.push_back(*pem);
    auto server = quic::TlsServerContext::create(sc);
    if (!server) return fail("bad certificate");
    fingerprint_ = server->fingerprint_hex();
    std::fprintf(stderr,
                 "moq-bench run: relay %s on core(s) %s (%d worker thread(s)), load generator "
                 "on core(s) %s (%d sub thread(s)); %g s per cell after %g s of warm-up; logs "
                 "in %s\n",
                 o_.relay.c_str(), join(relay_cores_).c_str(), o_.relay_threads,
                 join(load_cores_).c_str(), o_.threads, o_.seconds, o_.warmup, dir_.c_str());
    return true;
  }

  bool fail(const std::string& message) {
    std::fprintf(stderr, "moq-bench run: %s\n", message.c_str());
    return false;
  }

  std::string path(const std::string& name) const { return (fs::path(dir_) / name).string(); }

  // Starts a program pinned to `cores`: the affinity is inherited through
  // posix_spawn, so this process takes it for the moment of the spawn.
  std::unique_ptr<Process> spawn(const std::vector<std::string>& argv,
                                 const std::vector<int>& cores, const std::string& label) {
    cpu_set_t mine;
    CPU_ZERO(&mine);
    ::sched_getaffinity(0, sizeof mine, &mine);
    const cpu_set_t pinned = to_set(cores);
    ::sched_setaffinity(0, sizeof pinned, &pinned);
    Process::Options options;
    options.stdout_path = path(label + ".out");
    options.stderr_path = path(label + ".log");
    auto process = std::make_unique<Process>(argv, options);
    ::sched_setaffinity(0, sizeof mine, &mine);
    return process;
  }

  // Waits until `file` contains `text`, `process` died or `limit` passed.
  bool wait_for_output(const Process& process, const std::string& file, const std::string& text,
                       std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline && !interrupted) {
      if (read_text(file).find(text) != std::string::npos) return true;
      if (!alive(process)) return false;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  // Stops a program that should still be running: SIGTERM, which it must
  // answer by exiting 0.
  void stop(std::unique_ptr<Process>& process, const std::string& name, Cell& cell) {
    if (!process || !process->started()) return;
    const bool was_alive = alive(*process);
    const auto status = process->stop(std::chrono::seconds(10));
    if (!status) return;
    if (!was_alive) {
      cell.crashed = true;
      cell.problems.push_back(name + " died during the run: " + describe_status(*status));
    } else if (WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL) {
      cell.problems.push_back(name + " did not exit within 10 s of SIGTERM (killed)");
    } else if (!(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)) {
      cell.crashed = true;
      cell.problems.push_back(name + " ended badly on SIGTERM: " + describe_status(*status));
    }
    process.reset();
  }

  // Sleeps until `until_ns`, checking every 100 ms that the programs run.
  bool sleep_checking(int64_t until_ns, const std::vector<const Process*>& programs,
                      long* max_rss = nullptr, const Process* relay = nullptr) {
    for (;;) {
      if (interrupted) return false;
      for (auto* p : programs) {
        if (!alive(*p)) return false;
      }
      if (max_rss && relay) {
        if (auto rss = relay->rss_kib()) *max_rss = std::max(*max_rss, *rss);
      }
      const int64_t left = until_ns - now_ns();
      if (left <= 0) return true;
      std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<int64_t>(left, 100'000'000)));
    }
  }

  Cell run_cell(int n, const std::string& mode) {
    Cell cell;
    cell.n = n;
    cell.mode = mode;
    const std::string label = "n" + std::to_string(n) + "-" + mode;
    const int port = free_port();
    const std::string url = "https://localhost:" + std::to_string(port) + "/bench";

    // A fresh relay per cell: a clean RSS baseline, nothing left over from
    // the previous cell.
    auto relay = spawn({o_.relay, "--listen", "[::]:" + std::to_string(port), "--tls-cert",
                        path("cert.pem"), "--tls-key", path("key.pem"), "--log-level", "warn"},
                       relay_cores_, "relay-" + label);
    if (!relay->started() ||
        !wait_for_output(*relay, path("relay-" + label + ".out"), "listening:", 10s)) {
      cell.problems.push_back("the relay did not start: " + tail(path("relay-" + label + ".log")));
      stop(relay, "moq-relay", cell);
      return cell;
    }

    const double pub_seconds = o_.warmup + o_.seconds + o_.drain + 30;
    auto pub = spawn(
        {self_, "pub", url, "--fingerprint", fingerprint_, "--tracks", std::to_string(o_.tracks),
         "--frame-size", std::to_string(o_.frame_size), "--fps", std::to_string(o_.fps),
         "--frames-per-group", std::to_string(o_.frames_per_group), "--stream-per", mode,
         "--duration", std::to_string(pub_seconds), "--log-level", "warn"},
        load_cores_, "pub-" + label);
    if (!pub->started() || !wait_for_output(*pub, path("pub-" + label + ".out"), "ready", 15s)) {
      cell.problems.push_back("moq-bench pub did not connect: " +
                              tail(path("pub-" + label + ".log")));
      stop(pub, "moq-bench pub", cell);
      stop(relay, "moq-relay", cell);
      return cell;
    }
    std::this_thread::sleep_for(300ms);
    cell.rss_before_kib = relay->rss_kib().value_or(0);

    const int64_t clock_start = now_ns();
    const std::string sub_out = path("sub-" + label + ".out");
    auto sub = spawn({self_,
                      "sub",
                      url,
                      "--fingerprint",
                      fingerprint_,
                      "-n",
                      std::to_string(n),
                      "--threads",
                      std::to_string(std::min(o_.threads, n)),
                      "--tracks",
                      std::to_string(o_.tracks),
                      "--frame-size",
                      std::to_string(o_.frame_size),
                      "--warmup",
                      std::to_string(o_.warmup),
                      "--duration",
                      std::to_string(o_.seconds),
                      "--drain",
                      std::to_string(o_.drain),
                      "--clock-start",
                      std::to_string(clock_start),
                      "--json",
                      "--log-level",
                      "warn"},
                     load_cores_, "sub-" + label);

    const int64_t window_start = clock_start + seconds_ns(o_.warmup);
    const int64_t window_end = window_start + seconds_ns(o_.seconds);
    bool ok = sleep_checking(window_start, {relay.get(), pub.get(), sub.get()});
    const double cpu0 = relay->cpu_seconds().value_or(0);
    const int64_t t0 = now_ns();
    const int64_t wait0 = process_schedstat(relay->pid()).wait_ns;
    const auto relay_port = static_cast<uint16_t>(port);
    const uint64_t drops_before = udp_socket_drops(relay_port).value_or(0);
    long max_rss = 0;
    ok = ok &&
         sleep_checking(window_end, {relay.get(), pub.get(), sub.get()}, &max_rss, relay.get());
    const double cpu1 = relay->cpu_seconds().value_or(0);
    const int64_t t1 = now_ns();
    cell.relay_waiting = double(process_schedstat(relay->pid()).wait_ns - wait0) /
                         double(std::max<int64_t>(1, t1 - t0));
    cell.relay_drops = udp_socket_drops(relay_port).value_or(drops_before) - drops_before;
    cell.rss_after_kib = relay->rss_kib().value_or(0);

    // The subscriber ends by itself after the drain.
    const int64_t sub_deadline = window_end + seconds_ns(o_.drain + 20);
    while (ok && alive(*sub) && now_ns() < sub_deadline)
      std::this_thread::sleep_for(50ms);
    if (ok && alive(*sub)) cell.problems.push_back("moq-bench sub did not end in time");
    const bool sub_exited = !alive(*sub);
    const auto sub_status = sub->stop(std::chrono::seconds(5));
    sub.reset();
    if (sub_exited && sub_status && !WIFEXITED(*sub_status)) {
      cell.crashed = true;
      cell.problems.push_back("moq-bench sub crashed: " + describe_status(*sub_status) + ": " +
                              tail(path("sub-" + label + ".log")));
    }
    stop(pub, "moq-bench pub", cell);
    stop(relay, "moq-relay", cell);
    if (!ok) {
      cell.problems.push_back(interrupted ? "interrupted"
                                          : "a program died during the measurement");
      return cell;
    }

    nlohmann::json result;
    try {
      result = nlohmann::json::parse(read_text(sub_out));
    } catch (const std::exception&) {
      cell.problems.push_back("no result from moq-bench sub: " +
                              tail(path("sub-" + label + ".log")));
      return cell;
    }
    cell.ran = true;
    cell.window_s = double(t1 - t0) / 1e9;
    cell.relay_cpu_s = cpu1 - cpu0;
    cell.delivered = result.value("frames_delivered", uint64_t{0});
    cell.us_per_frame = cell.delivered > 0 ? cell.relay_cpu_s * 1e6 / double(cell.delivered) : 0.0;
    // Of the relay's cores: 100 % is all of them busy.
    cell.cpu_share =
        cell.window_s > 0 ? cell.relay_cpu_s / cell.window_s / double(relay_cores_.size()) : 0;
    cell.rss_per_sub_kib = double(cell.rss_after_kib - cell.rss_before_kib) / n;
    const auto& lat = result["latency_ms"];
    cell.p50 = lat.value("p50", 0.0);
    cell.p90 = lat.value("p90", 0.0);
    cell.p99 = lat.value("p99", 0.0);
    cell.max = lat.value("max", 0.0);
    cell.expected = result.value("frames_expected", uint64_t{0});
    cell.missing = result.value("frames_missing", uint64_t{0});
    cell.objects_reset = result.value("objects_reset", uint64_t{0});
    cell.bad_frames = result.value("bad_frames", uint64_t{0});
    cell.join_p50 = result["join_ms"].value("p50", 0.0);
    cell.join_max = result["join_ms"].value("max", 0.0);
    cell.connected = result.value("connected", 0);
    cell.failed = result.value("failed", 0);
    cell.load_busy = result.value("max_thread_busy", 0.0);
    cell.load_waiting = result.value("max_thread_waiting", 0.0);
    cell.bottleneck = result.value("bottleneck", false);
    cell.load_drops = result.value("udp_drops", uint64_t{0});
    for (const auto& e : result.value("errors", std::vector<std::string>{}))
      cell.problems.push_back("sub: " + e);
    if (result.value("joined_late", 0) > 0) {
      cell.remarks.push_back(std::to_string(result.value("joined_late", 0)) +
                             " session(s) got their first frame after the warm-up (counted from "
                             "their first frame)");
    }
    cell.relay_rss_max_kib = max_rss;
    return cell;
  }

  std::string notes(const Cell& c) const {
    std::vector<std::string> notes;
    if (c.crashed) notes.push_back("CRASH");
    if (!c.ran) notes.push_back("did not run");
    if (c.ran && c.cpu_share >= kSaturated) notes.push_back("relay saturated");
    if (c.bottleneck) notes.push_back("load generator was the bottleneck");
    if (c.relay_waiting > kContended || c.load_waiting > kContended) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "not quiet: relay waited %.0f %%, load gen %.0f %% for a CPU",
                    c.relay_waiting * 100, c.load_waiting * 100);
      notes.push_back(buf);
    }
    if (c.failed > 0) notes.push_back(std::to_string(c.failed) + " sessions failed");
    if (c.bad_frames > 0) notes.push_back(std::to_string(c.bad_frames) + " bad frames");
    std::string out;
    for (auto& n : notes)
      out += (out.empty() ? "" : "; ") + n;
    return out.empty() ? "" : out;
  }

  static std::string missing_text(const Cell& c) {
    if (!c.ran) return "-";
    char buf[64];
    if (c.missing == 0) return "0";
    std::snprintf(buf, sizeof buf, "%llu (%.2f %%)", static_cast<unsigned long long>(c.missing),
                  c.expected ? 100.0 * double(c.missing) / double(c.expected) : 0.0);
    return buf;
  }

  void print_table(const std::vector<Cell>& cells) const {
    std::printf(
        "\n| N | stream per | frames delivered | relay µs CPU / frame | relay CPU (of its core) | "
        "relay RSS / sub (KiB) | latency p50 / p90 / p99 / max (ms) | frames missing | join p50 "
        "/ max (ms) | UDP drops relay / load gen | load gen busiest thread | notes |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (auto& c : cells) {
      if (!c.ran) {
        std::printf("| %d | %s | - | - | - | - | - | - | - | - | - | %s |\n", c.n, c.mode.c_str(),
                    notes(c).c_str());
        continue;
      }
      std::printf(
          "| %d | %s | %llu | %.1f | %.0f %% | %.0f | %.2f / %.2f / %.2f / %.2f | %s | %.0f / "
          "%.0f | %llu / %llu | %.0f %% | %s |\n",
          c.n, c.mode.c_str(), static_cast<unsigned long long>(c.delivered), c.us_per_frame,
          c.cpu_share * 100, c.rss_per_sub_kib, c.p50, c.p90, c.p99, c.max, missing_text(c).c_str(),
          c.join_p50, c.join_max, static_cast<unsigned long long>(c.relay_drops),
          static_cast<unsigned long long>(c.load_drops), c.load_busy * 100, notes(c).c_str());
    }
    std::printf(
        "\n%d track(s) of %zu-byte frames at %g fps (%.2f Mbit/s per subscriber), %d "
        "frames per group; %g s window after %g s warm-up; relay on core(s) %s with %d "
        "worker(s), load generator on %s\n",
        o_.tracks, o_.frame_size, o_.fps, double(o_.frame_size) * 8 * o_.fps * o_.tracks / 1e6,
        o_.frames_per_group, o_.seconds, o_.warmup, join(relay_cores_).c_str(), o_.relay_threads,
        join(load_cores_).c_str());
    std::printf("load average before the run %s, after it %s\n", load_before_.c_str(),
                load_after_.c_str());
    for (auto& c : cells) {
      for (auto& p : c.problems)
        std::printf("N = %d, %s: %s\n", c.n, c.mode.c_str(), p.c_str());
      for (auto& r : c.remarks)
        std::printf("N = %d, %s: %s\n", c.n, c.mode.c_str(), r.c_str());
    }
    std::fflush(stdout);
  }

  nlohmann::json to_json(const Cell& c) const {
    return {{"n", c.n},
            {"stream_per", c.mode},
            {"ran", c.ran},
            {"frames_delivered", c.delivered},
            {"relay_cpu_s", c.relay_cpu_s},
            {"window_s", c.window_s},
            {"relay_us_per_frame", c.us_per_frame},
            {"relay_cpu_share", c.cpu_share},
            {"relay_waiting_share", c.relay_waiting},
            {"load_generator_waiting_share", c.load_waiting},
            {"relay_rss_before_kib", c.rss_before_kib},
            {"relay_rss_after_kib", c.rss_after_kib},
            {"relay_rss_per_sub_kib", c.rss_per_sub_kib},
            {"latency_ms", {{"p50", c.p50}, {"p90", c.p90}, {"p99", c.p99}, {"max", c.max}}},
            {"frames_expected", c.expected},
            {"frames_missing", c.missing},
            {"objects_reset", c.objects_reset},
            {"bad_frames", c.bad_frames},
            {"join_ms", {{"p50", c.join_p50}, {"max", c.join_max}}},
            {"sessions_connected", c.connected},
            {"sessions_failed", c.failed},
            {"udp_drops_relay", c.relay_drops},
            {"udp_drops_load_generator", c.load_drops},
            {"load_generator_busiest_thread", c.load_busy},
            {"load_generator_bottleneck", c.bottleneck},
            {"relay_saturated", c.ran && c.cpu_share >= kSaturated},
            {"crashed", c.crashed},
            {"relay_rss_max_kib", c.relay_rss_max_kib},
            {"problems", c.problems},
            {"remarks", c.remarks}};
  }

  void print_json(const std::vector<Cell>& cells) const {
    nlohmann::json out;
    out["config"] = {{"tracks", o_.tracks},
                     {"frame_size", o_.frame_size},
                     {"fps", o_.fps},
                     {"frames_per_group", o_.frames_per_group},
                     {"seconds", o_.seconds},
                     {"warmup", o_.warmup},
                     {"relay", o_.relay},
                     {"relay_cores", relay_cores_},
                     {"relay_threads", o_.relay_threads},
                     {"load_cores", load_cores_},
                     {"sub_threads", o_.threads},
                     {"loadavg_before", load_before_},
                     {"loadavg_after", load_after_}};
    out["cells"] = nlohmann::json::array();
    for (auto& c : cells)
      out["cells"].push_back(to_json(c));
    std::printf("%s\n", out.dump(2).c_str());
    std::fflush(stdout);
  }

  void write_csv(const std::vector<Cell>& cells) const {
    std::ofstream out(o_.csv);
    out << "n,stream_per,frames_delivered,relay_us_per_frame,relay_cpu_pct,relay_rss_per_sub_kib,"
           "p50_ms,p90_ms,p99_ms,max_ms,frames_expected,frames_missing,join_p50_ms,join_max_ms,"
           "udp_drops_relay,udp_drops_load_generator,load_busy_pct,load_bottleneck,relay_saturated,"
           "crashed\n";
    for (auto& c : cells) {
      out << c.n << ',' << c.mode << ',' << c.delivered << ',' << c.us_per_frame << ','
          << c.cpu_share * 100 << ',' << c.rss_per_sub_kib << ',' << c.p50 << ',' << c.p90 << ','
          << c.p99 << ',' << c.max << ',' << c.expected << ',' << c.missing << ',' << c.join_p50
          << ',' << c.join_max << ',' << c.relay_drops << ',' << c.load_drops << ','
          << c.load_busy * 100 << ',' << c.bottleneck << ',' << (c.ran && c.cpu_share >= kSaturated)
          << ',' << c.crashed << '\n';
    }
    if (!out) std::fprintf(stderr, "moq-bench run: cannot write %s\n", o_.csv.c_str());
  }

  RunOptions o_;
  std::string self_;
  std::string dir_;
  std::string fingerprint_;
  std::vector<int> relay_cores_;
  std::vector<int> load_cores_;
  std::string load_before_;
  std::string load_after_;
};

}  // namespace

void add_run_options(CLI::App& app, RunOptions& o) {
  app.add_option("--relay", o.relay, "the moq-relay to measure (default: beside moq-bench)");
  app.add_option("--matrix", o.matrix, "subscriber counts N, comma-separated")
      ->delimiter(',')
      ->check(CLI::Range(1, 20000))
      ->capture_default_str();
  app.add_option("--modes", o.modes, "stream modes: group (a stream per group), frame")
      ->delimiter(',')
      ->check(CLI::IsMember({"group", "frame"}))
      ->capture_default_str();
  app.add_option("--seconds", o.seconds, "seconds of measurement per cell")
      ->check(CLI::Range(0.5, 3600.0))
      ->capture_default_str();
  app.add_option("--warmup", o.warmup, "seconds of warm-up per cell (sessions join)")
      ->check(CLI::Range(0.0, 600.0))
      ->capture_default_str();
  app.add_option("--drain", o.drain,
                 "seconds after the window for its last frames to arrive (later: missing)")
      ->check(CLI::Range(0.0, 60.0))
      ->capture_default_str();
  app.add_option("--relay-core", o.relay_core,
                 "the core the relay is pinned to (default: the last)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--relay-cores", o.relay_cores,
                 "pin the relay to these cores instead (e.g. 0,1 to measure its workers; the "
                 "load generator shares them when no core is left)")
      ->delimiter(',');
  app.add_option("--relay-threads", o.relay_threads,
                 "the relay's worker threads (sets MOQ_RELAY_THREADS; relays without workers "
                 "ignore it)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--threads", o.threads,
                 "subscriber threads (default: one per core left to the load generator)")
      ->check(CLI::Range(1, 256));
  app.add_option("--tracks", o.tracks, "tracks per broadcast")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--frame-size", o.frame_size, "bytes per frame")
      ->check(CLI::Range(size_t{16}, size_t{16} << 20))
      ->capture_default_str();
  app.add_option("--fps", o.fps, "frames per second per track")
      ->check(CLI::Range(0.1, 10000.0))
      ->capture_default_str();
  app.add_option("--frames-per-group", o.frames_per_group, "frames per group")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_flag("--short", o.short_run,
               "CI smoke run: N = 1 and 10, both modes, 3 s each; fails on any missing frame or "
               "crash (no timing thresholds)");
  app.add_flag("--json", o.json, "print the table as JSON");
  app.add_option("--csv", o.csv, "also write the table as CSV to this file");
  app.add_option("--logs", o.keep, "folder for the programs' logs (default: a new one in /tmp)");
}

int run_driver(RunOptions options) {
  if (options.short_run) {
    options.matrix = {1, 10};
    options.modes = {"group", "frame"};
    options.seconds = 3;
    options.warmup = 1.5;
    options.drain = 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGINT, on_signal);
  ::signal(SIGTERM, on_signal);
  return Driver(std::move(options)).run();
}

}  // namespace moq::bench
