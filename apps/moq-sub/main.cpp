// moq-sub: subscribes to a broadcast and writes it to stdout as fragmented
// MP4, so any player or ffmpeg can consume MoQ media:
//
//   moq-sub https://localhost:4443/NAME --fingerprint HEX | ffplay -
//
// Exits 0 when the broadcast ends (every chosen track ended cleanly) or the
// reader of stdout goes away; otherwise a clear message and a non-zero status.

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
#include <vector>

#include "cache/broadcast.h"
#include "media/catalog.h"
#include "media_subscriber.h"
#include "moq_client.h"
#include "options.h"
#include "output_writer.h"
#include "session/handshake.h"
#include "session/session.h"
#include "webtransport/client.h"
#include "webtransport/url.h"

namespace {

using namespace std::chrono_literals;

// Exit statuses, also listed by --help.
constexpr int kExitOk = 0;
constexpr int kExitBadMedia = 1;
constexpr int kExitNotFound = 4;

struct Options {
  moq::app::MoqClientOptions client;
  std::vector<std::string> tracks;
  bool catalog_only = false;
  bool from_start = false;
};

using moq::app::kExitConnection;
using moq::app::kExitUsage;
using moq::app::sleep_for;

class SubApp {
 public:
  SubApp(asio::io_context& io, const Options& options, std::unique_ptr<moq::wt::Client> client)
      : io_(io),
        options_(options),
        client_(std::move(client)),
        output_(io.get_executor(), STDOUT_FILENO) {
    output_.on_failure([this] {
      if (output_.reader_gone()) {
        spdlog::info("the reader of stdout went away");
        finish(kExitOk);
      } else {
        fail(kExitBadMedia, output_.error().value_or("cannot write output"));
      }
    });
  }

  int run() {
    asio::co_spawn(io_, main_task(), asio::detached);
    asio::signal_set signals(io_, SIGINT, SIGTERM);
    signals.async_wait([this](const asio::error_code& ec, int) {
      if (!ec) fail(130, "interrupted");
    });
    io_.run();
    return status_.value_or(kExitConnection);
  }

 private:
  asio::awaitable<void> main_task() {
    asio::steady_timer watchdog(io_, options_.client.connect_timeout_ms() + 1s);
    watchdog.async_wait([this](const asio::error_code& ec) {
      if (!ec && !session_) fail(kExitConnection, "timed out connecting to " + options_.client.url);
    });
    auto session = co_await moq::app::connect_any(
        *client_, options_.client.url, moq::wire::Role::kSubscriber, options_.client.protocol);
    if (status_) co_return;
    if (!session) co_return fail(kExitConnection, session.error().reason);
    watchdog.cancel();
    session_ = session.value();
    auto [writer, reader] = moq::cache::make_broadcast();
    session_->subscribe(std::move(writer), options_.from_start);
    asio::co_spawn(io_, run_session(session_), asio::detached);
    spdlog::info("connected to {} ({})", options_.client.url, session_->protocol());

    subscriber_.emplace(io_.get_executor(), std::move(reader),
                        [this](moq::Bytes bytes) { output_.write(std::move(bytes)); });
    subscriber_->set_from_start(options_.from_start);
    auto json = co_await subscriber_->read_catalog_json();
    if (status_) co_return;
    if (!json)
      co_return fail_with(json.error(), "cannot read the catalog of " + options_.client.url);
    if (options_.catalog_only) {
      output_.write(moq::Bytes::copy(*json + "\n"));
      co_await output_.flush();
      co_return finish(kExitOk);
    }
    auto catalog = moq::media::parse_catalog(*json);
    if (!catalog) co_return fail(kExitBadMedia, "bad catalog: " + catalog.error().reason);

    auto ran = co_await subscriber_->run(std::move(*catalog), options_.tracks);
    if (status_) co_return;
    if (!ran) co_return fail_with(ran.error(), options_.client.url);
    co_await output_.flush();
    if (status_) co_return;
    const auto& stats = subscriber_->stats();
    spdlog::info("broadcast ended: {} segments, {} skipped, {} failed, {} bytes written",
                 stats.segments, stats.segments_skipped, stats.segments_failed,
                 output_.bytes_written());
    finish(kExitOk);
  }

  asio::awaitable<void> run_session(std::shared_ptr<moq::app::MoqConnection> session) {
    const moq::Error ended = co_await session->run();
    if (status_ || closing_) co_return;
    // A clean close ends every track cleanly too: the subscriber finishes
    // with what it has. Anything else is a lost relay.
    if (ended.is_closed()) co_return;
    fail(kExitConnection, "connection to the relay lost: " + ended.reason + " (code " +
                              std::to_string(ended.code) + ")");
  }

  void fail_with(const moq::Error& error, const std::string& context) {
    const int status = error.code == moq::code::kNotFound ? kExitNotFound : kExitConnection;
    fail(status, context + ": " + error.reason);
  }

  // A clean end: close the session politely, then stop.
  void finish(int status) {
    if (status_) return;
    status_ = status;
    closing_ = true;
    if (!session_) {
      io_.stop();
      return;
    }
    session_->close(moq::Error::closed());
    asio::co_spawn(io_, stop_when_closed(), asio::detached);
  }

  asio::awaitable<void> stop_when_closed() {
    const auto deadline = std::chrono::steady_clock::now() + 1s;
    while (client_->endpoint().connection_count() > 0 &&
           std::chrono::steady_clock::now() < deadline) {
      co_await sleep_for(20ms);
    }
    io_.stop();
  }

  void fail(int status, const std::string& message) {
    if (status_) return;
    status_ = status;
    std::cerr << "moq-sub: " << message << std::endl;
    if (session_) session_->close({moq::code::kInternal, "subscriber: " + message});
    client_->endpoint().shutdown(moq::code::kInternal, "subscriber failed");
    asio::co_spawn(io_, moq::app::stop_after_cleanup(io_, *client_), asio::detached);
  }

  asio::io_context& io_;
  const Options& options_;
  std::unique_ptr<moq::wt::Client> client_;
  moq::sub::OutputWriter output_;
  std::optional<moq::sub::MediaSubscriber> subscriber_;
  std::shared_ptr<moq::app::MoqConnection> session_;
  bool closing_ = false;
  std::optional<int> status_;
};

}  // namespace

int main(int argc, char** argv) {
  // A closed stdout pipe shows up as EPIPE on write, handled as "done".
  ::signal(SIGPIPE, SIG_IGN);
  Options options;
  CLI::App app{
      "Subscribes to a MoQ broadcast (moq-lite, IETF draft-14 or KIXEL_00) and writes fragmented "
      "MP4 "
      "to stdout.",
      "moq-sub"};
  app.footer(
      "Example:\n"
      "  moq-sub https://localhost:4443/NAME --fingerprint HEX | ffplay -\n"
      "Exit status: 0 the broadcast ended (or stdout was closed), 1 bad media or output error,\n"
      "2 usage, 3 relay unreachable / refused / lost, 4 broadcast or track not found.");
  moq::app::add_moq_client_options(app, options.client, "MOQ_SUB");
  app.add_option("--track", options.tracks,
                 "data track to subscribe (repeatable; default: every track of the catalog)")
      ->envname("MOQ_SUB_TRACK")
      ->delimiter(',');
  app.add_flag("--from-start", options.from_start,
               "start at the oldest group the relay still caches (default: the newest, the "
               "live edge)")
      ->envname("MOQ_SUB_FROM_START");
  app.add_flag("--catalog", options.catalog_only, "print the catalog JSON and exit")
      ->envname("MOQ_SUB_CATALOG");
  app.set_version_flag("--version", "moq-sub 0.1.0");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }

  asio::io_context io;
  int status = 0;
  auto client = moq::app::make_moq_client(io, options.client, "moq-sub", status);
  if (!client) return status;
  SubApp sub(io, options, std::move(client));
  return sub.run();
}
