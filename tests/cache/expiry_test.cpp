#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <vector>

#include "cache/track.h"
#include "support/manual_clock.h"

namespace moq::cache {
namespace {

using namespace std::chrono_literals;
using test::ManualClock;

SegmentInfo expiring(uint64_t sequence, async::Clock::duration expires, int32_t priority = 0) {
  return {.sequence = sequence, .priority = priority, .expires = expires};
}

std::vector<uint64_t> drain(TrackReader& reader) {
  std::vector<uint64_t> out;
  for (;;) {
    auto next = reader.try_next_segment();
    if (!next || !*next) return out;
    out.push_back((*next)->sequence());
  }
}

class Expiry : public ::testing::Test {
 protected:
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
};

TEST_F(Expiry, ExpiredSegmentsAreNotHandedToNewReaders) {
  auto [writer, reader] = make_track("video", clock);
  ASSERT_TRUE(writer.create_segment(expiring(0, 10s)));
  clock->advance(5s);
  ASSERT_TRUE(writer.create_segment(expiring(1, 10s)));
  clock->advance(5s);  // segment 0 is now exactly 10 s old

  auto late = writer.reader();
  EXPECT_EQ(drain(late), (std::vector<uint64_t>{1}));
  clock->advance(5s);
  auto later = writer.reader();
  EXPECT_TRUE(drain(later).empty());
  EXPECT_EQ(writer.cached_segments(), 0u);
}

TEST_F(Expiry, ZeroOrNoExpiryMeansForever) {
  auto [writer, reader] = make_track("catalog", clock);
  ASSERT_TRUE(writer.create_segment({.sequence = 0, .priority = 0, .expires = {}}));
  ASSERT_TRUE(writer.create_segment(expiring(1, 0s)));
  clock->advance(24h * 365);
  writer.expire();
  EXPECT_EQ(writer.cached_segments(), 2u);
  EXPECT_FALSE(writer.next_expiry());
  EXPECT_EQ(drain(reader), (std::vector<uint64_t>{0, 1}));
}

TEST_F(Expiry, EndlessTrackStaysBounded) {
  auto [writer, reader] = make_track("video", clock);
  // A catalog-like segment that never expires must not pin the rest.
  ASSERT_TRUE(writer.create_segment({.sequence = 0, .priority = 0, .expires = {}}));
  size_t most_cached = 0;
  for (uint64_t i = 1; i <= 10000; ++i) {
    auto segment = writer.create_segment(expiring(i, 10s));
    ASSERT_TRUE(segment);
    ASSERT_TRUE(segment->write(Bytes::copy("frame")));
    clock->advance(100ms);
    most_cached = std::max(most_cached, writer.cached_segments());
  }
  // 10 s of 100 ms segments, plus the permanent one.
  EXPECT_LE(most_cached, 102u);
  // The reader, created first, gets the permanent segment and the last 10 s.
  auto got = drain(reader);
  EXPECT_LE(got.size(), 101u);
  EXPECT_EQ(got.front(), 0u);  // insertion order breaks the all-zero priority tie
}

TEST_F(Expiry, ASlowReaderQueueStaysBounded) {
  auto [writer, reader] = make_track("video", clock);
  size_t most_queued = 0;
  for (uint64_t i = 0; i < 10000; ++i) {
    // Newer is more important (as with moq-pub), so old segments sink in the
    // reader's queue and would pile up if expiry didn't reach them there.
    ASSERT_TRUE(writer.create_segment(expiring(i, 10s, static_cast<int32_t>(i))));
    clock->advance(100ms);
    if (i % 10 == 0) {
      auto next = reader.try_next_segment();  // reads one in ten
      ASSERT_TRUE(next && *next);
      EXPECT_EQ((*next)->sequence(), i);
    }
    most_queued = std::max(most_queued, reader.queued());
  }
  EXPECT_LE(most_queued, 2 * 101u + 16u + 10u);
}

TEST_F(Expiry, ReadersPollingExpireTheCacheWithoutInserts) {
  auto [writer, reader] = make_track("video", clock);
  for (uint64_t i = 0; i < 50; ++i)
    ASSERT_TRUE(writer.create_segment(expiring(i, 1s)));
  EXPECT_EQ(reader.cached_segments(), 50u);
  clock->advance(2s);
  // No insert since: the reader's poll alone drops the expired segments.
  EXPECT_TRUE(drain(reader).empty());
  EXPECT_EQ(reader.cached_segments(), 0u);
}

TEST_F(Expiry, ExplicitExpireAndNextExpiryLetAnOwnerUseATimer) {
  auto [writer, reader] = make_track("video", clock);
  ASSERT_TRUE(writer.create_segment(expiring(0, 3s)));
  ASSERT_TRUE(writer.create_segment(expiring(1, 1s)));
  ASSERT_TRUE(writer.next_expiry());
  EXPECT_EQ(*writer.next_expiry(), clock->now() + 1s);
  clock->advance(1s);
  writer.expire();
  EXPECT_EQ(writer.cached_segments(), 1u);
  EXPECT_EQ(*writer.next_expiry(), clock->now() + 2s);
}

TEST_F(Expiry, SegmentsExpiringWhileQueuedForAReaderAreSkipped) {
  auto [writer, reader] = make_track("video", clock);
  ASSERT_TRUE(writer.create_segment(expiring(0, 1s, 5)));
  ASSERT_TRUE(writer.create_segment(expiring(1, 10s, 1)));
  ASSERT_TRUE(writer.create_segment(expiring(2, 1s, 3)));
  auto first = reader.try_next_segment();  // queues all three, returns the top
  ASSERT_TRUE(first && *first);
  EXPECT_EQ((*first)->sequence(), 0u);
  clock->advance(1s);
  EXPECT_EQ(drain(reader), (std::vector<uint64_t>{1}));  // 2 expired in the queue
}

TEST_F(Expiry, AnExpiredSequenceMayBeUsedAgain) {
  auto [writer, reader] = make_track("video", clock);
  ASSERT_TRUE(writer.create_segment(expiring(7, 1s)));
  EXPECT_FALSE(writer.create_segment(expiring(7, 1s)));
  clock->advance(1s);
  EXPECT_TRUE(writer.create_segment(expiring(7, 1s)));
}

TEST_F(Expiry, AReaderHoldingASegmentKeepsReadingItAfterExpiry) {
  auto [writer, reader] = make_track("video", clock);
  auto segment = writer.create_segment(expiring(0, 1s));
  ASSERT_TRUE(segment);
  auto held = reader.try_next_segment();
  ASSERT_TRUE(held && *held);
  clock->advance(1s);
  writer.expire();
  ASSERT_TRUE(segment->write(Bytes::copy("still flowing")));
  auto chunk = (*held)->try_next_chunk();
  ASSERT_TRUE(chunk && *chunk);
  EXPECT_EQ((*chunk)->view(), "still flowing");
}

}  // namespace
}  // namespace moq::cache
