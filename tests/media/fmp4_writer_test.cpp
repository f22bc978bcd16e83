// moq-sub's writer on hand-made segments: pass-through order, stale and
// early fragments dropped, malformed segments isolated.

#include "media/fmp4_writer.h"

#include <gtest/gtest.h>

#include "media/mp4_builder.h"

namespace moq::media {
namespace {

using namespace test;

Buf init_segment() {
  return cat({ftyp(), video_moov()});
}

std::string joined(const std::vector<Bytes>& out) {
  std::string s;
  for (const Bytes& b : out)
    s += b.view();
  return s;
}

std::string str(const Buf& b) {
  return std::string(b.begin(), b.end());
}

TEST(Fmp4Writer, InitThenWholeFragments) {
  Fmp4Writer w;
  std::vector<Bytes> out;
  ASSERT_TRUE(w.init(bytes(init_segment()), out));
  const Buf frag = cat({moof(1, 0, {{}}), mdat(20)});
  // Byte by byte: nothing is written until a whole moof+mdat pair is there.
  for (size_t i = 0; i < frag.size(); ++i) {
    const size_t before = out.size();
    ASSERT_TRUE(w.data("1", 0, bytes(Buf{frag[i]}), out));
    if (i + 1 < frag.size()) {
      ASSERT_EQ(out.size(), before);
    }
  }
  ASSERT_TRUE(w.end("1", 0));
  EXPECT_EQ(joined(out), str(cat({init_segment(), frag})));
  EXPECT_EQ(w.fragments_written(), 1u);
  EXPECT_EQ(w.open_segments(), 0u);
}

TEST(Fmp4Writer, InterleavedTracksKeepBoxesWhole) {
  Fmp4Writer w;
  std::vector<Bytes> out;
  ASSERT_TRUE(w.init(bytes(init_segment()), out));
  const Buf video = cat({moof(1, 0, {{}}), mdat(30)});
  const Buf audio = cat({moof(2, 0, {{}}), mdat(10)});
  ASSERT_TRUE(w.data("1", 0, bytes(Buf(video.begin(), video.begin() + 50)), out));
  ASSERT_TRUE(w.data("2", 0, bytes(audio), out));  // completes first
  ASSERT_TRUE(w.data("1", 0, bytes(Buf(video.begin() + 50, video.end())), out));
  EXPECT_EQ(joined(out), str(cat({init_segment(), audio, video})));
}

TEST(Fmp4Writer, DropsFragmentsBeforeInitAndFromOlderSegments) {
  Fmp4Writer w;
  std::vector<Bytes> out;
  const Buf f = cat({moof(1, 0, {{}}), mdat(5)});
  ASSERT_TRUE(w.data("1", 0, bytes(f), out));
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE(w.init(bytes(init_segment()), out));
  ASSERT_TRUE(w.data("1", 3, bytes(f), out));  // newest first
  ASSERT_TRUE(w.data("1", 2, bytes(f), out));  // older: would go back in time
  ASSERT_TRUE(w.data("1", 4, bytes(f), out));
  EXPECT_EQ(w.fragments_written(), 2u);
  EXPECT_EQ(w.fragments_dropped(), 2u);
  // The same init again is fine; a different one is refused.
  EXPECT_TRUE(w.init(bytes(init_segment()), out));
  EXPECT_FALSE(w.init(bytes(cat({ftyp(), video_moov(kKeyFlags)})), out));
}

TEST(Fmp4Writer, BadInitSegments) {
  std::vector<Bytes> out;
  EXPECT_EQ(Fmp4Writer().init(bytes(video_moov()), out).error().reason,
            "bad init segment: starts with 'moov', expected 'ftyp'");
  EXPECT_EQ(Fmp4Writer().init(bytes(ftyp()), out).error().reason,
            "bad init segment: no 'moov' box");
  EXPECT_EQ(Fmp4Writer().init(Bytes(), out).error().reason, "bad init segment: empty");
  EXPECT_TRUE(out.empty());
}

TEST(Fmp4Writer, MalformedSegmentIsIsolated) {
  Fmp4Writer w;
  std::vector<Bytes> out;
  ASSERT_TRUE(w.init(bytes(init_segment()), out));
  auto bad = w.data("1", 0, bytes(mdat(4)), out);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().reason, "track 1 segment 0: 'mdat' without a preceding 'moof'");
  EXPECT_EQ(w.open_segments(), 0u);
  ASSERT_TRUE(w.data("1", 1, bytes(cat({moof(1, 0, {{}}), mdat(4)})), out));
  EXPECT_EQ(w.fragments_written(), 1u);
  ASSERT_TRUE(w.end("1", 1));

  // A segment that ends inside a box or after a lone moof.
  Buf partial = cat({moof(1, 0, {{}}), mdat(4)});
  partial.pop_back();
  ASSERT_TRUE(w.data("1", 5, bytes(partial), out));
  EXPECT_NE(w.end("1", 5).error().reason.find("ended inside a box"), std::string::npos);
  ASSERT_TRUE(w.data("1", 6, bytes(moof(1, 0, {{}})), out));
  EXPECT_NE(w.end("1", 6).error().reason.find("between a 'moof' and its 'mdat'"),
            std::string::npos);
  // Reset streams are forgotten.
  ASSERT_TRUE(w.data("1", 7, bytes(partial), out));
  w.abort("1", 7);
  EXPECT_EQ(w.open_segments(), 0u);
}

}  // namespace
}  // namespace moq::media
