// The relay for operators: GET /metrics (Prometheus text) and /healthz on its
// HTTP listener, and the graceful drain on SIGTERM: GOAWAY (with
// --goaway-url) to every session, 503 for new ones, exit 0 once they left or
// at --drain-timeout.
#include <csignal>
#include <sstream>

#include "api/process.h"
#include "coding/writer.h"
#include "relay/relay_fixture.h"

namespace moq::relay_test {
namespace {

// The sum, over every series of metric `name` whose labels contain `label`,
// of their values; -1 when there is none.
double metric(const std::string& text, const std::string& name, const std::string& label = "") {
  double sum = 0;
  bool found = false;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    if (space == std::string::npos) continue;
    const std::string series = line.substr(0, space);
    if (series.substr(0, series.find('{')) != name) continue;
    if (!label.empty() && series.find(label) == std::string::npos) continue;
    sum += std::stod(line.substr(space + 1));
    found = true;
  }
  return found ? sum : -1;
}

std::string http_get(int port, const std::string& path) {
  return test::run_command("curl -s --max-time 5 http://127.0.0.1:" + std::to_string(port) + path)
      .out;
}

int http_status(int port, const std::string& path) {
  const auto out = test::run_command(
                       "curl -s -o /dev/null -w '%{http_code}' --max-time 5 "
                       "http://127.0.0.1:" +
                       std::to_string(port) + path)
                       .out;
  return out.empty() ? 0 : std::stoi(out);
}

TEST_F(RelayTest, MetricsCountSessionsObjectsBytesAndDatagrams) {
  auto pub = publish("metered");
  ASSERT_TRUE(pub);
  auto video = pub->writer.create_track("video");
  ASSERT_TRUE(video);
  auto sub = subscriber("metered");
  ASSERT_TRUE(sub);
  subscribe(*sub, "video");
  constexpr uint64_t kSegments = 5;
  double payload_bytes = 0;
  for (uint64_t i = 0; i < kSegments; ++i) {
    write_segment(*video, i, 1, std::nullopt, payload_for("video", i));
    payload_bytes += static_cast<double>(payload_for("video", i).size());
  }
  ASSERT_TRUE(run_until([&] { return sub->tracks["video"]->complete() == kSegments; }));

  // Workers other than the one serving HTTP report once a second, and RTTs
  // are observed once a second.
  std::string text;
  const bool counted = run_until(
      [&] {
        text = http_get(relay_->port(), "/metrics");
        return metric(text, "moq_relay_rtt_seconds_count") > 0 &&
               metric(text, "moq_relay_objects_sent_total") >= kSegments &&
               metric(text, "moq_relay_objects_received_total") >= kSegments &&
               metric(text, "moq_relay_sessions", "role=\"subscriber\"") == 1;
      },
      std::chrono::seconds(5));
  EXPECT_TRUE(counted) << text;
  EXPECT_NE(text.find("# TYPE moq_relay_objects_sent_total counter"), std::string::npos);
  EXPECT_EQ(metric(text, "moq_relay_broadcasts"), 1);
  EXPECT_EQ(metric(text, "moq_relay_sessions", "role=\"publisher\""), 1);
  EXPECT_EQ(metric(text, "moq_relay_sessions_started_total"), 2);
  EXPECT_EQ(metric(text, "moq_relay_subscriptions_total"), 1);
  EXPECT_GE(metric(text, "moq_relay_object_bytes_sent_total"), payload_bytes);
  EXPECT_GE(metric(text, "moq_relay_object_bytes_received_total"), payload_bytes);
  EXPECT_EQ(metric(text, "moq_relay_objects_dropped_total"), 0);
  EXPECT_GE(metric(text, "moq_relay_connections"), 2);
  EXPECT_GT(metric(text, "moq_relay_datagrams_sent_total"), 0);
  EXPECT_GT(metric(text, "moq_relay_send_syscalls_total"), 0);
  EXPECT_GT(metric(text, "moq_relay_datagrams_received_total"), 0);
  EXPECT_GT(metric(text, "moq_relay_rtt_seconds_count"), 0);
  EXPECT_GT(metric(text, "moq_relay_rtt_seconds_bucket", "le=\"+Inf\""), 0);
  EXPECT_GT(metric(text, "moq_relay_worker_cpu_seconds_total"), 0);
  EXPECT_EQ(metric(text, "moq_relay_draining"), 0);
  // Nothing is lost on loopback; the counter is there (its counting is
  // QuicLoopback.LostStreamPacketsAreCounted's business).
  EXPECT_EQ(metric(text, "moq_relay_stream_packets_lost_total"), 0);
  EXPECT_NE(text.find("# TYPE moq_relay_stream_packets_lost_total counter"), std::string::npos);
  EXPECT_EQ(http_get(relay_->port(), "/healthz"), "ok");
  EXPECT_EQ(http_status(relay_->port(), "/healthz"), 200);
}

constexpr const char* kGoawayUrl = "https://relay-b.example:4443/";

// A peer that ignores GOAWAY: it sends its SETUP by hand and reads nothing.
asio::awaitable<void> deaf_subscriber(wt::Client* client, std::string url,
                                      std::shared_ptr<std::shared_ptr<wt::WtSession>> out,
                                      std::shared_ptr<transport::BidiStream> control) {
  auto session = co_await client->connect(url);
  if (!session) co_return;
  auto bidi = co_await (*session)->open_bidi();
  if (!bidi) co_return;
  std::vector<uint8_t> bytes;
  Writer w(bytes);
  w.varint(wire::ClientSetup::kType);
  setup_for(wire::Role::kSubscriber).encode(w);
  (void)bidi->send->write(Bytes(std::move(bytes)));
  *control = std::move(*bidi);
  *out = session.value();
}

class RelayDrainTest : public RelayTest {
 protected:
  void SetUp() override { start_relay({"--drain-timeout", "3", "--goaway-url", kGoawayUrl}); }

  // Connects a subscriber that ignores GOAWAY, waits until the relay counts
  // it, then sends SIGTERM and waits until /healthz says 503.
  void drain_with_a_deaf_subscriber() {
    asio::co_spawn(io_, deaf_subscriber(client_.get(), relay_->url("deaf"), deaf_, control_),
                   asio::detached);
    ASSERT_TRUE(run_until([&] { return *deaf_ != nullptr; }));
    // The relay counts it once its SETUP is in.
    ASSERT_TRUE(run_until(
        [&] {
          return metric(http_get(relay_->port(), "/metrics"), "moq_relay_sessions",
                        "role=\"subscriber\"") == 1;
        },
        std::chrono::seconds(5)));
    signalled_ = std::chrono::steady_clock::now();
    ASSERT_EQ(::kill(relay_->child().pid(), SIGTERM), 0);
    ASSERT_TRUE(run_until([&] { return http_status(relay_->port(), "/healthz") == 503; },
                          std::chrono::seconds(2)));
  }

  std::shared_ptr<std::shared_ptr<wt::WtSession>> deaf_ =
      std::make_shared<std::shared_ptr<wt::WtSession>>();
  std::shared_ptr<transport::BidiStream> control_ = std::make_shared<transport::BidiStream>();
  std::chrono::steady_clock::time_point signalled_;

  // Waits (running our clients) for the relay process to exit; its status.
  std::optional<int> wait_for_exit(std::chrono::milliseconds limit) {
    if (!run_until([&] { return !relay_->child().running(); }, limit)) return std::nullopt;
    return relay_->child().stop(SIGTERM, std::chrono::seconds(1));  // collects the status
  }
};

TEST_F(RelayDrainTest, SigtermSendsGoawayToEverySessionAndExitsOnceTheyLeft) {
  auto pub = publish("drained");
  ASSERT_TRUE(pub);
  auto sub = subscriber("drained");
  ASSERT_TRUE(sub);
  ASSERT_EQ(::kill(relay_->child().pid(), SIGTERM), 0);
  // Our sessions leave when told to go away.
  ASSERT_TRUE(run_until([&] { return pub->end.has_value() && sub->end.has_value(); },
                        std::chrono::seconds(5)))
      << relay_->log();
  EXPECT_EQ(sub->session->goaway_url(), std::optional<std::string>(kGoawayUrl));
  EXPECT_EQ(pub->session->goaway_url(), std::optional<std::string>(kGoawayUrl));
  const auto status = wait_for_exit(std::chrono::seconds(2));
  ASSERT_TRUE(status) << "the relay did not exit once its sessions left\n" << relay_->log();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
  EXPECT_NE(relay_->log().find("drained: every session left"), std::string::npos) << relay_->log();
}

TEST_F(RelayDrainTest, WhileDrainingNewSessionsAre503HealthzIs503AndTheDeadlineEndsTheRest) {
  drain_with_a_deaf_subscriber();
  if (HasFatalFailure()) return;
  EXPECT_EQ(metric(http_get(relay_->port(), "/metrics"), "moq_relay_draining"), 1);
  auto late = connect("late", setup_for(wire::Role::kSubscriber));
  ASSERT_FALSE(late.ok());
  EXPECT_NE(late.error().reason.find("503"), std::string::npos) << late.error().reason;

  // The deaf session keeps the relay up until --drain-timeout (3 s).
  const auto status = wait_for_exit(std::chrono::seconds(8));
  ASSERT_TRUE(status) << relay_->log();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
  EXPECT_GE(std::chrono::steady_clock::now() - signalled_, std::chrono::milliseconds(2500));
  EXPECT_NE(relay_->log().find("drain timeout: closing the 1 remaining session"), std::string::npos)
      << relay_->log();
}

TEST_F(RelayDrainTest, ASecondSignalStopsAtOnce) {
  drain_with_a_deaf_subscriber();
  if (HasFatalFailure()) return;
  ASSERT_EQ(::kill(relay_->child().pid(), SIGINT), 0);
  const auto status = wait_for_exit(std::chrono::seconds(2));
  ASSERT_TRUE(status) << relay_->log();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
}

}  // namespace
}  // namespace moq::relay_test
