// Publisher half -> subscriber half over the in-memory pair: what a
// subscriber's broadcast receives, byte for byte, and how tracks end.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "session/fixture.h"

namespace moq::session {
namespace {

using namespace std::chrono_literals;
using test::ReceivedTrack;
using test::run_until;
using test::spawn;
using wire::Role;

// A segment to publish: its header fields and its payload in chunks.
struct Planned {
  uint64_t sequence;
  int32_t priority;
  std::optional<async::Clock::duration> expires;
  std::vector<std::string> chunks;

  std::string payload() const {
    std::string all;
    for (auto& c : chunks)
      all += c;
    return all;
  }
};

std::vector<Planned> sample_segments() {
  return {
      {0, 1000, std::nullopt, {"init-", "bytes"}},
      {1, 10, 10s, {std::string(3000, 'a'), std::string(5000, 'b'), "tail"}},
      {2, -5, 1500ms, {"negative priority"}},
      {3, 7, 2s, {}},  // empty payload
      {4, 7, 250ms, {std::string(1, '\0'), std::string(70000, 'z')}},
  };
}

void write_segments(cache::TrackWriter& track, const std::vector<Planned>& plan) {
  for (auto& p : plan) {
    auto segment = track.create_segment({p.sequence, p.priority, p.expires});
    ASSERT_TRUE(segment);
    for (auto& chunk : p.chunks)
      ASSERT_TRUE(segment->write(Bytes::copy(chunk)));
    ASSERT_TRUE(segment->finish());
  }
}

// What the wire turns an expiry into: whole seconds, rounded up.
std::optional<async::Clock::duration> on_the_wire(std::optional<async::Clock::duration> e) {
  if (!e || e->count() <= 0) return std::nullopt;
  return std::chrono::ceil<std::chrono::seconds>(*e);
}

void expect_received(const ReceivedTrack& got, const std::vector<Planned>& plan) {
  ASSERT_EQ(got.segments.size(), plan.size());
  for (auto& p : plan) {
    auto it = std::find_if(got.segments.begin(), got.segments.end(),
                           [&](auto& s) { return s.sequence == p.sequence; });
    ASSERT_NE(it, got.segments.end()) << "missing sequence " << p.sequence;
    EXPECT_EQ(it->priority, p.priority);
    EXPECT_EQ(it->expires, on_the_wire(p.expires)) << "sequence " << p.sequence;
    EXPECT_EQ(it->payload, p.payload()) << "sequence " << p.sequence;
    ASSERT_TRUE(it->end);
    EXPECT_TRUE(it->end->is_closed());
  }
}

// A relay-like setup: the server publishes `reader`, the client subscribes
// into its own broadcast.
struct Subscribed {
  std::unique_ptr<test::SessionPair> pair;
  cache::BroadcastReader client_broadcast;
};

Subscribed subscribe_pair(asio::io_context& io, cache::BroadcastReader published,
                          Config config = {}, test::MemoryOptions client_options = {}) {
  auto pair = test::handshake(io, Role::kSubscriber, Role::kPublisher, config, client_options);
  EXPECT_TRUE(pair->client->ok() && pair->server->ok());
  auto [writer, reader] = cache::make_broadcast();
  EXPECT_TRUE(pair->c().subscribe(std::move(writer)));
  EXPECT_TRUE(pair->s().publish(std::move(published)));
  test::run_both(io, *pair);
  return {std::move(pair), std::move(reader)};
}

TEST(Publish, TrackArrivesByteExactWithHeaderFields) {
  asio::io_context io;
  auto [pub, published] = cache::make_broadcast();
  auto track = pub.create_track("video");
  ASSERT_TRUE(track);
  auto plan = sample_segments();
  // Half of the segments are cached before the subscription, half arrive live.
  write_segments(*track, {plan[0], plan[1]});

  auto sub = subscribe_pair(io, published);
  auto reader = sub.client_broadcast.request_track("video");
  ASSERT_TRUE(reader);
  ReceivedTrack got;
  spawn(io, test::read_track(*reader, &got));
  ASSERT_TRUE(run_until(io, [&] { return got.complete() == 2; }));

  write_segments(*track, {plan[2], plan[3], plan[4]});
  ASSERT_TRUE(track->finish());
  ASSERT_TRUE(run_until(io, [&] { return got.end.has_value(); }));
  expect_received(got, plan);
  EXPECT_TRUE(got.end->is_closed()) << got.end->code << " " << got.end->reason;
  EXPECT_EQ(sub.pair->s().publisher_stats().objects_started, plan.size());
  EXPECT_EQ(sub.pair->s().publisher_stats().objects_dropped, 0u);
}

TEST(Publish, ChunksStreamAsTheyAreWritten) {
  asio::io_context io;
  auto [pub, published] = cache::make_broadcast();
  auto track = pub.create_track("audio");
  ASSERT_TRUE(track);
  auto sub = subscribe_pair(io, published);
  auto reader = sub.client_broadcast.request_track("audio");
  ReceivedTrack got;
  spawn(io, test::read_track(*reader, &got));

  auto segment = track->create_segment({9, 3, 10s});
  ASSERT_TRUE(segment);
  ASSERT_TRUE(segment->write(Bytes::copy("first")));
  ASSERT_TRUE(
      run_until(io, [&] { return !got.segments.empty() && got.segments[0].payload == "first"; }));
  EXPECT_FALSE(got.segments[0].end);  // still open: more to come
  ASSERT_TRUE(segment->write(Bytes::copy(" second")));
  ASSERT_TRUE(segment->finish());
  ASSERT_TRUE(run_until(io, [&] { return got.complete() == 1; }));
  EXPECT_EQ(got.segments[0].payload, "first second");
}

TEST(Publish, EveryOneOfSeveralSubscribersGetsEverything) {
  asio::io_context io;
  auto [pub, published] = cache::make_broadcast();
  auto track = pub.create_track("video");
  ASSERT_TRUE(track);
  auto plan = sample_segments();
  std::vector<Subscribed> subs;
  std::vector<ReceivedTrack> got(3);
  for (int i = 0; i < 3; ++i) {
    subs.push_back(subscribe_pair(io, published));
    auto reader = subs.back().client_broadcast.request_track("video");
    ASSERT_TRUE(reader);
    spawn(io, test::read_track(*reader, &got[i]));
  }
  write_segments(*track, plan);
  ASSERT_TRUE(track->finish());
  ASSERT_TRUE(run_until(io, [&] { return got[0].end && got[1].end && got[2].end; }));
  for (auto& g : got) {
    expect_received(g, plan);
    EXPECT_TRUE(g.end->is_closed());
  }
}

TEST(Publish, ZeroCopyFromPublisherCacheToSubscriberCache) {
  asio::io_context io;
  auto [pub, published] = cache::make_broadcast();
  auto track = pub.create_track("video");
  auto sub = subscribe_pair(io, published);
  sub.pair->client_transport->record_reads(true);
  auto reader = sub.client_broadcast.request_track("video");
  ReceivedTrack got;
  spawn(io, test::read_track(*reader, &got));

  Bytes payload = Bytes::copy(std::string(100000, 'x'));
  auto segment = track->create_segment({0, 0, {}});
  ASSERT_TRUE(segment->write(payload.slice(0, 60000)));
  ASSERT_TRUE(segment->write(payload.slice(60000)));
  ASSERT_TRUE(segment->finish());
  ASSERT_TRUE(run_until(io, [&] { return got.complete() == 1; }));

  // What the subscriber's transport received, and what its cache holds, are
  // the publisher's own buffer.
  size_t shared_reads = 0;
  for (auto& read : sub.pair->client_transport->reads())
    shared_reads += read.shares_storage_with(payload);
  EXPECT_EQ(shared_reads, 2u);
  ASSERT_EQ(got.segments[0].chunks.size(), 2u);
  for (auto& chunk : got.segments[0].chunks)
    EXPECT_TRUE(chunk.shares_storage_with(payload));
  EXPECT_EQ(got.segments[0].payload.size(), payload.size());
}

TEST(Publish, UnknownTrackEndsWith404) {
  asio::io_context io;
  auto [pub, published] = cache::make_broadcast();
  // The producer refuses every name it doesn't have.
  spawn(io, [](cache::BroadcastWriter writer) -> asio::awaitable<void> {
    for (;;) {
      auto request = co_await writer.next_request();
      if (!request) co_return;
      (void)request->close(Error::not_found());
    }
  }(pub));
  auto sub = subscribe_pair(io, published);
  auto reader = sub.client_broadcast.request_track("nope");
  ReceivedTrack got;
  spawn(io, test::read_track(*reader, &got));
  ASSERT_TRUE(run_until(io, [&] { return got.end.has_value(); }));
  EXPECT_EQ(got.end->code, code::kNotFound);
  EXPECT_FALSE(sub.pair->client_transport->is_closed());  // not fatal
  (void)pub.close(Error::closed());
  sub.pair->c().close(Error::closed());
  test::settle(io);
}

TEST(Publish, TrackErrorIsForwarded) {
  asio::io_context io;
  auto [pub, published] = cache::make_broadcast();
  auto track = pub.create_track("video");
  auto sub = subscribe_pair(io, published);
  auto reader = sub.client_broadcast.request_track("video");
  ReceivedTrack got;
  spawn(io, test::read_track(*reader, &got));
  write_segments(*track, {sample_segments()[0]});
  ASSERT_TRUE(run_until(io, [&] { return got.complete() == 1; }));
  ASSERT_TRUE(track->close({code::kUpstream, "origin gone"}));
  ASSERT_TRUE(run_until(io, [&] { return got.end.has_value(); }));
  EXPECT_EQ(*got.end, (Error{code::kUpstream, "origin gone"}));
}

TEST(Publish, SegmentErrorResetsItsStreamOnly) {
  asio::io_context io;
  auto [pub, published] = cache::make_broadcast();
  auto track = pub.create_track("video");
  auto sub = subscribe_pair(io, published);
  auto reader = sub.client_broadcast.request_track("video");
  ReceivedTrack got;
  spawn(io, test::read_track(*reader, &got));
  auto bad = track->create_segment({0, 1, {}});
  ASSERT_TRUE(bad->write(Bytes::copy("partial")));
  ASSERT_TRUE(
      run_until(io, [&] { return !got.segments.empty() && !got.segments[0].payload.empty(); }));
  ASSERT_TRUE(bad->close({code::kUpstream, "broken"}));
  write_segments(*track, {{1, 0, {}, {"fine"}}});
  ASSERT_TRUE(run_until(io, [&] { return got.segments.size() == 2 && got.segments[1].end; }));
  ASSERT_TRUE(got.segments[0].end);
  EXPECT_EQ(got.segments[0].end->code, code::kUpstream);
  EXPECT_EQ(got.segments[1].payload, "fine");
  EXPECT_FALSE(got.end);  // the track goes on
}

TEST(Publish, PublisherSessionEndClosesSubscriberTracksWithItsError) {
  asio::io_context io;
  auto [pub, published] = cache::make_broadcast();
  auto track = pub.create_track("video");
  auto sub = subscribe_pair(io, published);
  auto reader = sub.client_broadcast.request_track("video");
  ReceivedTrack got;
  spawn(io, test::read_track(*reader, &got));
  auto open = track->create_segment({0, 0, {}});
  ASSERT_TRUE(open->write(Bytes::copy("half")));
  ASSERT_TRUE(
      run_until(io, [&] { return !got.segments.empty() && !got.segments[0].payload.empty(); }));

  sub.pair->s().close({code::kUpstream, "publisher going away"});
  ASSERT_TRUE(run_until(io, [&] { return got.end && sub.pair->client_end; }));
  EXPECT_EQ(got.end->code, code::kUpstream);
  ASSERT_TRUE(got.segments[0].end);
  EXPECT_FALSE(got.segments[0].end->is_closed());  // the open segment did not "finish"
  EXPECT_EQ(sub.pair->client_end->code, code::kUpstream);
  EXPECT_EQ(sub.pair->server_end->code, code::kUpstream);
  // New requests on the closed broadcast fail with the same error.
  auto later = sub.client_broadcast.request_track("audio");
  ASSERT_FALSE(later);
  EXPECT_EQ(later.error().code, code::kUpstream);
}

}  // namespace
}  // namespace moq::session
