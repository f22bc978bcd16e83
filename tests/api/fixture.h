#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "api/client.h"
#include "api/process.h"

namespace moq::test {

// A real redis-server (no persistence) on a free port.
class RedisServer {
 public:
  explicit RedisServer(int port) : port_(port) {}
  // Starts it and waits until it accepts connections.
  ::testing::AssertionResult start();
  void kill() { child_.kill_and_wait(); }
  int port() const { return port_; }
  // `redis-cli -p PORT <args>` output, e.g. cli("TTL origin.x").
  std::string cli(const std::string& args) const;

 private:
  int port_;
  Child child_;
};

// A real moq-api process (from MOQ_BIN_DIR) in front of a real Redis, each on
// its own free port; moq-api's log goes to a file the test can read.
class ApiFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Starts moq-api (with api_args_ added); waits until it listens.
  ::testing::AssertionResult start_api();

  httplib::Client http() const;
  api::ApiClient client() const;
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(api_port_); }
  std::string log() const { return read_file(log_path_); }
  long ttl(const std::string& name) const { return std::stol(redis_->cli("TTL origin." + name)); }

  std::filesystem::path dir_;
  std::string log_path_;
  std::unique_ptr<RedisServer> redis_;
  int api_port_ = 0;
  Child api_;
  std::vector<std::string> api_args_;  // extra moq-api flags, set before SetUp
};

}  // namespace moq::test
