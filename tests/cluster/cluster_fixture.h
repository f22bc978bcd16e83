#pragma once

// A real cluster on loopback for the tests: redis-server, moq-api and two
// moq-relay processes A and B, each registered in moq-api as its own origin
// (--api-node https://localhost:PORT), sharing one self-signed certificate
// that each also trusts as --tls-root for relay-to-relay connections. Library
// clients (wt::Client + session::connect + cache, as in tests/relay) publish
// and subscribe; the end-to-end test also runs moq-pub and moq-sub.

#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/fixture.h"
#include "api/process.h"
#include "relay/relay_fixture.h"

namespace moq::cluster_test {

using relay_test::Publisher;
using relay_test::ReceivedTrack;
using relay_test::Subscriber;

// One clustered moq-relay process on a free port.
class ClusterRelay {
 public:
  // Starts build/bin/moq-relay with the shared certificate, --api and its own
  // --api-node; false when it did not print its fingerprint in time.
  bool start(const std::string& api_url, const std::filesystem::path& cert,
             const std::filesystem::path& key, const std::filesystem::path& dir,
             const std::string& label);
  int port() const { return port_; }
  std::string url(const std::string& name) const {
    return "https://localhost:" + std::to_string(port_) + "/" + name;
  }
  std::string log() const { return test::read_file(err_path_); }
  // Log lines that contain every one of `parts`.
  size_t count_log_lines(const std::vector<std::string>& parts) const;
  test::Child& child() { return child_; }

 private:
  test::Child child_;
  int port_ = 0;
  std::string err_path_;
};

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // A running library publisher of `name` on `relay` (unknown tracks: 404).
  std::shared_ptr<Publisher> publish(ClusterRelay& relay, const std::string& name);
  // A running library subscriber of `name` on `relay`, no tracks requested.
  std::shared_ptr<Subscriber> subscriber(ClusterRelay& relay, const std::string& name);
  // Connects with `role`; the error when the relay refuses or times out.
  Result<std::shared_ptr<session::Session>> connect(ClusterRelay& relay, const std::string& name,
                                                    wire::Role role);
  // Requests `track` and reads it to its end in the background.
  void subscribe(Subscriber& sub, const std::string& track);

  bool run_until(const std::function<bool()>& done,
                 std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    return relay_test::run_until({&io_}, done, limit);
  }
  // Polls (without running the io_context) until `done()`, for process state.
  static bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds limit);

  std::string api_url() const { return "http://127.0.0.1:" + std::to_string(api_port_); }
  bool origin_exists(const std::string& name) const {
    return redis_->cli("EXISTS origin." + name) == "1";
  }
  // Starts moq-api against redis_ (again, e.g. after a restart of Redis).
  ::testing::AssertionResult start_api();

  std::filesystem::path dir_;
  std::filesystem::path cert_, key_;
  std::unique_ptr<test::RedisServer> redis_;
  int api_port_ = 0;
  test::Child api_;
  ClusterRelay a_, b_;

  asio::io_context io_;
  std::unique_ptr<wt::Client> client_;
  std::vector<std::shared_ptr<session::Session>> sessions_;  // closed at TearDown
};

}  // namespace moq::cluster_test
