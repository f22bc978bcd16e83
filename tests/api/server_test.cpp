// moq-api end to end: the real moq-api binary against a real redis-server,
// driven through the library's ApiClient and a raw cpp-httplib client.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "api/fixture.h"
#include "api/path.h"

namespace moq::test {
namespace {

using api::Origin;
const Origin kOrigin{"https://relay-a.example:4443/demo"};
const std::string kJson = "application/json";

TEST_F(ApiFixture, GetUnknownIs404) {
  auto got = client().get_origin("nobody");
  ASSERT_TRUE(got.ok()) << got.error().reason;
  EXPECT_FALSE(got->has_value());
  auto res = http().Get("/origin/nobody");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_FALSE(res->body.empty());
}

TEST_F(ApiFixture, PostThenGetReturnsTheOrigin) {
  ASSERT_TRUE(client().set_origin("demo", kOrigin).ok());
  auto got = client().get_origin("demo");
  ASSERT_TRUE(got.ok()) << got.error().reason;
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, kOrigin);

  auto res = http().Get("/origin/demo");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), kJson);
  EXPECT_EQ(res->body, R"({"url":"https://relay-a.example:4443/demo"})");
}

TEST_F(ApiFixture, PostTwiceIs409Duplicate) {
  ASSERT_TRUE(client().set_origin("demo", kOrigin).ok());
  auto again = client().set_origin("demo", Origin{"https://relay-b.example/demo"});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, code::kDuplicate);
  EXPECT_EQ(again.error().reason, "duplicate");

  auto res = http().Post("/origin/demo", api::to_json(kOrigin), kJson);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 409);
  // The first registration is untouched.
  EXPECT_EQ(**client().get_origin("demo"), kOrigin);
}

TEST_F(ApiFixture, PostSetsTheTtl) {
  ASSERT_TRUE(client().set_origin("demo", kOrigin).ok());
  long ttl = this->ttl("demo");
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 600);
}

TEST_F(ApiFixture, PatchRefreshesTheTtl) {
  ASSERT_TRUE(client().set_origin("demo", kOrigin).ok());
  ASSERT_EQ(redis_->cli("EXPIRE origin.demo 100"), "1");
  ASSERT_LE(ttl("demo"), 100);

  auto patched = client().patch_origin("demo", kOrigin);
  ASSERT_TRUE(patched.ok()) << patched.error().reason;
  long ttl = this->ttl("demo");
  EXPECT_GT(ttl, 100);
  EXPECT_LE(ttl, 600);
}

TEST_F(ApiFixture, PatchComparesParsedJsonNotBytes) {
  ASSERT_TRUE(client().set_origin("demo", kOrigin).ok());
  auto res =
      http().Patch("/origin/demo",
                   R"(  { "extra": [1, 2], "url" : "HTTPS://relay-a.example:4443/demo" } )", kJson);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
}

TEST_F(ApiFixture, PatchUnknownIs404) {
  auto patched = client().patch_origin("nobody", kOrigin);
  ASSERT_FALSE(patched.ok());
  EXPECT_EQ(patched.error().code, code::kNotFound);
  auto res = http().Patch("/origin/nobody", api::to_json(kOrigin), kJson);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
}

TEST_F(ApiFixture, PatchWithADifferentOriginIs409) {
  ASSERT_TRUE(client().set_origin("demo", kOrigin).ok());
  ASSERT_EQ(redis_->cli("EXPIRE origin.demo 100"), "1");
  auto patched = client().patch_origin("demo", Origin{"https://relay-b.example/demo"});
  ASSERT_FALSE(patched.ok());
  EXPECT_EQ(patched.error().code, code::kDuplicate);
  auto res = http().Patch("/origin/demo", R"({"url":"https://relay-b.example/demo"})", kJson);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 409);
  // Neither refreshed nor replaced.
  EXPECT_LE(ttl("demo"), 100);
  EXPECT_EQ(**client().get_origin("demo"), kOrigin);
}

TEST_F(ApiFixture, DeleteRemovesThenIs404) {
  ASSERT_TRUE(client().set_origin("demo", kOrigin).ok());
  auto deleted = client().delete_origin("demo");
  ASSERT_TRUE(deleted.ok()) << deleted.error().reason;
  EXPECT_FALSE(client().get_origin("demo")->has_value());
  EXPECT_EQ(redis_->cli("EXISTS origin.demo"), "0");

  auto again = client().delete_origin("demo");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, code::kNotFound);
  auto res = http().Delete("/origin/demo");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  // The name can be registered again.
  EXPECT_TRUE(client().set_origin("demo", kOrigin).ok());
}

TEST_F(ApiFixture, MalformedJsonIs400WithAMessage) {
  for (const std::string body : {"", "{", "[]", "null", R"({"url": 5})", R"({"uri": "https://a/"})",
                                 R"({"url": "https://a/"} trailing)"}) {
    for (auto* method : {"POST", "PATCH"}) {
      auto res = std::string(method) == "POST" ? http().Post("/origin/demo", body, kJson)
                                               : http().Patch("/origin/demo", body, kJson);
      ASSERT_TRUE(res);
      EXPECT_EQ(res->status, 400) << method << " " << body;
      EXPECT_NE(res->body.find("origin"), std::string::npos) << res->body;
    }
  }
  EXPECT_EQ(redis_->cli("EXISTS origin.demo"), "0");
}

TEST_F(ApiFixture, NonHttpsUrlIs400) {
  for (const std::string url : {"http://relay/demo", "ftp://relay/demo", "https://", "https:///x",
                                "relay:4443/demo", "https://relay/a b"}) {
    auto res = http().Post("/origin/demo", nlohmann::json{{"url", url}}.dump(), kJson);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << url;
    EXPECT_NE(res->body.find("url"), std::string::npos) << res->body;
  }
  // The client refuses to send one at all.
  auto sent = client().set_origin("demo", Origin{"http://relay/demo"});
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(redis_->cli("EXISTS origin.demo"), "0");
}

TEST_F(ApiFixture, NamesMayHoldAnyBytes) {
  const std::vector<std::string> names = {"a/b c",       "?#%&+=",
                                          "caf\xc3\xa9", std::string("nul\0x", 5),
                                          "line\nbreak", std::string(3000, 'n')};
  for (const auto& name : names) {
    Origin origin{"https://relay/" + api::percent_encode(name.substr(0, 100))};
    auto set = client().set_origin(name, origin);
    ASSERT_TRUE(set.ok()) << name << ": " << set.error().reason;
    auto got = client().get_origin(name);
    ASSERT_TRUE(got.ok()) << got.error().reason;
    ASSERT_TRUE(got->has_value()) << name;
    EXPECT_EQ(**got, origin);
    EXPECT_TRUE(client().patch_origin(name, origin).ok());
  }
  // '/' may be sent encoded or not: the path is decoded before the name is
  // taken, so both spell the same name.
  auto res = http().Get("/origin/a/b%20c");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  for (const auto& name : names)
    EXPECT_TRUE(client().delete_origin(name).ok());
}

TEST_F(ApiFixture, EmptyNameIs400AndOtherPathsAre404) {
  auto res = http().Get("/origin/");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  res = http().Get("/elsewhere");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_FALSE(res->body.empty());
  res = http().Put("/origin/demo", api::to_json(kOrigin), kJson);
  ASSERT_TRUE(res);
  EXPECT_GE(res->status, 400);
}

TEST_F(ApiFixture, OversizedBodyIsRefused) {
  std::string body = R"({"url":"https://relay/)" + std::string(100 * 1024, 'x') + R"("})";
  auto res = http().Post("/origin/demo", body, kJson);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
}

TEST_F(ApiFixture, RedisDownIs503AndRecoversWithoutRestart) {
  ASSERT_TRUE(client().set_origin("demo", kOrigin).ok());
  const pid_t api_pid = api_.pid();
  redis_->kill();

  for (int i = 0; i < 3; ++i) {
    auto res = http().Get("/origin/demo");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 503);
    EXPECT_NE(res->body.find("redis unavailable"), std::string::npos) << res->body;
  }
  auto res = http().Post("/origin/other", api::to_json(kOrigin), kJson);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  // The client reports an unhealthy upstream as 504.
  auto got = client().get_origin("demo");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, code::kUpstream);
  EXPECT_NE(got.error().reason.find("503"), std::string::npos) << got.error().reason;
  ASSERT_TRUE(api_.running());
  EXPECT_EQ(api_.pid(), api_pid);

  // Same port, empty data set (no persistence): the very next request works.
  ASSERT_TRUE(redis_->start());
  auto after = client().get_origin("demo");
  ASSERT_TRUE(after.ok()) << after.error().reason;
  EXPECT_FALSE(after->has_value());
  EXPECT_TRUE(client().set_origin("demo", kOrigin).ok());
  EXPECT_EQ(**client().get_origin("demo"), kOrigin);
}

TEST_F(ApiFixture, RedisRestartUnderAnOpenConnectionIsSeamless) {
  // moq-api holds a live Redis connection; restarting Redis must not cost a
  // failed request.
  ASSERT_TRUE(client().set_origin("demo", kOrigin).ok());
  redis_->kill();
  ASSERT_TRUE(redis_->start());
  auto got = client().get_origin("demo");
  ASSERT_TRUE(got.ok()) << got.error().reason;
  EXPECT_FALSE(got->has_value());
}

TEST_F(ApiFixture, SilentRedisIs503WithinTheCommandTimeout) {
  ASSERT_TRUE(client().get_origin("demo").ok());  // connected
  redis_->kill();
  // Something that accepts TCP on Redis's port and never answers.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int yes = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(redis_->port()));
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 16), 0);

  auto start = std::chrono::steady_clock::now();
  auto res = http().Get("/origin/demo");
  auto took = std::chrono::steady_clock::now() - start;
  close(fd);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  EXPECT_NE(res->body.find("no reply within"), std::string::npos) << res->body;
  EXPECT_LT(took, std::chrono::seconds(3));

  ASSERT_TRUE(redis_->start());
  auto after = client().get_origin("demo");
  EXPECT_TRUE(after.ok()) << after.error().reason;
}

TEST_F(ApiFixture, LogsOneLinePerRequest) {
  ASSERT_TRUE(client().set_origin("logged", kOrigin).ok());
  ASSERT_TRUE(client().get_origin("missing").ok());
  std::string log;
  // The logger runs after the response is written: allow it a moment.
  for (int i = 0; i < 100; ++i) {
    log = this->log();
    if (log.find("GET /origin/missing 404") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_NE(log.find("POST /origin/logged 200 "), std::string::npos) << log;
  EXPECT_NE(log.find("GET /origin/missing 404 "), std::string::npos) << log;
  EXPECT_NE(log.find("ms"), std::string::npos) << log;
}

TEST_F(ApiFixture, ConcurrentRequestsAllSucceed) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 10;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  auto c = client();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string name = "n" + std::to_string(t) + "-" + std::to_string(i);
        if (c.set_origin(name, kOrigin).ok() && c.patch_origin(name, kOrigin).ok() &&
            c.get_origin(name).ok() && c.delete_origin(name).ok()) {
          ++ok;
        }
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
}

TEST_F(ApiFixture, StopsCleanlyOnSigterm) {
  auto status = api_.stop(SIGTERM);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

}  // namespace
}  // namespace moq::test
