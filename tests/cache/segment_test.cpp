#include "cache/segment.h"

#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <string>
#include <vector>

#include "cache/spawn.h"

namespace moq::cache {
namespace {

using test::spawn;

// Reads chunks until the segment ends; returns them and the end code.
asio::awaitable<void> read_all(SegmentReader reader, std::vector<Bytes>* chunks, Error* end) {
  for (;;) {
    auto chunk = co_await reader.next_chunk();
    if (!chunk) {
      *end = chunk.error();
      co_return;
    }
    chunks->push_back(std::move(*chunk));
  }
}

TEST(Segment, InfoIsFixedAtCreation) {
  auto [writer, reader] = make_segment({.sequence = 7, .priority = -3, .expires = {}});
  EXPECT_EQ(writer.sequence(), 7u);
  EXPECT_EQ(reader.priority(), -3);
  EXPECT_TRUE(reader.info().never_expires());
}

TEST(Segment, ChunksAreSharedNotCopiedAcrossReaders) {
  auto [writer, first] = make_segment({});
  const Bytes a = Bytes::copy("hello ");
  const Bytes b = Bytes::copy("world");
  ASSERT_TRUE(writer.write(a));

  std::vector<SegmentReader> readers(8, first);
  ASSERT_TRUE(writer.write(b));
  readers.push_back(writer.reader());  // a late joiner starts from the first chunk

  for (auto& reader : readers) {
    auto got_a = reader.try_next_chunk();
    auto got_b = reader.try_next_chunk();
    ASSERT_TRUE(got_a && *got_a && got_b && *got_b);
    EXPECT_TRUE((*got_a)->shares_storage_with(a));
    EXPECT_TRUE((*got_b)->shares_storage_with(b));
    EXPECT_EQ((*got_a)->data(), a.data());  // the very same bytes, not an equal copy
  }
}

TEST(Segment, FinishIsCleanEndAfterAllChunks) {
  auto [writer, reader] = make_segment({});
  ASSERT_TRUE(writer.write(Bytes::copy("x")));
  ASSERT_TRUE(writer.finish());

  auto chunk = reader.try_next_chunk();
  ASSERT_TRUE(chunk && *chunk);
  EXPECT_EQ((*chunk)->view(), "x");
  auto end = reader.try_next_chunk();
  ASSERT_FALSE(end);
  EXPECT_TRUE(end.error().is_closed());
  EXPECT_EQ(reader.size(), 1u);
}

TEST(Segment, NothingYetIsNotAnEnd) {
  auto [writer, reader] = make_segment({});
  auto polled = reader.try_next_chunk();
  ASSERT_TRUE(polled);
  EXPECT_FALSE(*polled);
}

TEST(Segment, CloseWithErrorIsSeenAfterTheChunks) {
  auto [writer, reader] = make_segment({});
  ASSERT_TRUE(writer.write(Bytes::copy("x")));
  ASSERT_TRUE(writer.close({code::kRead, "read error"}));

  EXPECT_TRUE(reader.try_next_chunk());
  auto end = reader.try_next_chunk();
  ASSERT_FALSE(end);
  EXPECT_EQ(end.error().code, code::kRead);
}

TEST(Segment, WriteOrCloseAfterCloseFailsWithTheCloseError) {
  auto [writer, reader] = make_segment({});
  ASSERT_TRUE(writer.close(Error::stop()));
  auto write = writer.write(Bytes::copy("late"));
  ASSERT_FALSE(write);
  EXPECT_EQ(write.error().code, code::kStop);
  auto again = writer.finish();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, code::kStop);
}

TEST(Segment, DestroyingTheLastWriterFinishesIt) {
  auto [writer, reader] = make_segment({});
  {
    SegmentWriter copy = writer;
    { auto drop = std::move(writer); }
    EXPECT_FALSE(reader.closed());  // a copy is still alive
    ASSERT_TRUE(copy.write(Bytes::copy("x")));
  }
  ASSERT_TRUE(reader.closed());
  EXPECT_TRUE(reader.closed()->is_closed());
  EXPECT_TRUE(reader.try_next_chunk());  // the chunk outlives its writer
}

TEST(Segment, MovedFromWriterReportsAnErrorInsteadOfCrashing) {
  auto [writer, reader] = make_segment({});
  SegmentWriter moved = std::move(writer);
  EXPECT_FALSE(writer.write(Bytes::copy("x")));  // NOLINT(bugprone-use-after-move)
  EXPECT_FALSE(writer.finish());                 // NOLINT(bugprone-use-after-move)
}

TEST(Segment, AwaitingReadersAreWokenByTheEventLoopNotInline) {
  asio::io_context io;
  auto [writer, reader] = make_segment({});
  std::vector<Bytes> chunks;
  Error end;
  spawn(io, read_all(reader, &chunks, &end));
  spawn(io, read_all(reader, &chunks, &end));

  io.poll();
  // Both readers are parked; nothing runs while nothing changes (no polling).
  EXPECT_EQ(io.poll(), 0u);

  ASSERT_TRUE(writer.write(Bytes::copy("a")));
  EXPECT_TRUE(chunks.empty());  // the write did not run reader code
  io.poll();
  EXPECT_EQ(chunks.size(), 2u);

  ASSERT_TRUE(writer.finish());
  io.run();  // both readers finish, so run() returns
  EXPECT_TRUE(end.is_closed());
}

TEST(Segment, ReaderOutlivesItsWriter) {
  asio::io_context io;
  std::vector<Bytes> chunks;
  Error end;
  {
    auto [writer, reader] = make_segment({});
    ASSERT_TRUE(writer.write(Bytes::copy("kept")));
    spawn(io, read_all(reader, &chunks, &end));
  }  // both handles gone; the coroutine's copy keeps the state
  io.run();
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].view(), "kept");
  EXPECT_TRUE(end.is_closed());
}

}  // namespace
}  // namespace moq::cache
