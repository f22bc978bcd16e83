#include "pub.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>
#include <optional>
#include <vector>

#include "bench_client.h"
#include "cache/broadcast.h"
#include "frame.h"

namespace moq::bench {
namespace {

using app::kExitConnection;

// Answers requests for tracks this broadcast does not have with 404.
asio::awaitable<void> refuse_unknown(cache::BroadcastWriter writer) {
  for (;;) {
    auto request = co_await writer.next_request();
    if (!request) co_return;
    spdlog::warn("request for unknown track '{}': 404", request->name());
    (void)request->close(Error::not_found());
  }
}

class Publisher {
 public:
  Publisher(asio::io_context& io, const PubOptions& options, std::unique_ptr<wt::Client> client)
      : io_(io), options_(options), client_(std::move(client)) {
    const double group_seconds = options.frames_per_group / options.fps;
    const double expires = options.expires > 0 ? options.expires : std::max(2.0, group_seconds + 1);
    expires_ =
        std::chrono::duration_cast<async::Clock::duration>(std::chrono::duration<double>(expires));
  }

  int run() {
    asio::co_spawn(io_, main_task(), asio::detached);
    asio::signal_set signals(io_, SIGINT, SIGTERM);
    signals.async_wait([this](const asio::error_code& ec, int) {
      if (!ec) stopping_ = true;
    });
    io_.run();
    return status_.value_or(kExitConnection);
  }

 private:
  asio::awaitable<void> main_task() {
    const int64_t deadline = now_ns() + seconds_ns(options_.client.connect_timeout);
    auto session = co_await connect_with_retry(*client_, options_.client.url,
                                               wire::Role::kPublisher, deadline);
    if (!session) co_return fail(session.error().reason);
    session_ = session.value();

    auto [writer, reader] = cache::make_broadcast();
    for (int k = 0; k < options_.tracks; ++k) {
      auto track = writer.create_track(std::to_string(k));
      if (!track) co_return fail("cannot create track: " + track.error().reason);
      tracks_.push_back(std::move(*track));
    }
    open_.resize(tracks_.size());
    (void)session_->publish(reader);
    asio::co_spawn(io_, refuse_unknown(writer), asio::detached);
    asio::co_spawn(io_, run_session(), asio::detached);
    std::printf("ready: publishing %d track(s) of %zu-byte frames at %g fps, one object per %s\n",
                options_.tracks, options_.frame_size, options_.fps, options_.stream_per.c_str());
    std::fflush(stdout);

    co_await send_frames();
    if (status_) co_return;

    // The end: every track and the broadcast end cleanly, the relay takes
    // what is in flight, then the session closes.
    for (auto& segment : open_) {
      if (segment) (void)segment->finish();
      segment.reset();
    }
    for (auto& track : tracks_)
      (void)track.finish();
    (void)writer.close(Error::closed());
    const int64_t drain_until = now_ns() + seconds_ns(2);
    while (!status_ && session_->active_subscriptions() > 0 && now_ns() < drain_until)
      co_await sleep_until_ns(now_ns() + seconds_ns(0.02));
    if (status_) co_return;
    closing_ = true;
    session_->close(Error::closed());
    const int64_t close_until = now_ns() + seconds_ns(1);
    while (client_->endpoint().connection_count() > 0 && now_ns() < close_until)
      co_await sleep_until_ns(now_ns() + seconds_ns(0.02));
    std::printf("published: %llu frames per track on %d track(s), %llu bytes; last sequence %lld\n",
                static_cast<unsigned long long>(frames_), options_.tracks,
                static_cast<unsigned long long>(bytes_), static_cast<long long>(frames_) - 1);
    std::fflush(stdout);
    status_ = 0;
    io_.stop();
  }

  // Frame i of every track is due at start + i / fps; a publisher that fell
  // behind sends what is due at once (each frame stamped when it is sent).
  asio::awaitable<void> send_frames() {
    const int64_t start = now_ns();
    const int64_t end = start + seconds_ns(options_.duration);
    for (uint64_t i = 0;; ++i) {
      const int64_t due =
          start + static_cast<int64_t>(std::llround(static_cast<double>(i) * 1e9 / options_.fps));
      if (due >= end) break;
      if (due > now_ns()) co_await sleep_until_ns(due);
      if (status_ || stopping_) break;
      for (size_t k = 0; k < tracks_.size(); ++k) {
        if (auto sent = send_frame(k, i); !sent) {
          fail("track " + std::to_string(k) + ": " + sent.error().reason);
          co_return;
        }
      }
      ++frames_;
    }
  }

  Result<void> send_frame(size_t k, uint64_t i) {
    const auto priority = static_cast<int32_t>(
        std::min<uint64_t>(i, static_cast<uint64_t>(std::numeric_limits<int32_t>::max())));
    const bool per_group = options_.stream_per == "group";
    const auto group = static_cast<uint64_t>(options_.frames_per_group);
    if (!per_group || i % group == 0 || !open_[k]) {
      if (open_[k]) (void)open_[k]->finish();
      open_[k].reset();
      auto segment = tracks_[k].create_segment(cache::SegmentInfo{
          .sequence = per_group ? i / group : i, .priority = priority, .expires = expires_});
      if (!segment) return segment.error();
      open_[k].emplace(std::move(*segment));
    }
    std::vector<uint8_t> frame(options_.frame_size, 0x5a);
    encode_header(FrameHeader{.send_ns = now_ns(), .sequence = i}, frame.data());
    if (auto r = open_[k]->write(Bytes(std::move(frame))); !r) return r;
    bytes_ += options_.frame_size;
    if (!per_group) {
      (void)open_[k]->finish();
      open_[k].reset();
    }
    return {};
  }

  asio::awaitable<void> run_session() {
    const Error ended = co_await session_->run();
    if (closing_ || status_) co_return;
    fail("connection to the relay lost: " + ended.reason + " (code " + std::to_string(ended.code) +
         ")");
  }

  void fail(const std::string& message) {
    if (status_) return;
    status_ = kExitConnection;
    std::cerr << "moq-bench pub: " << message << std::endl;
    for (auto& track : tracks_)
      (void)track.close(Error::internal("publisher failed"));
    if (session_) session_->close(Error::internal("publisher: " + message));
    client_->endpoint().shutdown(code::kInternal, "publisher failed");
    asio::co_spawn(io_, app::stop_after_cleanup(io_, *client_), asio::detached);
  }

  asio::io_context& io_;
  const PubOptions& options_;
  std::unique_ptr<wt::Client> client_;
  std::shared_ptr<session::Session> session_;
  std::vector<cache::TrackWriter> tracks_;
  std::vector<std::optional<cache::SegmentWriter>> open_;  // per track
  async::Clock::duration expires_{};
  uint64_t frames_ = 0;
  uint64_t bytes_ = 0;
  bool stopping_ = false;
  bool closing_ = false;
  std::optional<int> status_;
};

}  // namespace

void add_pub_options(CLI::App& app, PubOptions& options) {
  app::add_moq_client_options(app, options.client, "MOQ_BENCH_PUB");
  app.add_option("--tracks", options.tracks, "tracks, named 0..K-1")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--frame-size", options.frame_size,
                 "bytes per frame (a 16-byte header of send time and sequence, then filler)")
      ->check(CLI::Range(size_t{16}, size_t{16} << 20))
      ->capture_default_str();
  app.add_option("--fps", options.fps, "frames per second per track")
      ->check(CLI::Range(0.1, 10000.0))
      ->capture_default_str();
  app.add_option("--frames-per-group", options.frames_per_group,
                 "frames per group (with --stream-per group: per object)")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--stream-per", options.stream_per,
                 "group: one object (QUIC stream) per group, a chunk per frame; frame: one per "
                 "frame")
      ->check(CLI::IsMember({"group", "frame"}))
      ->capture_default_str();
  app.add_option("--duration", options.duration, "seconds to publish")
      ->check(CLI::Range(0.1, 86400.0))
      ->capture_default_str();
  app.add_option("--expires", options.expires,
                 "seconds the relay keeps an object (default: 2, or a group's duration + 1 when "
                 "longer)")
      ->check(CLI::Range(0.0, 3600.0));
}

int run_pub(const PubOptions& options) {
  asio::io_context io;
  int status = 0;
  auto client = app::make_moq_client(io, options.client, "moq-bench pub", status);
  if (!client) return status;
  Publisher publisher(io, options, std::move(client));
  return publisher.run();
}

}  // namespace moq::bench
