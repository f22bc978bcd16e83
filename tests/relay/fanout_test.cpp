// Fan-out through the real moq-relay: every subscriber gets every segment
// byte-exact, with one upstream SUBSCRIBE per track; late joiners get the
// cache; the publisher leaving resets everyone and frees the name.

#include <limits>

#include "relay/relay_fixture.h"

namespace moq::relay_test {
namespace {

struct SegmentSpec {
  uint64_t sequence;
  int32_t priority;
  std::optional<std::chrono::seconds> expires;
};

// Mixed priorities (higher and lower than earlier ones, ties) and expiries.
const std::vector<SegmentSpec>& media_segments() {
  static const std::vector<SegmentSpec> specs = {
      {0, 10, std::chrono::seconds(30)}, {1, -5, std::nullopt}, {2, 300, std::chrono::seconds(10)},
      {3, 7, std::chrono::seconds(30)},  {4, 7, std::nullopt},  {5, 1000, std::chrono::seconds(5)},
  };
  return specs;
}

void check_track(const ReceivedTrack& got, const std::string& track,
                 const std::vector<SegmentSpec>& specs, const std::string& who) {
  SCOPED_TRACE(who + " track " + track);
  ASSERT_TRUE(got.end.has_value());
  EXPECT_TRUE(got.end->is_closed()) << got.end->code << " " << got.end->reason;
  ASSERT_EQ(got.segments.size(), specs.size());
  for (const auto& spec : specs) {
    const ReceivedSegment* s = got.find(spec.sequence);
    ASSERT_NE(s, nullptr) << "missing segment " << spec.sequence;
    ASSERT_TRUE(s->end && s->end->is_closed()) << "segment " << spec.sequence;
    EXPECT_EQ(s->priority, spec.priority);
    EXPECT_EQ(s->expires.has_value(), spec.expires.has_value());
    if (spec.expires && s->expires) {
      EXPECT_EQ(*s->expires, *spec.expires);
    }
    EXPECT_TRUE(s->payload == payload_for(track, spec.sequence))
        << "segment " << spec.sequence << ": " << s->payload.size() << " bytes, expected "
        << payload_for(track, spec.sequence).size();
  }
}

TEST_F(RelayTest, TwentySubscribersGetEverySegmentByteExactWithOneUpstreamSubscribe) {
  auto pub = publish("show");
  ASSERT_TRUE(pub);
  auto catalog = pub->writer.create_track(".catalog");
  auto video = pub->writer.create_track("video");
  auto audio = pub->writer.create_track("audio");
  ASSERT_TRUE(catalog && video && audio);
  const std::vector<SegmentSpec> catalog_specs = {
      {0, std::numeric_limits<int32_t>::max(), std::nullopt}};
  write_segment(*catalog, 0, catalog_specs[0].priority, std::nullopt, payload_for(".catalog", 0));
  (void)catalog->finish();
  // Half of the media is cached before anyone subscribes, half is live.
  const auto& specs = media_segments();
  for (size_t i = 0; i < 3; ++i) {
    write_segment(*video, specs[i].sequence, specs[i].priority, specs[i].expires,
                  payload_for("video", specs[i].sequence));
    write_segment(*audio, specs[i].sequence, specs[i].priority, specs[i].expires,
                  payload_for("audio", specs[i].sequence));
  }

  constexpr int kSubscribers = 20;
  std::vector<std::shared_ptr<Subscriber>> subs;
  for (int i = 0; i < kSubscribers; ++i) {
    auto sub = subscriber("show");
    ASSERT_TRUE(sub);
    subscribe(*sub, ".catalog");
    subscribe(*sub, "video");
    subscribe(*sub, "audio");
    subs.push_back(sub);
  }
  ASSERT_TRUE(run_until(
      [&] {
        for (auto& s : subs) {
          if (s->tracks["video"]->complete() < 3 || s->tracks["audio"]->complete() < 3)
            return false;
        }
        return true;
      },
      std::chrono::seconds(15)));

  for (size_t i = 3; i < specs.size(); ++i) {
    write_segment(*video, specs[i].sequence, specs[i].priority, specs[i].expires,
                  payload_for("video", specs[i].sequence));
    write_segment(*audio, specs[i].sequence, specs[i].priority, specs[i].expires,
                  payload_for("audio", specs[i].sequence));
  }
  (void)video->finish();
  (void)audio->finish();
  ASSERT_TRUE(run_until(
      [&] {
        for (auto& s : subs) {
          for (auto& [name, track] : s->tracks) {
            if (!track->end) return false;
          }
        }
        return true;
      },
      std::chrono::seconds(15)));

  for (int i = 0; i < kSubscribers; ++i) {
    const std::string who = "subscriber " + std::to_string(i);
    check_track(*subs[i]->tracks[".catalog"], ".catalog", catalog_specs, who);
    check_track(*subs[i]->tracks["video"], "video", specs, who);
    check_track(*subs[i]->tracks["audio"], "audio", specs, who);
  }
  // Deduplication: the relay asked the publisher once per track.
  EXPECT_EQ(pub->session->publisher_stats().subscriptions, 3u);
  EXPECT_FALSE(pub->end.has_value());
}

TEST_F(RelayTest, LateJoinerGetsCachedSegmentsButNotExpiredOnes) {
  auto pub = publish("late");
  ASSERT_TRUE(pub);
  auto video = pub->writer.create_track("video");
  ASSERT_TRUE(video);
  write_segment(*video, 0, 1, std::nullopt, payload_for("video", 3));
  write_segment(*video, 1, 2, std::chrono::seconds(1), payload_for("video", 4));
  write_segment(*video, 2, 3, std::chrono::seconds(30), payload_for("video", 5));

  auto early = subscriber("late");
  ASSERT_TRUE(early);
  subscribe(*early, "video");
  ASSERT_TRUE(run_until([&] { return early->tracks["video"]->complete() == 3; }));

  // Segment 1 expires (1 s) in the relay's cache meanwhile.
  run_until([] { return false; }, std::chrono::milliseconds(2200));
  auto late = subscriber("late");
  ASSERT_TRUE(late);
  subscribe(*late, "video");
  ASSERT_TRUE(run_until([&] { return late->tracks["video"]->complete() == 2; }));
  write_segment(*video, 3, 4, std::nullopt, payload_for("video", 6));
  ASSERT_TRUE(run_until([&] {
    return late->tracks["video"]->complete() == 3 && early->tracks["video"]->complete() == 4;
  }));

  const auto& got = *late->tracks["video"];
  EXPECT_EQ(got.find(1), nullptr) << "an expired segment was served";
  ASSERT_NE(got.find(0), nullptr);
  ASSERT_NE(got.find(2), nullptr);
  ASSERT_NE(got.find(3), nullptr);
  EXPECT_TRUE(got.find(0)->payload == payload_for("video", 3));
  EXPECT_TRUE(got.find(2)->payload == payload_for("video", 5));
  EXPECT_TRUE(got.find(3)->payload == payload_for("video", 6));
  // The late joiner was served from the cache: still one upstream SUBSCRIBE
  // for the track (the other one is the relay's own, of .catalog, for its
  // index page).
  EXPECT_EQ(pub->session->publisher_stats().subscriptions, 2u);
}

TEST_F(RelayTest, PublisherLeavingResetsEveryoneAndFreesTheName) {
  auto first = publish("show");
  ASSERT_TRUE(first);
  auto video = first->writer.create_track("video");
  ASSERT_TRUE(video);
  write_segment(*video, 0, 1, std::nullopt, payload_for("video", 4));
  write_segment(*video, 1, 1, std::nullopt, payload_for("video", 5));

  std::vector<std::shared_ptr<Subscriber>> subs;
  for (int i = 0; i < 3; ++i) {
    subs.push_back(subscriber("show"));
    ASSERT_TRUE(subs.back());
    subscribe(*subs.back(), "video");
  }
  ASSERT_TRUE(run_until([&] {
    for (auto& s : subs) {
      if (s->tracks["video"]->complete() < 2) return false;
    }
    return true;
  }));

  // The publisher goes away with an error: every subscriber's track is reset
  // with the code its session ended with.
  const Error crash{code::kInternal, "publisher crashed"};
  first->session->close(crash);
  ASSERT_TRUE(run_until([&] {
    for (auto& s : subs) {
      if (!s->tracks["video"]->end) return false;
    }
    return true;
  }));
  for (auto& s : subs) {
    EXPECT_EQ(s->tracks["video"]->end->code, crash.code);
    EXPECT_EQ(s->tracks["video"]->end->reason, crash.reason);
  }

  // The name is free again; new subscribers get the new broadcast.
  auto second = publish("show");
  ASSERT_TRUE(second);
  auto video2 = second->writer.create_track("video");
  ASSERT_TRUE(video2);
  write_segment(*video2, 0, 1, std::nullopt, payload_for("second", 2));
  auto fresh = subscriber("show");
  ASSERT_TRUE(fresh);
  subscribe(*fresh, "video");
  ASSERT_TRUE(run_until([&] { return fresh->tracks["video"]->complete() == 1; }));
  EXPECT_TRUE(fresh->tracks["video"]->segments[0].payload == payload_for("second", 2));
  // video, and the relay's own .catalog (its index page lists the catalog).
  EXPECT_EQ(second->session->publisher_stats().subscriptions, 2u);
}

TEST_F(RelayTest, PublisherClosingCleanlyEndsTracksCleanly) {
  auto pub = publish("bye");
  ASSERT_TRUE(pub);
  auto video = pub->writer.create_track("video");
  ASSERT_TRUE(video);
  write_segment(*video, 0, 1, std::nullopt, payload_for("video", 5));
  auto sub = subscriber("bye");
  ASSERT_TRUE(sub);
  subscribe(*sub, "video");
  ASSERT_TRUE(run_until([&] { return sub->tracks["video"]->complete() == 1; }));
  pub->session->close(Error::closed());
  ASSERT_TRUE(run_until([&] { return sub->tracks["video"]->end.has_value(); }));
  EXPECT_TRUE(sub->tracks["video"]->end->is_closed()) << sub->tracks["video"]->end->code;
  EXPECT_TRUE(sub->tracks["video"]->segments[0].payload == payload_for("video", 5));
}

// Issue 9: a publisher whose connection ends abruptly (here: closed with an
// HTTP/3 error, no MoQ goodbye) simply disappeared. Like the original relay,
// every subscriber's tracks end with 0 after what had arrived, and their
// sessions go on.
TEST_F(RelayTest, PublisherConnectionLostEndsTracksCleanlyAndKeepsSubscriberSessions) {
  auto pub_client = make_client(io_);
  ASSERT_TRUE(pub_client);
  auto pub = publish("lost", pub_client.get());
  ASSERT_TRUE(pub);
  auto video = pub->writer.create_track("video");
  ASSERT_TRUE(video);
  for (uint64_t i = 0; i < 3; ++i)
    write_segment(*video, i, 1, std::nullopt, payload_for("video", i));
  std::vector<std::shared_ptr<Subscriber>> subs;
  for (int i = 0; i < 3; ++i) {
    subs.push_back(subscriber("lost"));
    ASSERT_TRUE(subs.back());
    subscribe(*subs.back(), "video");
  }
  ASSERT_TRUE(run_until([&] {
    for (auto& s : subs) {
      if (s->tracks["video"]->complete() < 3) return false;
    }
    return true;
  }));
  pub_client->endpoint().shutdown(0x102 /* H3_INTERNAL_ERROR */, "publisher crashed");
  ASSERT_TRUE(run_until([&] {
    for (auto& s : subs) {
      if (!s->tracks["video"]->end) return false;
    }
    return true;
  }));
  for (auto& s : subs) {
    EXPECT_TRUE(s->tracks["video"]->end->is_closed())
        << s->tracks["video"]->end->code << " " << s->tracks["video"]->end->reason;
    EXPECT_EQ(s->tracks["video"]->complete(), 3u);
  }
  // The subscribers' sessions stay: nothing ends them for a while.
  run_until([] { return false; }, std::chrono::milliseconds(1500));
  for (auto& s : subs)
    EXPECT_FALSE(s->end.has_value()) << s->end->code << " " << s->end->reason;
  EXPECT_NE(relay_->log().find("role publisher"), std::string::npos);
}

// A KIXEL_00 path names the broadcast; "/" names none (issue 9).
TEST_F(RelayTest, EmptyBroadcastNameIsRefused400) {
  for (auto role : {wire::Role::kPublisher, wire::Role::kSubscriber}) {
    auto session = connect("", setup_for(role));
    ASSERT_FALSE(session.ok());
    EXPECT_EQ(session.error().code, code::kBadRequest) << session.error().reason;
    EXPECT_NE(session.error().reason.find("empty broadcast name"), std::string::npos)
        << session.error().reason;
  }
  // Names are still served.
  auto pub = publish("named");
  ASSERT_TRUE(pub);
}

// A publisher that vanishes without a word (its process died) is noticed at
// the relay's idle timeout; its subscribers' tracks then end with 0 too.
class RelayShortIdleTest : public RelayTest {
 protected:
  void SetUp() override { start_relay({"--idle-timeout", "2"}); }
};

TEST_F(RelayShortIdleTest, VanishedPublisherEndsTracksCleanlyAtTheIdleTimeout) {
  auto pub_io = std::make_unique<asio::io_context>();
  auto pub_client = make_client(*pub_io);
  ASSERT_TRUE(pub_client);
  auto pub = std::make_shared<Publisher>(cache::make_broadcast());
  {
    auto session =
        connect("vanish", setup_for(wire::Role::kPublisher), pub_io.get(), pub_client.get());
    ASSERT_TRUE(session.ok()) << session.error().reason;
    pub->session = session.value();
    sessions_.pop_back();  // not ours to close at TearDown: it vanishes
  }
  ASSERT_TRUE(pub->session->publish(pub->reader).ok());
  auto video = pub->writer.create_track("video");
  ASSERT_TRUE(video);
  write_segment(*video, 0, 1, std::nullopt, payload_for("video", 0));
  asio::co_spawn(
      *pub_io,
      [](std::shared_ptr<Publisher> p) -> asio::awaitable<void> {
        auto s = p->session;
        p->end = co_await s->run();
      }(pub),
      asio::detached);
  auto sub = subscriber("vanish");
  ASSERT_TRUE(sub);
  subscribe(*sub, "video");
  ASSERT_TRUE(relay_test::run_until(
      {&io_, pub_io.get()}, [&] { return sub->tracks["video"]->complete() == 1; },
      std::chrono::seconds(10)));
  // The publisher's process "dies": its event loop stops for good, nothing
  // more is sent or answered.
  const auto vanished = Clock::now();
  ASSERT_TRUE(
      run_until([&] { return sub->tracks["video"]->end.has_value(); }, std::chrono::seconds(10)));
  const auto noticed = Clock::now() - vanished;
  EXPECT_TRUE(sub->tracks["video"]->end->is_closed())
      << sub->tracks["video"]->end->code << " " << sub->tracks["video"]->end->reason;
  EXPECT_GE(noticed, std::chrono::milliseconds(1500));
  EXPECT_FALSE(sub->end.has_value());
  // Let the frozen publisher's side wind down (the relay forgot it already).
  pub_client->endpoint().shutdown();
  relay_test::run_until(
      {pub_io.get()}, [] { return false; }, std::chrono::milliseconds(100));
}

}  // namespace
}  // namespace moq::relay_test
