// moov and moof parsing on hand-made boxes: track fields, trex defaults, and
// the order in which sample flags are resolved.

#include <gtest/gtest.h>

#include "media/moof.h"
#include "media/moov.h"
#include "media/mp4_builder.h"

namespace moq::media {
namespace {

using namespace test;

TEST(Moov, VideoTrack) {
  const Buf moov = video_moov(0x01010000);
  auto movie = parse_moov(moov);
  ASSERT_TRUE(movie) << movie.error().reason;
  ASSERT_EQ(movie->tracks.size(), 1u);
  const TrackInfo& t = movie->tracks[0];
  EXPECT_EQ(t.id, 1u);
  EXPECT_EQ(t.kind, TrackKind::kVideo);
  EXPECT_EQ(t.handler, FourCC("vide"));
  EXPECT_EQ(t.timescale, 15360u);
  EXPECT_EQ(t.sample_entry, FourCC("avc1"));
  EXPECT_EQ(t.codec, "avc1.64001f");
  EXPECT_EQ(t.width, 320);
  EXPECT_EQ(t.height, 240);
  EXPECT_EQ(t.trex.duration, 512u);
  EXPECT_EQ(t.trex.flags, 0x01010000u);
  EXPECT_EQ(movie->find(1), &movie->tracks[0]);
  EXPECT_EQ(movie->find(2), nullptr);
}

TEST(Moov, UnknownCodecIsKeptWithoutCodecString) {
  Buf entry = box("xyz1", zeros(78));
  auto movie = parse_moov(box("moov", trak(3, "vide", 90000, entry)));
  ASSERT_TRUE(movie);
  EXPECT_EQ(movie->tracks[0].sample_entry, FourCC("xyz1"));
  EXPECT_EQ(movie->tracks[0].codec, "");
}

TEST(Moov, Errors) {
  EXPECT_FALSE(parse_moov(box("moof", {})));
  EXPECT_FALSE(parse_moov(Buf{0, 0}));
  // trak without mdia.
  Buf tkhd;
  put(tkhd, zeros(8));
  put(tkhd, 1, 4);
  auto no_mdia = parse_moov(box("moov", box("trak", full("tkhd", 0, 0, tkhd))));
  ASSERT_FALSE(no_mdia);
  EXPECT_NE(no_mdia.error().reason.find("missing 'mdia'"), std::string::npos);
  // Zero timescale.
  auto zero = parse_moov(box("moov", trak(1, "vide", 0, avc1(1, 1, 0x42, 0, 10))));
  ASSERT_FALSE(zero);
  EXPECT_NE(zero.error().reason.find("timescale is 0"), std::string::npos);
  // Duplicate ids.
  Buf t = trak(1, "vide", 1000, avc1(1, 1, 0x42, 0, 10));
  EXPECT_FALSE(parse_moov(box("moov", cat({t, t}))));
}

MovieInfo movie(uint32_t trex_flags) {
  return *parse_moov(video_moov(trex_flags));
}

TrackFragment one(const Buf& moof_box, const MovieInfo& m) {
  auto trafs = parse_moof(moof_box, &m);
  EXPECT_TRUE(trafs) << trafs.error().reason;
  EXPECT_EQ(trafs->size(), 1u);
  return trafs->front();
}

TEST(Moof, FieldsAndTotals) {
  const MovieInfo m = movie(kDeltaFlags);
  TrackFragment f = one(moof(1, 30720, {{512, 100}, {256, 50}, {512, 25}}, kKeyFlags), m);
  EXPECT_EQ(f.track_id, 1u);
  EXPECT_TRUE(f.has_decode_time);
  EXPECT_EQ(f.base_decode_time, 30720u);
  EXPECT_EQ(ticks_to_millis(f.base_decode_time, 15360), 2000u);
  EXPECT_EQ(f.sample_count, 3u);
  EXPECT_EQ(f.duration, 1280u);
  EXPECT_EQ(f.sample_bytes, 175u);
  EXPECT_TRUE(f.first_is_keyframe);  // tfhd default flags
}

TEST(Moof, FlagResolutionOrder) {
  // trex says keyframe; nothing overrides it.
  EXPECT_TRUE(one(moof(1, 0, {{}}), movie(kKeyFlags)).first_is_keyframe);
  EXPECT_FALSE(one(moof(1, 0, {{}}), movie(kDeltaFlags)).first_is_keyframe);
  // tfhd default beats trex.
  EXPECT_FALSE(one(moof(1, 0, {{}}, kDeltaFlags), movie(kKeyFlags)).first_is_keyframe);
  EXPECT_TRUE(one(moof(1, 0, {{}}, kKeyFlags), movie(kDeltaFlags)).first_is_keyframe);
  // Per-sample flags beat tfhd.
  EXPECT_TRUE(
      one(moof(1, 0, {{512, 1, kKeyFlags}}, kDeltaFlags, std::nullopt, true), movie(kDeltaFlags))
          .first_is_keyframe);
  // first_sample_flags beat everything (ffmpeg writes them for keyframes).
  EXPECT_TRUE(
      one(moof(1, 0, {{512, 1, kDeltaFlags}}, kDeltaFlags, kKeyFlags, true), movie(kDeltaFlags))
          .first_is_keyframe);
  EXPECT_FALSE(
      one(moof(1, 0, {{512, 1, kKeyFlags}}, kKeyFlags, kDeltaFlags, true), movie(kKeyFlags))
          .first_is_keyframe);
}

TEST(Moof, KeyframeNeedsDependsOnNoneAndSync) {
  EXPECT_TRUE(is_keyframe(0x02000000));
  EXPECT_FALSE(is_keyframe(0x02010000));              // depends on none but flagged non-sync
  EXPECT_FALSE(is_keyframe(0x01000000));              // depends on others
  EXPECT_FALSE(is_keyframe(0x00000000));              // unknown dependency
  EXPECT_TRUE(is_keyframe(0x02800000 | 0x0000ffff));  // other fields do not matter
}

TEST(Moof, TrunClaimingMoreSamplesThanBytesIsAnError) {
  Buf m = moof(1, 0, {{}, {}});
  // Patch sample_count (right after trun's version/flags) to a huge value.
  for (size_t i = 0; i + 4 < m.size(); ++i) {
    if (m[i] == 't' && m[i + 1] == 'r' && m[i + 2] == 'u' && m[i + 3] == 'n') {
      m[i + 8] = 0x7f;
      break;
    }
  }
  const MovieInfo mv = movie(kKeyFlags);
  auto r = parse_moof(m, &mv);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().reason.find("samples need"), std::string::npos) << r.error().reason;
}

TEST(Moof, TfhdWithoutRequiredFields) {
  Buf traf = box("traf", full("tfhd", 0, 0x20, Buf{0, 0, 0, 1}));  // flags promise a field
  auto r = parse_moof(box("moof", traf), nullptr);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().reason.find("tfhd"), std::string::npos);
  auto no_tfhd = parse_moof(box("moof", box("traf", {})), nullptr);
  ASSERT_FALSE(no_tfhd);
}

TEST(Moof, MillisecondsDoNotOverflow) {
  EXPECT_EQ(ticks_to_millis(90000, 90000), 1000u);
  EXPECT_EQ(ticks_to_millis(1, 3), 333u);
  EXPECT_EQ(ticks_to_millis(UINT64_MAX, 1000), UINT64_MAX);
  EXPECT_EQ(ticks_to_millis(UINT64_MAX / 2, 48000),
            (UINT64_MAX / 2) / 48000 * 1000 + ((UINT64_MAX / 2) % 48000) * 1000 / 48000);
}

}  // namespace
}  // namespace moq::media
