// The relay's --dev HTTP listener (TCP on the relay's port): HTTPS and plain
// HTTP on the same port, /fingerprint and /certificate.sha256, CORS, and the
// load it must hold: 2,000 requests in flight at once, 1,000 idle
// connections that delay nobody and are closed after the idle timeout.
#include <filesystem>
#include <iostream>

#include "relay/relay_fixture.h"
#include "support/http_load.h"

namespace moq::relay_test {
namespace {

constexpr int kIdleTimeoutSeconds = 2;

class RelayHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test::raise_open_file_limit();
    relay_ = std::make_unique<RelayProcess>(
        std::vector<std::string>{"--http-idle-timeout", std::to_string(kIdleTimeoutSeconds)});
    ASSERT_TRUE(relay_->started()) << relay_->log();
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "relay log:\n" << relay_->log() << "\n";
  }

  test::LoadTarget target(bool tls, const std::string& host = "127.0.0.1") const {
    return test::LoadTarget{host, relay_->port(), tls, "localhost"};
  }
  std::string curl(const std::string& args) const {
    return test::run_command("curl -s --max-time 10 " + args).out;
  }
  std::string url(const std::string& scheme, const std::string& path,
                  const std::string& host = "localhost") const {
    return scheme + "://" + host + ":" + std::to_string(relay_->port()) + path;
  }

  // 2,000 GETs at once, half of each path; every one must come back 200 with
  // the fingerprint.
  void expect_load_holds(bool tls) {
    std::vector<test::LoadRequest> requests;
    for (int i = 0; i < 1000; ++i) {
      requests.push_back({"GET", "/fingerprint", ""});
      requests.push_back({"GET", "/certificate.sha256", ""});
    }
    const auto report = test::run_load(target(tls), requests, std::chrono::seconds(30));
    std::cout << "relay " << (tls ? "HTTPS" : "HTTP") << ", " << requests.size()
              << " concurrent requests: " << report.summary() << std::endl;
    RecordProperty(tls ? "https_summary" : "http_summary", report.summary());
    EXPECT_EQ(report.answered, requests.size()) << report.summary();
    EXPECT_EQ(report.failed, 0u);
    EXPECT_EQ(report.timed_out, 0u);
    size_t right = 0;
    for (const auto& o : report.outcomes)
      right += o.status == 200 && o.body == relay_->fingerprint() ? 1 : 0;
    EXPECT_EQ(right, report.answered);
  }

  std::unique_ptr<RelayProcess> relay_;
};

TEST_F(RelayHttpTest, ServesHttpsAndPlainHttpOnTheRelaysPort) {
  if (!std::filesystem::exists("/usr/bin/curl")) GTEST_SKIP() << "curl missing";
  const std::string& fp = relay_->fingerprint();
  ASSERT_EQ(fp.size(), 64u);
  for (const std::string scheme : {"https", "http"}) {
    for (const std::string host : {"localhost", "127.0.0.1", "[::1]"}) {
      for (const std::string path : {"/fingerprint", "/certificate.sha256"}) {
        EXPECT_EQ(curl("-k " + url(scheme, path, host)), fp) << scheme << " " << host << path;
      }
    }
  }
  // Headers: plain text, CORS open, and the same over both schemes.
  for (const std::string scheme : {"https", "http"}) {
    const std::string head = curl("-k -i " + url(scheme, "/certificate.sha256"));
    EXPECT_NE(head.find("HTTP/1.1 200"), std::string::npos) << head;
    EXPECT_NE(head.find("Access-Control-Allow-Origin: *"), std::string::npos) << head;
    EXPECT_NE(head.find("Content-Type: text/plain"), std::string::npos) << head;
    EXPECT_EQ(head.substr(head.size() - 64), fp) << "no trailing newline";
  }
  // A CORS preflight, HEAD, other paths and methods.
  const std::string preflight = curl(
      "-k -i -X OPTIONS -H 'Origin: https://example.com' -H "
      "'Access-Control-Request-Method: GET' " +
      url("https", "/certificate.sha256"));
  EXPECT_NE(preflight.find("HTTP/1.1 204"), std::string::npos) << preflight;
  EXPECT_NE(preflight.find("Access-Control-Allow-Origin: *"), std::string::npos) << preflight;
  EXPECT_NE(preflight.find("Access-Control-Allow-Methods: GET, HEAD, OPTIONS"), std::string::npos)
      << preflight;
  const std::string head = curl("-k -I " + url("http", "/fingerprint"));
  EXPECT_NE(head.find("HTTP/1.1 200"), std::string::npos) << head;
  EXPECT_NE(head.find("Content-Length: 64"), std::string::npos) << head;
  const std::string code = "-k -o /dev/null -w '%{http_code}' ";
  EXPECT_EQ(curl(code + url("https", "/other")), "404");
  EXPECT_EQ(curl(code + url("http", "/")), "200");  // the index page
  EXPECT_EQ(curl(code + url("http", "/nothing/here")), "404");
  EXPECT_EQ(curl(code + "-X POST " + url("https", "/fingerprint")), "405");
  EXPECT_EQ(curl(code + "-X DELETE " + url("http", "/certificate.sha256")), "405");
  // Two requests on one kept-alive connection.
  EXPECT_EQ(curl("-k " + url("https", "/fingerprint") + " " + url("https", "/certificate.sha256")),
            fp + fp);
}

TEST_F(RelayHttpTest, TwoThousandConcurrentPlainHttpRequestsAreAllAnswered) {
  expect_load_holds(/*tls=*/false);
}

TEST_F(RelayHttpTest, TwoThousandConcurrentHttpsRequestsAreAllAnswered) {
  expect_load_holds(/*tls=*/true);
}

TEST_F(RelayHttpTest, IdleConnectionsDelayNoRequestAndAreClosedAfterTheTimeout) {
  constexpr size_t kIdle = 1000;
  test::IdleConnections idle;
  EXPECT_EQ(idle.open(target(false), kIdle, std::chrono::seconds(10)), kIdle);

  std::chrono::microseconds worst{0};
  for (int i = 0; i < 6; ++i) {
    const bool tls = i % 2 == 1;
    const auto report = test::run_load(target(tls, i % 3 == 0 ? "::1" : "127.0.0.1"),
                                       {{"GET", "/fingerprint", ""}}, std::chrono::seconds(10));
    if (report.answered != 1) {
      ADD_FAILURE() << "a request among " << idle.size()
                    << " idle connections: " << report.summary();
      worst = std::chrono::seconds(10);
      break;
    }
    EXPECT_EQ(report.outcomes[0].body, relay_->fingerprint());
    worst = std::max(worst, report.outcomes[0].latency);
  }
  const double worst_ms = static_cast<double>(worst.count()) / 1000.0;
  std::cout << "relay, a GET (HTTP or HTTPS) with " << kIdle
            << " idle connections open: worst of 6 " << worst_ms << " ms" << std::endl;
  RecordProperty("worst_latency_ms", std::to_string(worst_ms));
  EXPECT_LT(worst, std::chrono::seconds(1));

  const auto before = std::chrono::steady_clock::now();
  const size_t closed = idle.wait_closed(std::chrono::seconds(kIdleTimeoutSeconds + 10));
  std::cout << "relay closed " << closed << "/" << kIdle << " idle connections after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - before)
                   .count()
            << " ms more" << std::endl;
  EXPECT_EQ(closed, kIdle);
  const auto after =
      test::run_load(target(true), {{"GET", "/fingerprint", ""}}, std::chrono::seconds(5));
  EXPECT_EQ(after.answered, 1u) << after.summary();
  EXPECT_TRUE(relay_->child().running());
}

}  // namespace
}  // namespace moq::relay_test
