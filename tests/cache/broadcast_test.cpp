#include "cache/broadcast.h"

#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <string>
#include <vector>

#include "cache/spawn.h"

namespace moq::cache {
namespace {

using test::spawn;

// Reads one segment's sequence and payload, or records how the track ended.
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

// A producer that serves every request with one segment naming the track,
// except names starting with "missing", which it refuses with 404.
asio::awaitable<void> serve(BroadcastWriter writer, std::vector<std::string>* served) {
  for (;;) {
    auto request = co_await writer.next_request();
    if (!request) co_return;
    served->push_back(request->name());
    if (request->name().starts_with("missing")) {
      (void)request->close(Error::not_found());
      continue;
    }
    auto segment = request->create_segment({.sequence = 0, .priority = 0, .expires = {}});
    if (!segment) co_return;
    (void)segment->write(Bytes::copy(request->name()));
    (void)segment->finish();
    (void)request->finish();
  }
}

TEST(Broadcast, KnownTracksAreSharedByName) {
  auto [writer, reader] = make_broadcast();
  auto track = writer.create_track("audio");
  ASSERT_TRUE(track);
  ASSERT_TRUE(track->create_segment({.sequence = 3, .priority = 0, .expires = {}}));

  auto got = reader.request_track("audio");
  ASSERT_TRUE(got);
  auto segment = got->try_next_segment();
  ASSERT_TRUE(segment && *segment);
  EXPECT_EQ((*segment)->sequence(), 3u);
  auto none = writer.try_next_request();
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);  // nothing reached the producer
}

TEST(Broadcast, CreatingATakenNameIsRefusedWith409) {
  auto [writer, reader] = make_broadcast();
  auto first = writer.create_track("video");
  ASSERT_TRUE(first);
  auto again = writer.create_track("video");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, code::kDuplicate);
}

TEST(Broadcast, ConcurrentRequestsForAnUnknownNameBecomeOneRequest) {
  auto [writer, reader] = make_broadcast();
  auto a = reader.request_track("video");
  auto b = reader.request_track("video");
  BroadcastReader another = reader;
  auto c = another.request_track("video");
  ASSERT_TRUE(a && b && c);

  auto request = writer.try_next_request();
  ASSERT_TRUE(request && *request);
  EXPECT_EQ((*request)->name(), "video");
  auto second = writer.try_next_request();
  ASSERT_TRUE(second);
  EXPECT_FALSE(*second);  // deduplicated: exactly one pending request

  // All three requesters read the one track the producer fills.
  ASSERT_TRUE((*request)->create_segment({.sequence = 1, .priority = 0, .expires = {}}));
  for (auto* track : {&*a, &*b, &*c}) {
    auto segment = track->try_next_segment();
    ASSERT_TRUE(segment && *segment);
    EXPECT_EQ((*segment)->sequence(), 1u);
  }
}

TEST(Broadcast, AnAwaitingProducerFulfilsRequests) {
  asio::io_context io;
  auto [writer, reader] = make_broadcast();
  std::vector<std::string> served;
  spawn(io, serve(std::move(writer), &served));
  io.poll();
  EXPECT_EQ(io.poll(), 0u);  // the producer waits without polling

  std::vector<Seen> seen(3);
  for (auto& s : seen) {
    auto track = reader.request_track("1.mp4");
    ASSERT_TRUE(track);
    spawn(io, read_track(std::move(*track), &s));
  }
  io.poll();

  EXPECT_EQ(served, (std::vector<std::string>{"1.mp4"}));
  for (const auto& s : seen) {
    EXPECT_EQ(s.payloads, (std::vector<std::string>{"1.mp4"}));
    ASSERT_TRUE(s.end);
    EXPECT_TRUE(s.end->is_closed());
  }
}

TEST(Broadcast, AProducerRefusalReachesEveryRequesterAsNotFound) {
  asio::io_context io;
  auto [writer, reader] = make_broadcast();
  std::vector<std::string> served;
  spawn(io, serve(std::move(writer), &served));

  Seen first, second;
  auto a = reader.request_track("missing");
  auto b = reader.request_track("missing");
  ASSERT_TRUE(a && b);
  spawn(io, read_track(std::move(*a), &first));
  spawn(io, read_track(std::move(*b), &second));
  io.poll();
  ASSERT_TRUE(first.end && second.end);
  EXPECT_EQ(first.end->code, code::kNotFound);
  EXPECT_EQ(second.end->code, code::kNotFound);
  EXPECT_EQ(served.size(), 1u);

  // "Not found" is not cached forever: a later request asks the producer again.
  auto retry = reader.request_track("missing");
  ASSERT_TRUE(retry);
  io.poll();
  EXPECT_EQ(served.size(), 2u);
}

TEST(Broadcast, RequestsOnAClosedBroadcastFailWithTheCloseError) {
  auto [writer, reader] = make_broadcast();
  auto pending = reader.request_track("video");
  ASSERT_TRUE(pending);
  ASSERT_TRUE(writer.close({code::kUpstream, "origin gone"}));

  auto request = reader.request_track("audio");
  ASSERT_FALSE(request);
  EXPECT_EQ(request.error().code, code::kUpstream);
  // The request nobody will answer now ends with the same error.
  auto end = pending->try_next_segment();
  ASSERT_FALSE(end);
  EXPECT_EQ(end.error().code, code::kUpstream);
  auto next = writer.try_next_request();
  ASSERT_FALSE(next);
  EXPECT_EQ(next.error().code, code::kUpstream);
}

TEST(Broadcast, DestroyingTheWriterClosesTheBroadcast) {
  asio::io_context io;
  Seen seen;
  auto [writer, reader] = make_broadcast();
  auto pending = reader.request_track("video");
  ASSERT_TRUE(pending);
  spawn(io, read_track(std::move(*pending), &seen));
  io.poll();
  { auto gone = std::move(writer); }
  io.run();

  ASSERT_TRUE(seen.end);
  EXPECT_TRUE(seen.end->is_closed());
  ASSERT_TRUE(reader.closed());
  EXPECT_TRUE(reader.closed()->is_closed());
  auto late = reader.request_track("audio");
  ASSERT_FALSE(late);
  EXPECT_TRUE(late.error().is_closed());
}

TEST(Broadcast, TracksMadeElsewhereCanBeInserted) {
  auto [writer, reader] = make_broadcast();
  auto [track_writer, track_reader] = make_track("remote");
  ASSERT_TRUE(writer.insert_track(track_reader));
  auto duplicate = writer.insert_track(track_reader);
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().code, code::kDuplicate);

  ASSERT_TRUE(track_writer.create_segment({.sequence = 9, .priority = 0, .expires = {}}));
  auto got = reader.request_track("remote");
  ASSERT_TRUE(got);
  auto segment = got->try_next_segment();
  ASSERT_TRUE(segment && *segment);
  EXPECT_EQ((*segment)->sequence(), 9u);
}

}  // namespace
}  // namespace moq::cache
