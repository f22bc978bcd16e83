// Relay clustering end to end with library clients: publish on relay A,
// subscribe on relay B, and the faults (Redis down and back, relay A killed).

#include <csignal>

#include "cluster/cluster_fixture.h"

namespace moq::cluster_test {
namespace {

using namespace std::chrono_literals;
using relay_test::payload_for;
using relay_test::write_segment;
using Clock = std::chrono::steady_clock;

// Every subscriber got segments 0..n-1 of `track` whole and byte for byte.
void expect_segments(const ReceivedTrack& got, const std::string& track, uint64_t n) {
  ASSERT_GE(got.segments.size(), n);
  for (uint64_t i = 0; i < n; ++i) {
    const auto* s = got.find(i);
    ASSERT_TRUE(s) << "segment " << i;
    ASSERT_TRUE(s->end && s->end->is_closed()) << "segment " << i;
    EXPECT_TRUE(s->payload == payload_for(track, i)) << "segment " << i << " differs";
  }
}

TEST_F(ClusterTest, FiveSubscribersOnBShareOneUpstreamSessionToA) {
  auto pub = publish(a_, "show");
  ASSERT_TRUE(pub);
  ASSERT_TRUE(wait_for([&] { return origin_exists("show"); }, 5s));
  EXPECT_EQ(redis_->cli("GET origin.show"),
            "{\"url\":\"https://localhost:" + std::to_string(a_.port()) + "/show\"}");
  auto video = pub->writer.create_track("video");
  ASSERT_TRUE(video);
  write_segment(*video, 0, 1, std::nullopt, payload_for("video", 0));

  std::vector<std::shared_ptr<Subscriber>> subs;
  for (int i = 0; i < 5; ++i) {
    subs.push_back(subscriber(b_, "show"));
    ASSERT_TRUE(subs.back());
    subscribe(*subs.back(), "video");
  }
  for (uint64_t seq = 1; seq < 7; ++seq)
    write_segment(*video, seq, 1, std::nullopt, payload_for("video", seq));
  ASSERT_TRUE(run_until([&] {
    for (auto& s : subs) {
      if (s->tracks["video"]->complete() < 7) return false;
    }
    return true;
  }));
  for (auto& s : subs)
    expect_segments(*s->tracks["video"], "video", 7);

  // One upstream session and one upstream SUBSCRIBE, however many subscribers
  // (the publisher's other SUBSCRIBE is relay A's own, of .catalog, for its
  // index page).
  // One upstream session from B, in moq-lite (relays speak it to each other).
  EXPECT_EQ(a_.count_log_lines({"session start", "path '/show'", "protocol moq-lite-05"}), 1u);
  EXPECT_EQ(b_.count_log_lines({"upstream start", "'show'"}), 1u);
  EXPECT_EQ(pub->session->publisher_stats().subscriptions, 2u);

  // The publisher leaves cleanly: the registration goes, and B's subscribers'
  // tracks end cleanly; their sessions stay (issue 9).
  (void)video->close(Error::closed());
  pub->session->close(Error::closed());
  ASSERT_TRUE(run_until([&] {
    for (auto& s : subs) {
      if (!s->tracks["video"]->end) return false;
    }
    return true;
  }));
  for (auto& s : subs)
    EXPECT_TRUE(s->tracks["video"]->end->is_closed()) << s->tracks["video"]->end->code;
  EXPECT_TRUE(wait_for([&] { return !origin_exists("show"); }, 5s));
  for (auto& s : subs)
    EXPECT_FALSE(s->end.has_value()) << s->end->code << " " << s->end->reason;

  // A new publisher of the name on A: a new subscriber on B gets the new
  // broadcast through a fresh upstream, not the ended one.
  auto again = publish(a_, "show");
  ASSERT_TRUE(again);
  ASSERT_TRUE(wait_for([&] { return origin_exists("show"); }, 5s));
  auto video2 = again->writer.create_track("video");
  ASSERT_TRUE(video2);
  write_segment(*video2, 0, 1, std::nullopt, payload_for("second", 0));
  auto fresh = subscriber(b_, "show");
  ASSERT_TRUE(fresh);
  subscribe(*fresh, "video");
  ASSERT_TRUE(run_until([&] { return fresh->tracks["video"]->complete() == 1; }));
  EXPECT_TRUE(fresh->tracks["video"]->segments[0].payload == payload_for("second", 0));
  EXPECT_EQ(b_.count_log_lines({"upstream start", "'show'"}), 2u);
}

TEST_F(ClusterTest, UnknownNameIs404AndANameLiveOnARelayIs409OnTheOther) {
  auto sub = subscriber(b_, "nobody");
  ASSERT_TRUE(sub);
  const auto start = std::chrono::steady_clock::now();
  subscribe(*sub, "video");
  // 404 once nobody published it within the relay's --publisher-wait (3 s).
  ASSERT_TRUE(run_until([&] { return sub->tracks["video"]->end.has_value(); }, 8s));
  EXPECT_EQ(sub->tracks["video"]->end->code, code::kNotFound);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 2500ms);

  auto pub = publish(a_, "taken");
  ASSERT_TRUE(pub);
  auto second = connect(b_, "taken", wire::Role::kPublisher);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, code::kDuplicate) << second.error().reason;
  EXPECT_EQ(redis_->cli("GET origin.taken"),
            "{\"url\":\"https://localhost:" + std::to_string(a_.port()) + "/taken\"}");
  EXPECT_FALSE(pub->end.has_value());
}

// Issue 11: a viewer on B that arrives before the publisher (on A) is held,
// B keeps asking moq-api, and serves it from A once the name is registered.
TEST_F(ClusterTest, ViewerOnOneRelayBeforeThePublisherOnTheOtherGetsTheBroadcast) {
  auto sub = subscriber(b_, "soon");
  ASSERT_TRUE(sub);
  subscribe(*sub, "video");
  run_until([] { return false; }, 800ms);
  EXPECT_FALSE(sub->tracks["video"]->end.has_value()) << "held while nobody publishes";

  auto pub = publish(a_, "soon");
  ASSERT_TRUE(pub);
  auto video = pub->writer.create_track("video");
  ASSERT_TRUE(video);
  for (uint64_t i = 0; i < 3; ++i)
    write_segment(*video, i, 1, std::nullopt, payload_for("video", i));
  ASSERT_TRUE(run_until([&] { return sub->tracks["video"]->complete() == 3; }, 8s)) << b_.log();
  expect_segments(*sub->tracks["video"], "video", 3);
  EXPECT_GE(b_.count_log_lines({"waiting viewers of 'soon'", "on another relay"}), 1u);
}

TEST_F(ClusterTest, RedisDownThenBack) {
  auto pub = publish(a_, "live");
  ASSERT_TRUE(pub);
  auto video = pub->writer.create_track("video");
  ASSERT_TRUE(video);
  write_segment(*video, 0, 1, std::nullopt, payload_for("video", 0));
  auto local = subscriber(a_, "live");
  auto remote = subscriber(b_, "live");
  ASSERT_TRUE(local && remote);
  subscribe(*local, "video");
  subscribe(*remote, "video");
  ASSERT_TRUE(run_until([&] {
    return local->tracks["video"]->complete() == 1 && remote->tracks["video"]->complete() == 1;
  }));

  redis_->kill();
  // moq-api answers 503 with a reason.
  httplib::Client http("127.0.0.1", api_port_);
  http.set_read_timeout(5s);
  auto res = http.Get("/origin/live");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503) << res->body;

  // A keeps serving its subscribers (the established upstream to B too).
  write_segment(*video, 1, 1, std::nullopt, payload_for("video", 1));
  ASSERT_TRUE(run_until([&] {
    return local->tracks["video"]->complete() == 2 && remote->tracks["video"]->complete() == 2;
  }));
  // A new remote lookup on B fails with 504, in bounded time.
  const auto asked = Clock::now();
  auto lost = subscriber(b_, "elsewhere");
  ASSERT_TRUE(lost);
  subscribe(*lost, "video");
  ASSERT_TRUE(run_until([&] { return lost->tracks["video"]->end.has_value(); }, 10s));
  EXPECT_EQ(lost->tracks["video"]->end->code, code::kUpstream);
  EXPECT_LT(Clock::now() - asked, 7s);
  // A new publisher can't be registered: refused with 504.
  auto refused = connect(a_, "newcomer", wire::Role::kPublisher);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, code::kUpstream) << refused.error().reason;

  // Redis back, empty: A registers its live broadcast again by itself (its
  // refresh finds it gone), and lookups and registrations work again.
  ASSERT_TRUE(redis_->start());
  EXPECT_TRUE(run_until([&] { return origin_exists("live"); }, 15s));
  auto again = subscriber(b_, "live");
  ASSERT_TRUE(again);
  subscribe(*again, "video");
  ASSERT_TRUE(run_until([&] { return again->tracks["video"]->complete() >= 1; }));
  auto newcomer = publish(a_, "newcomer");
  ASSERT_TRUE(newcomer);
  EXPECT_TRUE(wait_for([&] { return origin_exists("newcomer"); }, 5s));
  EXPECT_FALSE(pub->end.has_value());
}

TEST_F(ClusterTest, RelayAKilledEndsBsSubscribersWithAnErrorAndBSurvives) {
  auto pub = publish(a_, "doomed");
  ASSERT_TRUE(pub);
  auto video = pub->writer.create_track("video");
  ASSERT_TRUE(video);
  write_segment(*video, 0, 1, std::nullopt, payload_for("video", 0));
  auto remote = subscriber(b_, "doomed");
  ASSERT_TRUE(remote);
  subscribe(*remote, "video");
  ASSERT_TRUE(run_until([&] { return remote->tracks["video"]->complete() == 1; }));

  a_.child().stop(SIGKILL);
  const auto killed = Clock::now();
  ASSERT_TRUE(run_until([&] { return remote->tracks["video"]->end.has_value(); }, 15s));
  EXPECT_FALSE(remote->tracks["video"]->end->is_closed());
  // Relay-to-relay links notice a vanished peer within 10 s (keep-alive 1 s,
  // idle timeout 9 s); a little slack for a loaded CI machine.
  EXPECT_LT(Clock::now() - killed, 11s) << "later than the idle timeout";
  // Only the tracks end: B keeps its viewer's session.
  EXPECT_FALSE(remote->end.has_value());

  // B still serves: a broadcast published to B itself, and a 504 (not a
  // hang) for the name whose origin is gone but still registered.
  auto local_pub = publish(b_, "survivor");
  ASSERT_TRUE(local_pub);
  auto track = local_pub->writer.create_track("video");
  ASSERT_TRUE(track);
  write_segment(*track, 0, 1, std::nullopt, payload_for("survivor", 0));
  auto watcher = subscriber(b_, "survivor");
  ASSERT_TRUE(watcher);
  subscribe(*watcher, "video");
  ASSERT_TRUE(run_until([&] { return watcher->tracks["video"]->complete() == 1; }));
  auto stale = subscriber(b_, "doomed");
  ASSERT_TRUE(stale);
  subscribe(*stale, "video");
  ASSERT_TRUE(run_until([&] { return stale->tracks["video"]->end.has_value(); }, 10s));
  EXPECT_EQ(stale->tracks["video"]->end->code, code::kUpstream);
}

}  // namespace
}  // namespace moq::cluster_test
