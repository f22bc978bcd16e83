// A subscriber whose transport stops draining must not hold up the others,
// and must not make the publisher buffer without bound: its oldest,
// lowest-priority object streams are reset instead.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "session/fixture.h"

namespace moq::session {
namespace {

using test::ReceivedTrack;
using test::run_until;
using test::spawn;
using wire::Role;

struct Subscriber {
  std::unique_ptr<test::SessionPair> pair;
  cache::BroadcastReader broadcast;
  ReceivedTrack got;
};

void subscribe(asio::io_context& io, Subscriber& sub, cache::BroadcastReader published,
               Config config) {
  sub.pair = test::handshake(io, Role::kSubscriber, Role::kPublisher, config);
  ASSERT_TRUE(sub.pair->client->ok() && sub.pair->server->ok());
  auto [writer, reader] = cache::make_broadcast();
  ASSERT_TRUE(sub.pair->c().subscribe(std::move(writer)));
  ASSERT_TRUE(sub.pair->s().publish(std::move(published)));
  test::run_both(io, *sub.pair);
  sub.broadcast = reader;
  auto track = reader.request_track("video");
  ASSERT_TRUE(track);
  spawn(io, test::read_track(*track, &sub.got));
}

TEST(Backpressure, StalledSubscriberDoesNotDelayAnotherAndStaysBounded) {
  asio::io_context io;
  auto [pub, published] = cache::make_broadcast();
  auto track = pub.create_track("video");
  ASSERT_TRUE(track);

  Config config;
  config.max_streams_per_subscription = 4;
  config.stream_high_water = 4096;
  config.stall_timeout = std::chrono::milliseconds(50);
  constexpr size_t kChunk = 4096;
  constexpr size_t kChunks = 4;
  constexpr uint64_t kSegments = 40;

  // Placeholder broadcasts, replaced by subscribe().
  Subscriber stalled{nullptr, cache::make_broadcast().second, {}};
  Subscriber healthy{nullptr, cache::make_broadcast().second, {}};
  subscribe(io, stalled, published, config);
  subscribe(io, healthy, published, config);
  ASSERT_TRUE(run_until(io, [&] {
    return stalled.pair->s().publisher_stats().subscriptions == 1 &&
           healthy.pair->s().publisher_stats().subscriptions == 1;
  }));
  stalled.pair->client_transport->set_stalled(true);

  uint64_t max_stalled_buffered = 0;
  for (uint64_t seq = 0; seq < kSegments; ++seq) {
    auto segment = track->create_segment({seq, static_cast<int32_t>(seq), {}});
    ASSERT_TRUE(segment);
    for (size_t c = 0; c < kChunks; ++c)
      ASSERT_TRUE(segment->write(Bytes::copy(std::string(kChunk, static_cast<char>('a' + c)))));
    ASSERT_TRUE(segment->finish());
    // The healthy subscriber gets each segment while the other is stuck.
    ASSERT_TRUE(run_until(io, [&] { return healthy.got.complete() == seq + 1; }))
        << "segment " << seq;
    max_stalled_buffered =
        std::max(max_stalled_buffered, stalled.pair->server_transport->buffered());
  }
  ASSERT_TRUE(track->finish());
  ASSERT_TRUE(run_until(io, [&] { return healthy.got.end.has_value(); }));
  // The stalled subscription sheds what it can't send: every segment beyond
  // the stream cap is dropped once its streams count as stalled.
  const uint64_t droppable = kSegments - config.max_streams_per_subscription;
  ASSERT_TRUE(run_until(io, [&] {
    max_stalled_buffered =
        std::max(max_stalled_buffered, stalled.pair->server_transport->buffered());
    return stalled.pair->s().publisher_stats().objects_dropped >= droppable;
  }));
  EXPECT_TRUE(healthy.got.end->is_closed());
  for (auto& s : healthy.got.segments)
    EXPECT_EQ(s.payload.size(), kChunk * kChunks);
  EXPECT_EQ(healthy.pair->s().publisher_stats().objects_dropped, 0u);

  // The stalled subscriber got nothing, and what waits for it is bounded by
  // the stream cap (plus headers), not by the 40 segments produced.
  EXPECT_EQ(stalled.got.segments.size(), 0u);
  const uint64_t segment_bytes = kChunk * kChunks + 64;
  EXPECT_LE(max_stalled_buffered, config.max_streams_per_subscription * segment_bytes);
  EXPECT_EQ(stalled.pair->s().publisher_stats().objects_dropped, droppable);
  EXPECT_LE(stalled.pair->server_transport->open_uni_streams(),
            config.max_streams_per_subscription);

  // Once it drains again it gets the newest segments and the end of the track.
  stalled.pair->client_transport->set_stalled(false);
  ASSERT_TRUE(run_until(io, [&] { return stalled.got.end.has_value(); }));
  EXPECT_TRUE(stalled.got.end->is_closed());
  // What it kept are the most important (newest) segments, whole.
  ASSERT_EQ(stalled.got.complete(), config.max_streams_per_subscription);
  for (auto& s : stalled.got.segments) {
    EXPECT_GE(s.sequence, droppable) << "kept an old segment";
    EXPECT_EQ(s.payload.size(), kChunk * kChunks);
  }
}

TEST(Backpressure, BurstToAFastSubscriberDropsNothing) {
  asio::io_context io;
  auto [pub, published] = cache::make_broadcast();
  auto track = pub.create_track("video");
  Config config;
  config.max_streams_per_subscription = 2;
  config.stream_high_water = 1024;
  // 30 cached segments, each larger than the high-water mark, at once.
  for (uint64_t seq = 0; seq < 30; ++seq) {
    auto segment = track->create_segment({seq, static_cast<int32_t>(seq % 3), {}});
    ASSERT_TRUE(segment->write(Bytes::copy(std::string(3000, 'x'))));
    ASSERT_TRUE(segment->write(Bytes::copy(std::string(3000, 'y'))));
    ASSERT_TRUE(segment->finish());
  }
  ASSERT_TRUE(track->finish());
  Subscriber sub{nullptr, cache::make_broadcast().second, {}};
  subscribe(io, sub, published, config);
  ASSERT_TRUE(run_until(io, [&] { return sub.got.end.has_value(); }));
  EXPECT_TRUE(sub.got.end->is_closed());
  EXPECT_EQ(sub.got.complete(), 30u);
  EXPECT_EQ(sub.pair->s().publisher_stats().objects_dropped, 0u);
}

}  // namespace
}  // namespace moq::session
