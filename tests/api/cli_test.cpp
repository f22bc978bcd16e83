// moq-api's command line: --help, --version, bad flags, environment variables.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include "api/fixture.h"

namespace moq::test {
namespace {

const std::string kBin = std::string(MOQ_BIN_DIR) + "/moq-api";

int exit_code(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(MoqApiCli, HelpListsEveryFlagAndItsEnvironmentVariable) {
  auto r = run_command(kBin + " --help 2>&1");
  EXPECT_EQ(exit_code(r.status), 0);
  for (const char* s :
       {"--listen", "--redis", "--log-level", "--version", "--idle-timeout", "MOQ_API_LISTEN",
        "MOQ_API_REDIS", "MOQ_API_LOG_LEVEL", "MOQ_API_IDLE_TIMEOUT", "[::]:4442"}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  }
}

TEST(MoqApiCli, PrintsItsVersion) {
  auto r = run_command(kBin + " --version 2>&1");
  EXPECT_EQ(exit_code(r.status), 0);
  EXPECT_EQ(r.out.rfind("moq-api ", 0), 0u) << r.out;
}

TEST(MoqApiCli, BadAddressesFailAtStartWithAMessage) {
  auto r = run_command(kBin + " --redis http://127.0.0.1:6379 2>&1");
  EXPECT_NE(exit_code(r.status), 0);
  EXPECT_NE(r.out.find("invalid redis url"), std::string::npos) << r.out;
  r = run_command(kBin + " --listen 127.0.0.1 2>&1");
  EXPECT_NE(exit_code(r.status), 0);
  EXPECT_NE(r.out.find("invalid listen address"), std::string::npos) << r.out;
  r = run_command(kBin + " --log-level loud 2>&1");
  EXPECT_NE(exit_code(r.status), 0);
}

TEST(MoqApiCli, ListenPortInUseFailsWithAMessage) {
  // The fixture's own moq-api holds a port; a second one can't take it.
  RedisServer redis(free_port());
  ASSERT_TRUE(redis.start());
  int port = free_port();
  Child first({kBin, "--listen", "127.0.0.1:" + std::to_string(port), "--redis",
               "redis://127.0.0.1:" + std::to_string(redis.port())},
              {});
  ASSERT_TRUE(wait_for_port(port, std::chrono::seconds(10)));
  auto r = run_command(kBin + " --listen 127.0.0.1:" + std::to_string(port) + " 2>&1");
  EXPECT_NE(exit_code(r.status), 0);
  EXPECT_NE(r.out.find("can't listen"), std::string::npos) << r.out;
}

TEST(MoqApiCli, TakesEveryFlagFromTheEnvironment) {
  RedisServer redis(free_port());
  ASSERT_TRUE(redis.start());
  int port = free_port();
  Child::Options options;
  options.env = {"MOQ_API_LISTEN=127.0.0.1:" + std::to_string(port),
                 "MOQ_API_REDIS=redis://127.0.0.1:" + std::to_string(redis.port()),
                 "MOQ_API_LOG_LEVEL=warn"};
  Child api({kBin}, options);
  ASSERT_TRUE(wait_for_port(port, std::chrono::seconds(10)));
  auto client = api::ApiClient::create("http://127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE(client->set_origin("env", api::Origin{"https://relay/env"}).ok());
  EXPECT_EQ(redis.cli("GET origin.env"), R"({"url":"https://relay/env"})");
}

TEST(MoqApiCli, ListensOnIpv6AndIpv4ByDefaultAddressForm) {
  RedisServer redis(free_port());
  ASSERT_TRUE(redis.start());
  int port = free_port();
  Child api({kBin, "--listen", "[::]:" + std::to_string(port), "--redis",
             "redis://127.0.0.1:" + std::to_string(redis.port())},
            {});
  ASSERT_TRUE(wait_for_port(port, std::chrono::seconds(10)));  // over IPv4
  auto v6 = api::ApiClient::create("http://[::1]:" + std::to_string(port));
  ASSERT_TRUE(v6.ok());
  auto got = v6->get_origin("x");
  ASSERT_TRUE(got.ok()) << got.error().reason;
}

}  // namespace
}  // namespace moq::test
