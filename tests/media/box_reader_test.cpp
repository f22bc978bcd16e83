// The incremental box reader: any split of the input gives the same boxes,
// large and to-end sizes work, bad sizes and truncation are errors.

#include "media/box_reader.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "media/mp4_builder.h"

namespace moq::media {
namespace {

using namespace test;

struct Got {
  std::vector<std::string> types;
  std::vector<Buf> boxes;
  std::string error;
};

// Feeds `input` in pieces ending at `cuts` (sorted offsets) and collects boxes.
Got read_split(const Buf& input, const std::vector<size_t>& cuts,
               uint64_t cap = kDefaultMaxBoxSize) {
  BoxReader reader(cap);
  Got got;
  auto drain = [&] {
    for (;;) {
      auto box = reader.next();
      if (!box) {
        got.error = box.error().reason;
        return false;
      }
      if (!*box) return true;
      got.types.push_back((*box)->type.str());
      got.boxes.emplace_back((*box)->bytes.span().begin(), (*box)->bytes.span().end());
    }
  };
  size_t pos = 0;
  for (size_t cut : cuts) {
    reader.feed(Bytes(Buf(input.begin() + pos, input.begin() + cut)));
    pos = cut;
    if (!drain()) return got;
  }
  reader.feed(Bytes(Buf(input.begin() + pos, input.end())));
  if (!drain()) return got;
  reader.finish();
  drain();
  if (got.error.empty()) {
    EXPECT_TRUE(reader.done());
  }
  return got;
}

Buf sample_stream() {
  return cat({ftyp(), box("moov", zeros(40)), box64("moof", zeros(30)), box("mdat", Buf(300, 7)),
              box("free", {}), box0("mdat", Buf(50, 9))});
}

TEST(BoxReader, WholeInput) {
  const Buf in = sample_stream();
  Got got = read_split(in, {});
  ASSERT_EQ(got.error, "");
  EXPECT_EQ(got.types, (std::vector<std::string>{"ftyp", "moov", "moof", "mdat", "free", "mdat"}));
  EXPECT_EQ(got.boxes[2].size(), 16u + 30u);  // 64-bit header kept with the box
  EXPECT_EQ(got.boxes[5].size(), 8u + 50u);   // size 0: to the end of input
  Buf joined;
  for (const Buf& b : got.boxes)
    put(joined, b);
  EXPECT_EQ(joined, in);
}

TEST(BoxReader, SplitAtEveryByte) {
  const Buf in = sample_stream();
  const Got whole = read_split(in, {});
  for (size_t cut = 0; cut <= in.size(); ++cut) {
    Got got = read_split(in, {cut});
    ASSERT_EQ(got.error, "") << "cut " << cut;
    ASSERT_EQ(got.boxes, whole.boxes) << "cut " << cut;
  }
}

TEST(BoxReader, OneByteAtATime) {
  const Buf in = sample_stream();
  std::vector<size_t> cuts;
  for (size_t i = 1; i < in.size(); ++i)
    cuts.push_back(i);
  Got got = read_split(in, cuts);
  ASSERT_EQ(got.error, "");
  EXPECT_EQ(got.boxes, read_split(in, {}).boxes);
}

TEST(BoxReader, RandomSplits) {
  const Buf in = sample_stream();
  const Got whole = read_split(in, {});
  std::mt19937 rng(42);
  for (int round = 0; round < 200; ++round) {
    std::vector<size_t> cuts;
    for (size_t pos = 0;;) {
      pos += 1 + rng() % 40;
      if (pos >= in.size()) break;
      cuts.push_back(pos);
    }
    Got got = read_split(in, cuts);
    ASSERT_EQ(got.error, "");
    ASSERT_EQ(got.boxes, whole.boxes);
  }
}

TEST(BoxReader, BoxInsideOneChunkIsASliceOfIt) {
  const Bytes chunk = bytes(cat({ftyp(), box("mdat", zeros(100))}));
  BoxReader reader;
  reader.feed(chunk);
  auto a = reader.next();
  auto b = reader.next();
  ASSERT_TRUE(a && *a && b && *b);
  EXPECT_TRUE((*a)->bytes.shares_storage_with(chunk));
  EXPECT_TRUE((*b)->bytes.shares_storage_with(chunk));
  EXPECT_EQ((*b)->payload().size(), 100u);
}

TEST(BoxReader, SizeZeroBoxWaitsForEndOfInput) {
  BoxReader reader;
  reader.feed(bytes(box0("mdat", zeros(10))));
  auto r = reader.next();
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);  // may still grow
  reader.feed(bytes(zeros(5)));
  reader.finish();
  r = reader.next();
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->bytes.size(), 23u);
  r = reader.next();
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
  EXPECT_TRUE(reader.done());
}

Got read_bad(const Buf& in, uint64_t cap = kDefaultMaxBoxSize) {
  return read_split(in, {}, cap);
}

TEST(BoxReader, SizeBelowHeaderIsAnError) {
  for (uint32_t size : {2u, 4u, 7u}) {
    Buf in;
    put(in, size, 4);
    put(in, "moof");
    put(in, zeros(20));
    EXPECT_NE(read_bad(in).error.find("invalid size " + std::to_string(size)), std::string::npos);
  }
}

TEST(BoxReader, LargeSizeBelowSixteenIsAnError) {
  Buf in;
  put(in, 1, 4);
  put(in, "mdat");
  put(in, 15, 8);
  put(in, zeros(20));
  EXPECT_NE(read_bad(in).error.find("invalid 64-bit size 15"), std::string::npos);
}

TEST(BoxReader, SizeAboveCapFailsWithoutWaitingForTheBytes) {
  Buf in;
  put(in, 1, 4);
  put(in, "mdat");
  put(in, uint64_t(1) << 62, 8);
  BoxReader reader;
  reader.feed(bytes(in));  // only the header: the error must not wait for data
  auto r = reader.next();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().reason.find("exceeds the limit"), std::string::npos);
  // The cap is configurable.
  EXPECT_NE(read_bad(box("mdat", zeros(200)), 100).error.find("exceeds the limit of 100"),
            std::string::npos);
  EXPECT_NE(read_bad(box0("mdat", zeros(200)), 100).error.find("exceeds the limit of 100"),
            std::string::npos);
}

TEST(BoxReader, TruncatedAtEndIsAnError) {
  Buf in = cat({ftyp(), box("mdat", zeros(100))});
  in.resize(in.size() - 1);
  Got got = read_bad(in);
  EXPECT_EQ(got.types, std::vector<std::string>{"ftyp"});
  EXPECT_NE(got.error.find("truncated box 'mdat'"), std::string::npos) << got.error;

  Buf header_only = cat({ftyp(), Buf{0, 0, 0}});
  EXPECT_NE(read_bad(header_only).error.find("truncated box header"), std::string::npos);
}

TEST(BoxReader, ErrorsAreSticky) {
  BoxReader reader;
  reader.feed(bytes(Buf{0, 0, 0, 3, 'a', 'b', 'c', 'd'}));
  EXPECT_FALSE(reader.next());
  reader.feed(bytes(ftyp()));
  EXPECT_FALSE(reader.next());
}

TEST(BoxReader, NonPrintableTypeIsEscapedInMessages) {
  Buf in{0, 0, 0, 2, 0x01, 'a', 0xff, 'b'};
  EXPECT_NE(read_bad(in).error.find("'\\x01a\\xffb'"), std::string::npos);
}

TEST(ChildBoxes, IterateAndDetectOverrun) {
  const Buf payload = cat({box("tkhd", zeros(4)), box("mdia", zeros(2)), zeros(3)});
  std::vector<std::string> types;
  auto r = for_each_child(payload, [&](const BoxView& b) -> Result<void> {
    types.push_back(b.type.str());
    return {};
  });
  ASSERT_TRUE(r);
  EXPECT_EQ(types, (std::vector<std::string>{"tkhd", "mdia"}));  // 3 padding bytes ignored

  Buf overrun = box("tkhd", zeros(4));
  overrun[3] = 200;
  auto bad = for_each_child(overrun, [](const BoxView&) -> Result<void> { return {}; });
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().reason.find("overruns its parent"), std::string::npos);
}

}  // namespace
}  // namespace moq::media
