// moq-pub: publishes a fragmented MP4 read from stdin to a relay.
//
//   ffmpeg ... -f mp4 -movflags empty_moov+frag_every_frame+separate_moof+omit_tfhd_offset - |
//     moq-pub https://localhost:4443/NAME
//
// Input and network run side by side on one event loop: bad input ends the
// program at once (status 1) whether or not the relay answered yet, and a
// relay that can't be reached ends it within the connect timeout (status 3).

#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "async/notify.h"
#include "cache/broadcast.h"
#include "input_reader.h"
#include "media_publisher.h"
#include "moq_client.h"
#include "options.h"
#include "session/handshake.h"
#include "session/session.h"
#include "webtransport/client.h"
#include "webtransport/url.h"

namespace {

using namespace std::chrono_literals;

// Exit statuses, also listed by --help.
constexpr int kExitOk = 0;
constexpr int kExitBadInput = 1;

struct Options {
  moq::app::MoqClientOptions client;
  std::optional<double> fps;
  std::optional<uint64_t> bitrate;
  uint64_t audio_segment_ms = 200;
  double drain_timeout = 10;
};

std::chrono::milliseconds millis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

using moq::app::kExitConnection;
using moq::app::kExitUsage;
using moq::app::sleep_for;

class PubApp {
 public:
  PubApp(asio::io_context& io, const Options& options, std::unique_ptr<moq::wt::Client> client,
         moq::media::SegmenterOptions segmenter)
      : io_(io), options_(options), client_(std::move(client)) {
    auto [writer, reader] = moq::cache::make_broadcast();
    reader_.emplace(std::move(reader));
    publisher_.emplace(std::move(writer), std::move(segmenter));
  }

  int run() {
    asio::co_spawn(io_, publisher_->serve_requests(), asio::detached);
    asio::co_spawn(io_, read_input(), asio::detached);
    asio::co_spawn(io_, connect_and_run(), asio::detached);
    asio::co_spawn(io_, finish_when_done(), asio::detached);
    asio::signal_set signals(io_, SIGINT, SIGTERM);
    wait_for_signal(signals);
    io_.run();
    return status_.value_or(kExitConnection);
  }

 private:
  // The first SIGINT/SIGTERM ends the broadcast cleanly, as the end of the
  // input would (a fragment cut in half is dropped); a second one aborts.
  void wait_for_signal(asio::signal_set& signals) {
    signals.async_wait([this, &signals](const asio::error_code& ec, int) {
      if (ec) return;
      if (input_done_ || interrupted_) return fail(130, "interrupted");
      spdlog::info("interrupted: ending the broadcast");
      interrupted_ = true;
      publisher_->abort(moq::Error::closed());
      input_done_ = true;
      changed_.notify_all();
      wait_for_signal(signals);
    });
  }

  asio::awaitable<void> read_input() {
    moq::pub::InputReader input(io_.get_executor(), STDIN_FILENO);
    for (;;) {
      auto chunk = co_await input.read();
      if (status_ || interrupted_) co_return;
      if (!chunk) co_return fail(kExitBadInput, chunk.error().reason);
      if (!*chunk) break;
      auto fed = publisher_->feed(std::move(**chunk));
      if (!fed) co_return fail(kExitBadInput, "bad input: " + fed.error().reason);
    }
    auto finished = publisher_->finish();
    if (!finished) co_return fail(kExitBadInput, "bad input: " + finished.error().reason);
    input_done_ = true;
    changed_.notify_all();
  }

  asio::awaitable<void> connect_and_run() {
    // The QUIC handshake has its own timeout; this one also bounds the
    // HTTP/3 and MoQ handshakes after it.
    asio::steady_timer watchdog(io_, options_.client.connect_timeout_ms() + 1s);
    watchdog.async_wait([this](const asio::error_code& ec) {
      if (!ec && !session_) fail(kExitConnection, "timed out connecting to " + options_.client.url);
    });
    auto session = co_await moq::app::connect_any(
        *client_, options_.client.url, moq::wire::Role::kPublisher, options_.client.protocol);
    if (status_) co_return;
    if (!session) co_return fail(kExitConnection, session.error().reason);
    watchdog.cancel();
    session_ = session.value();
    session_->publish(*reader_);
    spdlog::info("connected to {} ({})", options_.client.url, session_->protocol());
    changed_.notify_all();
    const moq::Error ended = co_await session_->run();
    if (closing_ || status_) co_return;
    fail(kExitConnection, "connection to the relay lost: " + ended.reason + " (code " +
                              std::to_string(ended.code) + ")");
  }

  // End of input: let the relay take every object still in flight, then
  // close the session cleanly and exit 0.
  asio::awaitable<void> finish_when_done() {
    while (!status_ && !(input_done_ && session_)) {
      const bool woke = co_await changed_.wait();
      if (!woke) co_return;
    }
    if (status_) co_return;
    const auto deadline = std::chrono::steady_clock::now() + millis(options_.drain_timeout);
    while (!status_ && session_->active_subscriptions() > 0 &&
           std::chrono::steady_clock::now() < deadline) {
      co_await sleep_for(20ms);
    }
    if (status_) co_return;
    if (session_->active_subscriptions() > 0) {
      spdlog::warn("the relay did not take every object within {} s", options_.drain_timeout);
    }
    // Let the last SUBSCRIBE_RESETs leave the control stream.
    co_await sleep_for(50ms);
    if (status_) co_return;
    closing_ = true;
    session_->close(moq::Error::closed());
    // The connection closes itself once the session's CLOSE was acknowledged.
    const auto close_deadline = std::chrono::steady_clock::now() + 3s;
    while (client_->endpoint().connection_count() > 0 &&
           std::chrono::steady_clock::now() < close_deadline) {
      co_await sleep_for(20ms);
    }
    if (status_) co_return;
    status_ = kExitOk;
    io_.stop();
  }

  void fail(int status, const std::string& message) {
    if (status_) return;
    status_ = status;
    std::cerr << "moq-pub: " << message << std::endl;
    const moq::Error error{moq::code::kInternal, "publisher: " + message};
    publisher_->abort(error);
    if (session_) session_->close(error);
    client_->endpoint().shutdown(moq::code::kInternal, "publisher failed");
    asio::co_spawn(io_, moq::app::stop_after_cleanup(io_, *client_), asio::detached);
  }

  asio::io_context& io_;
  const Options& options_;
  std::unique_ptr<moq::wt::Client> client_;
  std::optional<moq::cache::BroadcastReader> reader_;
  std::optional<moq::pub::MediaPublisher> publisher_;
  std::shared_ptr<moq::app::MoqConnection> session_;
  moq::async::Notify changed_;
  bool input_done_ = false;
  bool interrupted_ = false;
  bool closing_ = false;
  std::optional<int> status_;
};

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{
      "Publishes a fragmented MP4 from stdin to a MoQ relay (moq-lite, IETF draft-14 or KIXEL_00).",
      "moq-pub"};
  app.footer(
      "Example:\n"
      "  ffmpeg -re -i in.mp4 -c copy -f mp4 -movflags "
      "empty_moov+frag_every_frame+separate_moof+omit_tfhd_offset - |\n"
      "    moq-pub https://localhost:4443/NAME --fingerprint HEX\n"
      "Exit status: 0 input ended and was delivered, 1 bad input, 2 usage,\n"
      "3 relay unreachable / refused / lost.");
  moq::app::add_moq_client_options(app, options.client, "MOQ_PUB");
  app.add_option("--fps", options.fps,
                 "video frame rate for the catalog (default: measured from the input)")
      ->envname("MOQ_PUB_FPS")
      ->check(CLI::PositiveNumber);
  app.add_option("--bitrate", options.bitrate,
                 "video bit rate for the catalog, bits/s (default: measured from the input)")
      ->envname("MOQ_PUB_BITRATE")
      ->check(CLI::PositiveNumber);
  app.add_option("--audio-segment-ms", options.audio_segment_ms,
                 "group audio frames into segments (one QUIC stream each) of about this many "
                 "ms; 0: one per frame")
      ->envname("MOQ_PUB_AUDIO_SEGMENT_MS")
      ->check(CLI::Range(0, 10000))
      ->capture_default_str();
  app.add_option("--drain-timeout", options.drain_timeout,
                 "seconds to wait at the end of input for the relay to take what is in flight")
      ->envname("MOQ_PUB_DRAIN_TIMEOUT")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.set_version_flag("--version", "moq-pub 0.1.0");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }

  moq::media::SegmenterOptions segmenter;
  segmenter.frame_rate = options.fps;
  segmenter.bit_rate = options.bitrate;
  segmenter.audio_segment_ms = options.audio_segment_ms;

  asio::io_context io;
  int status = 0;
  auto client = moq::app::make_moq_client(io, options.client, "moq-pub", status);
  if (!client) return status;
  PubApp pub(io, options, std::move(client), std::move(segmenter));
  return pub.run();
}
