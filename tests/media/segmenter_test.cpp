// The publisher segmenter on hand-made streams: events, segment boundaries,
// priorities, catalog timing, and a clear error for each kind of bad input.

#include "media/segmenter.h"

#include <gtest/gtest.h>

#include "media/mp4_builder.h"

namespace moq::media {
namespace {

using namespace test;

struct Outcome {
  std::vector<SegmenterEvent> events;
  std::string error;

  std::vector<FragmentReady> fragments() const {
    std::vector<FragmentReady> out;
    for (const auto& e : events) {
      if (auto* f = std::get_if<FragmentReady>(&e)) out.push_back(*f);
    }
    return out;
  }
  // Every catalog emitted, in order; catalog() is the newest.
  std::vector<const CatalogReady*> catalogs() const {
    std::vector<const CatalogReady*> out;
    for (const auto& e : events) {
      if (auto* c = std::get_if<CatalogReady>(&e)) out.push_back(c);
    }
    return out;
  }
  const CatalogReady* catalog() const {
    auto all = catalogs();
    return all.empty() ? nullptr : all.back();
  }
};

Outcome ingest(const Buf& in, SegmenterOptions options = {}, size_t step = SIZE_MAX) {
  Mp4Ingest ingest(std::move(options));
  Outcome run;
  const Bytes all = bytes(in);
  for (size_t pos = 0; pos < all.size(); pos += step) {
    if (auto r = ingest.feed(all.slice(pos, step), run.events); !r) {
      run.error = r.error().reason;
      return run;
    }
  }
  if (auto r = ingest.finish(run.events); !r) run.error = r.error().reason;
  return run;
}

// 30 fps at timescale 15360 (512 ticks a frame); a keyframe every `gop` frames.
Buf video_stream(int frames, int gop, size_t frame_bytes = 1000) {
  Buf out = cat({ftyp(), video_moov(kDeltaFlags)});
  for (int i = 0; i < frames; ++i) {
    const uint32_t flags = i % gop == 0 ? kKeyFlags : kDeltaFlags;
    put(out, moof(1, uint64_t(i) * 512, {{512, uint32_t(frame_bytes), flags}}, std::nullopt, flags,
                  false, uint32_t(i + 1)));
    put(out, mdat(frame_bytes));
  }
  return out;
}

TEST(Segmenter, InitFragmentsAndSegments) {
  const Buf in = video_stream(90, 30);
  SegmenterOptions opt;
  opt.frame_rate = 30;
  opt.bit_rate = 250000;
  Outcome run = ingest(in, opt);
  ASSERT_EQ(run.error, "");
  // init first, then the catalog at once (nothing to detect), then fragments.
  ASSERT_TRUE(std::holds_alternative<InitSegment>(run.events[0]));
  const auto& init = std::get<InitSegment>(run.events[0]);
  EXPECT_EQ(init.track, "1.mp4");
  EXPECT_EQ(init.bytes.view(), std::string_view(reinterpret_cast<const char*>(in.data()),
                                                ftyp().size() + video_moov(kDeltaFlags).size()));
  ASSERT_TRUE(std::holds_alternative<CatalogReady>(run.events[1]));

  auto frags = run.fragments();
  ASSERT_EQ(frags.size(), 90u);
  for (size_t i = 0; i < frags.size(); ++i) {
    const FragmentReady& f = frags[i];
    EXPECT_EQ(f.track, "1");
    EXPECT_EQ(f.new_segment, i % 30 == 0) << i;
    EXPECT_EQ(f.sequence, i / 30);
    EXPECT_EQ(f.decode_ms, i * 512 * 1000 / 15360);
    EXPECT_EQ(f.priority, int32_t(f.decode_ms));
    EXPECT_EQ(f.expires_seconds, 10u);
    EXPECT_EQ(f.moof.view().substr(4, 4), "moof");
    EXPECT_EQ(f.mdat.view().substr(4, 4), "mdat");
    EXPECT_EQ(f.mdat.size(), 1008u);
  }
}

TEST(Segmenter, FragmentsShareTheInputBytes) {
  const Bytes in = bytes(video_stream(3, 30));
  Mp4Ingest ingest;
  std::vector<SegmenterEvent> events;
  ASSERT_TRUE(ingest.feed(in, events));
  ASSERT_TRUE(ingest.finish(events));
  for (const auto& e : events) {
    if (auto* f = std::get_if<FragmentReady>(&e)) {
      EXPECT_TRUE(f->moof.shares_storage_with(in));
      EXPECT_TRUE(f->mdat.shares_storage_with(in));
    }
  }
}

TEST(Segmenter, SplitInputGivesTheSameEvents) {
  const Buf in = video_stream(40, 10);
  const Outcome whole = ingest(in);
  for (size_t step : {1u, 7u, 100u, 1009u}) {
    Outcome split = ingest(in, {}, step);
    ASSERT_EQ(split.error, "");
    ASSERT_EQ(split.events.size(), whole.events.size());
    auto a = whole.fragments(), b = split.fragments();
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].moof, b[i].moof);
      EXPECT_EQ(a[i].mdat, b[i].mdat);
      EXPECT_EQ(a[i].new_segment, b[i].new_segment);
    }
  }
}

TEST(Segmenter, FirstFragmentOpensASegmentEvenWithoutKeyframe) {
  Buf in = cat({ftyp(), video_moov(kDeltaFlags), moof(1, 0, {{512, 10, kDeltaFlags}}), mdat(10),
                moof(1, 512, {{512, 10, kDeltaFlags}}), mdat(10)});
  auto frags = ingest(in).fragments();
  ASSERT_EQ(frags.size(), 2u);
  EXPECT_TRUE(frags[0].new_segment);
  EXPECT_FALSE(frags[1].new_segment);
}

TEST(Segmenter, PriorityWrapsToNonNegative) {
  // A decode time just past 2^31 ms (24.8 days) at timescale 15360.
  const uint64_t ticks = ((uint64_t(1) << 31) + 5) * 15360 / 1000;
  const uint64_t ms = ticks_to_millis(ticks, 15360);
  ASSERT_GT(ms, uint64_t(1) << 31);
  Buf in = cat({ftyp(), video_moov(kKeyFlags), moof(1, ticks, {{512, 10}}), mdat(10)});
  auto frags = ingest(in).fragments();
  ASSERT_EQ(frags.size(), 1u);
  EXPECT_EQ(frags[0].decode_ms, ms);
  EXPECT_EQ(frags[0].priority, int32_t(ms - (uint64_t(1) << 31)));
}

TEST(Segmenter, DetectsFrameRateAndBitRateFromTheFirstGops) {
  // 30 fps, 1000-byte frames: 1000+8 mdat + moof per frame; GOP = 10 frames
  // (1/3 s), so the first second (3 GOPs) is measured.
  const Buf in = video_stream(100, 10);
  Outcome run = ingest(in);
  ASSERT_EQ(run.error, "");
  const CatalogReady* cat_ev = run.catalog();
  ASSERT_NE(cat_ev, nullptr);
  // A provisional catalog at once (right after the init segment), so viewers
  // can start; the measured one when the 4th keyframe (frame 30) arrived.
  const auto all = run.catalogs();
  ASSERT_EQ(all.size(), 2u);
  ASSERT_TRUE(std::holds_alternative<CatalogReady>(run.events[1]));
  EXPECT_TRUE(all[0]->provisional);
  EXPECT_EQ(all[0]->sequence, 0u);
  EXPECT_EQ(all[0]->catalog.tracks.at(0).frame_rate, 24.0);  // the fallback
  EXPECT_FALSE(all[0]->catalog.tracks.at(0).bit_rate);       // not known yet
  EXPECT_FALSE(all[1]->provisional);
  EXPECT_EQ(all[1]->sequence, 1u);
  size_t catalog_at = 0;
  for (size_t i = 0; i < run.events.size(); ++i) {
    if (std::holds_alternative<CatalogReady>(run.events[i])) catalog_at = i;
  }
  EXPECT_EQ(catalog_at, 1u + 1u + 30u);  // init, provisional catalog, then 30 fragments
  const CatalogTrack& t = cat_ev->catalog.tracks.at(0);
  EXPECT_EQ(t.frame_rate, 30.0);
  const size_t per_frame =
      moof(1, 0, {{512, 1000, kKeyFlags}}, std::nullopt, kKeyFlags).size() + 1008;
  ASSERT_TRUE(t.bit_rate);
  EXPECT_EQ(*t.bit_rate, per_frame * 8 * 30);
}

TEST(Segmenter, LongGopStopsDetectionAtTheCap) {
  SegmenterOptions opt;
  opt.detect_max_ms = 2000;
  Outcome run = ingest(video_stream(200, 1000), opt);
  ASSERT_EQ(run.error, "");
  size_t catalog_at = 0;
  for (size_t i = 0; i < run.events.size(); ++i) {
    if (std::holds_alternative<CatalogReady>(run.events[i])) catalog_at = i;
  }
  EXPECT_EQ(catalog_at, 2u + 59u);  // emitted as the 60th frame (2 s) completes it
}

TEST(Segmenter, ShortInputStillGetsACatalogAtEnd) {
  Outcome run = ingest(video_stream(5, 30));
  ASSERT_EQ(run.error, "");
  ASSERT_NE(run.catalog(), nullptr);
  EXPECT_EQ(run.catalog()->catalog.tracks[0].frame_rate, 30.0);
  EXPECT_TRUE(std::holds_alternative<CatalogReady>(run.events.back()));
}

TEST(Segmenter, GivenValuesWin) {
  SegmenterOptions opt;
  opt.frame_rate = 24;
  opt.bit_rate = 1500000;
  Outcome run = ingest(video_stream(10, 5), opt);
  // Nothing to measure: one catalog, final from the start.
  ASSERT_EQ(run.catalogs().size(), 1u);
  EXPECT_FALSE(run.catalog()->provisional);
  const CatalogTrack& t = run.catalog()->catalog.tracks.at(0);
  EXPECT_EQ(t.frame_rate, 24.0);
  EXPECT_EQ(t.bit_rate, 1500000u);
  EXPECT_EQ(run.catalog()->json,
            R"({"tracks":[{"container":"mp4","kind":"video","init_track":"1.mp4",)"
            R"("data_track":"1","codec":"avc1.64001f","width":320,"height":240,)"
            R"("frame_rate":24,"bit_rate":1500000}]})");
}

std::string error_of(const Buf& in) {
  return ingest(in).error;
}

TEST(SegmenterErrors, NotMp4) {
  const std::string text = "hello, this is not a video\n";
  EXPECT_EQ(error_of(Buf(text.begin(), text.end())).rfind("not an MP4 stream", 0), 0u)
      << error_of(Buf(text.begin(), text.end()));
  EXPECT_EQ(error_of(Buf{'h', 'i'}), "not an MP4 stream: input ends after 2 bytes");
  EXPECT_EQ(error_of({}), "empty input: not an MP4 stream");
  EXPECT_EQ(error_of(cat({video_moov(), ftyp()})),
            "not an MP4 stream: first box is 'moov', expected 'ftyp'");
  EXPECT_EQ(error_of(cat({box("styp", zeros(8)), ftyp()})),
            "not an MP4 stream: first box is 'styp', expected 'ftyp'");
}

TEST(SegmenterErrors, MissingMoov) {
  EXPECT_EQ(error_of(cat({ftyp(), moof(1, 0, {{}}), mdat(1)})),
            "'moof' before 'moov': the init segment must come first");
  EXPECT_NE(error_of(cat({ftyp(), mdat(10), video_moov()})).find("'mdat' before 'moov'"),
            std::string::npos);
  EXPECT_EQ(error_of(ftyp()), "end of input before the 'moov' box");
}

TEST(SegmenterErrors, NotFragmented) {
  EXPECT_NE(error_of(cat({ftyp(), video_moov(0, false), mdat(10)})).find("moov has no mvex"),
            std::string::npos);
}

TEST(SegmenterErrors, MdatWithoutMoof) {
  EXPECT_EQ(error_of(cat({ftyp(), video_moov(), mdat(10)})), "'mdat' without a preceding 'moof'");
  EXPECT_EQ(error_of(cat({ftyp(), video_moov(), moof(1, 0, {{}}), moof(1, 0, {{}})})),
            "'moof' followed by another 'moof' without an 'mdat'");
  EXPECT_EQ(error_of(cat({ftyp(), video_moov(), moof(1, 0, {{}})})),
            "end of input between a 'moof' and its 'mdat'");
}

TEST(SegmenterErrors, UnknownTrack) {
  EXPECT_EQ(error_of(cat({ftyp(), video_moov(), moof(7, 0, {{}}), mdat(1)})),
            "moof for unknown track 7");
}

TEST(SegmenterErrors, TruncatedBox) {
  Buf in = video_stream(3, 30);
  in.resize(in.size() - 3);
  EXPECT_EQ(error_of(in).rfind("truncated box 'mdat' at end of input", 0), 0u) << error_of(in);
}

TEST(SegmenterErrors, BoxSizeBelowEight) {
  Buf in = cat({ftyp(), video_moov(), Buf{0, 0, 0, 5, 'm', 'o', 'o', 'f'}});
  EXPECT_EQ(error_of(in), "box 'moof' has invalid size 5 (minimum 8)");
  // At the very start it is "not an MP4 stream" with the reason.
  EXPECT_EQ(error_of(Buf{0, 0, 0, 5, 'm', 'o', 'o', 'f'}),
            "not an MP4 stream: expected an 'ftyp' box first, found 'moof' (box 'moof' has "
            "invalid size 5 (minimum 8))");
}

TEST(SegmenterErrors, SeveralTrafsInOneMoof) {
  Buf two = moof(1, 0, {{}});
  // Build a moof holding two trafs by reusing the traf of a one-traf moof.
  Buf traf(two.begin() + 8 + 16, two.end());  // skip moof header and mfhd (16 bytes)
  Buf moof2 = box("moof", cat({traf, traf}));
  EXPECT_NE(error_of(cat({ftyp(), video_moov(), moof2, mdat(1)})).find("2 track fragments"),
            std::string::npos);
}

TEST(SegmenterErrors, BadMoovIsReported) {
  Buf bad = box("moov", box("trak", {}));
  EXPECT_EQ(error_of(cat({ftyp(), bad})).rfind("bad moov: ", 0), 0u);
}

TEST(SegmenterErrors, DuplicateInitBoxes) {
  EXPECT_EQ(error_of(cat({ftyp(), ftyp()})), "duplicate 'ftyp' box");
  EXPECT_EQ(error_of(cat({ftyp(), video_moov(), video_moov()})), "duplicate 'moov' box");
}

}  // namespace
}  // namespace moq::media
