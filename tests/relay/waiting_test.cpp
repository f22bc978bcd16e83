// A viewer that arrives before the publisher (issue 11): its SUBSCRIBEs are
// held for --publisher-wait and served once the name is published, or
// answered 404 after the wait; with --publisher-wait 0, 404 at once.
#include <nlohmann/json.hpp>

#include "api/process.h"
#include "relay/relay_fixture.h"

namespace moq::relay_test {
namespace {

class RelayWaitTest : public RelayTest {
 protected:
  void SetUp() override { start_relay({"--publisher-wait", "3"}); }

  size_t listed_viewers(const std::string& name) {
    const auto out = test::run_command("curl -s --max-time 5 http://127.0.0.1:" +
                                       std::to_string(relay_->port()) + "/api/broadcasts")
                         .out;
    auto json = nlohmann::json::parse(out, nullptr, false);
    if (json.is_discarded()) return SIZE_MAX;
    for (const auto& b : json["broadcasts"]) {
      if (b["name"] == name) return b["viewers"].get<size_t>();
    }
    return SIZE_MAX;
  }
};

TEST_F(RelayWaitTest, ViewerBeforeThePublisherGetsTheBroadcastOnceItStarts) {
  auto early = subscriber("later");
  ASSERT_TRUE(early);
  subscribe(*early, "video");
  // Held, not refused, while nobody publishes.
  run_until([] { return false; }, std::chrono::milliseconds(500));
  EXPECT_FALSE(early->tracks["video"]->end.has_value());

  auto pub = publish("later");
  ASSERT_TRUE(pub);
  auto video = pub->writer.create_track("video");
  ASSERT_TRUE(video);
  for (uint64_t i = 0; i < 3; ++i)
    write_segment(*video, i, 1, std::nullopt, payload_for("video", i));
  ASSERT_TRUE(run_until([&] { return early->tracks["video"]->complete() == 3; }));
  for (uint64_t i = 0; i < 3; ++i) {
    ASSERT_NE(early->tracks["video"]->find(i), nullptr);
    EXPECT_TRUE(early->tracks["video"]->find(i)->payload == payload_for("video", i));
  }
  // Counted as a viewer of the broadcast it waited for.
  EXPECT_TRUE(run_until([&] { return listed_viewers("later") == 1; }));

  // A track asked for after the broadcast started is served too.
  auto audio = pub->writer.create_track("audio");
  ASSERT_TRUE(audio);
  write_segment(*audio, 0, 1, std::nullopt, payload_for("audio", 0));
  subscribe(*early, "audio");
  ASSERT_TRUE(run_until([&] { return early->tracks["audio"]->complete() == 1; }));

  // The publisher leaves: the waited-for tracks end like any viewer's.
  pub->session->close(Error::closed());
  ASSERT_TRUE(run_until([&] { return early->tracks["video"]->end.has_value(); }));
  EXPECT_TRUE(early->tracks["video"]->end->is_closed()) << early->tracks["video"]->end->reason;
  EXPECT_FALSE(early->end.has_value()) << "the viewer's session stays up";
}

TEST_F(RelayWaitTest, NoPublisherWithinTheWaitIs404AndTheSessionStays) {
  auto sub = subscriber("nobody-here");
  ASSERT_TRUE(sub);
  const auto start = Clock::now();
  subscribe(*sub, "video");
  subscribe(*sub, ".catalog");
  ASSERT_TRUE(run_until([&] { return sub->tracks["video"]->end && sub->tracks[".catalog"]->end; },
                        std::chrono::seconds(10)));
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(2500));
  EXPECT_EQ(sub->tracks["video"]->end->code, code::kNotFound);
  EXPECT_EQ(sub->tracks[".catalog"]->end->code, code::kNotFound);
  EXPECT_NE(sub->tracks["video"]->end->reason.find("no publisher"), std::string::npos)
      << sub->tracks["video"]->end->reason;
  // After the wait: at once.
  subscribe(*sub, "audio");
  ASSERT_TRUE(
      run_until([&] { return sub->tracks["audio"]->end.has_value(); }, std::chrono::seconds(1)));
  EXPECT_EQ(sub->tracks["audio"]->end->code, code::kNotFound);
  EXPECT_FALSE(sub->end.has_value()) << "the session itself stays up";
}

class RelayNoWaitTest : public RelayTest {
 protected:
  void SetUp() override { start_relay({"--publisher-wait", "0"}); }
};

TEST_F(RelayNoWaitTest, SubscriberOfUnknownBroadcastGets404AtOnce) {
  auto sub = subscriber("nobody-here");
  ASSERT_TRUE(sub);
  subscribe(*sub, "video");
  subscribe(*sub, ".catalog");
  ASSERT_TRUE(run_until([&] { return sub->tracks["video"]->end && sub->tracks[".catalog"]->end; },
                        std::chrono::seconds(2)));
  EXPECT_EQ(sub->tracks["video"]->end->code, code::kNotFound);
  EXPECT_EQ(sub->tracks[".catalog"]->end->code, code::kNotFound);
  EXPECT_FALSE(sub->end.has_value()) << "the session itself stays up";
}

}  // namespace
}  // namespace moq::relay_test
