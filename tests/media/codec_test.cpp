// RFC 6381 codec strings from hand-made configuration records (the ffmpeg
// tests check the same functions on real encoder output).

#include "media/codec.h"

#include <gtest/gtest.h>

#include "media/mp4_builder.h"

namespace moq::media {
namespace {

using test::Buf;

TEST(Codec, Avc) {
  EXPECT_EQ(*avc_codec(FourCC("avc1"), Buf{1, 0x64, 0x00, 0x1f, 0xff}), "avc1.64001f");
  EXPECT_EQ(*avc_codec(FourCC("avc3"), Buf{1, 0x42, 0xc0, 0x0a}), "avc3.42c00a");
  EXPECT_FALSE(avc_codec(FourCC("avc1"), Buf{1, 0x64}));
  EXPECT_FALSE(avc_codec(FourCC("avc1"), Buf{2, 0x64, 0, 0x1f}));
}

TEST(Codec, HevcMainLevel31) {
  // general_profile_space 0, tier 0, profile 1; compatibility flags 1 and 2
  // (0x60000000); constraints progressive+frame_only (0xB0); level 93.
  Buf hvcc{1, 0x01, 0x60, 0x00, 0x00, 0x00, 0xB0, 0, 0, 0, 0, 0, 93};
  EXPECT_EQ(*hevc_codec(FourCC("hvc1"), hvcc), "hvc1.1.6.L93.B0");
}

TEST(Codec, HevcSpaceTierAndAllConstraintBytes) {
  // profile space 1 ('A'), high tier, profile 2, compat 0x40000000 -> reversed 0x2,
  // constraint bytes with a zero in the middle kept, trailing zero cut.
  Buf hvcc{1, 0x40 | 0x20 | 0x02, 0x40, 0x00, 0x00, 0x00, 0x90, 0x00, 0x01, 0, 0, 0, 120};
  EXPECT_EQ(*hevc_codec(FourCC("hev1"), hvcc), "hev1.A2.2.H120.90.00.01");
  Buf no_constraints{1, 0x01, 0x60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 60};
  EXPECT_EQ(*hevc_codec(FourCC("hev1"), no_constraints), "hev1.1.6.L60");
  EXPECT_FALSE(hevc_codec(FourCC("hev1"), Buf{1, 1, 0x60}));
}

TEST(Codec, Av1) {
  // profile 0, level 8 (4.0), main tier, 8-bit.
  EXPECT_EQ(*av1_codec(Buf{0x81, 0x08, 0x0c}), "av01.0.08M.08");
  // profile 2, level 13, high tier, 12-bit.
  EXPECT_EQ(*av1_codec(Buf{0x81, (2 << 5) | 13, 0x80 | 0x40 | 0x20}), "av01.2.13H.12");
  // 10-bit.
  EXPECT_EQ(*av1_codec(Buf{0x81, 0x04, 0x40}), "av01.0.04M.10");
  EXPECT_FALSE(av1_codec(Buf{0x01, 0x08, 0x0c}));
}

TEST(Codec, Vp9) {
  EXPECT_EQ(*vp9_codec(Buf{1, 0, 0, 0, 0, 31, 0x80}), "vp09.00.31.08");
}

Buf esds(uint8_t oti, const Buf& dsi, uint32_t max, uint32_t avg) {
  Buf dcd{0x04, static_cast<uint8_t>(13 + (dsi.empty() ? 0 : 2 + dsi.size())), oti, 0x15, 0, 0, 0};
  test::put(dcd, max, 4);
  test::put(dcd, avg, 4);
  if (!dsi.empty()) {
    dcd.push_back(0x05);
    dcd.push_back(static_cast<uint8_t>(dsi.size()));
    test::put(dcd, dsi);
  }
  // ES_Descriptor with a 4-byte "expandable" length, as some muxers write.
  Buf es{0x03, 0x80, 0x80, 0x80, static_cast<uint8_t>(3 + dcd.size()), 0x00, 0x01, 0x00};
  test::put(es, dcd);
  return test::cat({Buf{0, 0, 0, 0}, es});
}

TEST(Codec, Mp4a) {
  auto lc = parse_esds(esds(0x40, Buf{0x11, 0x90}, 128000, 96000));  // AAC-LC, 48 kHz
  ASSERT_TRUE(lc);
  EXPECT_EQ(mp4a_codec(*lc), "mp4a.40.2");
  EXPECT_EQ(lc->max_bitrate, 128000u);
  EXPECT_EQ(lc->avg_bitrate, 96000u);
  EXPECT_EQ(lc->sample_rate, 48000u);  // index 3
  EXPECT_EQ(lc->channel_count, 2u);    // channel configuration 2

  auto he = parse_esds(esds(0x40, Buf{0x2b, 0x92}, 0, 0));  // HE-AAC (SBR, 5)
  EXPECT_EQ(mp4a_codec(*he), "mp4a.40.5");

  // Escape value 31: 32 + next 6 bits. aot 42 (USAC) = 31, then 001010.
  auto usac = parse_esds(esds(0x40, Buf{0xf9, 0x40}, 0, 0));  // too short for the rest: aot only
  EXPECT_EQ(mp4a_codec(*usac), "mp4a.40.42");

  auto mp3 = parse_esds(esds(0x6b, {}, 0, 0));
  EXPECT_EQ(mp4a_codec(*mp3), "mp4a.6b");

  EXPECT_FALSE(parse_esds(Buf{0, 0, 0, 0, 0x04}));
  EXPECT_FALSE(parse_esds(Buf{0, 0, 0, 0, 0x03, 0x03, 0, 1, 0, 0x04, 2, 0x40}));
}

}  // namespace
}  // namespace moq::media
