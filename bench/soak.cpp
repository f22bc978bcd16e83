// bench_soak: does memory stay flat on an endless broadcast?
//
// Publishes for a configurable time at >= 48 objects/s (video: one segment
// per second of 30 frame chunks, 1.5 Mbit/s; audio: one segment per 20 ms
// frame, 50 per second), with subscribers joining and leaving, and samples the
// resident memory (VmRSS) of every program involved every few seconds. After
// the warm-up it fits a line through the samples and prints the slope in
// KiB per minute: flat means within noise (the goal: under 20 KiB/min over
// 10 minutes).
//
//   bench_soak [--mode relay|chain|pubsub] [--duration S] [--warmup S]
//              [--sample S] [--subscribers N] [--churn S] [--max-slope K]
//              [--check] [--short] [--bin DIR]
//
//   relay   one moq-relay; publisher and subscribers in this process
//   chain   publisher -> relay A -> relay B (a remote broadcast, clustered
//           through moq-api and redis-server) -> subscribers on B
//   pubsub  ffmpeg test pattern (2 Mbit/s H.264 + AAC) -> moq-pub -> relay
//           -> 2 x moq-sub; moq-pub and moq-sub are sampled too
//
// --short is the CI smoke run (40 s, no verdict on the slope: too short to
// tell). --check exits 1 when a slope is over --max-slope. The exit status
// is 1 too when a program died or media stopped flowing.

#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cache/broadcast.h"
#include "process.h"
#include "quic/tls_cert.h"
#include "quic/tls_client.h"
#include "quic/tls_server.h"
#include "session/handshake.h"
#include "session/session.h"
#include "webtransport/client.h"

namespace fs = std::filesystem;
using namespace moq;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string mode = "relay";
  double duration = 600;
  double warmup = 60;
  double sample = 5;
  int subscribers = 4;
  double churn = 10;
  double max_slope = 20;
  bool check = false;
  bool short_run = false;
  std::string bin;
};

asio::awaitable<void> sleep_for(Clock::duration d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  asio::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

// Counters the media tasks update (one thread: no atomics needed).
struct Flow {
  uint64_t published = 0;
  uint64_t received = 0;
  uint64_t bytes_received = 0;
  uint64_t joins = 0;
  uint64_t failures = 0;
  std::string last_error;
};

// ---------------------------------------------------------------- publisher

asio::awaitable<void> refuse_unknown(cache::BroadcastWriter writer) {
  for (;;) {
    auto request = co_await writer.next_request();
    if (!request) co_return;
    (void)request->close(Error::not_found());
  }
}

void write_chunk(cache::SegmentWriter& segment, size_t size, uint8_t fill) {
  (void)segment.write(Bytes(std::vector<uint8_t>(size, fill)));
}

// Video: a segment per second (a GOP) growing by a 6 KB chunk per frame;
// audio: a segment per 20 ms frame (as Opus). Priority = media time in ms.
asio::awaitable<void> run_media(cache::BroadcastWriter writer, Flow* flow, const bool* stop) {
  auto video = writer.create_track("video");
  auto audio = writer.create_track("audio");
  if (!video || !audio) co_return;
  const auto start = Clock::now();
  std::optional<cache::SegmentWriter> gop;
  uint64_t frame = 0, audio_frame = 0, gop_seq = 0;
  const auto expires = std::chrono::duration_cast<async::Clock::duration>(10s);
  while (!*stop) {
    const auto video_due = start + frame * 1000000us / 30;
    const auto audio_due = start + audio_frame * 1000000us / 50;
    const auto due = std::min(video_due, audio_due);
    co_await sleep_for(due - Clock::now());
    const auto ms = [&](Clock::time_point t) {
      return static_cast<int32_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(t - start).count());
    };
    if (video_due <= audio_due) {
      if (frame % 30 == 0) {
        if (gop) (void)gop->finish();
        auto created = video->create_segment(cache::SegmentInfo{
            .sequence = gop_seq++, .priority = ms(video_due), .expires = expires});
        if (!created) co_return;
        gop.emplace(std::move(*created));
        ++flow->published;
      }
      write_chunk(*gop, frame % 30 == 0 ? 20000 : 5500, static_cast<uint8_t>(frame));
      ++frame;
    } else {
      auto created = audio->create_segment(cache::SegmentInfo{
          .sequence = audio_frame, .priority = ms(audio_due), .expires = expires});
      if (!created) co_return;
      write_chunk(*created, 200, static_cast<uint8_t>(audio_frame));
      (void)created->finish();
      ++flow->published;
      ++audio_frame;
    }
  }
  if (gop) (void)gop->finish();
  (void)video->finish();
  (void)audio->finish();
}

// Connects (retrying while the relay starts) and runs the session to its end.
asio::awaitable<std::shared_ptr<session::Session>> connect_session(wt::Client& client,
                                                                   std::string url,
                                                                   wire::Role role) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    auto transport = co_await client.connect(url);
    if (transport) {
      auto s = co_await session::connect(transport.value(), role);
      if (s) co_return s.value();
    }
    co_await sleep_for(200ms);
  }
  co_return nullptr;
}

asio::awaitable<void> run_publisher(wt::Client* client, std::string url, Flow* flow,
                                    const bool* stop, bool* ready) {
  auto session = co_await connect_session(*client, url, wire::Role::kPublisher);
  if (!session) {
    flow->last_error = "publisher cannot connect to " + url;
    ++flow->failures;
    co_return;
  }
  auto [writer, reader] = cache::make_broadcast();
  (void)session->publish(reader);
  auto ex = co_await asio::this_coro::executor;
  asio::co_spawn(ex, refuse_unknown(writer), asio::detached);
  asio::co_spawn(ex, run_media(writer, flow, stop), asio::detached);
  *ready = true;
  Error end = co_await session->run();
  if (!*stop) {
    flow->last_error = "publisher session ended: " + end.reason;
    ++flow->failures;
  }
}

// ---------------------------------------------------------------- subscribers

asio::awaitable<void> read_track(cache::TrackReader track, Flow* flow) {
  for (;;) {
    auto segment = co_await track.next_segment();
    if (!segment) co_return;
    for (;;) {
      auto chunk = co_await segment->next_chunk();
      if (!chunk) break;
      flow->bytes_received += chunk->size();
    }
    ++flow->received;
  }
}

struct Viewer {
  std::shared_ptr<session::Session> session;
};

asio::awaitable<void> run_viewer(wt::Client* client, std::string url, Flow* flow,
                                 std::shared_ptr<Viewer> viewer) {
  auto session = co_await connect_session(*client, url, wire::Role::kSubscriber);
  if (!session) {
    flow->last_error = "subscriber cannot connect to " + url;
    ++flow->failures;
    co_return;
  }
  viewer->session = session;
  ++flow->joins;
  auto [writer, reader] = cache::make_broadcast();
  (void)session->subscribe(std::move(writer));
  auto ex = co_await asio::this_coro::executor;
  for (const char* name : {"video", "audio"}) {
    if (auto track = reader.request_track(name)) {
      asio::co_spawn(ex, read_track(std::move(*track), flow), asio::detached);
    }
  }
  (void)co_await session->run();
  viewer->session.reset();
}

// Keeps `count` viewers; every `churn` seconds the oldest leaves and a new one
// joins.
asio::awaitable<void> run_audience(wt::Client* client, std::string url, int count, double churn,
                                   Flow* flow, const bool* stop, const bool* publishing) {
  auto ex = co_await asio::this_coro::executor;
  // Viewers come once the broadcast is live (and registered, in a cluster):
  // earlier ones would only get 404.
  while (!*publishing && !*stop)
    co_await sleep_for(50ms);
  std::deque<std::shared_ptr<Viewer>> viewers;
  auto join = [&] {
    auto v = std::make_shared<Viewer>();
    viewers.push_back(v);
    asio::co_spawn(ex, run_viewer(client, url, flow, v), asio::detached);
  };
  for (int i = 0; i < count; ++i)
    join();
  while (!*stop) {
    co_await sleep_for(std::chrono::milliseconds(static_cast<int64_t>(churn * 1000)));
    if (*stop) break;
    if (!viewers.empty()) {
      if (viewers.front()->session) viewers.front()->session->close(Error::closed());
      viewers.pop_front();
    }
    join();
  }
  for (auto& v : viewers) {
    if (v->session) v->session->close(Error::closed());
  }
}

// ---------------------------------------------------------------- sampling

struct Series {
  std::string name;
  const bench::Process* process;
  std::vector<std::pair<double, long>> samples;  // minutes since start, KiB
  double cpu_start = 0;
  double cpu_end = 0;
};

// Least-squares slope of KiB over minutes.
double slope(const std::vector<std::pair<double, long>>& s) {
  if (s.size() < 2) return 0;
  double mx = 0, my = 0;
  for (auto& [x, y] : s) {
    mx += x;
    my += static_cast<double>(y);
  }
  mx /= static_cast<double>(s.size());
  my /= static_cast<double>(s.size());
  double num = 0, den = 0;
  for (auto& [x, y] : s) {
    num += (x - mx) * (static_cast<double>(y) - my);
    den += (x - mx) * (x - mx);
  }
  return den > 0 ? num / den : 0;
}

// ---------------------------------------------------------------- the run

class Soak {
 public:
  explicit Soak(Options o) : opt_(std::move(o)) {}

  int run() {
    std::string tmpl = (fs::temp_directory_path() / "moq-soak-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) return fail("cannot make a temporary folder");
    dir_ = tmpl;
    if (!make_certificate()) return 1;
    const int started = start_programs();
    if (started != 0) return started;
    auto client = make_client();
    if (!client) return fail("cannot create the client");

    bool stop = false, ready = opt_.mode == "pubsub";
    if (opt_.mode != "pubsub") {
      asio::co_spawn(io_, run_publisher(client.get(), url(origin_port_), &flow_, &stop, &ready),
                     asio::detached);
      asio::co_spawn(io_,
                     run_audience(client.get(), url(edge_port_), opt_.subscribers, opt_.churn,
                                  &flow_, &stop, &ready),
                     asio::detached);
    }
    std::printf("soak: mode %s, %.0f s (warm-up %.0f s), sampling every %.0f s, files in %s\n",
                opt_.mode.c_str(), opt_.duration, opt_.warmup, opt_.sample, dir_.c_str());
    std::fflush(stdout);

    const auto start = Clock::now();
    auto next_sample = start;
    uint64_t last_received = 0;
    auto last_flow_check = start;
    bool stalled = false;
    for (auto& s : series_)
      s.cpu_start = s.process->cpu_seconds().value_or(0);
    while (Clock::now() - start < std::chrono::duration<double>(opt_.duration)) {
      io_.run_for(100ms);
      if (!sub_pipes_.empty()) pubsub_bytes();
      if (io_.stopped()) io_.restart();
      const auto now = Clock::now();
      if (now >= next_sample) {
        next_sample += std::chrono::milliseconds(static_cast<int64_t>(opt_.sample * 1000));
        const double minutes = std::chrono::duration<double>(now - start).count() / 60;
        for (auto& s : series_) {
          if (auto rss = s.process->rss_kib()) s.samples.emplace_back(minutes, *rss);
        }
        print_progress(minutes);
      }
      for (auto& p : programs_) {
        if (!p->running()) return fail(p->name() + " died (see " + dir_ + ")");
      }
      if (ready && now - last_flow_check > 10s) {
        const uint64_t received = opt_.mode == "pubsub" ? pubsub_bytes() : flow_.received;
        if (received == last_received) stalled = true;
        last_received = received;
        last_flow_check = now;
      }
    }
    for (auto& s : series_)
      s.cpu_end = s.process->cpu_seconds().value_or(0);
    stop = true;
    client->endpoint().shutdown();
    io_.run_for(300ms);
    const int verdict = report();
    for (auto it = programs_.rbegin(); it != programs_.rend(); ++it)
      (*it)->stop();
    if (stalled) return fail("media stopped flowing for 10 s");
    if (flow_.failures > 0) return fail(flow_.last_error);
    return verdict;
  }

 private:
  int fail(const std::string& why) {
    std::fprintf(stderr, "soak: %s\n", why.c_str());
    return 1;
  }
  std::string bin(const std::string& name) const { return (fs::path(opt_.bin) / name).string(); }
  std::string path(const std::string& name) const { return (fs::path(dir_) / name).string(); }
  std::string url(int port) const { return "https://localhost:" + std::to_string(port) + "/soak"; }

  bool make_certificate() {
    auto pem = quic::generate_dev_certificate();
    if (!pem) return fail("cannot make a certificate") == 0;
    if (!quic::write_pem_files(*pem, path("cert.pem"), path("key.pem"))) {
      return fail("cannot write the certificate") == 0;
    }
    quic::TlsServerConfig sc;
    sc.pem_pairs.push_back(*pem);
    auto server = quic::TlsServerContext::create(sc);
    if (!server) return fail("bad certificate") == 0;
    fingerprint_ = server->fingerprint_hex();
    return true;
  }

  bench::Process& spawn(const std::string& label, std::vector<std::string> argv,
                        bench::Process::Options options = {}) {
    if (options.stderr_path == "/dev/null") options.stderr_path = path(label + ".log");
    programs_.push_back(std::make_unique<bench::Process>(argv, options));
    return *programs_.back();
  }

  bench::Process& start_relay(const std::string& label, int port,
                              std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {bin("moq-relay"),
                                     "--listen",
                                     "[::]:" + std::to_string(port),
                                     "--tls-cert",
                                     path("cert.pem"),
                                     "--tls-key",
                                     path("key.pem"),
                                     "--tls-root",
                                     path("cert.pem"),
                                     "--log-level",
                                     "warn"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto& p = spawn(label, argv);
    series_.push_back({label, &p, {}});
    return p;
  }

  int start_programs() {
    origin_port_ = edge_port_ = bench::free_port();
    if (opt_.mode == "relay") {
      start_relay("moq-relay", origin_port_);
    } else if (opt_.mode == "chain") {
      const int redis = bench::free_port(), api = bench::free_port();
      spawn("redis-server", {"redis-server", "--port", std::to_string(redis), "--save", "",
                             "--appendonly", "no", "--bind", "127.0.0.1"});
      spawn("moq-api", {bin("moq-api"), "--listen", "127.0.0.1:" + std::to_string(api), "--redis",
                        "redis://127.0.0.1:" + std::to_string(redis)});
      std::this_thread::sleep_for(500ms);
      const std::string api_url = "http://127.0.0.1:" + std::to_string(api);
      edge_port_ = bench::free_port();
      start_relay(
          "relay A (origin)", origin_port_,
          {"--api", api_url, "--api-node", "https://localhost:" + std::to_string(origin_port_)});
      start_relay(
          "relay B (edge)", edge_port_,
          {"--api", api_url, "--api-node", "https://localhost:" + std::to_string(edge_port_)});
    } else if (opt_.mode == "pubsub") {
      start_relay("moq-relay", origin_port_);
      int pipe_fds[2];
      if (::pipe(pipe_fds) != 0) return fail("pipe");
      spawn("ffmpeg", {"ffmpeg",    "-hide_banner",
                       "-loglevel", "error",
                       "-nostdin",  "-re",
                       "-f",        "lavfi",
                       "-i",        "testsrc=size=1280x720:rate=30",
                       "-f",        "lavfi",
                       "-i",        "sine=frequency=440:sample_rate=48000",
                       "-c:v",      "libx264",
                       "-preset",   "ultrafast",
                       "-tune",     "zerolatency",
                       "-b:v",      "2M",
                       "-g",        "30",
                       "-pix_fmt",  "yuv420p",
                       "-c:a",      "aac",
                       "-b:a",      "128k",
                       "-f",        "mp4",
                       "-movflags", "empty_moov+frag_every_frame+separate_moof+omit_tfhd_offset",
                       "-"},
            {.stdout_fd = pipe_fds[1]});
      auto& pub = spawn("moq-pub",
                        {bin("moq-pub"), url(origin_port_), "--fingerprint", fingerprint_, "--fps",
                         "30", "--bitrate", "2000000"},
                        {.stdin_fd = pipe_fds[0]});
      ::close(pipe_fds[0]);
      ::close(pipe_fds[1]);
      series_.push_back({"moq-pub", &pub, {}});
      std::this_thread::sleep_for(2s);
      for (int i = 0; i < 2; ++i) {
        // Its fMP4 comes back through a pipe and is only counted.
        int out[2];
        if (::pipe(out) != 0) return fail("pipe");
        ::fcntl(out[0], F_SETFL, O_NONBLOCK);
        auto& sub = spawn("moq-sub " + std::to_string(i),
                          {bin("moq-sub"), url(origin_port_), "--fingerprint", fingerprint_},
                          {.stdout_fd = out[1]});
        ::close(out[1]);
        sub_pipes_.push_back(out[0]);
        series_.push_back({"moq-sub " + std::to_string(i), &sub, {}});
      }
    } else {
      return fail("unknown mode '" + opt_.mode + "' (relay, chain or pubsub)");
    }
    return 0;
  }

  // Bytes moq-sub wrote to stdout so far (its pipes are drained here).
  uint64_t pubsub_bytes() {
    static thread_local std::vector<char> buf(1 << 16);
    for (int fd : sub_pipes_) {
      for (;;) {
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n <= 0) break;
        sub_bytes_ += static_cast<uint64_t>(n);
      }
    }
    return sub_bytes_;
  }

  std::unique_ptr<wt::Client> make_client() {
    quic::TlsClientConfig cc;
    cc.fingerprint = fingerprint_;
    auto tls = quic::TlsClientContext::create(cc);
    if (!tls) return nullptr;
    auto client = wt::Client::create(io_, asio::ip::udp::endpoint(asio::ip::udp::v6(), 0), {},
                                     std::move(*tls));
    return client ? std::move(client.value()) : nullptr;
  }

  void print_progress(double minutes) {
    std::printf("  %6.2f min", minutes);
    for (auto& s : series_) {
      if (!s.samples.empty()) std::printf("  %s %ld KiB", s.name.c_str(), s.samples.back().second);
    }
    if (opt_.mode == "pubsub") {
      std::printf("  moq-sub output %.1f MB", static_cast<double>(pubsub_bytes()) / 1e6);
    } else {
      std::printf("  objects %llu sent, %llu received, %llu joins",
                  static_cast<unsigned long long>(flow_.published),
                  static_cast<unsigned long long>(flow_.received),
                  static_cast<unsigned long long>(flow_.joins));
    }
    std::printf("\n");
    std::fflush(stdout);
  }

  int report() {
    const double warm = opt_.warmup / 60;
    std::printf("\n%-18s %8s %12s %12s %12s %14s %8s  %s\n", "program", "samples", "RSS warm KiB",
                "RSS end KiB", "max KiB", "slope KiB/min", "CPU s", "verdict");
    int status = 0;
    for (auto& s : series_) {
      std::vector<std::pair<double, long>> after;
      long max = 0;
      for (auto& sample : s.samples) {
        if (sample.first >= warm) after.push_back(sample);
      }
      for (auto& sample : after)
        max = std::max(max, sample.second);
      const double k = slope(after);
      const bool flat = k < opt_.max_slope;
      const char* verdict = opt_.short_run ? "(short run: not judged)" : flat ? "flat" : "GROWS";
      if (opt_.check && !opt_.short_run && !flat) status = 1;
      std::printf("%-18s %8zu %12ld %12ld %12ld %14.1f %8.1f  %s\n", s.name.c_str(), after.size(),
                  after.empty() ? 0 : after.front().second, after.empty() ? 0 : after.back().second,
                  max, k, s.cpu_end - s.cpu_start, verdict);
    }
    if (opt_.mode != "pubsub") {
      std::printf("objects: %llu published, %llu received by %llu subscriber sessions (%.1f MB)\n",
                  static_cast<unsigned long long>(flow_.published),
                  static_cast<unsigned long long>(flow_.received),
                  static_cast<unsigned long long>(flow_.joins),
                  static_cast<double>(flow_.bytes_received) / 1e6);
      if (flow_.received == 0) status = 1;
    }
    return status;
  }

  Options opt_;
  std::string dir_;
  std::string fingerprint_;
  int origin_port_ = 0;
  int edge_port_ = 0;
  asio::io_context io_;
  Flow flow_;
  std::vector<std::unique_ptr<bench::Process>> programs_;
  std::vector<Series> series_;
  std::vector<int> sub_pipes_;
  uint64_t sub_bytes_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  opt.bin = fs::path(argv[0]).parent_path().string();
  CLI::App app{"bench_soak: resident memory over time on an endless broadcast"};
  app.add_option("--mode", opt.mode, "relay, chain or pubsub")->capture_default_str();
  app.add_option("--duration", opt.duration, "seconds to run")->capture_default_str();
  app.add_option("--warmup", opt.warmup, "seconds left out of the slope")->capture_default_str();
  app.add_option("--sample", opt.sample, "seconds between samples")->capture_default_str();
  app.add_option("--subscribers", opt.subscribers, "subscribers at any time")
      ->capture_default_str();
  app.add_option("--churn", opt.churn, "seconds between a subscriber leaving and one joining")
      ->capture_default_str();
  app.add_option("--max-slope", opt.max_slope, "KiB/min under which memory counts as flat")
      ->capture_default_str();
  app.add_flag("--check", opt.check, "exit 1 when a slope is over --max-slope");
  app.add_flag("--short", opt.short_run, "CI smoke run: 40 s, 10 s warm-up, 2 s samples");
  app.add_option("--bin", opt.bin, "folder of moq-relay, moq-api, moq-pub, moq-sub")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (opt.short_run) {
    opt.duration = 40;
    opt.warmup = 10;
    opt.sample = 2;
    opt.churn = 3;
  }
  ::signal(SIGPIPE, SIG_IGN);
  return Soak(opt).run();
}
