// ApiClient without a moq-api behind it: URL checks and bounded failures.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "api/client.h"
#include "api/process.h"

namespace moq::api {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(ApiClient, AcceptsHttpBaseUrls) {
  for (const char* url : {"http://127.0.0.1:4442", "http://localhost:4442/", "http://[::1]:4442",
                          "http://api.example/prefix/", "https://api.example"}) {
    auto c = ApiClient::create(url);
    EXPECT_TRUE(c.ok()) << url << ": " << (c.ok() ? "" : c.error().reason);
  }
}

TEST(ApiClient, RejectsMalformedBaseUrls) {
  for (const char* url : {"", "127.0.0.1:4442", "ftp://host", "http://", "http://host:port",
                          "http://host/?q", "http://ho st"}) {
    auto c = ApiClient::create(url);
    ASSERT_FALSE(c.ok()) << url;
    EXPECT_NE(c.error().reason.find("invalid moq-api url"), std::string::npos);
  }
  EXPECT_FALSE(ApiClient::create("http://host", 0ms).ok());
}

TEST(ApiClient, ClosedPortIs504Quickly) {
  int port = test::free_port();  // nobody listens there
  auto c = ApiClient::create("http://127.0.0.1:" + std::to_string(port), 500ms);
  ASSERT_TRUE(c.ok());
  auto start = Clock::now();
  auto got = c->get_origin("demo");
  auto set = c->set_origin("demo", Origin{"https://relay/demo"});
  auto patched = c->patch_origin("demo", Origin{"https://relay/demo"});
  auto deleted = c->delete_origin("demo");
  EXPECT_LT(Clock::now() - start, 2s);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, code::kUpstream);
  EXPECT_NE(got.error().reason.find("unreachable"), std::string::npos) << got.error().reason;
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.error().code, code::kUpstream);
  ASSERT_FALSE(patched.ok());
  EXPECT_EQ(patched.error().code, code::kUpstream);
  ASSERT_FALSE(deleted.ok());
  EXPECT_EQ(deleted.error().code, code::kUpstream);
}

TEST(ApiClient, SilentServerTimesOutAs504) {
  // A listening socket that never accepts: the kernel completes the TCP
  // handshake, then nothing answers. The read timeout must bound the call.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 16), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  auto c = ApiClient::create("http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)), 300ms);
  ASSERT_TRUE(c.ok());
  auto start = Clock::now();
  auto got = c->get_origin("demo");
  auto took = Clock::now() - start;
  close(fd);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, code::kUpstream);
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 3s);
}

TEST(ApiClient, RefusesInvalidOriginsAndEmptyNamesWithoutSending) {
  auto c = ApiClient::create("http://127.0.0.1:1", 100ms);
  ASSERT_TRUE(c.ok());
  auto set = c->set_origin("demo", Origin{"http://relay/demo"});
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.error().code, code::kInternal);
  auto empty = c->get_origin("");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, code::kInternal);
}

}  // namespace
}  // namespace moq::api
