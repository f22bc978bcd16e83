// moq-pub -> moq-relay -> moq-sub end to end, with real processes: the
// binaries from MOQ_BIN_DIR, ffmpeg making the input and ffprobe / ffmpeg
// checking the output. Everything runs on loopback with bounded durations.
//
// What "the same media" means here: moq-sub writes the init segment and then
// whole moof+mdat fragments in arrival order, so audio and video may
// interleave differently than in the input. The comparison is therefore per
// track: the init segment (ftyp+moov) must be byte-identical, and each
// track's sequence of moof+mdat fragments must be byte-identical and in the
// same order (which also proves every packet arrived exactly once).

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "pubsub/mp4_file.h"
#include "pubsub/process.h"

namespace moq::pubsub_test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kMovflags = "empty_moov+frag_every_frame+separate_moof+omit_tfhd_offset";

std::string bin(const std::string& name) {
  return std::string(MOQ_BIN_DIR) + "/" + name;
}

bool has_program(const std::string& name) {
  return std::system((name + " -hide_banner -version > /dev/null 2>&1").c_str()) == 0;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// "video,300\naudio,470" -> packet counts per codec type.
std::map<std::string, int> packet_counts(const std::string& path) {
  auto r = run_command(
      "ffprobe -v error -count_packets -show_entries stream=codec_type,nb_read_packets"
      " -of csv=p=0 " +
      path + " 2>&1");
  std::map<std::string, int> counts;
  for (const auto& line : lines(r.out)) {
    const auto comma = line.find(',');
    if (comma == std::string::npos) continue;
    counts[line.substr(0, comma)] = std::atoi(line.c_str() + comma + 1);
  }
  return counts;
}

// What `ffmpeg -v error` says while decoding the whole file (empty: clean).
// `map`: which streams, e.g. "0:a" (default: all).
std::string decode_errors(const std::string& path, const std::string& map = "") {
  const std::string maps = map.empty() ? "" : " -map " + map;
  return run_command("ffmpeg -hide_banner -nostdin -v error -i " + path + maps + " -f null - 2>&1")
      .out;
}

class PubSubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::signal(SIGPIPE, SIG_IGN);  // a publisher that died must not kill the test
    for (const char* name : {"moq-pub", "moq-sub", "moq-relay"}) {
      if (!fs::exists(bin(name))) GTEST_SKIP() << bin(name) << " not built";
    }
    if (!has_program("ffmpeg") || !has_program("ffprobe")) GTEST_SKIP() << "ffmpeg not installed";
    std::string tmpl = (fs::temp_directory_path() / "moq-pubsub-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }

  void TearDown() override {
    if (!dir_.empty() && !HasFailure()) fs::remove_all(dir_);
    if (HasFailure()) std::cerr << "test files kept in " << dir_ << "\n";
  }

  std::string path(const std::string& name) const { return (fs::path(dir_) / name).string(); }

  // 10 s of H.264 (320x240, GOP 30) + AAC as fragmented MP4.
  std::string make_input(const std::string& name = "in.mp4", int seconds = 10) {
    const std::string out = path(name);
    const std::string cmd =
        "ffmpeg -hide_banner -loglevel error -nostdin -y"
        " -f lavfi -i testsrc2=size=320x240:rate=30 -f lavfi -i "
        "sine=frequency=440:sample_rate=48000"
        " -t " +
        std::to_string(seconds) +
        " -c:v libx264 -preset veryfast -tune zerolatency -g 30 -pix_fmt yuv420p"
        " -c:a aac -b:a 64k -f mp4 -movflags " +
        kMovflags + " " + out + " 2>&1";
    auto r = run_command(cmd);
    EXPECT_EQ(r.status, 0) << r.out;
    return out;
  }

  struct Relay {
    Process process;
    int port = 0;
    std::string fingerprint;
    std::string url(const std::string& name) const {
      return "https://localhost:" + std::to_string(port) + "/" + name;
    }
  };

  // The real relay in development mode on a free port; its certificate's
  // fingerprint comes from the "fingerprint: HEX" line it prints.
  void start_relay(Relay& relay, std::vector<std::string> extra = {}) {
    relay.port = free_port();
    const std::string out = path("relay.out");
    std::vector<std::string> argv = {bin("moq-relay"), "--dev",
                                     "--listen",       "[::]:" + std::to_string(relay.port),
                                     "--log-level",    "warn"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    relay.process = Process(argv, {.stdout_path = out, .stderr_path = path("relay.err")});
    const auto deadline = Clock::now() + 10s;
    while (Clock::now() < deadline) {
      for (const auto& line : lines(read_file(out))) {
        if (line.rfind("fingerprint: ", 0) == 0) relay.fingerprint = line.substr(13);
      }
      if (!relay.fingerprint.empty()) break;
      ASSERT_TRUE(relay.process.running()) << read_file(path("relay.err"));
      std::this_thread::sleep_for(20ms);
    }
    ASSERT_FALSE(relay.fingerprint.empty()) << "relay printed no fingerprint";
  }

  Process start_pub(const Relay& relay, const std::string& name, std::vector<std::string> extra,
                    Process::Options options) {
    std::vector<std::string> argv = {bin("moq-pub"), relay.url(name), "--fingerprint",
                                     relay.fingerprint};
    argv.insert(argv.end(), extra.begin(), extra.end());
    if (options.stderr_path == "/dev/null") options.stderr_path = path("pub-" + name + ".err");
    return Process(argv, options);
  }

  // Waits for the publisher's "connected" log line (it runs with
  // --log-level info): from then on the relay knows the broadcast.
  bool wait_for_pub(const std::string& name, std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      if (read_file(path("pub-" + name + ".err")).find("connected to") != std::string::npos) {
        return true;
      }
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  Process start_sub(const Relay& relay, const std::string& name, const std::string& out,
                    std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {bin("moq-sub"), relay.url(name), "--fingerprint",
                                     relay.fingerprint};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return Process(argv, {.stdout_path = out, .stderr_path = out + ".err"});
  }

  // Waits until `file` holds at least `size` bytes.
  static bool wait_for_size(const std::string& file, size_t size, std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      std::error_code ec;
      if (fs::exists(file, ec) && fs::file_size(file, ec) >= size) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  // Writes the input to the publisher like a live encoder: the init segment,
  // then each fragment at its decode time divided by `speed`. `at` is called
  // before each fragment with the media time in ms.
  static void feed_live(Process& pub, const Mp4File& in, double speed,
                        const std::function<void(uint64_t)>& at = {}) {
    const auto start = Clock::now();
    for (const auto& f : in.fragments) {
      const auto due = start + std::chrono::microseconds(static_cast<int64_t>(
                                   static_cast<double>(f.decode_ms) * 1000 / speed));
      std::this_thread::sleep_until(due);
      if (at) at(f.decode_ms);
      ASSERT_TRUE(pub.write_stdin(f.bytes.data(), f.bytes.size())) << "the publisher went away";
    }
    pub.close_stdin();
  }

  // The init segment and each track's fragments must be byte-identical.
  static void expect_same_media(const Mp4File& in, const Mp4File& out) {
    ASSERT_TRUE(out.error.empty()) << out.error;
    EXPECT_EQ(in.init, out.init) << "init segment differs";
    const auto want = in.per_track();
    const auto got = out.per_track();
    ASSERT_EQ(want.size(), got.size());
    for (const auto& [track, fragments] : want) {
      ASSERT_TRUE(got.contains(track)) << "track " << track << " missing";
      const auto& out_fragments = got.at(track);
      ASSERT_EQ(fragments.size(), out_fragments.size()) << "fragments of track " << track;
      for (size_t i = 0; i < fragments.size(); ++i) {
        ASSERT_EQ(fragments[i], out_fragments[i]) << "track " << track << " fragment " << i;
      }
    }
  }

  std::string dir_;
};

// The whole path with one and with two subscribers joined before the media:
// every fragment arrives, byte for byte, and the file decodes cleanly.
class EndToEnd : public PubSubTest {
 public:
  // --protocol of the publisher and of the subscribers ("auto": moq-lite-05
  // with our relay).
  std::string pub_protocol = "auto";
  std::string sub_protocol = "auto";

  void run(int subscribers) {
    const std::string input = make_input();
    const Mp4File in = parse_mp4(read_file(input));
    ASSERT_TRUE(in.error.empty()) << in.error;
    ASSERT_GT(in.fragments.size(), 300u);

    Relay relay;
    ASSERT_NO_FATAL_FAILURE(start_relay(relay));
    // --fps/--bitrate given: the catalog goes out with the moov, so the
    // subscribers are in place before the first fragment.
    Process pub = start_pub(
        relay, "e2e",
        {"--fps", "30", "--bitrate", "500000", "--log-level", "info", "--protocol", pub_protocol},
        {.stdin_pipe = true});
    ASSERT_TRUE(pub.write_stdin(in.init.data(), in.init.size()));
    ASSERT_TRUE(wait_for_pub("e2e", 10s)) << read_file(path("pub-e2e.err"));

    std::vector<Process> subs;
    for (int i = 0; i < subscribers; ++i) {
      const std::string out = path("out" + std::to_string(i) + ".mp4");
      subs.push_back(start_sub(relay, "e2e", out, {"--protocol", sub_protocol}));
      ASSERT_TRUE(wait_for_size(out, in.init.size(), 15s))
          << "no init segment from subscriber " << i << ": " << read_file(out + ".err");
    }
    // With two: also an audio-only subscriber (--track 2), and one asking
    // for a track the catalog doesn't have.
    const std::string audio_out = path("audio.mp4");
    std::optional<Process> audio_sub;
    if (subscribers == 2) {
      audio_sub.emplace(start_sub(relay, "e2e", audio_out, {"--track", "2"}));
      ASSERT_TRUE(wait_for_size(audio_out, in.init.size(), 15s)) << read_file(audio_out + ".err");
      Process wrong = start_sub(relay, "e2e", path("wrong.mp4"), {"--track", "9"});
      EXPECT_EQ(wrong.wait(10s), std::optional<int>(4));
      EXPECT_NE(read_file(path("wrong.mp4.err")).find("'9' is not in the catalog"),
                std::string::npos)
          << read_file(path("wrong.mp4.err"));
    }
    // The init segment came back: the data SUBSCRIBEs went out with it.
    std::this_thread::sleep_for(300ms);
    ASSERT_NO_FATAL_FAILURE(feed_live(pub, in, 2.0));

    EXPECT_EQ(pub.wait(20s), std::optional<int>(0)) << read_file(path("pub-e2e.err"));
    for (int i = 0; i < subscribers; ++i) {
      const std::string out = path("out" + std::to_string(i) + ".mp4");
      EXPECT_EQ(subs[i].wait(20s), std::optional<int>(0)) << read_file(out + ".err");
      expect_same_media(in, parse_mp4(read_file(out)));
      EXPECT_EQ(packet_counts(input), packet_counts(out));
      EXPECT_EQ(decode_errors(out), "");
    }
    const auto counts = packet_counts(input);
    EXPECT_EQ(counts.at("video"), 300);
    EXPECT_GT(counts.at("audio"), 400);
    if (audio_sub) {
      EXPECT_EQ(audio_sub->wait(20s), std::optional<int>(0)) << read_file(audio_out + ".err");
      const Mp4File audio = parse_mp4(read_file(audio_out));
      ASSERT_TRUE(audio.error.empty()) << audio.error;
      EXPECT_EQ(audio.init, in.init);
      const auto got = audio.per_track();
      ASSERT_EQ(got.size(), 1u);
      EXPECT_TRUE(got.contains(2) && got.at(2) == in.per_track().at(2));
      auto audio_counts = packet_counts(audio_out);
      EXPECT_EQ(audio_counts["audio"], counts.at("audio"));
      EXPECT_EQ(audio_counts["video"], 0);
      // The moov still declares the video track (it has no samples here).
      EXPECT_EQ(decode_errors(audio_out, "0:a"), "");
    }
  }
};

TEST_F(EndToEnd, OneSubscriberGetsEveryFragmentByteForByte) {
  run(1);
}

TEST_F(EndToEnd, TwoSubscribersGetTheSameMedia) {
  run(2);
}

// Issue 12: one cache for every dialect. The byte-for-byte check above holds
// whichever dialect each side speaks.
TEST_F(EndToEnd, Kixel00BothSides) {
  pub_protocol = sub_protocol = "kixel-00";
  run(1);
}

TEST_F(EndToEnd, Kixel00PublisherMoqLite03Subscriber) {
  pub_protocol = "kixel-00";
  sub_protocol = "moq-lite-03";
  run(1);
}

TEST_F(EndToEnd, MoqLite04PublisherKixel00Subscriber) {
  pub_protocol = "moq-lite-04";
  sub_protocol = "kixel-00";
  run(1);
}

TEST_F(EndToEnd, MoqTransport14BothSides) {
  pub_protocol = sub_protocol = "moq-transport-14";
  run(1);
}

TEST_F(EndToEnd, Kixel00PublisherMoqTransport14Subscriber) {
  pub_protocol = "kixel-00";
  sub_protocol = "moq-transport-14";
  run(1);
}

TEST_F(EndToEnd, MoqTransport14PublisherMoqLite05Subscriber) {
  pub_protocol = "moq-transport-14";
  sub_protocol = "moq-lite-05";
  run(1);
}

// A subscriber that joins after ~3 s of media starts at a keyframe near the
// live edge and decodes cleanly; the catalog was detected from the input.
TEST_F(PubSubTest, LateSubscriberStartsAtAKeyframe) {
  const std::string input = make_input();
  const Mp4File in = parse_mp4(read_file(input));
  ASSERT_TRUE(in.error.empty()) << in.error;
  Relay relay;
  ASSERT_NO_FATAL_FAILURE(start_relay(relay));
  Process pub = start_pub(relay, "late", {"--log-level", "info"}, {.stdin_pipe = true});
  ASSERT_TRUE(pub.write_stdin(in.init.data(), in.init.size()));
  ASSERT_TRUE(wait_for_pub("late", 10s)) << read_file(path("pub-late.err"));

  const std::string out = path("late.mp4");
  const std::string catalog = path("catalog.json");
  const std::string from_start = path("from-start.mp4");
  std::optional<Process> sub, catalog_sub, from_start_sub;
  ASSERT_NO_FATAL_FAILURE(feed_live(pub, in, 2.0, [&](uint64_t ms) {
    if (ms >= 3000 && !sub) {
      sub.emplace(start_sub(relay, "late", out));
      catalog_sub.emplace(start_sub(relay, "late", catalog, {"--catalog"}));
      from_start_sub.emplace(start_sub(relay, "late", from_start, {"--from-start"}));
    }
  }));
  ASSERT_TRUE(sub);
  EXPECT_EQ(pub.wait(20s), std::optional<int>(0)) << read_file(path("pub-late.err"));
  EXPECT_EQ(sub->wait(20s), std::optional<int>(0)) << read_file(out + ".err");
  EXPECT_EQ(from_start_sub->wait(20s), std::optional<int>(0)) << read_file(from_start + ".err");

  // --from-start: every input fragment from the first (still cached: the
  // segments expire after 10 s), and it decodes.
  const Mp4File all = parse_mp4(read_file(from_start));
  ASSERT_TRUE(all.error.empty()) << all.error;
  EXPECT_EQ(all.per_track(), in.per_track());
  EXPECT_EQ(decode_errors(from_start), "");
  EXPECT_EQ(catalog_sub->wait(5s), std::optional<int>(0)) << read_file(catalog + ".err");

  // The catalog: one video and one audio entry with detected values.
  auto json = nlohmann::json::parse(read_file(catalog), nullptr, false);
  ASSERT_FALSE(json.is_discarded()) << read_file(catalog);
  ASSERT_EQ(json["tracks"].size(), 2u) << json.dump();
  const auto& video = json["tracks"][0];
  EXPECT_EQ(video["kind"], "video");
  EXPECT_EQ(video["init_track"], "1.mp4");
  EXPECT_EQ(video["data_track"], "1");
  EXPECT_EQ(video["codec"].get<std::string>().rfind("avc1.", 0), 0u);
  EXPECT_EQ(video["width"], 320);
  EXPECT_EQ(video["height"], 240);
  EXPECT_NEAR(video["frame_rate"].get<double>(), 30, 1.0);
  EXPECT_GT(video["bit_rate"].get<double>(), 10000);
  const auto& audio = json["tracks"][1];
  EXPECT_EQ(audio["kind"], "audio");
  EXPECT_EQ(audio["codec"], "mp4a.40.2");
  EXPECT_EQ(audio["sample_rate"], 48000);

  // The output: same init, and per track an in-order run of input fragments
  // that starts with a keyframe after the join.
  const Mp4File got = parse_mp4(read_file(out));
  ASSERT_TRUE(got.error.empty()) << got.error;
  EXPECT_EQ(got.init, in.init);
  ASSERT_FALSE(got.fragments.empty());
  const auto want = in.per_track();
  for (const auto& [track, fragments] : got.per_track()) {
    const auto& source = want.at(track);
    size_t at = 0;
    for (size_t i = 0; i < fragments.size(); ++i) {
      while (at < source.size() && source[at] != fragments[i])
        ++at;
      ASSERT_LT(at, source.size())
          << "track " << track << " fragment " << i << " is not an input fragment in order";
      if (i == 0) {
        EXPECT_GT(at, 0u) << "track " << track << " started at the very beginning";
      }
      ++at;
    }
  }
  for (const auto& f : got.fragments) {
    if (f.track_id != 1) continue;
    EXPECT_TRUE(f.keyframe) << "the first video fragment is not a keyframe";
    EXPECT_GE(f.decode_ms, 2000u);
    break;
  }
  auto counts = packet_counts(out);
  EXPECT_GT(counts["video"], 0);
  EXPECT_LT(counts["video"], 300);
  EXPECT_EQ(decode_errors(out), "");
}

// Issue 9: a publisher killed mid-stream (no goodbye: the relay notices at its
// idle timeout) ends its tracks cleanly at the relay; the subscriber has
// every whole fragment that arrived, ends cleanly and exits 0.
TEST_F(PubSubTest, SubscriberExitsZeroWhenThePublisherIsKilled) {
  const std::string input = make_input("killed.mp4", 8);
  const Mp4File in = parse_mp4(read_file(input));
  ASSERT_TRUE(in.error.empty()) << in.error;
  Relay relay;
  ASSERT_NO_FATAL_FAILURE(start_relay(relay, {"--idle-timeout", "2"}));
  Process pub =
      start_pub(relay, "killed", {"--fps", "30", "--bitrate", "500000", "--log-level", "info"},
                {.stdin_pipe = true});
  ASSERT_TRUE(pub.write_stdin(in.init.data(), in.init.size()));
  ASSERT_TRUE(wait_for_pub("killed", 10s)) << read_file(path("pub-killed.err"));
  const std::string out = path("killed-out.mp4");
  std::optional<Process> sub;
  const auto start = Clock::now();
  for (const auto& f : in.fragments) {
    std::this_thread::sleep_until(start + std::chrono::milliseconds(f.decode_ms));
    if (!sub && f.decode_ms >= 500) sub.emplace(start_sub(relay, "killed", out));
    if (f.decode_ms >= 3000) break;
    ASSERT_TRUE(pub.write_stdin(f.bytes.data(), f.bytes.size()));
  }
  std::this_thread::sleep_for(300ms);  // the last fragments reach the subscriber
  ASSERT_EQ(pub.stop(SIGKILL, 1s), std::optional<int>(128 + SIGKILL));
  ASSERT_TRUE(sub);
  EXPECT_EQ(sub->wait(15s), std::optional<int>(0)) << read_file(out + ".err");
  const Mp4File got = parse_mp4(read_file(out));
  ASSERT_TRUE(got.error.empty()) << got.error;
  EXPECT_EQ(got.init, in.init);
  EXPECT_GT(got.fragments.size(), 30u);
  EXPECT_EQ(decode_errors(out), "");
}

// stdin may be a regular file; the publisher exits 0 at its end, and then
// the broadcast is gone (404 for a new subscriber once the relay's
// --publisher-wait for a new publisher passed).
TEST_F(PubSubTest, PublishFromFileThenBroadcastIsGone) {
  const std::string input = make_input("short.mp4", 2);
  Relay relay;
  ASSERT_NO_FATAL_FAILURE(start_relay(relay, {"--publisher-wait", "1"}));
  Process pub = start_pub(relay, "file", {}, {.stdin_path = input});
  EXPECT_EQ(pub.wait(20s), std::optional<int>(0)) << read_file(path("pub-file.err"));

  const std::string out = path("gone.mp4");
  Process sub = start_sub(relay, "file", out);
  EXPECT_EQ(sub.wait(15s), std::optional<int>(4)) << read_file(out + ".err");
  EXPECT_NE(read_file(out + ".err").find("not found"), std::string::npos)
      << read_file(out + ".err");
  EXPECT_EQ(read_file(out), "");
}

// A reader of stdout that goes away ends moq-sub quietly, with status 0.
TEST_F(PubSubTest, SubscriberStopsQuietlyWhenStdoutCloses) {
  const std::string input = make_input("short.mp4", 4);
  const Mp4File in = parse_mp4(read_file(input));
  Relay relay;
  ASSERT_NO_FATAL_FAILURE(start_relay(relay));
  Process pub =
      start_pub(relay, "pipe", {"--fps", "30", "--bitrate", "500000", "--log-level", "info"},
                {.stdin_pipe = true});
  ASSERT_TRUE(pub.write_stdin(in.init.data(), in.init.size()));
  ASSERT_TRUE(wait_for_pub("pipe", 10s)) << read_file(path("pub-pipe.err"));
  std::thread feeder;
  const std::string cmd = "bash -c '" + bin("moq-sub") + " " + relay.url("pipe") +
                          " --fingerprint " + relay.fingerprint + " 2>" + path("pipe.err") +
                          " | head -c 20000 > /dev/null; echo ${PIPESTATUS[0]}'";
  feeder = std::thread([&] { feed_live(pub, in, 2.0); });
  auto r = run_command(cmd);
  feeder.join();
  EXPECT_EQ(r.out, "0\n") << read_file(path("pipe.err"));
  EXPECT_EQ(read_file(path("pipe.err")), "");
  EXPECT_EQ(pub.wait(20s), std::optional<int>(0));
}

// ---- errors ----

struct BadInput {
  const char* name;
  const char* message;  // part of the one line on stderr
};

void PrintTo(const BadInput& input, std::ostream* os) {
  *os << input.name;
}

class BadInputTest : public PubSubTest, public ::testing::WithParamInterface<BadInput> {};

// Builds each kind of bad input from a real ffmpeg stream.
std::string bad_input(const std::string& kind, const Mp4File& in) {
  const std::string& first = in.fragments.at(0).bytes;
  const auto moov = in.init.find("moov") - 4;
  const std::string ftyp = in.init.substr(0, moov);
  const auto mdat = first.find("mdat") - 4;
  if (kind == "not_mp4") return "this is plain text, certainly not an MP4 stream\n";
  if (kind == "truncated") return in.init + first.substr(0, first.size() / 2);
  if (kind == "mdat_without_moof") return in.init + first.substr(mdat);
  if (kind == "missing_moov") return ftyp + first;
  if (kind == "box_too_small") return in.init + std::string("\0\0\0\4moof", 8);
  if (kind == "unknown_track") {
    std::string patched = first;
    const auto tfhd = patched.find("tfhd");
    patched[tfhd + 11] = 7;  // last byte of track_ID (after version+flags)
    return in.init + patched;
  }
  return {};
}

TEST_P(BadInputTest, ExitsWithStatusOneAndOneLine) {
  const std::string input = make_input("good.mp4", 1);
  const Mp4File in = parse_mp4(read_file(input));
  ASSERT_TRUE(in.error.empty());
  const std::string bad = path("bad.mp4");
  write_file(bad, bad_input(GetParam().name, in));
  // No relay needed: bad input ends the program before any connection does.
  const std::string err = path("bad.err");
  Process pub({bin("moq-pub"), "https://localhost:" + std::to_string(free_port()) + "/bad",
               "--connect-timeout", "20"},
              {.stdin_path = bad, .stderr_path = err});
  EXPECT_EQ(pub.wait(5s), std::optional<int>(1)) << read_file(err);
  const auto stderr_lines = lines(read_file(err));
  ASSERT_EQ(stderr_lines.size(), 1u) << read_file(err);
  EXPECT_NE(stderr_lines[0].find(GetParam().message), std::string::npos) << stderr_lines[0];
  EXPECT_EQ(stderr_lines[0].rfind("moq-pub: ", 0), 0u) << stderr_lines[0];
}

INSTANTIATE_TEST_SUITE_P(Publisher, BadInputTest,
                         ::testing::Values(BadInput{"not_mp4", "not an MP4 stream"},
                                           BadInput{"truncated", "truncated box 'mdat'"},
                                           BadInput{"mdat_without_moof",
                                                    "'mdat' without a preceding 'moof'"},
                                           BadInput{"missing_moov", "'moof' before 'moov'"},
                                           BadInput{"box_too_small", "size 4"},
                                           BadInput{"unknown_track", "unknown track 7"}),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST_F(PubSubTest, PublisherGivesUpOnAnUnreachableRelay) {
  const std::string input = make_input("short.mp4", 1);
  const std::string err = path("pub.err");
  const auto start = Clock::now();
  Process pub({bin("moq-pub"), "https://localhost:" + std::to_string(free_port()) + "/x",
               "--connect-timeout", "2"},
              {.stdin_path = input, .stderr_path = err});
  EXPECT_EQ(pub.wait(10s), std::optional<int>(3)) << read_file(err);
  EXPECT_LT(Clock::now() - start, 8s);
  EXPECT_NE(read_file(err).find("connect"), std::string::npos) << read_file(err);
}

TEST_F(PubSubTest, SubscriberGivesUpOnAnUnreachableRelay) {
  const std::string err = path("sub.err");
  const auto start = Clock::now();
  Process sub({bin("moq-sub"), "https://localhost:" + std::to_string(free_port()) + "/x",
               "--connect-timeout", "2"},
              {.stdout_path = path("sub.mp4"), .stderr_path = err});
  EXPECT_EQ(sub.wait(10s), std::optional<int>(3)) << read_file(err);
  EXPECT_LT(Clock::now() - start, 8s);
  EXPECT_NE(read_file(err).find("connect"), std::string::npos) << read_file(err);
}

TEST_F(PubSubTest, NonHttpsUrlIsAUsageError) {
  for (const char* program : {"moq-pub", "moq-sub"}) {
    const std::string err = path(std::string(program) + ".err");
    Process p({bin(program), "http://localhost:4443/name"}, {.stderr_path = err});
    EXPECT_EQ(p.wait(5s), std::optional<int>(2)) << program;
    EXPECT_NE(read_file(err).find("https://"), std::string::npos) << read_file(err);
  }
}

// The relay going away mid-stream ends the publisher with an error.
TEST_F(PubSubTest, PublisherFailsWhenTheRelayGoesAway) {
  const std::string input = make_input("short.mp4", 4);
  const Mp4File in = parse_mp4(read_file(input));
  Relay relay;
  ASSERT_NO_FATAL_FAILURE(start_relay(relay));
  Process pub = start_pub(relay, "away", {}, {.stdin_pipe = true});
  ASSERT_TRUE(pub.write_stdin(in.init.data(), in.init.size()));
  std::this_thread::sleep_for(500ms);
  relay.process.stop(SIGKILL, 2s);
  // Keep the input flowing; QUIC notices the silent relay by its idle timeout.
  const auto start = Clock::now();
  std::optional<int> status;
  for (size_t i = 0; !status && Clock::now() - start < 20s; ++i) {
    const auto& f = in.fragments[i % in.fragments.size()];
    if (i < in.fragments.size()) (void)pub.write_stdin(f.bytes.data(), f.bytes.size());
    status = pub.wait(50ms);
  }
  ASSERT_TRUE(status) << "still running 20 s after the relay died";
  EXPECT_NE(*status, 0);
  EXPECT_NE(read_file(path("pub-away.err")).find("relay"), std::string::npos)
      << read_file(path("pub-away.err"));
}

}  // namespace
}  // namespace moq::pubsub_test

namespace moq::pubsub_test {
namespace {

// Issue 12: moq-sub (moq-lite by default) started before the publisher is
// held by the relay (--publisher-wait) and gets the whole broadcast once it
// starts, as a KIXEL_00 viewer is.
TEST_F(PubSubTest, SubscriberBeforeThePublisherGetsTheWholeBroadcast) {
  const std::string input = make_input("early.mp4", 6);
  const Mp4File in = parse_mp4(read_file(input));
  ASSERT_TRUE(in.error.empty()) << in.error;
  Relay relay;
  ASSERT_NO_FATAL_FAILURE(start_relay(relay));
  const std::string out = path("early-out.mp4");
  Process sub = start_sub(relay, "early", out, {"--log-level", "info"});
  std::this_thread::sleep_for(1s);
  Process pub =
      start_pub(relay, "early", {"--fps", "30", "--log-level", "info"}, {.stdin_pipe = true});
  ASSERT_TRUE(pub.write_stdin(in.init.data(), in.init.size()));
  ASSERT_TRUE(wait_for_pub("early", 10s)) << read_file(path("pub-early.err"));
  ASSERT_NO_FATAL_FAILURE(feed_live(pub, in, 2.0));
  EXPECT_EQ(pub.wait(20s), std::optional<int>(0)) << read_file(path("pub-early.err"));
  EXPECT_EQ(sub.wait(20s), std::optional<int>(0)) << read_file(out + ".err");
  EXPECT_NE(read_file(out + ".err").find("(moq-lite-05)"), std::string::npos)
      << read_file(out + ".err");
  EXPECT_EQ(packet_counts(out), packet_counts(input));
  EXPECT_EQ(decode_errors(out), "");
}

}  // namespace
}  // namespace moq::pubsub_test
