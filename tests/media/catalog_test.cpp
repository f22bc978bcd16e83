// Catalog JSON: the spec's shape and key order, and parsing what a relay sends.

#include "media/catalog.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace moq::media {
namespace {

Catalog sample() {
  Catalog c;
  CatalogTrack v;
  v.kind = "video";
  v.init_track = "1.mp4";
  v.data_track = "1";
  v.codec = "avc1.64001f";
  v.width = 1280;
  v.height = 720;
  v.frame_rate = 24;
  v.bit_rate = 1500000;
  CatalogTrack a;
  a.kind = "audio";
  a.init_track = "1.mp4";
  a.data_track = "2";
  a.codec = "mp4a.40.2";
  a.channel_count = 2;
  a.sample_rate = 48000;
  a.sample_size = 16;
  c.tracks = {v, a};
  return c;
}

TEST(Catalog, MatchesTheSpecExample) {
  Catalog c = sample();
  c.tracks.pop_back();
  // moq-transport.md "Publishing conventions", byte for byte (minus spaces).
  EXPECT_EQ(to_json(c), R"({"tracks":[{"container":"mp4","kind":"video","init_track":"1.mp4",)"
                        R"("data_track":"1","codec":"avc1.64001f","width":1280,"height":720,)"
                        R"("frame_rate":24,"bit_rate":1500000}]})");
}

TEST(Catalog, AudioEntryAndFractionalFrameRate) {
  Catalog c = sample();
  c.tracks[0].frame_rate = 29.97;
  const auto j = nlohmann::json::parse(to_json(c));
  EXPECT_DOUBLE_EQ(j["tracks"][0]["frame_rate"].get<double>(), 29.97);
  const auto& a = j["tracks"][1];
  EXPECT_EQ(a["kind"], "audio");
  EXPECT_EQ(a["codec"], "mp4a.40.2");
  EXPECT_EQ(a["channel_count"], 2);
  EXPECT_EQ(a["sample_rate"], 48000);
  EXPECT_EQ(a["sample_size"], 16);
  EXPECT_FALSE(a.contains("bit_rate"));
  EXPECT_FALSE(a.contains("width"));
}

TEST(Catalog, RoundTrip) {
  const Catalog c = sample();
  auto parsed = parse_catalog(to_json(c));
  ASSERT_TRUE(parsed) << parsed.error().reason;
  EXPECT_EQ(*parsed, c);
}

TEST(Catalog, ParseErrors) {
  EXPECT_EQ(parse_catalog("{").error().reason, "catalog: not valid JSON");
  EXPECT_EQ(parse_catalog("[]").error().reason, "catalog: not a JSON object");
  EXPECT_EQ(parse_catalog("{}").error().reason, "catalog: missing \"tracks\" array");
  EXPECT_EQ(parse_catalog(R"({"tracks":[1]})").error().reason, "catalog: track is not an object");
  EXPECT_EQ(parse_catalog(R"({"tracks":[{"kind":"video","container":"mp4","init_track":"1.mp4"}]})")
                .error()
                .reason,
            "catalog: track without string \"data_track\"");
  // Wrong-typed optional numbers are ignored, not fatal.
  auto odd = parse_catalog(
      R"({"tracks":[{"kind":"video","container":"mp4","init_track":"1.mp4","data_track":"1",)"
      R"("width":-5,"height":"big","extra":{}}]})");
  ASSERT_TRUE(odd);
  EXPECT_FALSE(odd->tracks[0].width);
  EXPECT_FALSE(odd->tracks[0].height);
}

}  // namespace
}  // namespace moq::media
