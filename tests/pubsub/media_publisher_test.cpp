// moq-pub's MediaPublisher in-process: what the broadcast holds after a real
// ffmpeg stream went in (the publishing conventions of moq-transport.md), and
// how requests for tracks are answered.

#include "media_publisher.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cache/broadcast.h"
#include "pubsub/mp4_file.h"
#include "pubsub/process.h"

namespace moq::pubsub_test {
namespace {

namespace fs = std::filesystem;

struct Segment {
  cache::SegmentInfo info;
  std::vector<Bytes> chunks;
  std::optional<Error> end;
};

// Every segment the track holds now, by sequence, with its chunks.
std::map<uint64_t, Segment> drain(cache::TrackReader& track, std::optional<Error>* end = nullptr) {
  std::map<uint64_t, Segment> out;
  for (;;) {
    auto next = track.try_next_segment();
    if (!next) {
      if (end) *end = next.error();
      break;
    }
    if (!*next) break;
    Segment s{(*next)->info(), {}, std::nullopt};
    for (;;) {
      auto chunk = (*next)->try_next_chunk();
      if (!chunk) {
        s.end = chunk.error();
        break;
      }
      if (!*chunk) break;
      s.chunks.push_back(**chunk);
    }
    out.emplace(s.info.sequence, std::move(s));
  }
  return out;
}

class MediaPublisherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("ffmpeg -hide_banner -version > /dev/null 2>&1") != 0) {
      GTEST_SKIP() << "ffmpeg not installed";
    }
    std::string tmpl = (fs::temp_directory_path() / "moq-mediapub-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    const std::string file = dir_ + "/in.mp4";
    auto r = run_command(
        "ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi -i testsrc2=size=160x120:rate=30"
        " -f lavfi -i sine=frequency=440:sample_rate=48000 -t 3 -c:v libx264 -preset veryfast"
        " -tune zerolatency -g 30 -pix_fmt yuv420p -c:a aac -f mp4 -movflags"
        " empty_moov+frag_every_frame+separate_moof+omit_tfhd_offset " +
        file + " 2>&1");
    ASSERT_EQ(r.status, 0) << r.out;
    bytes_ = read_file(file);
    in_ = parse_mp4(bytes_);
    ASSERT_TRUE(in_.error.empty()) << in_.error;
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Feeds the file in uneven chunks, as a pipe would deliver it.
  Result<void> feed_all(pub::MediaPublisher& pub) {
    size_t at = 0;
    size_t step = 1000;
    while (at < bytes_.size()) {
      const size_t n = std::min(step, bytes_.size() - at);
      auto r = pub.feed(Bytes::copy(std::string_view(bytes_).substr(at, n)));
      if (!r) return r;
      at += n;
      step = step * 3 % 70000 + 1;
    }
    return pub.finish();
  }

  std::string dir_;
  std::string bytes_;
  Mp4File in_;
};

TEST_F(MediaPublisherTest, FillsCatalogInitAndDataTracksAsTheSpecSays) {
  asio::io_context io;
  auto [writer, reader] = cache::make_broadcast();
  pub::MediaPublisher pub(std::move(writer), {});
  asio::co_spawn(io, pub.serve_requests(), asio::detached);

  // Asked for before the moov: a data track waits for it, the catalog and
  // init tracks exist from the start.
  auto early_data = reader.request_track("2");
  auto early_unknown = reader.request_track("7");
  auto catalog = reader.request_track(".catalog");
  auto init = reader.request_track("1.mp4");
  ASSERT_TRUE(early_data && early_unknown && catalog && init);
  io.poll();
  EXPECT_FALSE(early_data->closed());
  EXPECT_FALSE(early_unknown->closed());

  ASSERT_TRUE(pub.feed(Bytes::copy(std::string_view(in_.init))));
  io.poll();
  // After the moov every data track is known (no request to answer).
  auto video = reader.request_track("1");
  ASSERT_TRUE(video);
  EXPECT_FALSE(video->closed());
  // The rest of the file (the init again would be a duplicate: skip it).
  bytes_ = bytes_.substr(in_.init.size());
  ASSERT_TRUE(feed_all(pub));
  io.poll();
  // The broadcast is over: no new tracks.
  EXPECT_FALSE(reader.request_track("1"));

  // .catalog: a provisional segment 0 right after the moov (so viewers can
  // start at once), then the measured one, segment 1; neither expires, and
  // the newer outranks the older for viewers that join later.
  std::optional<Error> end;
  auto catalog_segments = drain(*catalog, &end);
  ASSERT_EQ(catalog_segments.size(), 2u);
  EXPECT_EQ(catalog_segments.at(0).info.priority, std::numeric_limits<int32_t>::max() - 1);
  EXPECT_TRUE(catalog_segments.at(0).info.never_expires());
  const Segment& c = catalog_segments.at(1);
  EXPECT_EQ(c.info.priority, std::numeric_limits<int32_t>::max());
  EXPECT_TRUE(c.info.never_expires());
  std::string json;
  for (const auto& chunk : c.chunks)
    json += chunk.view();
  auto parsed = nlohmann::json::parse(json, nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << json;
  ASSERT_EQ(parsed["tracks"].size(), 2u);
  EXPECT_EQ(parsed["tracks"][0]["data_track"], "1");
  EXPECT_EQ(parsed["tracks"][1]["data_track"], "2");
  ASSERT_TRUE(end);
  EXPECT_TRUE(end->is_closed()) << end->reason;

  // 1.mp4: ftyp+moov, same rules.
  auto init_segments = drain(*init, &end);
  ASSERT_EQ(init_segments.size(), 1u);
  const Segment& i = init_segments.at(0);
  EXPECT_EQ(i.info.priority, std::numeric_limits<int32_t>::max());
  EXPECT_TRUE(i.info.never_expires());
  std::string init_bytes;
  for (const auto& chunk : i.chunks)
    init_bytes += chunk.view();
  EXPECT_EQ(init_bytes, in_.init);

  // Data tracks: a segment per keyframe fragment (audio: about 200 ms of
  // frames, each starting at a sync sample),
  // sequence from 0, priority = decode time in ms, 10 s expiry, chunks =
  // moof and mdat of each fragment in order.
  const auto per_track = in_.per_track();
  for (auto [name, reader_ptr] : {std::pair{1u, &*video}, std::pair{2u, &*early_data}}) {
    auto segments = drain(*reader_ptr, &end);
    ASSERT_TRUE(end);
    EXPECT_TRUE(end->is_closed()) << end->reason;
    std::vector<const Mp4File::Fragment*> fragments;
    for (const auto& f : in_.fragments) {
      if (f.track_id == name) fragments.push_back(&f);
    }
    size_t next = 0;
    uint64_t expected_sequence = 0;
    for (const auto& [sequence, s] : segments) {
      EXPECT_EQ(sequence, expected_sequence++) << "track " << name;
      ASSERT_LT(next, fragments.size());
      EXPECT_TRUE(fragments[next]->keyframe) << "track " << name << " segment " << sequence;
      EXPECT_EQ(s.info.priority, static_cast<int32_t>(fragments[next]->decode_ms));
      ASSERT_TRUE(s.info.expires);
      EXPECT_EQ(*s.info.expires, std::chrono::seconds(10));
      ASSERT_TRUE(s.end && s.end->is_closed());
      ASSERT_EQ(s.chunks.size() % 2, 0u);
      for (size_t k = 0; k < s.chunks.size(); k += 2) {
        ASSERT_LT(next, fragments.size());
        EXPECT_EQ(std::string(s.chunks[k].view()) + std::string(s.chunks[k + 1].view()),
                  fragments[next]->bytes);
        ++next;
      }
    }
    EXPECT_EQ(next, fragments.size()) << "track " << name;
  }
  EXPECT_EQ(pub.stats().fragments, in_.fragments.size());

  // The parked request for an unknown name got 404 once the moov was known.
  drain(*early_unknown, &end);
  ASSERT_TRUE(end);
  EXPECT_EQ(end->code, code::kNotFound);
}

TEST_F(MediaPublisherTest, AnswersUnknownTracksWith404) {
  asio::io_context io;
  auto [writer, reader] = cache::make_broadcast();
  pub::MediaPublisher pub(std::move(writer), {});
  asio::co_spawn(io, pub.serve_requests(), asio::detached);
  // Only the init segment so far: the broadcast is live.
  ASSERT_TRUE(pub.feed(Bytes::copy(std::string_view(in_.init))));
  io.poll();
  auto unknown = reader.request_track("nope");
  ASSERT_TRUE(unknown);
  io.poll();
  std::optional<Error> end;
  drain(*unknown, &end);
  ASSERT_TRUE(end);
  EXPECT_EQ(end->code, code::kNotFound);
  // Known tracks are not affected.
  auto audio = reader.request_track("2");
  ASSERT_TRUE(audio);
  io.poll();
  EXPECT_FALSE(audio->closed());
}

TEST_F(MediaPublisherTest, BadInputEndsEveryTrackWithTheError) {
  asio::io_context io;
  auto [writer, reader] = cache::make_broadcast();
  pub::MediaPublisher pub(std::move(writer), {});
  ASSERT_TRUE(pub.feed(Bytes::copy(std::string_view(in_.init))));
  auto video = reader.request_track("1");
  ASSERT_TRUE(video);
  auto fed = pub.feed(Bytes::copy(std::string_view("\0\0\0\x10mdatgarbagegarb", 16)));
  ASSERT_FALSE(fed);
  EXPECT_NE(fed.error().reason.find("mdat"), std::string::npos) << fed.error().reason;
  pub.abort(fed.error());
  std::optional<Error> end;
  drain(*video, &end);
  ASSERT_TRUE(end);
  EXPECT_FALSE(end->is_closed());
}

}  // namespace
}  // namespace moq::pubsub_test
