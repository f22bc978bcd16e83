// ffmpeg -> moq-pub -> relay A -> relay B -> 5 x moq-sub: every subscriber on
// B writes the publisher's fragments (moof+mdat) byte for byte, through one
// upstream session; when moq-pub ends, the registration goes and every
// moq-sub exits 0.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "cluster/cluster_fixture.h"

namespace moq::cluster_test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A file split into its top-level boxes: the init (everything before the
// first moof) and the moof+mdat fragments.
struct Fragmented {
  std::string init;
  std::vector<std::string> fragments;
  bool ok = false;
};

Fragmented split(const std::string& bytes) {
  Fragmented out;
  size_t at = 0;
  std::string pending;
  while (at + 8 <= bytes.size()) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + at);
    const uint64_t size =
        (uint64_t{p[0]} << 24) | (uint64_t{p[1]} << 16) | (uint64_t{p[2]} << 8) | uint64_t{p[3]};
    const std::string type = bytes.substr(at + 4, 4);
    if (size < 8 || at + size > bytes.size()) return out;
    const std::string box = bytes.substr(at, size);
    if (type == "moof") {
      pending = box;
    } else if (type == "mdat" && !pending.empty()) {
      out.fragments.push_back(pending + box);
      pending.clear();
    } else if (out.fragments.empty() && pending.empty()) {
      out.init += box;
    }
    at += size;
  }
  out.ok = at == bytes.size() && !out.init.empty();
  return out;
}

bool has_program(const std::string& path) {
  return ::access(path.c_str(), X_OK) == 0;
}

// Writes everything to a non-blocking fd, giving up at `deadline`.
bool write_all(int fd, const std::string& bytes, Clock::time_point deadline) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
    } else if (Clock::now() > deadline) {
      return false;
    } else {
      std::this_thread::sleep_for(5ms);
    }
  }
  return true;
}

TEST_F(ClusterTest, FfmpegToMoqPubOnAFiveMoqSubsOnBByteIdentical) {
  const std::string bin = MOQ_BIN_DIR;
  if (!has_program(bin + "/moq-pub") || !has_program(bin + "/moq-sub") ||
      !has_program("/usr/bin/ffmpeg")) {
    GTEST_SKIP() << "needs moq-pub, moq-sub and ffmpeg";
  }
  // 3 s of video, a keyframe every 15 frames: 6 segments, 90 fragments.
  const std::string input = (dir_ / "input.mp4").string();
  const auto made = test::run_command(
      "ffmpeg -hide_banner -loglevel error -f lavfi -i testsrc=size=160x120:rate=30 -t 3 "
      "-c:v libx264 -preset ultrafast -g 15 -pix_fmt yuv420p -f mp4 -movflags "
      "empty_moov+frag_every_frame+separate_moof+omit_tfhd_offset " +
      input + " 2>&1");
  ASSERT_EQ(made.status, 0) << made.out;
  const Fragmented in = split(test::read_file(input));
  ASSERT_TRUE(in.ok);
  ASSERT_EQ(in.fragments.size(), 90u);

  // moq-pub reads a FIFO the test writes: the init first, the fragments once
  // every subscriber on B is in place.
  const std::string fifo = (dir_ / "pub.fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int fd = ::open(fifo.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  test::Child::Options pub_options;
  pub_options.stderr_path = (dir_ / "pub.err").string();
  test::Child pub(
      {"/bin/sh", "-c",
       "exec '" + bin + "/moq-pub' '" + a_.url("tv") + "' --tls-root '" + cert_.string() +
           "' --fps 30 --bitrate 100000 --log-level info < '" + fifo + "'"},
      pub_options);
  ASSERT_TRUE(write_all(fd, in.init, Clock::now() + 10s));
  ASSERT_TRUE(wait_for([&] { return origin_exists("tv"); }, 10s))
      << test::read_file(dir_ / "pub.err");

  std::vector<test::Child> subs;
  for (int i = 0; i < 5; ++i) {
    const std::string out = (dir_ / ("sub" + std::to_string(i) + ".mp4")).string();
    test::Child::Options options;
    options.stdout_path = out;
    options.stderr_path = out + ".err";
    subs.emplace_back(std::vector<std::string>{bin + "/moq-sub", b_.url("tv"), "--tls-root",
                                               cert_.string(), "--log-level", "info"},
                      options);
    ASSERT_TRUE(wait_for([&] { return test::read_file(out).size() >= in.init.size(); }, 15s))
        << "no init segment from subscriber " << i << ": " << test::read_file(out + ".err");
  }
  // The init came back: the data SUBSCRIBEs went out with it.
  std::this_thread::sleep_for(300ms);
  // Live pace (twice real time): a burst of a whole file is not live media,
  // and a relay may skip segments a subscriber can't take in time.
  for (const auto& fragment : in.fragments) {
    ASSERT_TRUE(write_all(fd, fragment, Clock::now() + 10s));
    std::this_thread::sleep_for(16ms);
  }
  ::close(fd);  // end of input: moq-pub finishes and exits 0

  auto exit_code = [](test::Child& child, std::chrono::seconds limit) -> std::optional<int> {
    const auto deadline = Clock::now() + limit;
    while (child.running() && Clock::now() < deadline)
      std::this_thread::sleep_for(20ms);
    auto status = child.stop(SIGKILL, 1s);
    if (!status || !WIFEXITED(*status)) return std::nullopt;
    return WEXITSTATUS(*status);
  };
  EXPECT_EQ(exit_code(pub, 20s), std::optional<int>(0)) << test::read_file(dir_ / "pub.err");
  for (int i = 0; i < 5; ++i) {
    const std::string out = (dir_ / ("sub" + std::to_string(i) + ".mp4")).string();
    EXPECT_EQ(exit_code(subs[i], 15s), std::optional<int>(0)) << test::read_file(out + ".err");
    const Fragmented got = split(test::read_file(out));
    EXPECT_TRUE(got.ok) << "subscriber " << i;
    EXPECT_EQ(got.fragments.size(), in.fragments.size()) << "subscriber " << i;
    EXPECT_TRUE(got.fragments == in.fragments) << "subscriber " << i << ": fragments differ";
  }
  // One upstream session from B to A for all five.
  // One upstream session from B, in moq-lite (relays speak it to each other).
  EXPECT_EQ(a_.count_log_lines({"session start", "path '/tv'", "protocol moq-lite-05"}), 1u);
  EXPECT_TRUE(wait_for([&] { return !origin_exists("tv"); }, 5s));
}

}  // namespace
}  // namespace moq::cluster_test
