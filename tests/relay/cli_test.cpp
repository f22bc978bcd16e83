// The moq-relay program itself: flags, environment variables, the --dev
// HTTPS fingerprint endpoint (curl over TCP; http_test.cpp has the rest of
// the HTTP listener), logs and signals.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "relay/relay_fixture.h"

namespace moq::relay_test {
namespace {

const std::string kRelay = std::string(MOQ_BIN_DIR) + "/moq-relay";

test::CommandResult relay_command(const std::string& args) {
  return test::run_command(kRelay + " " + args + " 2>&1");
}

int exit_code(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(RelayCli, HelpListsEveryFlagAndVersionPrints) {
  auto help = relay_command("--help");
  EXPECT_EQ(exit_code(help.status), 0);
  for (const char* flag : {"--listen", "--tls-cert", "--tls-key", "--tls-root", "--api",
                           "--api-node", "--dev", "--http-idle-timeout", "--log-level", "--version",
                           "MOQ_RELAY_LISTEN", "MOQ_RELAY_HTTP_IDLE_TIMEOUT"}) {
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag << "\n" << help.out;
  }
  auto version = relay_command("--version");
  EXPECT_EQ(exit_code(version.status), 0);
  EXPECT_EQ(version.out.rfind("moq-relay ", 0), 0u) << version.out;
}

TEST(RelayCli, BadFlagsFailWithAClearMessage) {
  struct Case {
    std::string args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"--dev --api http://localhost:4442", "--api needs --api-node"},
      {"--dev --api http://localhost:4442 --api-node http://relay:4443", "https://"},
      {"--dev --api-node relay:4443", "https://"},
      {"--dev --api ftp://x --api-node https://relay:4443", "--api must be"},
      {"--dev --tls-cert /nonexistent.pem", "same number"},
      {"--tls-cert /nonexistent.pem --tls-key /nonexistent.key", "nonexistent"},
      {"--listen nonsense", "--listen"},
      {"--dev --listen 127.0.0.1:99999", "port"},
      {"--dev --tls-root /nonexistent-root.pem", "--tls-root"},
      {"", "--dev"},  // no certificate at all
      {"--log-level loud", "log-level"},
  };
  for (const auto& c : cases) {
    auto result = relay_command(c.args);
    EXPECT_NE(exit_code(result.status), 0) << c.args;
    EXPECT_NE(result.out.find(c.says), std::string::npos) << c.args << " said: " << result.out;
  }
}

TEST(RelayCli, EnvironmentVariablesSetFlags) {
  const int port = free_udp_tcp_port();
  const std::string out_path = "/tmp/moq-relay-env-" + std::to_string(port) + ".out";
  test::Child::Options options;
  options.stdout_path = out_path;
  options.env = {"MOQ_RELAY_LISTEN=[::]:" + std::to_string(port), "MOQ_RELAY_DEV=true",
                 "MOQ_RELAY_LOG_LEVEL=warn"};
  test::Child relay({kRelay}, options);
  std::string out;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline && out.find("fingerprint: ") == std::string::npos) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    out = test::read_file(out_path);
  }
  std::remove(out_path.c_str());
  EXPECT_NE(out.find("listening: https://localhost:" + std::to_string(port)), std::string::npos)
      << out;
  EXPECT_NE(out.find("fingerprint: "), std::string::npos) << out;
  auto status = relay.stop(SIGTERM);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(exit_code(*status), 0);
}

TEST(RelayCli, DevServesTheFingerprintOverHttps) {
  if (!std::filesystem::exists("/usr/bin/curl")) GTEST_SKIP() << "curl missing";
  RelayProcess relay;
  ASSERT_TRUE(relay.started()) << relay.log();
  const std::string base = "https://localhost:" + std::to_string(relay.port());
  auto body = test::run_command("curl -sk --max-time 10 " + base + "/fingerprint");
  EXPECT_EQ(body.status, 0);
  EXPECT_EQ(body.out, relay.fingerprint());
  EXPECT_EQ(body.out.size(), 64u);
  // Over IPv4 too, with the CORS header a browser page needs.
  auto head = test::run_command("curl -sk -i --max-time 10 https://127.0.0.1:" +
                                std::to_string(relay.port()) + "/fingerprint");
  EXPECT_NE(head.out.find("HTTP/1.1 200"), std::string::npos) << head.out;
  EXPECT_NE(head.out.find("Access-Control-Allow-Origin: *"), std::string::npos) << head.out;
  // Anything else: 404 / 405; an oversized request head: 431.
  auto other =
      test::run_command("curl -sk -o /dev/null -w '%{http_code}' --max-time 10 " + base + "/other");
  EXPECT_EQ(other.out, "404");
  auto post = test::run_command("curl -sk -o /dev/null -w '%{http_code}' --max-time 10 -X POST " +
                                base + "/fingerprint");
  EXPECT_EQ(post.out, "405");
  auto big = test::run_command("curl -sk -o /dev/null -w '%{http_code}' --max-time 10 -H 'X-Big: " +
                               std::string(9000, 'x') + "' " + base + "/fingerprint");
  EXPECT_EQ(big.out, "431");
  // Plain HTTP on the same port; a client that connects and says nothing (as
  // browsers' preconnects do) does not wedge the listener for others.
  auto plain = test::run_command(
      "curl -s --max-time 3 http://localhost:" + std::to_string(relay.port()) + "/fingerprint");
  EXPECT_EQ(plain.out, relay.fingerprint());
  const int silent = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(relay.port()));
  EXPECT_EQ(::connect(silent, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const auto before = Clock::now();
  auto again = test::run_command("curl -sk --max-time 10 " + base + "/fingerprint");
  EXPECT_EQ(again.out, relay.fingerprint());
  EXPECT_LT(Clock::now() - before, std::chrono::seconds(2));
  ::close(silent);
  EXPECT_TRUE(relay.child().running());
}

TEST_F(RelayTest, LogsOneLinePerSessionStartAndEnd) {
  auto pub = publish("logged/name/");
  ASSERT_TRUE(pub);
  auto sub = subscriber("logged/name");
  ASSERT_TRUE(sub);
  auto both = connect("logged/name", setup_for(wire::Role::kBoth));
  EXPECT_FALSE(both.ok());
  sub->session->close(Error::closed());
  pub->session->close(Error{code::kInternal, "test over"});
  ASSERT_TRUE(run_until([&] { return sub->end && pub->end; }));
  // The sessions live on different workers, whose log lines come in either
  // order: wait for both ends.
  std::string log;
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < deadline) {
    log = relay_->log();
    if (log.find("role publisher code 500") != std::string::npos &&
        log.find("role subscriber code 0") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(log.find("path '/logged/name/' role publisher code 500 reason 'test over'"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("path '/logged/name' role subscriber code 0 reason 'closed'"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("path '/logged/name' role both code 300"), std::string::npos) << log;
  EXPECT_NE(log.find("session start: peer "), std::string::npos) << log;
  EXPECT_NE(log.find("path '/logged/name/' role publisher broadcast 'logged/name'"),
            std::string::npos)
      << log;
}

TEST_F(RelayTest, SigtermClosesSessionsAndExitsZero) {
  auto sub = subscriber("anything");
  ASSERT_TRUE(sub);
  const auto before = Clock::now();
  ::kill(relay_->child().pid(), SIGTERM);
  ASSERT_TRUE(run_until([&] { return sub->end.has_value(); }, std::chrono::seconds(5)));
  EXPECT_LT(Clock::now() - before, std::chrono::seconds(3));
  auto status = relay_->child().stop(SIGTERM, std::chrono::seconds(5));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(exit_code(*status), 0);
  EXPECT_NE(relay_->log().find("closing every session"), std::string::npos) << relay_->log();
}

}  // namespace
}  // namespace moq::relay_test
