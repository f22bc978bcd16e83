#include "sub.h"

#include <sched.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <cstdio>
#include <iostream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "async/notify.h"
#include "bench_client.h"
#include "cache/broadcast.h"
#include "frame.h"
#include "histogram.h"
#include "kernel_stats.h"
#include "options.h"
#include "webtransport/url.h"

namespace moq::bench {
namespace {

// A thread busier than this (CPU time / wall time over the window) could
// not keep up: the figures then measure the load generator, not the relay.
constexpr double kBusyLimit = 0.85;

// The measurement window, on CLOCK_MONOTONIC. Frames sent in [start, end]
// count for latency and missing frames (they may arrive until `stop`);
// frames arriving in [start, end] count as delivered, for the relay's cost
// per frame over the same window.
struct Window {
  int64_t start = 0;
  int64_t end = 0;
  int64_t stop = 0;
};

struct Viewer {
  int64_t connect_start = 0;
  int64_t connected = 0;
  int64_t first_frame = 0;  // arrival of its first frame, 0 until then
  std::string error;        // empty: fine
  std::shared_ptr<session::Session> session;
  // Per track: sequence numbers of the frames sent in the window that arrived.
  std::vector<std::vector<uint64_t>> sequences;
};

// One thread: its own io_context and client, a share of the sessions.
class Worker {
 public:
  Worker(const SubOptions& options, Window window, size_t viewers)
      : options_(options), window_(window) {
    for (size_t i = 0; i < viewers; ++i) {
      viewers_.push_back(std::make_unique<Viewer>());
      viewers_.back()->sequences.resize(static_cast<size_t>(options.tracks));
    }
  }

  void run() {
    auto bind = app::parse_socket_address(options_.client.bind);
    auto tls = app::make_client_tls(options_.client.tls);
    if (!bind || !tls) {
      setup_error_ = "cannot set up the client";
      return;
    }
    quic::QuicConfig quic = options_.client.quic;
    quic.handshake_timeout = options_.client.connect_timeout_ms();
    auto client = wt::Client::create(io_, *bind, quic, std::move(tls.value()));
    if (!client) {
      setup_error_ = "cannot bind " + options_.client.bind + ": " + client.error().reason;
      return;
    }
    client_ = std::move(client.value());
    // One socket stands for the sockets of many viewers: give it room for
    // their bursts (the library leaves SO_RCVBUF at the system default).
    port_ = client_->endpoint().local_endpoint().port();
    if (options_.receive_buffer > 0) {
      receive_buffer_ = raise_receive_buffer(port_, options_.receive_buffer).value_or(0);
    }
    asio::co_spawn(io_, connect_all(), asio::detached);
    asio::co_spawn(io_, clock(), asio::detached);
    io_.run();
    for (auto& v : viewers_)
      v->session.reset();
    client_.reset();
  }

  const std::string& setup_error() const { return setup_error_; }
  const std::vector<std::unique_ptr<Viewer>>& viewers() const { return viewers_; }
  const Histogram& latency() const { return latency_; }
  uint64_t delivered() const { return delivered_; }
  uint64_t bad_frames() const { return bad_frames_; }
  uint64_t segments_reset() const { return segments_reset_; }
  // CPU time over wall time of this thread during the window.
  double busy() const { return wall_ns_ > 0 ? double(cpu_ns_) / double(wall_ns_) : 0; }
  // Time runnable but waiting for a CPU over wall time, during the window.
  double waiting() const { return wall_ns_ > 0 ? double(wait_ns_) / double(wall_ns_) : 0; }
  // Datagrams the kernel dropped on this thread's socket (full receive
  // buffer) from the window's start to the end of the drain.
  uint64_t udp_drops() const { return udp_drops_; }
  int receive_buffer() const { return receive_buffer_; }

 private:
  asio::awaitable<void> connect_all() {
    const int limit = std::max(1, options_.connect_concurrency);
    for (auto& v : viewers_) {
      while (connecting_ >= limit && !stopping_)
        (void)co_await slots_.wait();
      if (stopping_) break;
      ++connecting_;
      asio::co_spawn(io_, run_viewer(v.get()), asio::detached);
    }
  }

  asio::awaitable<void> run_viewer(Viewer* v) {
    v->connect_start = now_ns();
    const int64_t deadline = v->connect_start + seconds_ns(options_.client.connect_timeout);
    auto session = co_await connect_with_retry(
        *client_, options_.client.url, wire::Role::kSubscriber, std::min(deadline, window_.stop));
    --connecting_;
    slots_.notify_all();
    if (!session) {
      v->error = session.error().reason;
      co_return;
    }
    if (stopping_) {
      session.value()->close(Error::closed());
      co_return;
    }
    v->session = session.value();
    v->connected = now_ns();
    auto [writer, reader] = cache::make_broadcast();
    (void)v->session->subscribe(std::move(writer));
    for (int k = 0; k < options_.tracks; ++k) {
      auto track = reader.request_track(std::to_string(k));
      if (!track) {
        v->error = "track " + std::to_string(k) + ": " + track.error().reason;
        break;
      }
      asio::co_spawn(io_, read_track(v, static_cast<size_t>(k), std::move(*track)), asio::detached);
    }
    const Error end = co_await v->session->run();
    if (!stopping_ && v->error.empty()) {
      v->error = "session ended early: " + end.reason + " (code " + std::to_string(end.code) + ")";
    }
  }

  asio::awaitable<void> read_track(Viewer* v, size_t track, cache::TrackReader reader) {
    for (;;) {
      auto segment = co_await reader.next_segment();
      if (!segment) {
        const Error& e = segment.error();
        if (!stopping_ && v->error.empty()) {
          v->error = "track " + reader.name() + " ended early: " + e.reason + " (code " +
                     std::to_string(e.code) + ")";
        }
        co_return;
      }
      asio::co_spawn(io_, read_segment(v, track, std::move(*segment)), asio::detached);
    }
  }

  asio::awaitable<void> read_segment(Viewer* v, size_t track, cache::SegmentReader segment) {
    FrameCutter cutter(options_.frame_size);
    for (;;) {
      auto chunk = co_await segment.next_chunk();
      if (!chunk) {
        if (chunk.error().is_closed()) {
          // An object that is not a whole number of frames: --frame-size
          // differs from the publisher's.
          if (!cutter.at_boundary()) ++bad_frames_;
        } else if (!stopping_) {
          ++segments_reset_;  // dropped by the relay (a slow subscriber)
        }
        co_return;
      }
      const int64_t arrival = now_ns();
      cutter.feed(chunk->span(),
                  [&](const FrameHeader& header) { on_frame(*v, track, header, arrival); });
    }
  }

  void on_frame(Viewer& v, size_t track, const FrameHeader& header, int64_t arrival) {
    // Not a frame of ours (another --frame-size): a send time from the future
    // or from long ago.
    if (header.send_ns > arrival + seconds_ns(0.001) ||
        header.send_ns < arrival - seconds_ns(600)) {
      ++bad_frames_;
      return;
    }
    if (v.first_frame == 0) v.first_frame = arrival;
    if (arrival >= window_.start && arrival <= window_.end) ++delivered_;
    if (header.send_ns >= window_.start && header.send_ns <= window_.end) {
      latency_.add(arrival - header.send_ns);
      v.sequences[track].push_back(header.sequence);
    }
  }

  // Measures this thread's CPU over the window, then ends every session.
  asio::awaitable<void> clock() {
    co_await sleep_until_ns(window_.start);
    const int64_t cpu0 = thread_cpu_ns(), wall0 = now_ns();
    const int64_t wait0 = thread_schedstat().wait_ns;
    const uint64_t drops0 = udp_socket_drops(port_).value_or(0);
    co_await sleep_until_ns(window_.end);
    cpu_ns_ = thread_cpu_ns() - cpu0;
    wall_ns_ = now_ns() - wall0;
    wait_ns_ = thread_schedstat().wait_ns - wait0;
    co_await sleep_until_ns(window_.stop);
    udp_drops_ = udp_socket_drops(port_).value_or(drops0) - drops0;
    stopping_ = true;
    slots_.notify_all();
    for (auto& v : viewers_) {
      if (v->session) v->session->close(Error::closed());
    }
    const int64_t until = now_ns() + seconds_ns(1);
    while (client_->endpoint().connection_count() > 0 && now_ns() < until)
      co_await sleep_until_ns(now_ns() + seconds_ns(0.01));
    client_->endpoint().shutdown();
    io_.stop();
  }

  const SubOptions& options_;
  const Window window_;
  asio::io_context io_;
  std::unique_ptr<wt::Client> client_;
  std::vector<std::unique_ptr<Viewer>> viewers_;
  std::string setup_error_;
  async::Notify slots_;
  int connecting_ = 0;
  bool stopping_ = false;
  Histogram latency_;
  uint64_t delivered_ = 0;
  uint64_t bad_frames_ = 0;
  uint64_t segments_reset_ = 0;
  int64_t cpu_ns_ = 0;
  int64_t wall_ns_ = 0;
  int64_t wait_ns_ = 0;
  uint16_t port_ = 0;
  int receive_buffer_ = 0;
  uint64_t udp_drops_ = 0;
};

int default_threads() {
  cpu_set_t set;
  CPU_ZERO(&set);
  int cores = ::sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
  if (cores <= 0) cores = static_cast<int>(std::thread::hardware_concurrency());
  return std::max(1, cores - 1);
}

double ms(int64_t ns) {
  return static_cast<double>(ns / 1000) / 1000.0;  // µs resolution
}

// What the run found, summed over threads.
struct Summary {
  int connected = 0;
  int failed = 0;
  int joined_late = 0;  // first frame after the window started
  std::vector<std::string> errors;
  Histogram latency;
  Histogram join;
  uint64_t delivered = 0;
  uint64_t expected = 0;
  uint64_t received = 0;
  uint64_t missing = 0;
  uint64_t bad_frames = 0;
  uint64_t segments_reset = 0;
  uint64_t udp_drops = 0;
  int receive_buffer = 0;  // granted to each socket (the smallest)
  int still_connecting = 0;
  std::vector<double> busy;
  double max_busy = 0;
  double max_waiting = 0;
  double process_cpu = 0;
};

Summary summarize(const SubOptions& options, const Window& window,
                  const std::vector<std::unique_ptr<Worker>>& workers) {
  Summary s;
  const auto tracks = static_cast<size_t>(options.tracks);
  // Per track, the range of frames the publisher sent in the window (as far
  // as any session saw them).
  std::vector<uint64_t> lo(tracks, std::numeric_limits<uint64_t>::max()), hi(tracks, 0);
  std::vector<bool> seen(tracks, false);
  for (auto& w : workers) {
    if (!w->setup_error().empty()) s.errors.push_back(w->setup_error());
    for (auto& v : w->viewers()) {
      for (size_t t = 0; t < tracks; ++t) {
        auto& seqs = v->sequences[t];
        std::sort(seqs.begin(), seqs.end());
        seqs.erase(std::unique(seqs.begin(), seqs.end()), seqs.end());
        if (seqs.empty()) continue;
        seen[t] = true;
        lo[t] = std::min(lo[t], seqs.front());
        hi[t] = std::max(hi[t], seqs.back());
      }
    }
  }
  for (auto& w : workers) {
    s.latency.merge(w->latency());
    s.delivered += w->delivered();
    s.bad_frames += w->bad_frames();
    s.segments_reset += w->segments_reset();
    s.udp_drops += w->udp_drops();
    if (s.receive_buffer == 0 || w->receive_buffer() < s.receive_buffer) {
      s.receive_buffer = w->receive_buffer();
    }
    s.busy.push_back(w->busy());
    s.max_busy = std::max(s.max_busy, w->busy());
    s.max_waiting = std::max(s.max_waiting, w->waiting());
    for (auto& v : w->viewers()) {
      if (v->connected) {
        ++s.connected;
      } else {
        ++s.failed;
      }
      if (!v->error.empty() && s.errors.size() < 5) s.errors.push_back(v->error);
      if (!v->connected && v->error.empty()) ++s.still_connecting;
      if (v->first_frame) s.join.add(v->first_frame - v->connect_start);
      const bool late = v->first_frame > window.start;
      if (late) ++s.joined_late;
      for (size_t t = 0; t < tracks; ++t) {
        if (!seen[t]) continue;
        const auto& seqs = v->sequences[t];
        // A session that was receiving when the window opened should get
        // every frame sent in it; a late one, every frame from its first.
        uint64_t from = lo[t];
        if (late || v->first_frame == 0) {
          if (seqs.empty()) {
            if (v->first_frame == 0) {
              s.expected += hi[t] - lo[t] + 1;
              s.missing += hi[t] - lo[t] + 1;
            }
            continue;
          }
          from = seqs.front();
        }
        const uint64_t expected = hi[t] - from + 1;
        const auto received = static_cast<uint64_t>(
            std::count_if(seqs.begin(), seqs.end(), [&](uint64_t q) { return q >= from; }));
        s.expected += expected;
        s.received += received;
        s.missing += expected - received;
      }
    }
  }
  if (s.still_connecting > 0) {
    s.errors.push_back(std::to_string(s.still_connecting) +
                       " session(s) had not connected by the end");
  }
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  s.process_cpu = double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                  double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  return s;
}

void print_json(const SubOptions& options, const Window& window, int threads, const Summary& s) {
  nlohmann::json out;
  out["sessions"] = options.sessions;
  out["threads"] = threads;
  out["tracks"] = options.tracks;
  out["frame_size"] = options.frame_size;
  out["window"] = {{"warmup_s", options.warmup},
                   {"duration_s", options.duration},
                   {"drain_s", options.drain},
                   {"start_ns", window.start},
                   {"end_ns", window.end}};
  out["connected"] = s.connected;
  out["failed"] = s.failed;
  out["joined_late"] = s.joined_late;
  out["errors"] = s.errors;
  out["frames_delivered"] = s.delivered;
  out["bytes_delivered"] = s.delivered * options.frame_size;
  out["frames_expected"] = s.expected;
  out["frames_received"] = s.received;
  out["frames_missing"] = s.missing;
  out["bad_frames"] = s.bad_frames;
  out["objects_reset"] = s.segments_reset;
  out["udp_drops"] = s.udp_drops;
  out["receive_buffer"] = s.receive_buffer;
  out["latency_ms"] = {{"count", s.latency.count()},
                       {"p50", ms(s.latency.quantile(0.50))},
                       {"p90", ms(s.latency.quantile(0.90))},
                       {"p99", ms(s.latency.quantile(0.99))},
                       {"max", ms(s.latency.max())}};
  out["join_ms"] = {{"p50", ms(s.join.quantile(0.5))}, {"max", ms(s.join.max())}};
  out["thread_busy"] = s.busy;
  out["max_thread_busy"] = s.max_busy;
  out["max_thread_waiting"] = s.max_waiting;
  out["process_cpu_s"] = s.process_cpu;
  out["bottleneck"] = s.max_busy > kBusyLimit;
  std::printf("%s\n", out.dump().c_str());
}

void print_text(const SubOptions& options, int threads, const Summary& s) {
  const double mbit = double(s.delivered * options.frame_size) * 8 / 1e6 / options.duration;
  std::printf("moq-bench sub: %d session(s) on %d thread(s), %d track(s) of %zu-byte frames\n",
              options.sessions, threads, options.tracks, options.frame_size);
  std::printf("  window: %.1f s after %.1f s of warm-up (+%.1f s for late frames)\n",
              options.duration, options.warmup, options.drain);
  std::printf("  sessions: %d connected, %d failed, %d first frame after the warm-up\n",
              s.connected, s.failed, s.joined_late);
  std::printf("  join (connect start to first frame): p50 %.1f ms, max %.1f ms\n",
              ms(s.join.quantile(0.5)), ms(s.join.max()));
  std::printf("  frames that arrived in the window: %llu (%.1f Mbit/s)\n",
              static_cast<unsigned long long>(s.delivered), mbit);
  std::printf("  frames sent in the window: %llu expected, %llu received, %llu missing\n",
              static_cast<unsigned long long>(s.expected),
              static_cast<unsigned long long>(s.received),
              static_cast<unsigned long long>(s.missing));
  if (s.bad_frames > 0) {
    std::printf("  %llu bad frames: is --frame-size the publisher's?\n",
                static_cast<unsigned long long>(s.bad_frames));
  }
  if (s.udp_drops > 0) {
    std::printf("  %llu datagrams dropped by the kernel on our sockets (receive buffer %d bytes)\n",
                static_cast<unsigned long long>(s.udp_drops), s.receive_buffer);
  }
  if (s.segments_reset > 0) {
    std::printf("  %llu objects reset by the relay\n",
                static_cast<unsigned long long>(s.segments_reset));
  }
  std::printf("  latency (send to last byte): p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms\n",
              ms(s.latency.quantile(0.5)), ms(s.latency.quantile(0.9)),
              ms(s.latency.quantile(0.99)), ms(s.latency.max()));
  std::printf("  load generator: busiest thread %.0f %% of the window%s\n", s.max_busy * 100,
              s.max_busy > kBusyLimit ? ": THE LOAD GENERATOR WAS THE BOTTLENECK" : "");
  if (s.max_waiting > 0.05) {
    std::printf("  a thread waited for a CPU %.0f %% of the window: other work shares its core\n",
                s.max_waiting * 100);
  }
  for (auto& e : s.errors)
    std::printf("  error: %s\n", e.c_str());
}

}  // namespace

void add_sub_options(CLI::App& app, SubOptions& options) {
  app::add_moq_client_options(app, options.client, "MOQ_BENCH_SUB");
  app.add_option("-n,--sessions", options.sessions, "subscriber sessions")
      ->required()
      ->check(CLI::Range(1, 100000));
  app.add_option("--threads", options.threads,
                 "threads, each with its own event loop and UDP socket (default: cores - 1, at "
                 "least 1)")
      ->check(CLI::Range(1, 256));
  app.add_option("--tracks", options.tracks, "tracks to subscribe, named 0..K-1")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--frame-size", options.frame_size, "bytes per frame: the publisher's")
      ->check(CLI::Range(size_t{16}, size_t{16} << 20))
      ->capture_default_str();
  app.add_option("--warmup", options.warmup, "seconds before the measurement window")
      ->check(CLI::Range(0.0, 600.0))
      ->capture_default_str();
  app.add_option("--duration", options.duration, "seconds of the measurement window")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--drain", options.drain,
                 "seconds after the window for frames sent in it to arrive; later ones are "
                 "missing")
      ->check(CLI::Range(0.0, 600.0))
      ->capture_default_str();
  app.add_option("--clock-start", options.clock_start_ns,
                 "CLOCK_MONOTONIC ns at which the warm-up starts (for the driver; default: now)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--connect-concurrency", options.connect_concurrency,
                 "handshakes in flight per thread")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--receive-buffer", options.receive_buffer,
                 "SO_RCVBUF to ask for each thread's UDP socket, which many sessions share "
                 "(default: net.core.rmem_max; 0: the system default)")
      ->check(CLI::Range(0, 1 << 30));
  app.add_flag("--json", options.json, "print one JSON object");
}

int run_sub(SubOptions options) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("moq-bench sub"));
  app::setup_logging(options.client.log_level);
  auto url = wt::parse_https_url(options.client.url);
  if (!url || url->path.size() <= 1) {
    std::cerr << "moq-bench sub: bad URL '" << options.client.url
              << "' (expected https://host:port/NAME)" << std::endl;
    return app::kExitUsage;
  }
  if (auto bind = app::parse_socket_address(options.client.bind); !bind) {
    std::cerr << "moq-bench sub: --bind: " << bind.error().reason << std::endl;
    return app::kExitUsage;
  }
  if (auto tls = app::make_client_tls(options.client.tls); !tls) {
    std::cerr << "moq-bench sub: TLS: " << tls.error().reason << std::endl;
    return app::kExitUsage;
  }
  if (options.receive_buffer < 0) options.receive_buffer = max_receive_buffer();
  const int threads =
      std::min(options.sessions, options.threads > 0 ? options.threads : default_threads());

  Window window;
  const int64_t start = options.clock_start_ns > 0 ? options.clock_start_ns : now_ns();
  window.start = start + seconds_ns(options.warmup);
  window.end = window.start + seconds_ns(options.duration);
  window.stop = window.end + seconds_ns(options.drain);
  if (window.end <= now_ns()) {
    std::cerr << "moq-bench sub: --clock-start is so long ago that the window is over" << std::endl;
    return app::kExitUsage;
  }

  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < threads; ++t) {
    const int share = options.sessions / threads + (t < options.sessions % threads ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(options, window, static_cast<size_t>(share)));
  }
  std::vector<std::thread> running;
  for (auto& w : workers)
    running.emplace_back([&w] { w->run(); });
  for (auto& t : running)
    t.join();

  const Summary summary = summarize(options, window, workers);
  if (options.json) {
    print_json(options, window, threads, summary);
  } else {
    print_text(options, threads, summary);
  }
  std::fflush(stdout);
  const bool ok = summary.failed == 0 && summary.errors.empty() && summary.delivered > 0 &&
                  summary.bad_frames == 0;
  return ok ? 0 : 1;
}

}  // namespace moq::bench
