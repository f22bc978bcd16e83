#pragma once

// Shared pieces of the relay tests: the real moq-relay process on a free
// port, client sessions made with the library (wt::Client + session::connect
// + cache), synthetic tracks and what subscribers received.

#include <gtest/gtest.h>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/process.h"
#include "cache/broadcast.h"
#include "session/handshake.h"
#include "session/session.h"
#include "webtransport/client.h"
#include "wire/setup.h"

namespace moq::relay_test {

using Clock = std::chrono::steady_clock;

// build/bin/moq-relay --dev --listen [::]:PORT on a port free for UDP and
// TCP; the fingerprint is read from its stdout.
class RelayProcess {
 public:
  explicit RelayProcess(std::vector<std::string> extra_args = {},
                        std::vector<std::string> env = {});
  ~RelayProcess();

  bool started() const { return !fingerprint_.empty(); }
  int port() const { return port_; }
  const std::string& fingerprint() const { return fingerprint_; }
  std::string url(const std::string& name) const;
  std::string stdout_text() const;
  std::string log() const;  // stderr
  test::Child& child() { return child_; }

 private:
  bool try_start(const std::vector<std::string>& extra_args, const std::vector<std::string>& env);

  test::Child child_;
  int port_ = 0;
  std::string fingerprint_;
  std::string out_path_, err_path_;
};

// A port number free for both UDP and TCP on [::] a moment ago.
int free_udp_tcp_port();

// Runs ready handlers of every context until `done()`, waiting a little when
// none is ready; false after `limit`.
bool run_until(const std::vector<asio::io_context*>& contexts, const std::function<bool()>& done,
               std::chrono::milliseconds limit);

// The payload of segment `sequence` of `track`: deterministic bytes, sizes
// from 0 to ~40 KB.
std::string payload_for(const std::string& track, uint64_t sequence);
// Splits a payload into chunks of varied sizes (1 byte, a packet, many KB).
std::vector<std::string> chunks_of(const std::string& payload);

struct ReceivedSegment {
  uint64_t sequence = 0;
  int32_t priority = 0;
  std::optional<async::Clock::duration> expires;
  std::string payload;
  std::optional<Error> end;
  Clock::time_point completed{};
};
struct ReceivedTrack {
  std::vector<ReceivedSegment> segments;
  std::optional<Error> end;
  // Segments received whole (ended cleanly).
  size_t complete() const;
  const ReceivedSegment* find(uint64_t sequence) const;
};

// A publisher connected to the relay: serves `writer`'s tracks.
struct Publisher {
  cache::BroadcastWriter writer;
  cache::BroadcastReader reader;
  std::shared_ptr<session::Session> session;
  std::optional<Error> end;
  Publisher(std::pair<cache::BroadcastWriter, cache::BroadcastReader> broadcast)
      : writer(std::move(broadcast.first)), reader(std::move(broadcast.second)) {}
};

// A subscriber connected to the relay: fills `writer` from it.
struct Subscriber {
  cache::BroadcastWriter writer;
  cache::BroadcastReader reader;
  std::shared_ptr<session::Session> session;
  std::optional<Error> end;
  std::map<std::string, std::shared_ptr<ReceivedTrack>> tracks;
  Subscriber(std::pair<cache::BroadcastWriter, cache::BroadcastReader> broadcast)
      : writer(std::move(broadcast.first)), reader(std::move(broadcast.second)) {}
};

// Writes one whole segment (chunked) into `track`; returns its sequence.
void write_segment(cache::TrackWriter& track, uint64_t sequence, int32_t priority,
                   std::optional<std::chrono::seconds> expires, const std::string& payload);

class RelayTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  // SetUp's work: the relay (with `args` besides --dev --listen) and the
  // shared client. For fixtures that need other relay flags.
  void start_relay(std::vector<std::string> args);

  std::unique_ptr<wt::Client> make_client(asio::io_context& io) const;

  // Connects a library session to the relay (nullptr + error on failure).
  Result<std::shared_ptr<session::Session>> connect(const std::string& name,
                                                    const wire::ClientSetup& setup,
                                                    asio::io_context* io = nullptr,
                                                    wt::Client* client = nullptr);
  // A running publisher of `name` (unknown tracks are answered 404), on
  // `client`'s connection (default: the shared client).
  std::shared_ptr<Publisher> publish(const std::string& name, wt::Client* client = nullptr);
  // A running subscriber of `name`, no tracks requested yet.
  std::shared_ptr<Subscriber> subscriber(const std::string& name, asio::io_context* io = nullptr,
                                         wt::Client* client = nullptr);
  // Requests `track` and reads it to its end in the background.
  void subscribe(Subscriber& sub, const std::string& track, asio::io_context* io = nullptr);

  bool run_until(const std::function<bool()>& done,
                 std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    return relay_test::run_until({&io_}, done, limit);
  }

  asio::io_context io_;
  std::unique_ptr<RelayProcess> relay_;
  std::unique_ptr<wt::Client> client_;
  std::vector<std::shared_ptr<session::Session>> sessions_;  // closed at TearDown
};

inline wire::ClientSetup setup_for(wire::Role role, uint64_t version = wire::kKixel00) {
  wire::ClientSetup setup;
  setup.versions.push_back(version);
  setup.role = role;
  return setup;
}

}  // namespace moq::relay_test
