// Real encoder output: ffmpeg makes small fragmented MP4 files in a temp dir
// (the movflags moq-pub documents), and the parsers must agree with ffprobe.
// Encoders missing from this ffmpeg build are skipped, not failed.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <regex>
#include <string>

#include <nlohmann/json.hpp>

#include "media/fmp4_writer.h"
#include "media/segmenter.h"

namespace moq::media {
namespace {

namespace fs = std::filesystem;

const char* kFrag = " -f mp4 -movflags empty_moov+frag_every_frame+separate_moof+omit_tfhd_offset ";
const char* kVideoIn = " -f lavfi -i testsrc=size=160x120:rate=30 ";
const char* kAudioIn = " -f lavfi -i sine=frequency=440:sample_rate=48000 ";

std::string capture(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0)
    out.append(buf, n);
  pclose(p);
  return out;
}

bool has_ffmpeg() {
  return std::system("ffmpeg -hide_banner -version > /dev/null 2>&1") == 0;
}

bool has_encoder(const std::string& name) {
  const std::string list = capture("ffmpeg -hide_banner -encoders 2>/dev/null");
  return list.find(" " + name + " ") != std::string::npos;
}

class FfmpegTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!has_ffmpeg()) GTEST_SKIP() << "ffmpeg not installed";
    std::string tmpl = (fs::temp_directory_path() / "moq-media-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Runs ffmpeg with `args` writing `name` in the temp dir; returns the path.
  std::string make(const std::string& name, const std::string& args) {
    const std::string path = (fs::path(dir_) / name).string();
    const std::string cmd =
        "ffmpeg -hide_banner -loglevel error -nostdin -y " + args + kFrag + path + " 2>&1";
    const std::string log = capture(cmd);
    EXPECT_TRUE(fs::exists(path) && fs::file_size(path) > 0) << cmd << "\n" << log;
    return path;
  }

  static std::string probe(const std::string& path, const std::string& entries,
                           const std::string& stream = "v") {
    std::string out = capture("ffprobe -v error -select_streams " + stream + " -show_entries " +
                              entries + " -of csv=p=0 " + path);
    while (!out.empty() && (out.back() == '\n' || out.back() == ','))
      out.pop_back();
    return out;
  }

  struct Ingested {
    std::vector<SegmenterEvent> events;
    std::string error;
    MovieInfo movie;
  };

  // Feeds the file in 4 KiB chunks, as a pipe would deliver it.
  static Ingested ingest(const std::string& path, SegmenterOptions opt = {}) {
    std::ifstream in(path, std::ios::binary);
    std::vector<uint8_t> all((std::istreambuf_iterator<char>(in)), {});
    Mp4Ingest ingest(std::move(opt));
    Ingested out;
    for (size_t pos = 0; pos < all.size(); pos += 4096) {
      const size_t n = std::min<size_t>(4096, all.size() - pos);
      auto r = ingest.feed(Bytes::copy(std::span<const uint8_t>(all.data() + pos, n)), out.events);
      if (!r) {
        out.error = r.error().reason;
        return out;
      }
    }
    if (auto r = ingest.finish(out.events); !r) out.error = r.error().reason;
    if (ingest.segmenter().movie()) out.movie = *ingest.segmenter().movie();
    return out;
  }

  static const TrackInfo* track(const Ingested& in, TrackKind kind) {
    for (const TrackInfo& t : in.movie.tracks) {
      if (t.kind == kind) return &t;
    }
    return nullptr;
  }

  std::string dir_;
};

std::string hex2(int v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02x", v);
  return buf;
}

TEST_F(FfmpegTest, H264ProfilesGiveAvc1Strings) {
  if (!has_encoder("libx264")) GTEST_SKIP() << "no libx264";
  const std::pair<const char*, const char*> profiles[] = {
      {"high", "64"}, {"main", "4d"}, {"baseline", "42"}};
  for (auto [profile, idc] : profiles) {
    const std::string path =
        make(std::string("h264-") + profile + ".mp4",
             std::string(kVideoIn) + "-t 1 -threads 1 -pix_fmt yuv420p -c:v libx264 -profile:v " +
                 profile);
    Ingested in = ingest(path);
    ASSERT_EQ(in.error, "") << profile;
    const TrackInfo* v = track(in, TrackKind::kVideo);
    ASSERT_NE(v, nullptr);
    const int level = std::stoi(probe(path, "stream=level"));
    EXPECT_EQ(v->codec.substr(0, 7), std::string("avc1.") + idc) << v->codec;
    EXPECT_EQ(v->codec.size(), 11u) << v->codec;
    EXPECT_EQ(v->codec.substr(9), hex2(level)) << v->codec;
    EXPECT_EQ(v->width, 160);
    EXPECT_EQ(v->height, 120);
  }
}

TEST_F(FfmpegTest, AacLc) {
  const std::string path = make("aac.mp4", std::string(kAudioIn) + "-t 1 -ac 2 -c:a aac -b:a 64k");
  Ingested in = ingest(path);
  ASSERT_EQ(in.error, "");
  const TrackInfo* a = track(in, TrackKind::kAudio);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->codec, "mp4a.40.2");
  EXPECT_EQ(a->channel_count, 2);
  EXPECT_EQ(a->sample_rate, 48000u);
  EXPECT_EQ(a->sample_size, 16);
}

// AAC frames (1024 samples, 21.3 ms at 48 kHz) are all keyframes: grouped
// into segments of about 200 ms instead of one segment (one QUIC stream per
// viewer) per frame.
TEST_F(FfmpegTest, AudioFramesAreGroupedIntoSegmentsOfAbout200Ms) {
  const std::string path = make("aac2s.mp4", std::string(kAudioIn) + "-t 2 -ac 1 -c:a aac");
  auto audio_segments = [&](uint64_t segment_ms, size_t& fragments) {
    SegmenterOptions opt;
    opt.audio_segment_ms = segment_ms;
    Ingested in = ingest(path, opt);
    EXPECT_EQ(in.error, "");
    std::vector<uint64_t> starts;  // decode ms of each segment's first fragment
    fragments = 0;
    for (const auto& e : in.events) {
      const auto* f = std::get_if<FragmentReady>(&e);
      if (!f) continue;
      ++fragments;
      if (f->new_segment) {
        EXPECT_EQ(f->sequence, starts.size());
        starts.push_back(f->decode_ms);
      }
    }
    return starts;
  };
  size_t fragments = 0;
  const auto grouped = audio_segments(200, fragments);
  EXPECT_GE(fragments, 90u);  // 2 s of 21.3 ms frames
  ASSERT_GE(grouped.size(), 9u);
  EXPECT_LE(grouped.size(), 11u);
  for (size_t i = 1; i < grouped.size(); ++i) {
    EXPECT_GE(grouped[i] - grouped[i - 1], 200u) << i;
    EXPECT_LT(grouped[i] - grouped[i - 1], 200u + 22u) << i;  // within one frame of 200 ms
  }
  // 0: the old behaviour, a segment per frame.
  size_t fragments_ungrouped = 0;
  EXPECT_EQ(audio_segments(0, fragments_ungrouped).size(), fragments_ungrouped);
}

TEST_F(FfmpegTest, Opus) {
  if (!has_encoder("libopus")) GTEST_SKIP() << "no libopus";
  const std::string path = make("opus.mp4", std::string(kAudioIn) + "-t 1 -ac 2 -c:a libopus");
  Ingested in = ingest(path);
  ASSERT_EQ(in.error, "");
  const TrackInfo* a = track(in, TrackKind::kAudio);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->codec, "opus");
  EXPECT_EQ(a->channel_count, 2);
  EXPECT_EQ(a->sample_rate, 48000u);
}

TEST_F(FfmpegTest, Hevc) {
  if (!has_encoder("libx265")) GTEST_SKIP() << "no libx265";
  for (const std::string tag : {"hev1", "hvc1"}) {
    const std::string path =
        make(tag + ".mp4", std::string(kVideoIn) +
                               "-t 1 -pix_fmt yuv420p -c:v libx265 -x265-params "
                               "log-level=error:pools=1:frame-threads=1 -tag:v " +
                               tag);
    Ingested in = ingest(path);
    ASSERT_EQ(in.error, "");
    const TrackInfo* v = track(in, TrackKind::kVideo);
    ASSERT_NE(v, nullptr);
    const std::string level = probe(path, "stream=level");
    // Main profile (1), compatible with Main and Main 10 (0x6), main tier.
    EXPECT_EQ(v->codec.rfind(tag + ".1.6.L" + level, 0), 0u) << v->codec << " level " << level;
    EXPECT_TRUE(std::regex_match(v->codec, std::regex(tag + R"(\.1\.6\.L\d+(\.[0-9A-F]{2})*)")))
        << v->codec;
  }
}

TEST_F(FfmpegTest, Av1) {
  std::string args;
  if (has_encoder("libsvtav1")) {
    args = "-c:v libsvtav1 -preset 12";
  } else if (has_encoder("libaom-av1")) {
    args = "-c:v libaom-av1 -cpu-used 8 -row-mt 1";
  } else {
    GTEST_SKIP() << "no AV1 encoder";
  }
  const std::string path =
      make("av1.mp4", std::string(kVideoIn) + "-t 1 -pix_fmt yuv420p -threads 1 " + args);
  Ingested in = ingest(path);
  ASSERT_EQ(in.error, "");
  const TrackInfo* v = track(in, TrackKind::kVideo);
  ASSERT_NE(v, nullptr);
  EXPECT_TRUE(std::regex_match(v->codec, std::regex(R"(av01\.0\.\d\d[MH]\.08)"))) << v->codec;
}

// Keyframes every 30 frames: the segmenter must see exactly the frames that
// ffprobe flags as keyframes, and start a segment at each.
TEST_F(FfmpegTest, KeyframesStartSegments) {
  if (!has_encoder("libx264")) GTEST_SKIP() << "no libx264";
  const std::string path =
      make("gop.mp4", std::string(kVideoIn) +
                          "-t 2 -threads 1 -pix_fmt yuv420p -c:v libx264 -g 30 -sc_threshold 0");
  Ingested in = ingest(path);
  ASSERT_EQ(in.error, "");
  std::string ours;
  std::vector<uint64_t> segment_starts;
  for (const auto& e : in.events) {
    if (auto* f = std::get_if<FragmentReady>(&e)) {
      ours += f->info.first_is_keyframe ? "K" : "_";
      EXPECT_EQ(f->info.sample_count, 1u);  // frag_every_frame
      if (f->new_segment) segment_starts.push_back(f->decode_ms);
    }
  }
  // ffprobe prints one "K_" or "__" line per packet.
  std::string theirs;
  const std::string lines = probe(path, "packet=flags");
  size_t start = 0;
  while (start <= lines.size()) {
    size_t end = lines.find('\n', start);
    if (end == std::string::npos) end = lines.size();
    if (end > start) theirs += lines[start] == 'K' ? "K" : "_";
    start = end + 1;
  }
  ASSERT_EQ(ours.size(), 60u);
  EXPECT_EQ(ours, theirs);
  EXPECT_EQ(ours, "K" + std::string(29, '_') + "K" + std::string(29, '_'));
  EXPECT_EQ(segment_starts, (std::vector<uint64_t>{0, 1000}));
}

TEST_F(FfmpegTest, CatalogForVideoAndAudio) {
  if (!has_encoder("libx264")) GTEST_SKIP() << "no libx264";
  const std::string path =
      make("av.mp4", std::string(kVideoIn) + kAudioIn +
                         "-t 2 -threads 1 -pix_fmt yuv420p -c:v libx264 -g 15 -sc_threshold 0 "
                         "-c:a aac -ac 1");
  Ingested in = ingest(path);
  ASSERT_EQ(in.error, "");
  // A provisional catalog before any fragment; the measured one (newest)
  // after about a second of media.
  const CatalogReady* cat = nullptr;
  size_t fragments_before = 0;
  size_t fragments_before_first = SIZE_MAX;
  for (const auto& e : in.events) {
    if (auto* c = std::get_if<CatalogReady>(&e)) {
      cat = c;
      fragments_before_first = std::min(fragments_before_first, fragments_before);
    }
    if (std::holds_alternative<FragmentReady>(e) && (!cat || cat->provisional)) ++fragments_before;
  }
  ASSERT_NE(cat, nullptr);
  EXPECT_EQ(fragments_before_first, 0u);
  EXPECT_FALSE(cat->provisional);
  EXPECT_GT(fragments_before, 30u);  // measured over about a second
  const auto j = nlohmann::json::parse(cat->json);
  ASSERT_EQ(j["tracks"].size(), 2u);
  const auto& v = j["tracks"][0];
  const auto& a = j["tracks"][1];
  std::vector<std::string> keys;
  for (auto it = v.begin(); it != v.end(); ++it)
    keys.push_back(it.key());
  // nlohmann::json sorts keys; check the set, the order is tested on the string.
  EXPECT_EQ(keys,
            (std::vector<std::string>{"bit_rate", "codec", "container", "data_track", "frame_rate",
                                      "height", "init_track", "kind", "width"}));
  EXPECT_EQ(cat->json.rfind(R"({"tracks":[{"container":"mp4","kind":"video","init_track":"1.mp4",)"
                            R"("data_track":"1","codec":"avc1.)",
                            0),
            0u)
      << cat->json;
  EXPECT_EQ(v["frame_rate"], 30);
  EXPECT_GT(v["bit_rate"].get<uint64_t>(), 10000u);
  EXPECT_EQ(v["width"], 160);
  EXPECT_EQ(a["kind"], "audio");
  EXPECT_EQ(a["data_track"], "2");
  EXPECT_EQ(a["codec"], "mp4a.40.2");
  EXPECT_EQ(a["channel_count"], 1);
  EXPECT_EQ(a["sample_rate"], 48000);
  EXPECT_EQ(a["sample_size"], 16);

  // Audio frames are all sync samples, grouped into segments of ~200 ms.
  size_t audio_fragments = 0, audio_segments = 0;
  for (const auto& e : in.events) {
    if (auto* f = std::get_if<FragmentReady>(&e); f && f->track == "2") {
      EXPECT_TRUE(f->info.first_is_keyframe);
      ++audio_fragments;
      audio_segments += f->new_segment ? 1 : 0;
    }
  }
  EXPECT_GE(audio_fragments, 90u);
  EXPECT_LE(audio_segments, 11u);
}

// Publisher segments -> subscriber writer (chunks split at random, tracks
// interleaved) -> a file that ffmpeg decodes completely.
TEST_F(FfmpegTest, SubscriberWriterOutputPlays) {
  if (!has_encoder("libx264")) GTEST_SKIP() << "no libx264";
  const std::string path =
      make("pub.mp4", std::string(kVideoIn) + kAudioIn +
                          "-t 2 -threads 1 -pix_fmt yuv420p -c:v libx264 -g 30 -c:a aac");
  Ingested in = ingest(path);
  ASSERT_EQ(in.error, "");

  Fmp4Writer writer;
  std::vector<Bytes> out;
  std::mt19937 rng(7);
  std::map<std::string, uint64_t> open;  // track -> open segment
  for (const auto& e : in.events) {
    if (auto* init = std::get_if<InitSegment>(&e)) {
      ASSERT_TRUE(writer.init(init->bytes, out));
    }
    auto* f = std::get_if<FragmentReady>(&e);
    if (!f) continue;
    if (f->new_segment) {
      if (open.count(f->track)) {
        ASSERT_TRUE(writer.end(f->track, open[f->track]));
      }
      open[f->track] = f->sequence;
    }
    for (const Bytes& part : {f->moof, f->mdat}) {
      for (size_t pos = 0; pos < part.size();) {
        const size_t n = 1 + rng() % 300;
        ASSERT_TRUE(writer.data(f->track, f->sequence, part.slice(pos, n), out));
        pos += n;
      }
    }
  }
  for (const auto& [track, seq] : open)
    ASSERT_TRUE(writer.end(track, seq));
  EXPECT_EQ(writer.fragments_dropped(), 0u);

  const std::string sub = (fs::path(dir_) / "sub.mp4").string();
  {
    std::ofstream o(sub, std::ios::binary);
    for (const Bytes& b : out)
      o.write(reinterpret_cast<const char*>(b.data()), long(b.size()));
  }
  EXPECT_EQ(probe(sub, "stream=nb_read_frames -count_frames", "v"), "60");
  EXPECT_EQ(capture("ffmpeg -hide_banner -nostdin -v error -i " + sub + " -f null - 2>&1"), "");
}

}  // namespace
}  // namespace moq::media
