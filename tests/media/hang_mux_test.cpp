// hang (legacy container, as @moq/publish 0.2.17 sends it) -> KIXEL muxing:
// the view of a catalog.json, the helpers (Annex-B, avcC, Opus TOC, AAC
// config), fragments checked with the project's own moov/moof parsers, then
// real encoder output (ffmpeg: libx264 Annex-B, libopus, AAC, VP9) muxed,
// written through moq-sub's Fmp4Writer and decoded by ffmpeg.

#include "media/hang_mux.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "coding/varint.h"
#include "media/fmp4_writer.h"
#include "media/moof.h"
#include "media/mp4_builder.h"

namespace moq::media {
namespace {

using namespace test;
using nlohmann::json;

// x264's SPS and PPS for 64x48 yuv420p (High profile, level 1.0) and the avcC
// ffmpeg's mp4 muxer writes for them.
const char* kSps = "6764000aacb208f60220000003002000000781e244c9";
const char* kPps = "68ebc3cb22c0";
const char* kAvcc =
    "0164000affe100166764000aacb208f60220000003002000000781e244c901000668ebc3cb22c0fdf8f800";

Buf unhex(std::string_view s) {
  auto r = hex_decode(s);
  EXPECT_TRUE(r) << s;
  return r ? *r : Buf{};
}

std::string hex(std::span<const uint8_t> b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (uint8_t c : b) {
    s += kDigits[c >> 4];
    s += kDigits[c & 15];
  }
  return s;
}

// A hang legacy frame: QUIC varint timestamp (µs) + payload.
Buf legacy(uint64_t pts_us, const Buf& payload) {
  Buf out(varint::encoded_size(pts_us));
  varint::encode(pts_us, out);
  put(out, payload);
  return out;
}

Buf start_code() {
  return Buf{0, 0, 0, 1};
}

// An Annex-B keyframe like Chromium's: SPS, PPS, IDR slice.
Buf annexb_keyframe() {
  return cat({start_code(), unhex(kSps), start_code(), unhex(kPps), Buf{0, 0, 1},
              Buf{0x65, 0x88, 0x84, 0x00, 0x21}});
}
Buf annexb_delta() {
  return cat({start_code(), Buf{0x41, 0x9a, 0x02, 0x04}});
}

// Opus TOC: CELT fullband 20 ms (config 31), one frame.
const Buf kOpusPacket = {0xfc, 0xff, 0xfe};

std::string with(std::string_view base, const std::function<void(json&)>& edit) {
  json j = json::parse(base);
  edit(j);
  return j.dump();
}

HangMuxOptions options(std::vector<std::string> renditions, uint64_t audio_segment_ms = 200) {
  HangMuxOptions o;
  o.renditions = std::move(renditions);
  o.audio_segment_ms = audio_segment_ms;
  return o;
}

HangMuxer make(std::string_view catalog, HangMuxOptions options = {}) {
  auto mux = HangMuxer::create(catalog, std::move(options));
  EXPECT_TRUE(mux) << (mux ? "" : mux.error().reason);
  if (!mux) std::abort();
  return std::move(*mux);
}

HangFragment mux_frame(HangMuxer& mux, size_t track, const Buf& frame, bool group_start,
                       std::optional<uint64_t> duration_us = std::nullopt) {
  auto f = mux.frame(track, frame, group_start, duration_us);
  EXPECT_TRUE(f) << (f ? "" : f.error().reason);
  EXPECT_TRUE(f && *f);
  return f && *f ? **f : HangFragment{};
}

// The mdat payload of a legacy fragment (one moof, then the mdat).
Buf mdat_payload(const Buf& fragment) {
  const size_t moof = (size_t(fragment[0]) << 24) | (size_t(fragment[1]) << 16) |
                      (size_t(fragment[2]) << 8) | fragment[3];
  return Buf(fragment.begin() + moof + 8, fragment.end());
}

// ---------------------------------------------------------------- helpers

TEST(HangMuxHelpers, Hex) {
  EXPECT_EQ(unhex("00ffA0"), (Buf{0, 0xff, 0xa0}));
  EXPECT_FALSE(hex_decode("abc"));
  EXPECT_FALSE(hex_decode("zz"));
  EXPECT_TRUE(hex_decode("")->empty());
}

TEST(HangMuxHelpers, AnnexBNalUnits) {
  const Buf stream = cat({Buf{0, 0, 0, 1, 0x67, 1, 2, 0}, Buf{0, 0, 1, 0x68, 3, 0, 0},
                          Buf{0, 0, 0, 1, 0x65, 0, 0, 3, 1}});
  auto units = annexb_nal_units(stream);
  ASSERT_TRUE(units);
  ASSERT_EQ(units->size(), 3u);
  EXPECT_EQ(Buf((*units)[0].begin(), (*units)[0].end()), (Buf{0x67, 1, 2}));
  EXPECT_EQ(Buf((*units)[1].begin(), (*units)[1].end()), (Buf{0x68, 3}));
  // An emulation prevention sequence (00 00 03) is not a start code.
  EXPECT_EQ(Buf((*units)[2].begin(), (*units)[2].end()), (Buf{0x65, 0, 0, 3, 1}));
  EXPECT_FALSE(annexb_nal_units(Buf{0x67, 1, 2}));  // length-prefixed or garbage
  EXPECT_FALSE(annexb_nal_units(Buf{0, 1, 0x67}));
  EXPECT_FALSE(annexb_nal_units(Buf{}));
}

TEST(HangMuxHelpers, AvccFromParameterSetsMatchesFfmpeg) {
  const Buf keyframe = annexb_keyframe();
  auto units = annexb_nal_units(keyframe);
  ASSERT_TRUE(units);
  auto avcc = avcc_from_parameter_sets(*units);
  ASSERT_TRUE(avcc);
  ASSERT_TRUE(*avcc);
  EXPECT_EQ(hex(**avcc), kAvcc);
  // Baseline: no high-profile extension. Missing PPS: not yet.
  const Buf baseline = {0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80};
  const Buf pps = {0x68, 0xce};
  const std::vector<std::span<const uint8_t>> both = {baseline, pps};
  auto b = avcc_from_parameter_sets(both);
  ASSERT_TRUE(b && *b);
  EXPECT_EQ(hex(**b),
            "0142c01effe1000767"
            "42c01eda028001000268ce");
  const std::vector<std::span<const uint8_t>> sps_only = {baseline};
  auto none = avcc_from_parameter_sets(sps_only);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  const Buf bad_high = {0x67, 0x64, 0x00, 0x1f, 0x00, 0x00};  // ue() never ends
  const std::vector<std::span<const uint8_t>> bad = {bad_high, pps};
  EXPECT_FALSE(avcc_from_parameter_sets(bad));
}

TEST(HangMuxHelpers, OpusPacketSamples) {
  EXPECT_EQ(opus_packet_samples(kOpusPacket), 960u);       // CELT 20 ms
  EXPECT_EQ(opus_packet_samples(Buf{0x08}), 960u);         // SILK NB 20 ms
  EXPECT_EQ(opus_packet_samples(Buf{0x18}), 2880u);        // SILK NB 60 ms
  EXPECT_EQ(opus_packet_samples(Buf{0x78}), 960u);         // hybrid FB 20 ms
  EXPECT_EQ(opus_packet_samples(Buf{0x80}), 120u);         // CELT 2.5 ms
  EXPECT_EQ(opus_packet_samples(Buf{0xfd, 0, 0}), 1920u);  // two frames
  EXPECT_EQ(opus_packet_samples(Buf{0xfb, 0x03}), 2880u);  // code 3: 3 x 20 ms
  EXPECT_EQ(opus_packet_samples(Buf{0x1b, 0x03}), 0u);     // 3 x 60 ms > 120 ms
  EXPECT_EQ(opus_packet_samples(Buf{0xfb}), 0u);           // code 3 without count
  EXPECT_EQ(opus_packet_samples(Buf{}), 0u);
}

TEST(HangMuxHelpers, AacAudioSpecificConfigMatchesHang) {
  // @moq/hang util/aac.js audioSpecificConfig: 2 bytes, or 5 with an
  // explicit 24-bit rate.
  EXPECT_EQ(hex(aac_audio_specific_config(2, 48000, 2)), "1190");
  EXPECT_EQ(hex(aac_audio_specific_config(2, 44100, 1)), "1208");
  EXPECT_EQ(hex(aac_audio_specific_config(2, 50000, 2)), "178061a810");
}

// ---------------------------------------------------------------- the view

TEST(HangMux, PublishCatalogBecomesOneInitForEveryTrack) {
  HangMuxer mux = make(kPublishCatalogExample);
  ASSERT_EQ(mux.tracks().size(), 3u);
  EXPECT_TRUE(mux.skipped().empty());
  const auto& t = mux.tracks();
  EXPECT_EQ(t[0].hang_name, "video/hd");
  EXPECT_EQ(t[1].hang_name, "video/sd");
  EXPECT_EQ(t[2].hang_name, "audio/data");
  EXPECT_EQ(*mux.find("audio/data"), 2u);
  EXPECT_FALSE(mux.find("catalog.json"));
  EXPECT_EQ(t[0].timescale, 1'000'000u);
  EXPECT_EQ(t[2].timescale, 48'000u);
  // H.264 without description: the init waits for SPS+PPS; Opus is known.
  EXPECT_FALSE(t[0].configured);
  EXPECT_TRUE(t[2].configured);
  EXPECT_FALSE(mux.ready());
  EXPECT_TRUE(mux.init().empty());

  auto hd = mux_frame(mux, 0, legacy(3'600'000'000, annexb_keyframe()), true);
  EXPECT_FALSE(hd.became_ready);  // video/sd still unknown
  auto sd = mux_frame(mux, 1, legacy(3'600'000'100, annexb_keyframe()), true);
  EXPECT_TRUE(sd.became_ready);
  ASSERT_TRUE(mux.ready());

  EXPECT_EQ(
      to_json(mux.catalog()),
      R"({"tracks":[{"container":"mp4","kind":"video","init_track":"1.mp4","data_track":"1",)"
      R"("codec":"avc1.64000a","width":1280,"height":720,"frame_rate":30,"bit_rate":1935360},)"
      R"({"container":"mp4","kind":"video","init_track":"1.mp4","data_track":"2",)"
      R"("codec":"avc1.64000a","width":544,"height":304,"frame_rate":30,"bit_rate":347290},)"
      R"({"container":"mp4","kind":"audio","init_track":"1.mp4","data_track":"3",)"
      R"("codec":"opus","channel_count":2,"sample_rate":48000,"sample_size":16,)"
      R"("bit_rate":64000}]})");

  auto movie = parse_init_segment(mux.init());
  ASSERT_TRUE(movie) << movie.error().reason;
  ASSERT_EQ(movie->tracks.size(), 3u);
  for (uint32_t i = 0; i < 3; ++i)
    EXPECT_EQ(movie->tracks[i].id, i + 1);
  EXPECT_EQ(movie->tracks[0].codec, "avc1.64000a");
  EXPECT_EQ(movie->tracks[0].width, 1280);
  EXPECT_EQ(movie->tracks[1].height, 304);
  EXPECT_EQ(movie->tracks[0].timescale, 1'000'000u);
  EXPECT_EQ(movie->tracks[2].kind, TrackKind::kAudio);
  EXPECT_EQ(movie->tracks[2].codec, "opus");
  EXPECT_EQ(movie->tracks[2].timescale, 48'000u);
  EXPECT_EQ(movie->tracks[2].channel_count, 2);
  EXPECT_EQ(movie->tracks[2].sample_rate, 48'000u);
  // The avcC in the stsd is the one ffmpeg writes.
  const std::string init(mux.init().begin(), mux.init().end());
  EXPECT_NE(init.find(std::string("avcC") +
                      std::string(reinterpret_cast<const char*>(unhex(kAvcc).data()),
                                  unhex(kAvcc).size())),
            std::string::npos);

  // The keyframe fragment: Annex-B became 4-byte lengths, parameter sets kept.
  auto trafs = parse_moof(Buf(hd.bytes.begin(), hd.bytes.begin() + 100), &*movie);
  ASSERT_TRUE(trafs) << trafs.error().reason;
  ASSERT_EQ(trafs->size(), 1u);
  EXPECT_EQ((*trafs)[0].track_id, 1u);
  EXPECT_EQ((*trafs)[0].base_decode_time, 3'600'000'000u);
  EXPECT_TRUE((*trafs)[0].first_is_keyframe);
  EXPECT_EQ((*trafs)[0].duration, 33'333u);  // 1/framerate
  const Buf sps = unhex(kSps), pps = unhex(kPps);
  const Buf expected = cat({Buf{0, 0, 0, uint8_t(sps.size())}, sps, Buf{0, 0, 0, 6}, pps,
                            Buf{0, 0, 0, 5, 0x65, 0x88, 0x84, 0x00, 0x21}});
  EXPECT_EQ(mdat_payload(hd.bytes), expected);
  EXPECT_EQ((*trafs)[0].sample_bytes, expected.size());
  EXPECT_TRUE(hd.new_segment && hd.keyframe);
  EXPECT_EQ(hd.decode_ms, 3'600'000u);
  EXPECT_EQ(hd.priority, 3'600'000);

  // A delta frame 40 ms later: non-sync, its own moof sequence number, the
  // duration from the gap.
  auto delta = mux_frame(mux, 0, legacy(3'600'040'000, annexb_delta()), false);
  EXPECT_FALSE(delta.new_segment || delta.keyframe || delta.became_ready);
  trafs = parse_moof(Buf(delta.bytes.begin(), delta.bytes.begin() + 100), &*movie);
  ASSERT_TRUE(trafs);
  EXPECT_FALSE((*trafs)[0].first_is_keyframe);
  EXPECT_EQ((*trafs)[0].duration, 40'000u);
  EXPECT_EQ(delta.bytes[23], 2);  // mfhd sequence_number (low byte)
  EXPECT_EQ(mdat_payload(delta.bytes), (Buf{0, 0, 0, 4, 0x41, 0x9a, 0x02, 0x04}));
  // A duration hint wins.
  auto hinted = mux_frame(mux, 0, legacy(3'600'080'000, annexb_delta()), false, 20'000);
  trafs = parse_moof(Buf(hinted.bytes.begin(), hinted.bytes.begin() + 100), &*movie);
  ASSERT_TRUE(trafs);
  EXPECT_EQ((*trafs)[0].duration, 20'000u);

  // Audio: 48 kHz ticks, duration from the TOC, every frame a sync sample.
  auto audio = mux_frame(mux, 2, legacy(3'600'000'500, kOpusPacket), true);
  trafs = parse_moof(Buf(audio.bytes.begin(), audio.bytes.begin() + 100), &*movie);
  ASSERT_TRUE(trafs);
  EXPECT_EQ((*trafs)[0].track_id, 3u);
  EXPECT_EQ((*trafs)[0].base_decode_time, 3'600'000'500ull * 48 / 1000);
  EXPECT_EQ((*trafs)[0].duration, 960u);
  EXPECT_TRUE((*trafs)[0].first_is_keyframe);
  EXPECT_EQ(mdat_payload(audio.bytes), kOpusPacket);
}

TEST(HangMux, FramesItDoesNotPublish) {
  HangMuxer mux = make(kPublishCatalogExample);
  // A delta before the first keyframe, and an empty marker frame.
  auto early = mux.frame(0, legacy(1000, annexb_delta()), false);
  ASSERT_TRUE(early);
  EXPECT_FALSE(*early);
  auto marker = mux.frame(2, legacy(1000, Buf{}), true);
  ASSERT_TRUE(marker);
  EXPECT_FALSE(*marker);
  // Malformed frames fail alone.
  EXPECT_FALSE(mux.frame(0, Buf{0x40}, true));                      // cut varint
  EXPECT_FALSE(mux.frame(0, legacy(1000, Buf{0x65, 1, 2}), true));  // not Annex-B
  EXPECT_FALSE(mux.frame(3, legacy(1000, kOpusPacket), true));      // no such track
  const Buf bad_sps =
      cat({start_code(), Buf{0x67, 0x64, 0, 0x1f, 0, 0}, start_code(), unhex(kPps)});
  EXPECT_FALSE(mux.frame(0, legacy(1000, bad_sps), true));
  EXPECT_TRUE(mux.frame(0, legacy(1000, annexb_keyframe()), true));
  EXPECT_FALSE(mux.ready());
}

TEST(HangMux, AudioFramesShareSegments) {
  HangMuxer mux = make(kPublishCatalogExample);  // audio_segment_ms 200
  int segments = 0;
  for (uint64_t i = 0; i < 50; ++i) {  // one second of 20 ms groups
    auto f = mux_frame(mux, 2, legacy(5'000'000 + i * 20'000, kOpusPacket), true);
    segments += f.new_segment;
    EXPECT_EQ(f.new_segment, i % 10 == 0) << i;
  }
  EXPECT_EQ(segments, 5);
  // Time going back starts a segment too.
  EXPECT_TRUE(mux_frame(mux, 2, legacy(1'000'000, kOpusPacket), true).new_segment);
  HangMuxer every = make(kPublishCatalogExample, options({}, 0));
  EXPECT_TRUE(mux_frame(every, 2, legacy(0, kOpusPacket), true).new_segment);
  EXPECT_TRUE(mux_frame(every, 2, legacy(20'000, kOpusPacket), true).new_segment);
}

TEST(HangMux, DescriptionsAndOtherCodecs) {
  const std::string catalog = R"({"video":{"renditions":{
    "avc":{"codec":"avc1.64000a","description":")" +
                              std::string(kAvcc) +
                              R"(","codedWidth":64,"codedHeight":48},
    "vp9":{"codec":"vp09.02.10.10.01.09.16.09.01","codedWidth":640,"codedHeight":360},
    "vp8":{"codec":"vp8","codedWidth":320,"codedHeight":180},
    "av1":{"codec":"av01.0.04M.10","codedWidth":160,"codedHeight":90},
    "hevc":{"codec":"hev1.1.6.L93.B0"}}},
   "audio":{"renditions":{
    "aac":{"codec":"mp4a.40.2","description":"1190","sampleRate":48000,"numberOfChannels":2,"bitrate":128000},
    "aac-noconfig":{"codec":"mp4a.40.2","sampleRate":44100,"numberOfChannels":1},
    "opus-head":{"codec":"opus","description":"4f707573486561640101380180bb0000000000","sampleRate":48000,"numberOfChannels":1},
    "opus6":{"codec":"opus","sampleRate":48000,"numberOfChannels":6},
    "pcm":{"codec":"pcm-f32","sampleRate":48000,"numberOfChannels":2},
    "loc":{"codec":"opus","container":{"kind":"loc"},"sampleRate":48000,"numberOfChannels":2}}}})";
  HangMuxer mux = make(catalog);
  std::map<std::string, std::string> skipped(mux.skipped().begin(), mux.skipped().end());
  EXPECT_EQ(skipped.size(), 4u);
  EXPECT_TRUE(skipped.count("hevc") && skipped.count("opus6") && skipped.count("pcm") &&
              skipped.count("loc"));
  EXPECT_NE(skipped["loc"].find("'loc'"), std::string::npos);
  ASSERT_EQ(mux.tracks().size(), 7u);
  // Everything is known from the catalog: ready at once.
  ASSERT_TRUE(mux.ready());
  auto movie = parse_init_segment(mux.init());
  ASSERT_TRUE(movie) << movie.error().reason;
  std::vector<std::string> names, codecs;
  for (const auto& t : mux.tracks())
    names.push_back(t.hang_name);
  for (const auto& t : movie->tracks)
    codecs.push_back(t.codec);
  // Largest video first; vp08 has no RFC 6381 form in the parser.
  EXPECT_EQ(names, (std::vector<std::string>{"vp9", "vp8", "av1", "avc", "aac", "aac-noconfig",
                                             "opus-head"}));
  EXPECT_EQ(codecs, (std::vector<std::string>{"vp09.02.10.10", "", "av01.0.04M.10", "avc1.64000a",
                                              "mp4a.40.2", "mp4a.40.2", "opus"}));
  EXPECT_EQ(movie->tracks[1].sample_entry, FourCC("vp08"));
  for (size_t i = 0; i < codecs.size(); ++i) {
    EXPECT_EQ(mux.catalog().tracks[i].codec, i == 1 ? "vp8" : codecs[i]);
  }
  EXPECT_EQ(movie->tracks[4].timescale, 48'000u);
  EXPECT_EQ(movie->tracks[4].avg_bitrate, 128'000u);
  EXPECT_EQ(movie->tracks[5].timescale, 44'100u);
  EXPECT_EQ(movie->tracks[5].sample_rate, 44'100u);
  EXPECT_EQ(movie->tracks[5].channel_count, 1);
  EXPECT_EQ(movie->tracks[6].channel_count, 1);  // from the OpusHead
  const std::string init(mux.init().begin(), mux.init().end());
  // dOps from the OpusHead: 1 channel, pre-skip 312 (0x0138), 48000 Hz.
  EXPECT_NE(init.find(std::string("dOps\0\x01\x01\x38\x00\x00\xbb\x80\x00\x00\x00", 15)),
            std::string::npos);

  // Length-prefixed H.264 (with description) passes through; lengths checked.
  const Buf avc = {0, 0, 0, 3, 0x65, 1, 2, 0, 0, 0, 1, 0x06};
  auto f = mux_frame(mux, 3, legacy(0, avc), true);
  EXPECT_EQ(mdat_payload(f.bytes), avc);
  EXPECT_FALSE(mux.frame(3, legacy(0, Buf{0, 0, 0, 9, 0x65}), true));
  // ADTS headers are stripped when the catalog gave no description.
  const Buf raw = {0x21, 0x10, 0x04};
  const size_t len = 7 + raw.size();
  const Buf adts = cat({Buf{0xff, 0xf1, 0x50, uint8_t(0x40 | (len >> 11)), uint8_t(len >> 3),
                            uint8_t((len & 7) << 5 | 0x1f), 0xfc},
                        raw});
  EXPECT_EQ(mdat_payload(mux_frame(mux, 5, legacy(0, adts), true).bytes), raw);
  EXPECT_EQ(mdat_payload(mux_frame(mux, 4, legacy(0, adts), true).bytes), adts);  // description
  const Buf bad_adts = {0xff, 0xf1, 0x50, 0x40, 0xff, 0xff, 0xfc, 1};
  EXPECT_FALSE(mux.frame(5, legacy(0, bad_adts), true));
  // AAC ticks: 1024 samples at the sample rate.
  auto aac = mux_frame(mux, 5, legacy(1'000'000, raw), true);
  auto trafs = parse_moof(Buf(aac.bytes.begin(), aac.bytes.begin() + 100), &*movie);
  ASSERT_TRUE(trafs);
  EXPECT_EQ((*trafs)[0].base_decode_time, 44'100u);
  EXPECT_EQ((*trafs)[0].duration, 1024u);
}

TEST(HangMux, Selection) {
  HangMuxer only = make(kPublishCatalogExample, options({"audio/data", "video/sd"}));
  ASSERT_EQ(only.tracks().size(), 2u);
  EXPECT_EQ(only.tracks()[0].hang_name, "video/sd");
  EXPECT_EQ(only.tracks()[0].track_id, 1u);
  EXPECT_EQ(only.tracks()[1].track_id, 2u);
  EXPECT_FALSE(HangMuxer::create(kPublishCatalogExample, options({"video/4k"})));
}

TEST(HangMux, Errors) {
  EXPECT_FALSE(HangMuxer::create("{"));
  EXPECT_FALSE(HangMuxer::create("{}"));  // nothing to serve
  auto none = HangMuxer::create(R"({"video":{"renditions":{"h":{"codec":"hev1.1.6.L93.B0"}}}})");
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().reason.find("h: codec 'hev1.1.6.L93.B0' is not supported"),
            std::string::npos)
      << none.error().reason;
  // A bad description, codec string or config skips its rendition only.
  auto skipped = HangMuxer::create(R"({"video":{"renditions":{
      "a":{"codec":"avc1.64001f","description":"zz"},
      "b":{"codec":"avc1.64001f","description":"0264"},
      "c":{"codec":"vp09.x"},
      "d":{"codec":"av01.0.08M.09"},
      "e":{"codec":"vp8"},
      "f":{"codec":"av01","description":"0000"},
      "g":{"codec":"vp09"},
      "h":{"codec":"av01"}}}})");
  ASSERT_TRUE(skipped);
  EXPECT_EQ(skipped->skipped().size(), 5u);
  // Bare codec strings become the full ones of the init.
  ASSERT_EQ(skipped->tracks().size(), 3u);
  EXPECT_EQ(skipped->tracks()[1].entry.codec, "vp09.00.10.08");
  EXPECT_EQ(skipped->tracks()[2].entry.codec, "av01.0.08M.08");
}

TEST(HangMux, CatalogUpdates) {
  HangMuxer mux = make(kPublishCatalogExample);
  mux_frame(mux, 0, legacy(0, annexb_keyframe()), true);
  mux_frame(mux, 1, legacy(0, annexb_keyframe()), true);
  ASSERT_TRUE(mux.ready());
  const auto init = mux.init();
  auto same = mux.update(kPublishCatalogExample);
  ASSERT_TRUE(same);
  EXPECT_EQ(*same, HangMuxer::Update::kSame);
  // A new bitrate (the send bandwidth moved): a new .catalog, same init.
  auto bitrate = mux.update(with(kPublishCatalogExample, [](json& j) {
    j["video"]["renditions"]["video/hd"]["bitrate"] = 1'000'000;
  }));
  ASSERT_TRUE(bitrate);
  EXPECT_EQ(*bitrate, HangMuxer::Update::kCatalog);
  EXPECT_EQ(mux.catalog().tracks[0].bit_rate, 1'000'000u);
  EXPECT_EQ(mux.init(), init);
  EXPECT_EQ(mux.catalog().tracks[0].codec, "avc1.64000a");  // still the SPS's
  // Display size or flip: not in the KIXEL view.
  auto flip = mux.update(with(kPublishCatalogExample, [](json& j) {
    j["video"]["flip"] = true;
    j["video"]["renditions"]["video/hd"]["bitrate"] = 1'000'000;
  }));
  ASSERT_TRUE(flip);
  EXPECT_EQ(*flip, HangMuxer::Update::kSame);
  for (auto edit : std::vector<std::function<void(json&)>>{
           [](json& j) { j["video"]["renditions"]["video/hd"]["codedWidth"] = 640; },
           [](json& j) { j["video"]["renditions"].erase("video/sd"); },
           [](json& j) { j["audio"]["renditions"]["audio/data"]["numberOfChannels"] = 1; },
           [](json& j) { j["audio"]["renditions"]["audio/data"]["codec"] = "mp4a.40.2"; },
           [](json& j) { j.erase("audio"); },
       }) {
    auto r = mux.update(with(kPublishCatalogExample, edit));
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, HangMuxer::Update::kIncompatible);
  }
  EXPECT_FALSE(mux.update("[]"));
  EXPECT_EQ(mux.init(), init);
}

TEST(HangMux, CmafRenditionJoinsTheSharedInit) {
  // A cmaf rendition (its own single-track init, track_ID 1) after a legacy
  // audio track: it becomes track 1 (video first); fragments keep their
  // timing and get the new track_ID.
  const Buf init = cat({ftyp(), video_moov()});
  const std::string catalog =
      R"({"video":{"renditions":{"cam":{"codec":"avc1.64001f","container":{"kind":"cmaf","init":")" +
      base64_encode(init) +
      R"("}}}},"audio":{"renditions":{"mic":{"codec":"opus","sampleRate":48000,"numberOfChannels":2}}}})";
  HangMuxer mux = make(catalog);
  ASSERT_TRUE(mux.ready());
  ASSERT_EQ(mux.tracks().size(), 2u);
  EXPECT_EQ(mux.tracks()[0].hang_name, "cam");
  EXPECT_EQ(mux.tracks()[0].timescale, 15360u);
  auto movie = parse_init_segment(mux.init());
  ASSERT_TRUE(movie) << movie.error().reason;
  ASSERT_EQ(movie->tracks.size(), 2u);
  EXPECT_EQ(movie->tracks[0].codec, "avc1.64001f");
  EXPECT_EQ(movie->tracks[0].trex.duration, 512u);
  EXPECT_EQ(movie->tracks[1].codec, "opus");

  HangMuxer audio_first =
      make(catalog, options({"mic", "cam"}));  // order of the view, not of the option
  EXPECT_EQ(audio_first.tracks()[0].hang_name, "cam");

  // Rewrite a two-track cmaf view so that "cam" gets id 2: select it after a
  // bigger legacy video.
  const std::string two = with(catalog, [](json& j) {
    j["video"]["renditions"]["big"] = {
        {"codec", "vp8"}, {"codedWidth", 1920}, {"codedHeight", 1080}};
  });
  HangMuxer mux2 = make(two);
  ASSERT_EQ(mux2.tracks()[1].hang_name, "cam");
  const Buf frame = cat({box("styp", Buf{'m', 's', 'd', 'h', 0, 0, 0, 0}),
                         moof(1, 30720, {{512, 20, kKeyFlags}, {512, 20}}), mdat(40)});
  auto f = mux_frame(mux2, 1, frame, true);
  auto movie2 = parse_init_segment(mux2.init());
  ASSERT_TRUE(movie2);
  auto trafs =
      parse_moof(Buf(f.bytes.begin(), f.bytes.begin() + (frame.size() - 16 - 48)), &*movie2);
  ASSERT_TRUE(trafs) << trafs.error().reason;
  EXPECT_EQ((*trafs)[0].track_id, 2u);
  EXPECT_EQ((*trafs)[0].base_decode_time, 30720u);
  EXPECT_EQ((*trafs)[0].sample_count, 2u);
  EXPECT_EQ(f.decode_ms, 2000u);
  EXPECT_EQ(f.bytes.size(), frame.size() - 16);  // styp dropped
  EXPECT_FALSE(mux2.frame(1, mdat(4), true));
  EXPECT_FALSE(mux2.frame(1, cat({moof(1, 0, {{}}), box("free", {})}), true));
}

// ---------------------------------------------------------------- ffmpeg

namespace fs = std::filesystem;

std::string shell(const std::string& cmd) {
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;)
      out.append(buf, n);
    pclose(p);
  }
  return out;
}

Buf slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Buf((std::istreambuf_iterator<char>(in)), {});
}

// An encoded frame as the browser's encoder gives it to @moq/publish.
struct Encoded {
  uint64_t pts_us = 0;
  bool key = false;
  Buf data;
};

// Access units of an Annex-B file written with x264's aud=1, AUDs dropped
// (Chromium's encoders write none): SPS, PPS, SEI, IDR / slice NAL units
// with 4-byte start codes.
std::vector<Encoded> h264_access_units(const Buf& file, uint64_t base_us, uint64_t frame_us) {
  std::vector<Encoded> out;
  std::vector<size_t> starts;  // offsets of NAL headers
  for (size_t i = 0; i + 3 < file.size(); ++i) {
    if (file[i] == 0 && file[i + 1] == 0 && file[i + 2] == 1) starts.push_back(i + 3);
  }
  for (size_t k = 0; k < starts.size(); ++k) {
    size_t end = k + 1 < starts.size() ? starts[k + 1] - 3 : file.size();
    while (end > starts[k] && file[end - 1] == 0)
      --end;
    const uint8_t type = file[starts[k]] & 0x1f;
    if (type == 9) {
      out.push_back({base_us + out.size() * frame_us, false, {}});
      continue;
    }
    if (out.empty()) continue;
    out.back().key |= type == 5;
    put(out.back().data, start_code());
    out.back().data.insert(out.back().data.end(), file.begin() + starts[k], file.begin() + end);
  }
  return out;
}

// Opus packets of an Ogg file (RFC 3533 pages, RFC 7845 headers skipped).
std::vector<Encoded> ogg_opus_packets(const Buf& file, uint64_t base_us) {
  std::vector<Encoded> out;
  Buf packet;
  int index = 0;
  uint64_t samples = 0;
  for (size_t pos = 0; pos + 27 <= file.size();) {
    const size_t segments = file[pos + 26];
    size_t data = pos + 27 + segments;
    for (size_t s = 0; s < segments && data <= file.size(); ++s) {
      const size_t lace = file[pos + 27 + s];
      packet.insert(packet.end(), file.begin() + data, file.begin() + data + lace);
      data += lace;
      if (lace == 255) continue;
      if (index++ >= 2) {  // OpusHead, OpusTags
        out.push_back({base_us + samples * 1000 / 48, true, packet});
        samples += 960;
      }
      packet.clear();
    }
    pos = data;
  }
  return out;
}

// Raw AAC frames of an ADTS file.
std::vector<Encoded> adts_frames(const Buf& file, uint64_t base_us, uint32_t rate) {
  std::vector<Encoded> out;
  for (size_t pos = 0; pos + 7 <= file.size();) {
    const size_t header = file[pos + 1] & 1 ? 7 : 9;
    const size_t length =
        (size_t(file[pos + 3] & 3) << 11) | size_t(file[pos + 4]) << 3 | file[pos + 5] >> 5;
    if (length < header || pos + length > file.size()) break;
    out.push_back({base_us + out.size() * 1024 * 1'000'000 / rate, true,
                   Buf(file.begin() + pos + header, file.begin() + pos + length)});
    pos += length;
  }
  return out;
}

// VP8/VP9 frames of an IVF file; keyframes from the frame header.
// Whether an AV1 temporal unit holds a sequence header OBU (libaom writes one
// before each keyframe).
bool has_sequence_header(const Buf& tu) {
  for (size_t pos = 0; pos < tu.size();) {
    const uint8_t header = tu[pos];
    pos += header & 0x04 ? 2 : 1;
    uint64_t size = 0;
    for (int shift = 0; pos < tu.size(); shift += 7) {
      const uint8_t b = tu[pos++];
      size |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) break;
    }
    if (((header >> 3) & 0xf) == 1) return true;
    pos += size;
  }
  return false;
}

// IVF frames of "vp9", "vp8" or "av1"; keyframes from the bitstream.
std::vector<Encoded> ivf_frames(const Buf& file, uint64_t base_us, uint64_t frame_us,
                                const std::string& codec) {
  const bool vp9 = codec == "vp9";
  std::vector<Encoded> out;
  for (size_t pos = 32; pos + 12 <= file.size();) {
    const size_t size =
        file[pos] | file[pos + 1] << 8 | file[pos + 2] << 16 | size_t(file[pos + 3]) << 24;
    pos += 12;
    if (pos + size > file.size() || size == 0) break;
    Buf data(file.begin() + pos, file.begin() + pos + size);
    // VP9 profile 0: frame_marker(2) profile(2) show_existing(1) frame_type(1).
    // VP8: frame tag bit 0 clear.
    bool key = vp9 ? (data[0] & 0x0c) == 0 : (data[0] & 1) == 0;
    if (codec == "av1") key = has_sequence_header(data);
    out.push_back({base_us + out.size() * frame_us, key, std::move(data)});
    pos += size;
  }
  return out;
}

class HangMuxFfmpeg : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("ffmpeg -hide_banner -version > /dev/null 2>&1") != 0) {
      GTEST_SKIP() << "ffmpeg not installed";
    }
    std::string tmpl = (fs::temp_directory_path() / "moq-hangmux-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  // MOQ_KEEP_TEMP=1 keeps the files (out.mp4) for a look with ffplay.
  void TearDown() override {
    if (!dir_.empty() && !std::getenv("MOQ_KEEP_TEMP")) fs::remove_all(dir_);
  }

  bool has_encoder(const std::string& name) {
    return shell("ffmpeg -hide_banner -encoders 2>/dev/null").find(" " + name + " ") !=
           std::string::npos;
  }

  // Runs ffmpeg to write `name` (format from `args`); returns its bytes.
  Buf encode(const std::string& name, const std::string& args) {
    const std::string path = (fs::path(dir_) / name).string();
    const std::string log =
        shell("ffmpeg -hide_banner -loglevel error -nostdin -y " + args + " " + path + " 2>&1");
    EXPECT_TRUE(fs::exists(path)) << args << "\n" << log;
    return slurp(path);
  }

  // Muxes the tracks' frames in timestamp order (hang groups start at
  // keyframes), then writes init + fragments the way moq-sub does: through
  // Fmp4Writer, one KIXEL segment per new_segment. Returns the file's path.
  std::string mux_to_file(HangMuxer& mux,
                          const std::vector<std::pair<std::string, std::vector<Encoded>>>& tracks) {
    struct Item {
      uint64_t pts;
      size_t track;
      const Encoded* frame;
    };
    std::vector<Item> items;
    for (const auto& [name, frames] : tracks) {
      auto index = mux.find(name);
      EXPECT_TRUE(index) << name;
      for (const Encoded& e : frames)
        items.push_back({e.pts_us, *index, &e});
    }
    std::stable_sort(items.begin(), items.end(),
                     [](const Item& a, const Item& b) { return a.pts < b.pts; });
    std::vector<HangFragment> fragments;
    bool announced = mux.ready();  // else a frame completes the view
    for (const Item& it : items) {
      auto f = mux.frame(it.track, legacy(it.frame->pts_us, it.frame->data), it.frame->key);
      EXPECT_TRUE(f) << (f ? "" : f.error().reason);
      if (!f || !*f) continue;
      announced |= (*f)->became_ready;
      fragments.push_back(std::move(**f));
    }
    EXPECT_TRUE(announced);
    EXPECT_TRUE(mux.ready());
    EXPECT_TRUE(parse_catalog(to_json(mux.catalog())));

    Fmp4Writer writer;
    std::vector<Bytes> out;
    EXPECT_TRUE(writer.init(Bytes(Buf(mux.init())), out));
    std::map<size_t, uint64_t> sequence;
    std::map<size_t, bool> open;
    for (const HangFragment& f : fragments) {
      const std::string& name = mux.tracks()[f.track].entry.data_track;
      if (f.new_segment && open[f.track]) {
        EXPECT_TRUE(writer.end(name, sequence[f.track]++));
      }
      open[f.track] = true;
      auto r = writer.data(name, sequence[f.track], Bytes(Buf(f.bytes)), out);
      EXPECT_TRUE(r) << (r ? "" : r.error().reason);
    }
    EXPECT_EQ(writer.fragments_written(), fragments.size());
    const std::string path = (fs::path(dir_) / "out.mp4").string();
    std::ofstream file(path, std::ios::binary);
    for (const Bytes& b : out)
      file.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
    return path;
  }

  // ffprobe's streams (decoding every frame to count them).
  static json probe(const std::string& path) {
    const std::string out = shell(
        "ffprobe -v error -count_frames -show_entries "
        "stream=index,codec_name,width,height,sample_rate,channels,nb_read_frames -of json " +
        path);
    return json::parse(out, nullptr, false)["streams"];
  }

  // Stream `s` of probe(): its codec, decoded frame count and `values`.
  static void expect_stream(const json& s, const std::string& codec, size_t frames,
                            const json& values = json::object()) {
    EXPECT_EQ(s["codec_name"], codec);
    EXPECT_EQ(s["nb_read_frames"], std::to_string(frames)) << codec;
    for (const auto& [key, value] : values.items())
      EXPECT_EQ(s[key], value) << codec << " " << key;
  }

  // Decodes every stream; ffmpeg's errors (empty when clean).
  static std::string decode_errors(const std::string& path) {
    return shell("ffmpeg -hide_banner -v error -nostdin -i " + path + " -map 0 -f null - 2>&1");
  }

  std::string dir_;
};

TEST_F(HangMuxFfmpeg, PublishLikeH264AnnexBAndOpusPlayInFfmpeg) {
  if (!has_encoder("libx264") || !has_encoder("libopus")) GTEST_SKIP() << "no libx264/libopus";
  // @moq/publish's two renditions (here 320x240 and 160x96), 30 fps, a
  // keyframe every 15 frames, no B-frames (realtime encoders), plus stereo
  // Opus 20 ms packets; timestamps on performance.now()'s clock (an hour in).
  const char* x264 = " -pix_fmt yuv420p -c:v libx264 -bf 0 -g 15 -x264-params aud=1 -f h264";
  const Buf hd = encode(
      "hd.h264", "-f lavfi -i testsrc=size=320x240:rate=30 -frames:v 45" + std::string(x264));
  const Buf sd =
      encode("sd.h264", "-f lavfi -i testsrc=size=160x96:rate=30 -frames:v 45" + std::string(x264));
  const Buf opus = encode("a.ogg",
                          "-f lavfi -i sine=frequency=440:sample_rate=48000 -ac 2 -t 1.5 "
                          "-c:a libopus -b:a 64k -frame_duration 20 -f ogg");
  const uint64_t base = 3'600'000'000;
  auto hd_frames = h264_access_units(hd, base, 33'333);
  auto sd_frames = h264_access_units(sd, base, 33'333);
  auto opus_frames = ogg_opus_packets(opus, base - 10'000);
  ASSERT_EQ(hd_frames.size(), 45u);
  ASSERT_EQ(sd_frames.size(), 45u);
  ASSERT_TRUE(hd_frames[0].key && hd_frames[15].key && !hd_frames[1].key);
  ASSERT_GE(opus_frames.size(), 70u);

  const std::string catalog = with(kPublishCatalogExample, [](json& j) {
    auto& r = j["video"]["renditions"];
    r["video/hd"]["codedWidth"] = 320;
    r["video/hd"]["codedHeight"] = 240;
    r["video/sd"]["codedWidth"] = 160;
    r["video/sd"]["codedHeight"] = 96;
  });
  HangMuxer mux = make(catalog);
  const std::string path = mux_to_file(
      mux, {{"video/hd", hd_frames}, {"video/sd", sd_frames}, {"audio/data", opus_frames}});
  EXPECT_EQ(mux.catalog().tracks[0].codec.substr(0, 6), "avc1.6");  // from the SPS: High

  const json streams = probe(path);
  ASSERT_TRUE(streams.is_array()) << shell("ffprobe -v error " + path + " 2>&1");
  ASSERT_EQ(streams.size(), 3u);
  expect_stream(streams[0], "h264", 45, {{"width", 320}, {"height", 240}});
  expect_stream(streams[1], "h264", 45, {{"width", 160}, {"height", 96}});
  expect_stream(streams[2], "opus", opus_frames.size(),
                {{"sample_rate", "48000"}, {"channels", 2}});
  EXPECT_EQ(decode_errors(path), "");
  // Timestamps survive: the first video frame at 3600 s.
  EXPECT_EQ(shell("ffprobe -v error -select_streams v:0 -show_entries packet=pts_time -of csv=p=0 "
                  "-read_intervals %+#1 " +
                  path),
            "3600.000000\n");
}

TEST_F(HangMuxFfmpeg, Vp9AndAacWithDescriptionPlayInFfmpeg) {
  if (!has_encoder("libvpx-vp9") || !has_encoder("aac")) GTEST_SKIP() << "no libvpx-vp9/aac";
  const Buf vp9 = encode("v.ivf",
                         "-f lavfi -i testsrc=size=320x240:rate=30 -frames:v 30 -pix_fmt yuv420p "
                         "-c:v libvpx-vp9 -deadline realtime -lag-in-frames 0 -g 15 -f ivf");
  const Buf aac = encode("a.aac",
                         "-f lavfi -i sine=frequency=440:sample_rate=44100 -ac 1 -t 1 -c:a aac "
                         "-f adts");
  auto video = ivf_frames(vp9, 1'000'000, 33'333, "vp9");
  auto audio = adts_frames(aac, 1'000'000, 44'100);
  ASSERT_EQ(video.size(), 30u);
  ASSERT_TRUE(video[0].key && !video[1].key);
  ASSERT_GE(audio.size(), 40u);
  // @moq/publish's AAC rendition: hex AudioSpecificConfig description.
  const std::string catalog = R"({"video":{"renditions":{"video/hd":{"codec":"vp09.00.10.08",)"
                              R"("container":{"kind":"legacy"},"codedWidth":320,"codedHeight":240,)"
                              R"("framerate":30}}},"audio":{"renditions":{"audio/data":{)"
                              R"("codec":"mp4a.40.2","sampleRate":44100,"numberOfChannels":1,)"
                              R"("bitrate":32000,"container":{"kind":"legacy"},)"
                              R"("description":")" +
                              hex(aac_audio_specific_config(2, 44100, 1)) + R"(","jitter":24}}}})";
  HangMuxer mux = make(catalog);
  ASSERT_TRUE(mux.ready());
  const std::string path = mux_to_file(mux, {{"video/hd", video}, {"audio/data", audio}});
  const json streams = probe(path);
  ASSERT_TRUE(streams.is_array());
  ASSERT_EQ(streams.size(), 2u);
  expect_stream(streams[0], "vp9", 30, {{"width", 320}});
  expect_stream(streams[1], "aac", audio.size(), {{"sample_rate", "44100"}, {"channels", 1}});
  EXPECT_EQ(decode_errors(path), "");
}

TEST_F(HangMuxFfmpeg, Vp8PlaysInFfmpeg) {
  if (!has_encoder("libvpx")) GTEST_SKIP() << "no libvpx";
  const Buf vp8 = encode("v.ivf",
                         "-f lavfi -i testsrc=size=160x120:rate=30 -frames:v 20 -pix_fmt yuv420p "
                         "-c:v libvpx -deadline realtime -g 10 -f ivf");
  auto video = ivf_frames(vp8, 0, 33'333, "vp8");
  ASSERT_EQ(video.size(), 20u);
  ASSERT_TRUE(video[0].key && !video[1].key);
  HangMuxer mux = make(
      R"({"video":{"renditions":{"video/hd":{"codec":"vp8","codedWidth":160,"codedHeight":120}}}})");
  const std::string path = mux_to_file(mux, {{"video/hd", video}});
  const json streams = probe(path);
  ASSERT_TRUE(streams.is_array());
  ASSERT_EQ(streams.size(), 1u);
  expect_stream(streams[0], "vp8", 20, {{"width", 160}});
  EXPECT_EQ(decode_errors(path), "");
}

TEST_F(HangMuxFfmpeg, Av1PlaysInFfmpeg) {
  if (!has_encoder("libaom-av1")) GTEST_SKIP() << "no libaom-av1";
  const Buf av1 = encode("v.ivf",
                         "-f lavfi -i testsrc=size=128x72:rate=30 -frames:v 20 -pix_fmt yuv420p "
                         "-c:v libaom-av1 -usage realtime -cpu-used 8 -lag-in-frames 0 -g 10 "
                         "-keyint_min 10 -f ivf");
  auto video = ivf_frames(av1, 0, 33'333, "av1");
  ASSERT_EQ(video.size(), 20u);
  ASSERT_TRUE(video[0].key && video[10].key && !video[1].key);
  // libaom starts every temporal unit with a temporal delimiter OBU (12 00).
  ASSERT_EQ(video[1].data[0], 0x12);
  HangMuxer mux = make(
      R"({"video":{"renditions":{"v":{"codec":"av01.0.00M.08","codedWidth":128,"codedHeight":72}}}})");
  auto f = mux_frame(mux, 0, legacy(0, video[0].data), true);
  EXPECT_EQ(mdat_payload(f.bytes), Buf(video[0].data.begin() + 2, video[0].data.end()));
  HangMuxer fresh = make(
      R"({"video":{"renditions":{"v":{"codec":"av01.0.00M.08","codedWidth":128,"codedHeight":72}}}})");
  const std::string path = mux_to_file(fresh, {{"v", video}});
  const json streams = probe(path);
  ASSERT_TRUE(streams.is_array());
  ASSERT_EQ(streams.size(), 1u);
  expect_stream(streams[0], "av1", 20, {{"width", 128}});
  EXPECT_EQ(decode_errors(path), "");
}

}  // namespace
}  // namespace moq::media
