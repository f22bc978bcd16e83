#include "api/fixture.h"

#include <unistd.h>

namespace moq::test {

::testing::AssertionResult RedisServer::start() {
  child_ = Child({"/usr/bin/redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1",
                  "--save", "", "--appendonly", "no"},
                 {});
  if (!wait_for_port(port_, std::chrono::seconds(5))) {
    return ::testing::AssertionFailure() << "redis-server did not start on port " << port_
                                         << " (is redis-server installed? run dev/setup)";
  }
  return ::testing::AssertionSuccess();
}

std::string RedisServer::cli(const std::string& args) const {
  return run_command("redis-cli -p " + std::to_string(port_) + " " + args).out;
}

void ApiFixture::SetUp() {
  dir_ = std::filesystem::temp_directory_path() /
         ("moq-api-test-" + std::to_string(getpid()) + "-" + std::to_string(free_port()));
  std::filesystem::create_directories(dir_);
  log_path_ = (dir_ / "moq-api.log").string();
  redis_ = std::make_unique<RedisServer>(free_port());
  ASSERT_TRUE(redis_->start());
  ASSERT_TRUE(start_api());
}

void ApiFixture::TearDown() {
  api_.kill_and_wait();
  if (redis_) redis_->kill();
  if (!HasFailure()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  } else {
    std::cerr << "moq-api log (" << log_path_ << "):\n" << log() << "\n";
  }
}

::testing::AssertionResult ApiFixture::start_api() {
  api_port_ = free_port();
  Child::Options options;
  options.stderr_path = log_path_;
  std::vector<std::string> argv = {std::string(MOQ_BIN_DIR) + "/moq-api",
                                   "--listen",
                                   "127.0.0.1:" + std::to_string(api_port_),
                                   "--redis",
                                   "redis://127.0.0.1:" + std::to_string(redis_->port()),
                                   "--log-level",
                                   "debug"};
  argv.insert(argv.end(), api_args_.begin(), api_args_.end());
  api_ = Child(argv, options);
  if (!wait_for_port(api_port_, std::chrono::seconds(10))) {
    return ::testing::AssertionFailure() << "moq-api did not listen on " << api_port_ << ":\n"
                                         << log();
  }
  return ::testing::AssertionSuccess();
}

httplib::Client ApiFixture::http() const {
  httplib::Client c("127.0.0.1", api_port_);
  c.set_connection_timeout(std::chrono::seconds(5));
  c.set_read_timeout(std::chrono::seconds(5));
  return c;
}

api::ApiClient ApiFixture::client() const {
  auto c = api::ApiClient::create(base_url(), std::chrono::seconds(5));
  EXPECT_TRUE(c.ok());
  return std::move(c).value();
}

}  // namespace moq::test
