// moq-api under load: the real binary and a real redis-server, 2,000
// requests in flight at once, then 1,000 idle connections held open while a
// request is served. Figures are printed (and recorded as test properties).
#include <iostream>

#include "api/fixture.h"
#include "api/path.h"
#include "support/http_load.h"

namespace moq::test {
namespace {

constexpr int kIdleTimeoutSeconds = 2;

class ApiLoadTest : public ApiFixture {
 protected:
  ApiLoadTest() { api_args_ = {"--idle-timeout", std::to_string(kIdleTimeoutSeconds)}; }

  LoadTarget target() const { return LoadTarget{"127.0.0.1", api_port_, false, ""}; }
};

std::string origin_json(const std::string& name) {
  return api::to_json(api::Origin{"https://relay.example/" + name});
}

TEST_F(ApiLoadTest, TwoThousandConcurrentRequestsAreAllAnswered) {
  constexpr int kEach = 1000;
  // The GETs read names registered beforehand; the POSTs create new ones.
  auto c = client();
  for (int i = 0; i < kEach; ++i) {
    const std::string name = "get-" + std::to_string(i);
    ASSERT_TRUE(c.set_origin(name, api::Origin{"https://relay.example/" + name}).ok()) << i;
  }
  std::vector<LoadRequest> requests;
  for (int i = 0; i < kEach; ++i) {
    const std::string post = "post-" + std::to_string(i);
    requests.push_back({"POST", api::origin_path(post), origin_json(post)});
    requests.push_back({"GET", api::origin_path("get-" + std::to_string(i)), ""});
  }

  const LoadReport report = run_load(target(), requests, std::chrono::seconds(30));
  std::cout << "moq-api, " << requests.size() << " concurrent requests: " << report.summary()
            << std::endl;
  RecordProperty("summary", report.summary());
  EXPECT_EQ(report.answered, requests.size()) << report.summary();
  EXPECT_EQ(report.failed, 0u);
  EXPECT_EQ(report.timed_out, 0u);
  for (size_t i = 0; i < requests.size(); ++i) {
    const auto& o = report.outcomes[i];
    if (!o.error.empty()) continue;  // counted above
    EXPECT_EQ(o.status, 200) << requests[i].method << " " << requests[i].path;
    if (requests[i].method == "GET" && o.status == 200) {
      EXPECT_EQ(o.body, origin_json("get-" + std::to_string(i / 2))) << requests[i].path;
    }
  }
  // Every POST was stored, nothing else.
  EXPECT_EQ(redis_->cli("DBSIZE"), std::to_string(2 * kEach));
  EXPECT_EQ(redis_->cli("GET origin.post-999"), origin_json("post-999"));
}

TEST_F(ApiLoadTest, IdleConnectionsDelayNoRequestAndAreClosedAfterTheTimeout) {
  constexpr size_t kIdle = 1000;
  ASSERT_TRUE(client().set_origin("busy", api::Origin{"https://relay.example/busy"}).ok());
  IdleConnections idle;
  EXPECT_EQ(idle.open(target(), kIdle, std::chrono::seconds(10)), kIdle);

  // A handful of requests, one after the other, while the idle ones are held.
  std::chrono::microseconds worst{0};
  for (int i = 0; i < 5; ++i) {
    const LoadReport report =
        run_load(target(), {{"GET", api::origin_path("busy"), ""}}, std::chrono::seconds(10));
    if (report.answered != 1) {
      ADD_FAILURE() << "a request among " << idle.size()
                    << " idle connections: " << report.summary();
      worst = std::chrono::seconds(10);
      break;
    }
    EXPECT_EQ(report.outcomes[0].status, 200);
    worst = std::max(worst, report.outcomes[0].latency);
  }
  const double worst_ms = static_cast<double>(worst.count()) / 1000.0;
  std::cout << "moq-api, a GET with " << kIdle << " idle connections open: worst of 5 " << worst_ms
            << " ms" << std::endl;
  RecordProperty("worst_latency_ms", std::to_string(worst_ms));
  EXPECT_LT(worst, std::chrono::seconds(1));

  // The server closes them once idle for --idle-timeout seconds.
  const auto before = std::chrono::steady_clock::now();
  const size_t closed = idle.wait_closed(std::chrono::seconds(kIdleTimeoutSeconds + 10));
  const auto took = std::chrono::steady_clock::now() - before;
  std::cout << "moq-api closed " << closed << "/" << kIdle << " idle connections after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms more"
            << std::endl;
  EXPECT_EQ(closed, kIdle);
  // And still serves.
  const LoadReport after =
      run_load(target(), {{"GET", api::origin_path("busy"), ""}}, std::chrono::seconds(5));
  EXPECT_EQ(after.answered, 1u) << after.summary();
}

}  // namespace
}  // namespace moq::test
