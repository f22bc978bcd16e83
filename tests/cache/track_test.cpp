#include "cache/track.h"

#include <gtest/gtest.h>

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <string>
#include <variant>
#include <vector>

#include "cache/spawn.h"

namespace moq::cache {
namespace {

using test::spawn;

SegmentInfo seq(uint64_t sequence, int32_t priority = 0) {
  return {.sequence = sequence, .priority = priority, .expires = {}};
}

// Sequences handed out right now, in order, without waiting.
std::vector<uint64_t> drain(TrackReader& reader) {
  std::vector<uint64_t> out;
  for (;;) {
    auto next = reader.try_next_segment();
    if (!next || !*next) return out;
    out.push_back((*next)->sequence());
  }
}

// What one awaiting reader saw: segments (sequence + payload) and the end.
struct Seen {
  std::vector<uint64_t> sequences;
  std::vector<std::string> payloads;
  std::optional<Error> end;
};

asio::awaitable<void> read_track(TrackReader reader, Seen* seen) {
  for (;;) {
    auto segment = co_await reader.next_segment();
    if (!segment) {
      seen->end = segment.error();
      co_return;
    }
    seen->sequences.push_back(segment->sequence());
    std::string payload;
    for (;;) {
      auto chunk = co_await segment->next_chunk();
      if (!chunk) break;
      payload += chunk->view();
    }
    seen->payloads.push_back(payload);
  }
}

TEST(Track, FanOutGivesEveryReaderEverySegment) {
  asio::io_context io;
  auto [writer, reader] = make_track("video");
  std::vector<Seen> seen(5);
  for (auto& s : seen)
    spawn(io, read_track(reader, &s));
  io.poll();

  for (uint64_t i = 0; i < 3; ++i) {
    auto segment = writer.create_segment(seq(i));
    ASSERT_TRUE(segment);
    ASSERT_TRUE(segment->write(Bytes::copy("seg" + std::to_string(i))));
    ASSERT_TRUE(segment->finish());
    io.poll();
  }
  ASSERT_TRUE(writer.finish());
  io.run();

  for (const auto& s : seen) {
    EXPECT_EQ(s.sequences, (std::vector<uint64_t>{0, 1, 2}));
    EXPECT_EQ(s.payloads, (std::vector<std::string>{"seg0", "seg1", "seg2"}));
    ASSERT_TRUE(s.end);
    EXPECT_TRUE(s.end->is_closed());
  }
}

TEST(Track, LateReaderGetsCachedSegmentsAndTheirChunksFromTheStart) {
  asio::io_context io;
  auto [writer, early] = make_track("video");
  auto first = writer.create_segment(seq(0));
  ASSERT_TRUE(first);
  ASSERT_TRUE(first->write(Bytes::copy("ab")));
  ASSERT_TRUE(first->write(Bytes::copy("cd")));
  ASSERT_TRUE(first->finish());
  auto second = writer.create_segment(seq(1));
  ASSERT_TRUE(second);
  ASSERT_TRUE(second->write(Bytes::copy("ef")));  // still open

  Seen late;
  spawn(io, read_track(writer.reader(), &late));
  io.poll();
  ASSERT_TRUE(second->write(Bytes::copy("gh")));
  ASSERT_TRUE(second->finish());
  ASSERT_TRUE(writer.finish());
  io.run();

  EXPECT_EQ(late.sequences, (std::vector<uint64_t>{0, 1}));
  EXPECT_EQ(late.payloads, (std::vector<std::string>{"abcd", "efgh"}));
}

TEST(Track, HighestPriorityIsHandedOutFirst) {
  auto [writer, reader] = make_track("video");
  ASSERT_TRUE(writer.create_segment(seq(0, 10)));
  ASSERT_TRUE(writer.create_segment(seq(1, 30)));
  ASSERT_TRUE(writer.create_segment(seq(2, -5)));
  ASSERT_TRUE(writer.create_segment(seq(3, 20)));
  EXPECT_EQ(drain(reader), (std::vector<uint64_t>{1, 3, 0, 2}));

  // Each reader has its own heap: a new reader orders the same way.
  auto other = writer.reader();
  EXPECT_EQ(drain(other), (std::vector<uint64_t>{1, 3, 0, 2}));
}

TEST(Track, EqualPriorityKeepsInsertionOrder) {
  auto [writer, reader] = make_track("video");
  for (uint64_t s : {5, 3, 9})
    ASSERT_TRUE(writer.create_segment(seq(s, 1)));
  EXPECT_EQ(drain(reader), (std::vector<uint64_t>{5, 3, 9}));
}

TEST(Track, PriorityAppliesOnlyAmongSegmentsReadyTogether) {
  auto [writer, reader] = make_track("video");
  ASSERT_TRUE(writer.create_segment(seq(0, 1)));
  EXPECT_EQ(drain(reader), (std::vector<uint64_t>{0}));
  ASSERT_TRUE(writer.create_segment(seq(1, 100)));
  ASSERT_TRUE(writer.create_segment(seq(2, 200)));
  EXPECT_EQ(drain(reader), (std::vector<uint64_t>{2, 1}));
}

TEST(Track, DuplicateSequenceIsRefusedWith409AndGapsAreFine) {
  auto [writer, reader] = make_track("video");
  ASSERT_TRUE(writer.create_segment(seq(0)));
  ASSERT_TRUE(writer.create_segment(seq(10)));  // a gap
  auto duplicate = writer.create_segment(seq(10, 99));
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().code, code::kDuplicate);
  EXPECT_EQ(writer.cached_segments(), 2u);
  EXPECT_EQ(drain(reader), (std::vector<uint64_t>{0, 10}));
}

TEST(Track, ReadersSeeTheErrorAfterDrainingWhatTheyHave) {
  auto [writer, reader] = make_track("video");
  ASSERT_TRUE(writer.create_segment(seq(0)));
  ASSERT_TRUE(writer.close({code::kUpstream, "origin gone"}));

  auto first = reader.try_next_segment();
  ASSERT_TRUE(first && *first);
  auto end = reader.try_next_segment();
  ASSERT_FALSE(end);
  EXPECT_EQ(end.error().code, code::kUpstream);
  EXPECT_EQ(end.error().reason, "origin gone");

  auto late = writer.create_segment(seq(1));
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, code::kUpstream);
}

TEST(Track, CloseCodesReachAwaitingReaders) {
  asio::io_context io;
  auto [clean_writer, clean_reader] = make_track("clean");
  auto [failed_writer, failed_reader] = make_track("failed");
  Seen clean, failed;
  spawn(io, read_track(clean_reader, &clean));
  spawn(io, read_track(failed_reader, &failed));
  io.poll();

  ASSERT_TRUE(clean_writer.finish());
  ASSERT_TRUE(failed_writer.close(Error::not_found()));
  io.run();
  ASSERT_TRUE(clean.end && failed.end);
  EXPECT_EQ(clean.end->code, code::kClosed);
  EXPECT_EQ(failed.end->code, code::kNotFound);
}

TEST(Track, DestroyingTheWriterClosesTheTrackForWaitingReaders) {
  asio::io_context io;
  Seen seen;
  {
    auto [writer, reader] = make_track("video");
    ASSERT_TRUE(writer.create_segment(seq(0)));
    spawn(io, read_track(reader, &seen));
    io.poll();
    EXPECT_FALSE(seen.end);  // waiting on the open segment's chunks
  }                          // the writer, and the segment writer it created, are gone
  io.run();
  EXPECT_EQ(seen.sequences, (std::vector<uint64_t>{0}));
  ASSERT_TRUE(seen.end);
  EXPECT_TRUE(seen.end->is_closed());
}

TEST(Track, WaitingReaderIsWokenOnlyByChangesNeverInline) {
  asio::io_context io;
  auto [writer, reader] = make_track("video");
  Seen seen;
  spawn(io, read_track(reader, &seen));
  io.poll();
  EXPECT_EQ(io.poll(), 0u);  // parked: no handler runs while nothing changes
  EXPECT_EQ(io.poll(), 0u);

  auto segment = writer.create_segment(seq(4));
  ASSERT_TRUE(segment);
  EXPECT_TRUE(seen.sequences.empty());  // not resumed from inside create_segment
  io.poll();
  EXPECT_EQ(seen.sequences, (std::vector<uint64_t>{4}));
  EXPECT_EQ(io.poll(), 0u);  // parked again, now on the segment's chunks
}

// Races next_segment() against a short timer; records which side won.
asio::awaitable<void> read_or_time_out(TrackReader reader, size_t* winner) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(1));
  auto result = co_await (reader.next_segment() || timer.async_wait(asio::use_awaitable));
  *winner = result.index();
  // The reader is still usable after its wait was cancelled.
  auto next = co_await reader.next_segment();
  if (next) *winner += 10 * (next->sequence() + 1);
}

TEST(Track, ACancelledWaitEndsInsteadOfWaitingOn) {
  asio::io_context io;
  auto [writer, reader] = make_track("video");
  size_t winner = 99;
  spawn(io, read_or_time_out(reader, &winner));
  while (winner == 99)
    io.run_one();  // the timer wins; next_segment gives up
  EXPECT_EQ(winner, 1u);

  auto segment = writer.create_segment(seq(2));
  ASSERT_TRUE(segment);
  io.run();
  EXPECT_EQ(winner, 31u);
}

}  // namespace
}  // namespace moq::cache
