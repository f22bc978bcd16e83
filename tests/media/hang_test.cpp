// KIXEL_00 <-> hang (cmaf container) translation: catalogs, single-track
// init segments, base64 and the zero-copy fragment splitter; then the whole
// path on real ffmpeg output.

#include "media/hang.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "media/moof.h"
#include "media/mp4_builder.h"
#include "media/segmenter.h"

namespace moq::media {
namespace {

using namespace test;
using nlohmann::json;

// ---------------------------------------------------------------- builders

Buf mvhd() {
  Buf p = zeros(12);
  put(p, 1000, 4);  // timescale
  put(p, zeros(80));
  put(p, 3, 4);  // next_track_ID
  return full("mvhd", 0, 0, p);
}

// Opus sample entry (48 kHz) with a dOps of `channels`.
Buf opus_entry(uint8_t channels) {
  Buf p = zeros(6);
  put(p, 1, 2);  // data_reference_index
  put(p, zeros(8));
  put(p, 2, 2);   // channel_count
  put(p, 16, 2);  // sample_size
  put(p, zeros(4));
  put(p, uint64_t(48000) << 16, 4);
  Buf dops{0, channels};
  put(dops, 312, 2);  // pre-skip
  put(dops, 48000, 4);
  put(dops, 0, 2);
  put(dops, 0, 1);
  put(p, box("dOps", dops));
  return box("Opus", p);
}

Buf video_trak() {
  return trak(1, "vide", 15360, avc1(320, 240, 0x64, 0x00, 0x1f));
}
Buf audio_trak() {
  return trak(2, "soun", 48000, opus_entry(2));
}
Buf mehd() {
  return full("mehd", 0, 0, Buf{0, 0, 0, 0});
}

// ftyp + moov(mvhd, video trak 1, audio trak 2, mvex(mehd, trex 1, trex 2)),
// then a free box that the single-track init drops.
Buf av_init() {
  return cat(
      {ftyp(),
       box("moov", cat({mvhd(), video_trak(), audio_trak(),
                        box("mvex", cat({mehd(), trex(1, 512, kDeltaFlags), trex(2, 960, 0)}))})),
       box("free", zeros(4))});
}

std::span<const uint8_t> sp(const Buf& b) {
  return b;
}

std::string str(const Buf& b) {
  return std::string(b.begin(), b.end());
}

// ---------------------------------------------------------------- single-track init

TEST(HangInit, KeepsOnlyTheChosenTrakAndTrex) {
  const Buf init = av_init();
  auto audio = single_track_init(init, 2);
  ASSERT_TRUE(audio) << audio.error().reason;
  const Buf want_audio =
      cat({ftyp(),
           box("moov", cat({mvhd(), audio_trak(), box("mvex", cat({mehd(), trex(2, 960, 0)}))}))});
  EXPECT_EQ(str(*audio), str(want_audio));
  auto video = single_track_init(init, 1);
  ASSERT_TRUE(video);
  const Buf want_video =
      cat({ftyp(), box("moov", cat({mvhd(), video_trak(),
                                    box("mvex", cat({mehd(), trex(1, 512, kDeltaFlags)}))}))});
  EXPECT_EQ(str(*video), str(want_video));

  auto movie = parse_init_segment(*audio);
  ASSERT_TRUE(movie) << movie.error().reason;
  ASSERT_EQ(movie->tracks.size(), 1u);
  EXPECT_EQ(movie->tracks[0].id, 2u);
  EXPECT_EQ(movie->tracks[0].codec, "opus");
  EXPECT_EQ(movie->tracks[0].trex.duration, 960u);
  // Rewriting again changes nothing.
  auto again = single_track_init(*audio, 2);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *audio);
}

TEST(HangInit, LargesizeMoovAndNoMvex) {
  const Buf init = cat({ftyp(), box64("moov", cat({mvhd(), video_trak()}))});
  auto one = single_track_init(init, 1);
  ASSERT_TRUE(one) << one.error().reason;
  EXPECT_EQ(str(*one), str(cat({ftyp(), box("moov", cat({mvhd(), video_trak()}))})));
}

TEST(HangInit, Errors) {
  EXPECT_FALSE(single_track_init(av_init(), 3));
  EXPECT_FALSE(single_track_init(ftyp(), 1));  // no moov
  Buf bad = cat({ftyp(), box("moov", cat({mvhd(), video_trak()}))});
  bad[ftyp().size() + 3] = static_cast<uint8_t>(bad[ftyp().size() + 3] + 4);  // overruns
  EXPECT_FALSE(single_track_init(bad, 1));
  // A trex too short to hold its track_ID.
  Buf short_trex =
      cat({ftyp(), box("moov", cat({video_trak(), box("mvex", full("trex", 0, 0, Buf{0, 0}))}))});
  auto r = single_track_init(short_trex, 1);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().reason.find("trex"), std::string::npos) << r.error().reason;
}

// ---------------------------------------------------------------- base64

TEST(HangBase64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (auto [plain, coded] : vectors) {
    const Buf p(plain, plain + std::strlen(plain));
    EXPECT_EQ(base64_encode(p), coded);
    auto d = base64_decode(coded);
    ASSERT_TRUE(d) << coded;
    EXPECT_EQ(str(*d), plain);
  }
  Buf all(256);
  for (size_t i = 0; i < all.size(); ++i)
    all[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(*base64_decode(base64_encode(all)), all);
  EXPECT_EQ(str(*base64_decode("Zm9vYg")), "foob");  // padding is optional
  EXPECT_FALSE(base64_decode("Zm9v!"));
  EXPECT_FALSE(base64_decode("Z"));
  EXPECT_FALSE(base64_decode("Zg="));    // padding to a non-multiple of 4
  EXPECT_FALSE(base64_decode("Zm9=="));  // too much padding
  EXPECT_FALSE(base64_decode("Zm9v Yg=="));
  EXPECT_FALSE(base64_decode("Zm-_"));  // base64url is not what hang writes
}

// ---------------------------------------------------------------- KIXEL -> hang

const char* kKixelCatalog =
    R"({"tracks":[{"container":"mp4","kind":"video","init_track":"1.mp4","data_track":"1",)"
    R"("codec":"avc1.64001f","width":1280,"height":720,"frame_rate":30,"bit_rate":1500000},)"
    R"({"container":"mp4","kind":"audio","init_track":"1.mp4","data_track":"2","codec":"Opus",)"
    R"("channel_count":2,"sample_rate":48000,"sample_size":16,"bit_rate":128000}]})";

json hang_json(std::string_view kixel, const Buf& init) {
  auto text = hang_catalog_from_kixel(kixel, init);
  EXPECT_TRUE(text) << text.error().reason;
  return text ? json::parse(*text) : json();
}

TEST(HangCatalog, FromKixel) {
  const Buf init = av_init();
  const json j = hang_json(kKixelCatalog, init);
  const json& v = j["video"]["renditions"]["1"];
  EXPECT_EQ(v["codec"], "avc1.64001f");
  EXPECT_EQ(v["container"]["kind"], "cmaf");
  EXPECT_EQ(*base64_decode(v["container"]["init"].get<std::string>()), *single_track_init(init, 1));
  EXPECT_TRUE(v["codedWidth"].is_number_unsigned());
  EXPECT_EQ(v["codedWidth"], 1280);
  EXPECT_EQ(v["codedHeight"], 720);
  EXPECT_TRUE(v["framerate"].is_number_unsigned());  // whole: an integer
  EXPECT_EQ(v["framerate"], 30);
  EXPECT_EQ(v["bitrate"], 1500000);
  EXPECT_EQ(j["video"]["display"], json::parse(R"({"width":1280,"height":720})"));
  // The avcC payload in hex, as moq-cli writes it (its exporters take a
  // missing "description" for Annex B).
  EXPECT_EQ(v["description"], "0164001fffe000");

  const json& a = j["audio"]["renditions"]["2"];
  EXPECT_EQ(a["codec"], "opus");  // the WebCodecs spelling
  EXPECT_EQ(*base64_decode(a["container"]["init"].get<std::string>()), *single_track_init(init, 2));
  EXPECT_TRUE(a["sampleRate"].is_number_unsigned());
  EXPECT_EQ(a["sampleRate"], 48000);
  EXPECT_EQ(a["numberOfChannels"], 2);
  EXPECT_EQ(a["bitrate"], 128000);
  EXPECT_EQ(a.size(), 5u);  // codec, container, sampleRate, numberOfChannels, bitrate (Opus:
                            // no description)
  EXPECT_EQ(j.size(), 2u);
}

TEST(HangCatalog, MissingValuesComeFromTheInit) {
  const char* kixel =
      R"({"tracks":[{"container":"mp4","kind":"video","init_track":"1.mp4","data_track":"1",)"
      R"("codec":""},{"container":"mp4","kind":"audio","init_track":"1.mp4","data_track":"2",)"
      R"("codec":"opus"},{"container":"mp4","kind":"text","init_track":"1.mp4",)"
      R"("data_track":"9"}]})";
  const json j = hang_json(kixel, av_init());
  const json& v = j["video"]["renditions"]["1"];
  EXPECT_EQ(v["codec"], "avc1.64001f");
  EXPECT_EQ(v["codedWidth"], 320);
  EXPECT_EQ(v["codedHeight"], 240);
  EXPECT_FALSE(v.contains("framerate"));
  EXPECT_FALSE(v.contains("bitrate"));
  const json& a = j["audio"]["renditions"]["2"];
  EXPECT_EQ(a["sampleRate"], 48000);
  EXPECT_EQ(a["numberOfChannels"], 2);
  EXPECT_FALSE(a.contains("bitrate"));
}

TEST(HangCatalog, OneInitTrackPerTrack) {
  // moq-js style: an init track per track; data track names are not track_IDs.
  const Buf video = cat({ftyp(), box("moov", cat({mvhd(), video_trak()}))});
  const Buf audio = cat({ftyp(), box("moov", cat({mvhd(), audio_trak()}))});
  const char* kixel =
      R"({"tracks":[{"container":"mp4","kind":"video","init_track":"0.mp4","data_track":"0.m4s",)"
      R"("codec":"avc1.64001f"},{"container":"mp4","kind":"audio","init_track":"1.mp4",)"
      R"("data_track":"1.m4s","codec":"opus"}]})";
  auto text = hang_catalog_from_kixel(
      kixel, [&](std::string_view name) -> std::optional<std::span<const uint8_t>> {
        if (name == "0.mp4") return sp(video);
        if (name == "1.mp4") return sp(audio);
        return std::nullopt;
      });
  ASSERT_TRUE(text) << text.error().reason;
  const json j = json::parse(*text);
  EXPECT_EQ(j["video"]["renditions"]["0.m4s"]["codedWidth"], 320);
  EXPECT_EQ(j["audio"]["renditions"]["1.m4s"]["numberOfChannels"], 2);
}

TEST(HangCatalog, FromKixelErrors) {
  const Buf init = av_init();
  auto fails = [&](std::string_view kixel, const std::string& what) {
    auto r = hang_catalog_from_kixel(kixel, init);
    ASSERT_FALSE(r) << kixel;
    EXPECT_NE(r.error().reason.find(what), std::string::npos) << r.error().reason;
  };
  fails("{", "JSON");
  fails(R"({"tracks":[{"container":"mp4","kind":"video","init_track":"1.mp4",)"
        R"("data_track":"7","codec":"x"}]})",
        "no trak");
  fails(R"({"tracks":[{"container":"mp4","kind":"audio","init_track":"1.mp4",)"
        R"("data_track":"1","codec":"x"}]})",
        "is audio but its trak is video");
  EXPECT_FALSE(hang_catalog_from_kixel(kKixelCatalog, ftyp()));  // no moov
  auto unknown = hang_catalog_from_kixel(
      kKixelCatalog,
      [](std::string_view) -> std::optional<std::span<const uint8_t>> { return std::nullopt; });
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().reason.find("unknown init track '1.mp4'"), std::string::npos);
}

// ---------------------------------------------------------------- hang -> KIXEL

std::string hang_catalog_text(const Buf& video_init, const Buf& audio_init) {
  json j;
  j["video"]["renditions"]["cam"] = {
      {"codec", "avc1.64001f"},
      {"container", {{"kind", "cmaf"}, {"init", base64_encode(video_init)}}},
      {"codedWidth", 640},
      {"framerate", 29.97},
      {"bitrate", 900000},
      {"someFutureKey", {1, 2}}};
  j["video"]["renditions"]["screen"] = {{"codec", "vp09.00.10.08"},
                                        {"description", "0102"},
                                        {"codedWidth", "wide"},  // wrong type: ignored
                                        {"codedHeight", 1080}};  // no container: legacy
  j["video"]["renditions"]["loc"] = {{"codec", "av01.0.08M.08"}, {"container", {{"kind", "loc"}}}};
  j["video"]["display"] = {{"width", 640}, {"height", 240}};
  j["audio"]["renditions"]["mic"] = {
      {"codec", "Opus"}, {"container", {{"kind", "cmaf"}, {"init", base64_encode(audio_init)}}}};
  j["audio"]["renditions"]["hls"] = {{"codec", "mp4a.40.2"},
                                     {"container", {{"kind", "hls"}, {"x", 1}}},
                                     {"sampleRate", 44100.0},
                                     {"numberOfChannels", 1}};
  j["chat"] = {{"track", "chat.md"}};
  return j.dump();
}

TEST(KixelFromHang, CmafRenditionsBecomeKixelTracks) {
  // Multi-track inits: hang uses the first trak, so the KIXEL init keeps it alone.
  const Buf init = av_init();
  const Buf audio_first = cat({ftyp(), box("moov", cat({mvhd(), audio_trak(), video_trak()}))});
  auto r = kixel_from_hang_catalog(hang_catalog_text(init, audio_first));
  ASSERT_TRUE(r) << r.error().reason;

  ASSERT_EQ(r->catalog.tracks.size(), 2u);
  const CatalogTrack& v = r->catalog.tracks[0];
  EXPECT_EQ(v.kind, "video");
  EXPECT_EQ(v.data_track, "cam");
  EXPECT_EQ(v.init_track, "cam.mp4");
  EXPECT_EQ(v.container, "mp4");
  EXPECT_EQ(v.codec, "avc1.64001f");
  EXPECT_EQ(v.width, 640u);
  EXPECT_EQ(v.height, 240u);  // from the init
  EXPECT_EQ(v.frame_rate, 29.97);
  EXPECT_EQ(v.bit_rate, 900000u);
  const CatalogTrack& a = r->catalog.tracks[1];
  EXPECT_EQ(a.kind, "audio");
  EXPECT_EQ(a.data_track, "mic");
  EXPECT_EQ(a.codec, "opus");
  EXPECT_EQ(a.sample_rate, 48000u);
  EXPECT_EQ(a.channel_count, 2u);
  EXPECT_EQ(a.sample_size, 16u);
  EXPECT_FALSE(a.bit_rate);

  ASSERT_EQ(r->renditions.size(), 5u);
  auto rendition = [&](std::string_view name) -> const HangRendition& {
    for (const HangRendition& x : r->renditions) {
      if (x.name == name) return x;
    }
    ADD_FAILURE() << "no rendition " << name;
    return r->renditions[0];
  };
  const HangRendition& cam = rendition("cam");
  EXPECT_EQ(cam.container, HangContainer::kCmaf);
  EXPECT_EQ(cam.container_kind, "cmaf");
  EXPECT_EQ(cam.init, *single_track_init(init, 1));
  EXPECT_EQ(cam.track_id, 1u);
  EXPECT_EQ(cam.timescale, 15360u);
  EXPECT_EQ(cam.track, v);
  const HangRendition& screen = rendition("screen");
  EXPECT_EQ(screen.container, HangContainer::kLegacy);
  EXPECT_EQ(screen.container_kind, "legacy");
  EXPECT_EQ(screen.description, "0102");
  EXPECT_EQ(screen.track.codec, "vp09.00.10.08");
  EXPECT_FALSE(screen.track.width);
  EXPECT_EQ(screen.track.height, 1080u);
  EXPECT_TRUE(screen.init.empty());
  EXPECT_EQ(rendition("loc").container, HangContainer::kLoc);
  const HangRendition& mic = rendition("mic");
  EXPECT_EQ(mic.init, *single_track_init(audio_first, 2));
  EXPECT_EQ(mic.timescale, 48000u);
  const HangRendition& hls = rendition("hls");
  EXPECT_EQ(hls.container, HangContainer::kUnknown);
  EXPECT_EQ(hls.container_kind, "hls");
  EXPECT_EQ(hls.track.kind, "audio");
  EXPECT_EQ(hls.track.sample_rate, 44100u);  // 44100.0 is an integer to zod too
  EXPECT_EQ(hls.track.channel_count, 1u);
}

TEST(KixelFromHang, RoundTripThroughKixel) {
  const Buf init = av_init();
  auto hang = hang_catalog_from_kixel(kKixelCatalog, init);
  ASSERT_TRUE(hang);
  auto back = kixel_from_hang_catalog(*hang);
  ASSERT_TRUE(back) << back.error().reason;
  auto original = parse_catalog(kKixelCatalog);
  ASSERT_EQ(back->catalog.tracks.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    CatalogTrack want = original->tracks[i];
    want.init_track = want.data_track + ".mp4";  // an init track per rendition
    if (want.codec == "Opus") want.codec = "opus";
    EXPECT_EQ(back->catalog.tracks[i], want) << i;
    EXPECT_EQ(back->renditions[i].init, *single_track_init(init, uint32_t(i + 1)));
  }
  // And hang again from the per-rendition inits: the same catalog.
  auto again = hang_catalog_from_kixel(
      to_json(back->catalog),
      [&](std::string_view name) -> std::optional<std::span<const uint8_t>> {
        for (const HangRendition& r : back->renditions) {
          if (r.track.init_track == name) return sp(r.init);
        }
        return std::nullopt;
      });
  ASSERT_TRUE(again) << again.error().reason;
  EXPECT_EQ(*again, *hang);
}

TEST(KixelFromHang, Errors) {
  const std::string init = base64_encode(av_init());
  auto fails = [](const std::string& text, const std::string& what) {
    auto r = kixel_from_hang_catalog(text);
    ASSERT_FALSE(r) << text;
    EXPECT_NE(r.error().reason.find(what), std::string::npos) << r.error().reason;
  };
  fails("[", "not valid JSON");
  fails("[]", "not a JSON object");
  fails(R"({"video":[{"track":{"name":"v"},"config":{"codec":"avc1.64001f"}}]})",
        "pre-0.3 array of {track, config} form");
  fails(R"({"audio":{"track":{"name":"a"},"config":{"codec":"opus"}}})",
        "pre-0.3 {track, config} form");
  fails(R"({"video":{"display":{"width":1,"height":1}}})", "no \"renditions\" object");
  fails(R"({"video":{"renditions":{"v":1}}})", "is not an object");
  fails(R"({"video":{"renditions":{"v":{"codec":7}}}})", "no string \"codec\"");
  fails(R"({"video":{"renditions":{"v":{"codec":"x","container":{"kind":"cmaf"}}}}})",
        "cmaf container without string \"init\"");
  fails(R"({"video":{"renditions":{"v":{"codec":"x","container":{"kind":"cmaf","init":"*"}}}}})",
        "base64");
  fails(R"({"video":{"renditions":{"v":{"codec":"x","container":{"kind":"cmaf","init":"AAAA"}}}}})",
        "init segment");
  fails(R"({"audio":{"renditions":{"a":{"codec":"x","container":{"kind":"cmaf","init":")" + init +
            R"("}}}}})",
        "init's first trak is video");
  fails(R"({"video":{"renditions":{"v":{"codec":"x","container":"cmaf"}}}})",
        "\"container\" has no string \"kind\"");
  fails(R"({"audio":{"renditions":{"a":{"codec":"opus","sampleRate":48000}}}})",
        "needs integer \"sampleRate\" and \"numberOfChannels\"");
  fails(
      R"({"audio":{"renditions":{"a":{"codec":"opus","sampleRate":4.5e4,"numberOfChannels":-1}}}})",
      "needs integer");
  fails(R"({"video":{"renditions":{"a":{"codec":"x"}}},)"
        R"("audio":{"renditions":{"a":{"codec":"opus","sampleRate":1,"numberOfChannels":1}}}})",
        "track name 'a' is used twice");
  fails(R"({"video":{"renditions":{"x":{"codec":"x"},"x.mp4":{"codec":"x"}}}})",
        "'x.mp4' is used twice");
  fails(R"({"video":{"renditions":{".catalog":{"codec":"x"}}}})", "used twice");
  fails(R"({"video":{"renditions":{"v":{"codec":""}}}})", "empty codec");

  // Nothing but unknown sections: an empty KIXEL catalog.
  auto empty = kixel_from_hang_catalog(R"({"chat":{},"video":null})");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->catalog.tracks.empty());
}

// ---------------------------------------------------------------- splitter

struct Split {
  std::vector<HangFrame> frames;
  std::string error;
};

// Feeds `in` cut at `cuts` (ascending offsets), then finishes.
Split split(const Bytes& in, const std::vector<size_t>& cuts, uint32_t timescale = 15360,
            uint64_t max = kDefaultMaxBoxSize) {
  FragmentSplitter s(timescale, max);
  Split out;
  size_t pos = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(in.size());
  for (size_t end : ends) {
    if (auto r = s.feed(in.slice(pos, end - pos), out.frames); !r) {
      out.error = r.error().reason;
      return out;
    }
    pos = end;
  }
  if (auto r = s.finish(); !r) out.error = r.error().reason;
  return out;
}

std::string joined(const HangFrame& f) {
  std::string s;
  for (const Bytes& b : f.parts)
    s += b.view();
  return s;
}

// styp, then a keyframe fragment at 1000 ticks and a delta fragment at 1512
// (timescale 15360), the second with a 64-bit mdat size.
const Buf kFrag1 = cat({moof(1, 1000, {{512, 20, kKeyFlags}}, std::nullopt, kKeyFlags), mdat(20)});
const Buf kFrag2 = cat({moof(1, 1512, {{512, 30, kDeltaFlags}}), box64("mdat", Buf(30, 0xcd))});
const Buf kSegment = cat({box("styp", Buf{'m', 's', 'd', 'h', 0, 0, 0, 0}), kFrag1, kFrag2});

void expect_two_frames(const Split& s, const Bytes& in, const std::string& where) {
  ASSERT_EQ(s.error, "") << where;
  ASSERT_EQ(s.frames.size(), 2u) << where;
  EXPECT_EQ(joined(s.frames[0]), str(kFrag1)) << where;
  EXPECT_EQ(joined(s.frames[1]), str(kFrag2)) << where;
  EXPECT_EQ(s.frames[0].size, kFrag1.size()) << where;
  EXPECT_EQ(s.frames[1].size, kFrag2.size()) << where;
  EXPECT_EQ(s.frames[0].timestamp_us, 65104u) << where;  // 1000 / 15360 s, rounded down
  EXPECT_EQ(s.frames[1].timestamp_us, 98437u) << where;
  for (const HangFrame& f : s.frames) {
    for (const Bytes& b : f.parts)
      EXPECT_TRUE(b.shares_storage_with(in)) << where;  // slices, never copies
  }
}

TEST(HangSplitter, WholeSegmentGivesOneSlicePerFrame) {
  const Bytes in = bytes(kSegment);
  const Split s = split(in, {});
  expect_two_frames(s, in, "whole");
  EXPECT_EQ(s.frames[0].parts.size(), 1u);
  EXPECT_EQ(s.frames[1].parts.size(), 1u);
}

TEST(HangSplitter, EveryChunkBoundary) {
  const Bytes in = bytes(kSegment);
  for (size_t i = 0; i <= kSegment.size(); ++i) {
    expect_two_frames(split(in, {i}), in, "cut at " + std::to_string(i));
    for (size_t j = i; j <= kSegment.size(); j += 7) {
      expect_two_frames(split(in, {i, j}), in,
                        "cuts at " + std::to_string(i) + ", " + std::to_string(j));
    }
  }
  std::vector<size_t> every;
  for (size_t i = 1; i < kSegment.size(); ++i)
    every.push_back(i);
  expect_two_frames(split(in, every), in, "byte by byte");
}

TEST(HangSplitter, FramesArriveAsSoonAsComplete) {
  const Bytes in = bytes(kSegment);
  FragmentSplitter s(15360);
  std::vector<HangFrame> out;
  const size_t first_end = kSegment.size() - kFrag2.size();
  ASSERT_TRUE(s.feed(in.slice(0, first_end - 1), out));
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE(s.feed(in.slice(first_end - 1, 1), out));
  EXPECT_EQ(out.size(), 1u);
  ASSERT_TRUE(s.feed(in.slice(first_end), out));
  EXPECT_EQ(out.size(), 2u);
  EXPECT_TRUE(s.finish());
  EXPECT_EQ(s.frames(), 2u);
  EXPECT_EQ(s.skipped_boxes(), 1u);  // the styp
}

TEST(HangSplitter, NoTimescaleNoTimestamp) {
  const Split s = split(bytes(kSegment), {}, 0);
  ASSERT_EQ(s.frames.size(), 2u);
  EXPECT_FALSE(s.frames[0].timestamp_us);
  // A moof that does not parse still passes, without a timestamp.
  const Buf odd = cat({box("moof", zeros(3)), mdat(1)});
  const Split t = split(bytes(odd), {5});
  ASSERT_EQ(t.error, "");
  ASSERT_EQ(t.frames.size(), 1u);
  EXPECT_FALSE(t.frames[0].timestamp_us);
  EXPECT_EQ(joined(t.frames[0]), str(odd));
}

TEST(HangSplitter, Errors) {
  auto fails = [](const Buf& in, const std::string& what, uint64_t max = kDefaultMaxBoxSize) {
    for (size_t cut : {size_t(0), size_t(3), size_t(9), in.size() / 2}) {
      const Split s = split(bytes(in), {std::min(cut, in.size())}, 15360, max);
      EXPECT_NE(s.error.find(what), std::string::npos) << what << " / got: " << s.error;
    }
  };
  fails(cat({kFrag1, box("free", zeros(2))}), "unexpected box 'free'");
  fails(cat({kFrag1, Buf{0, 0, 0, 4, 'm', 'o', 'o', 'f'}}), "invalid size 4");
  fails(cat({kFrag1, box("mdat", zeros(300))}), "box 'mdat' size 308 exceeds the limit of 200",
        200);
  fails(mdat(4), "'mdat' without a preceding 'moof'");
  fails(cat({moof(1, 0, {{}}), moof(1, 0, {{}})}), "another 'moof'");
  fails(cat({moof(1, 0, {{}}), box("prft", zeros(4)), mdat(1)}),
        "'prft' between a 'moof' and its 'mdat'");
  fails(cat({kFrag1, box0("mdat", zeros(4))}), "size 0");
  fails(Buf(kFrag1.begin(), kFrag1.end() - 1), "ended inside box 'mdat' (1 bytes missing)");
  fails(moof(1, 0, {{}}), "ended between a 'moof' and its 'mdat'");
  fails(cat({kFrag1, Buf{0, 0, 0}}), "ended inside a box header");
  fails(cat({kFrag1, Buf{0, 0, 0, 1, 'm', 'd', 'a', 't', 0}}), "ended inside a box header");

  // Errors are final, and nothing comes after finish().
  FragmentSplitter s;
  std::vector<HangFrame> out;
  EXPECT_FALSE(s.feed(bytes(box("free", {})), out));
  EXPECT_FALSE(s.feed(bytes(kFrag1), out));
  EXPECT_TRUE(out.empty());
  FragmentSplitter done;
  ASSERT_TRUE(done.feed(bytes(kFrag1), out));
  ASSERT_TRUE(done.finish());
  EXPECT_FALSE(done.feed(bytes(kFrag2), out));
  // An empty segment is fine.
  EXPECT_TRUE(FragmentSplitter().finish());
}

// ---------------------------------------------------------------- real ffmpeg

std::vector<uint8_t> read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), {});
}

// H.264 + AAC as dev/pub makes it (same movflags), through the publisher's
// segmenter, then to hang: catalog values, single-track inits that parse and
// that ffprobe reads with a segment's frames, and frames that match the
// segmenter's fragments.
TEST(HangFfmpeg, H264AacThroughTheSegmenter) {
  if (std::system("ffmpeg -hide_banner -encoders 2>/dev/null | grep -q ' libx264 '") != 0) {
    GTEST_SKIP() << "no ffmpeg with libx264";
  }
  std::string tmpl = (std::filesystem::temp_directory_path() / "moq-hang-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const std::filesystem::path dir = tmpl;
  const std::string file = (dir / "av.mp4").string();
  const std::string cmd =
      "ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi -i testsrc=size=320x180:rate=30 "
      "-f lavfi -i sine=frequency=440:sample_rate=48000 -t 2 -threads 1 -pix_fmt yuv420p "
      "-c:v libx264 -preset veryfast -g 30 -c:a aac -ac 2 -b:a 96k -f mp4 "
      "-movflags empty_moov+frag_every_frame+separate_moof+omit_tfhd_offset " +
      file;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const std::vector<uint8_t> all = read_file(file);

  Mp4Ingest ingest;
  std::vector<SegmenterEvent> events;
  ASSERT_TRUE(ingest.feed(Bytes(std::vector<uint8_t>(all)), events));
  ASSERT_TRUE(ingest.finish(events));
  Bytes init;
  std::string kixel;
  // Per data track, per segment: the segmenter's fragments.
  std::map<std::string, std::vector<std::vector<const FragmentReady*>>> segments;
  for (const auto& e : events) {
    if (auto* i = std::get_if<InitSegment>(&e)) init = i->bytes;
    if (auto* c = std::get_if<CatalogReady>(&e)) kixel = c->json;  // the newest
    if (auto* f = std::get_if<FragmentReady>(&e)) {
      auto& track = segments[f->track];
      if (f->new_segment) track.emplace_back();
      track.back().push_back(f);
    }
  }
  ASSERT_FALSE(init.empty());
  auto text = hang_catalog_from_kixel(kixel, init.span());
  ASSERT_TRUE(text) << text.error().reason;
  const json hang = json::parse(*text);
  SCOPED_TRACE(*text);

  const json& v = hang["video"]["renditions"]["1"];
  EXPECT_EQ(v["codec"].get<std::string>().substr(0, 5), "avc1.");
  EXPECT_EQ(v["codec"].get<std::string>().size(), 11u);
  EXPECT_EQ(v["codedWidth"], 320);
  EXPECT_EQ(v["codedHeight"], 180);
  EXPECT_EQ(v["framerate"], 30);
  EXPECT_TRUE(v["bitrate"].is_number_unsigned());
  EXPECT_EQ(hang["video"]["display"], json::parse(R"({"width":320,"height":180})"));
  const json& a = hang["audio"]["renditions"]["2"];
  EXPECT_EQ(a["codec"], "mp4a.40.2");
  EXPECT_EQ(a["sampleRate"], 48000);
  EXPECT_EQ(a["numberOfChannels"], 2);

  const MovieInfo movie = *parse_init_segment(init.span());
  for (const auto& [track, rendition] : {std::pair{"1", v}, std::pair{"2", a}}) {
    const std::string name = track;
    auto single = base64_decode(rendition["container"]["init"].get<std::string>());
    ASSERT_TRUE(single);
    auto boxes = for_each_child(*single, [&](const BoxView& b) -> Result<void> {
      if (b.type != FourCC("moov")) return {};
      auto one = parse_moov(b.bytes);
      EXPECT_TRUE(one) << one.error().reason;
      if (!one) return {};
      EXPECT_EQ(one->tracks.size(), 1u);
      int traks = 0, trexs = 0;
      EXPECT_TRUE(for_each_child(b.payload, [&](const BoxView& c) -> Result<void> {
        traks += c.type == FourCC("trak");
        if (c.type == FourCC("mvex")) {
          return for_each_child(c.payload, [&](const BoxView& x) -> Result<void> {
            trexs += x.type == FourCC("trex");
            return {};
          });
        }
        return {};
      }));
      EXPECT_EQ(traks, 1);
      EXPECT_EQ(trexs, 1);
      const TrackInfo& t = one->tracks[0];
      EXPECT_EQ(std::to_string(t.id), name);
      EXPECT_EQ(t.codec, movie.find(t.id)->codec);
      EXPECT_EQ(t.timescale, movie.find(t.id)->timescale);
      return {};
    });
    ASSERT_TRUE(boxes);

    // Split every segment of the track in 1000-byte chunks: the frames are the
    // segmenter's fragments, with their decode times, the first a keyframe.
    const uint32_t timescale = movie.find(uint32_t(std::stoul(name)))->timescale;
    const auto& track_segments = segments[name];
    ASSERT_GE(track_segments.size(), 2u) << name;
    for (const auto& seg : track_segments) {
      std::vector<uint8_t> payload;
      for (const FragmentReady* f : seg) {
        payload.insert(payload.end(), f->moof.data(), f->moof.data() + f->moof.size());
        payload.insert(payload.end(), f->mdat.data(), f->mdat.data() + f->mdat.size());
      }
      const Bytes in(std::move(payload));
      std::vector<size_t> cuts;
      for (size_t c = 1000; c < in.size(); c += 1000)
        cuts.push_back(c);
      const Split s = split(in, cuts, timescale);
      ASSERT_EQ(s.error, "");
      ASSERT_EQ(s.frames.size(), seg.size());
      for (size_t i = 0; i < seg.size(); ++i) {
        EXPECT_EQ(joined(s.frames[i]),
                  std::string(seg[i]->moof.view()) + std::string(seg[i]->mdat.view()));
        ASSERT_TRUE(s.frames[i].timestamp_us);
        EXPECT_EQ(*s.frames[i].timestamp_us / 1000, seg[i]->decode_ms);
      }
      EXPECT_TRUE(seg[0]->info.first_is_keyframe);
    }

    // A real demuxer reads the single-track init followed by one segment.
    const std::string part = (dir / (name + ".mp4")).string();
    {
      std::ofstream out(part, std::ios::binary);
      out.write(reinterpret_cast<const char*>(single->data()), std::streamsize(single->size()));
      for (const FragmentReady* f : track_segments[0]) {
        out.write(reinterpret_cast<const char*>(f->moof.data()), std::streamsize(f->moof.size()));
        out.write(reinterpret_cast<const char*>(f->mdat.data()), std::streamsize(f->mdat.size()));
      }
    }
    const std::string probe = "ffprobe -v error -show_entries stream=codec_name -of csv=p=0 " +
                              part + " > " + part + ".txt";
    ASSERT_EQ(std::system(probe.c_str()), 0) << probe;
    const std::vector<uint8_t> streams = read_file(part + ".txt");
    EXPECT_EQ(std::string(streams.begin(), streams.end()), name == "1" ? "h264\n" : "aac\n");
  }

  // And back: the KIXEL catalog of the hang catalog matches the original.
  auto back = kixel_from_hang_catalog(*text);
  ASSERT_TRUE(back) << back.error().reason;
  const Catalog original = *parse_catalog(kixel);
  ASSERT_EQ(back->catalog.tracks.size(), original.tracks.size());
  for (size_t i = 0; i < original.tracks.size(); ++i) {
    CatalogTrack want = original.tracks[i];
    want.init_track = want.data_track + ".mp4";
    EXPECT_EQ(back->catalog.tracks[i], want) << i;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace moq::media
