#include "h3/frame.h"

#include <gtest/gtest.h>

#include "h3/error.h"
#include "h3/stream_type.h"

namespace moq::h3 {
namespace {

struct Seen {
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> frames;  // DATA chunks joined
  std::optional<uint64_t> error;
};

// Feeds `wire` in the given pieces and collects whole frames.
Seen feed(const std::vector<uint8_t>& wire, size_t split, size_t cap = kDefaultMaxFramePayload) {
  FrameReader r(cap);
  Seen seen;
  std::vector<uint8_t> data;
  bool in_data = false;
  auto piece = [&](std::span<const uint8_t> in) {
    while (true) {
      FrameEvent ev = r.next(in);
      if (ev.kind == FrameEvent::Kind::kNeedMore) return;
      if (ev.kind == FrameEvent::Kind::kError) {
        seen.error = ev.error_code;
        return;
      }
      if (ev.kind == FrameEvent::Kind::kData) {
        in_data = true;
        data.insert(data.end(), ev.payload.begin(), ev.payload.end());
        if (ev.end) {
          seen.frames.emplace_back(frame_type::kData, std::move(data));
          data.clear();
          in_data = false;
        }
        continue;
      }
      seen.frames.emplace_back(ev.type, std::vector<uint8_t>(ev.payload.begin(), ev.payload.end()));
    }
  };
  std::span<const uint8_t> all(wire);
  piece(all.first(split));
  if (!seen.error) piece(all.subspan(split));
  EXPECT_FALSE(in_data);
  return seen;
}

std::vector<uint8_t> sample_wire() {
  std::vector<uint8_t> w;
  const std::vector<uint8_t> headers = {0x00, 0x00, 0xd1, 0xd7};
  write_frame(frame_type::kHeaders, headers, w);
  // A GREASE frame and an unknown frame, both skipped.
  const std::vector<uint8_t> junk(300, 0xaa);
  write_frame(0x21 + 0x1f * 7, junk, w);
  write_frame(0x12345, std::vector<uint8_t>{1, 2, 3}, w);
  write_frame(frame_type::kData, std::vector<uint8_t>{}, w);
  const std::vector<uint8_t> body(200, 0x42);  // 2-byte length varint
  write_frame(frame_type::kData, body, w);
  write_frame(frame_type::kGoaway, std::vector<uint8_t>{0x04}, w);
  return w;
}

TEST(FrameReader, WholeInput) {
  auto seen = feed(sample_wire(), sample_wire().size());
  ASSERT_FALSE(seen.error);
  ASSERT_EQ(seen.frames.size(), 4u);
  EXPECT_EQ(seen.frames[0].first, frame_type::kHeaders);
  EXPECT_EQ(seen.frames[0].second, (std::vector<uint8_t>{0x00, 0x00, 0xd1, 0xd7}));
  EXPECT_EQ(seen.frames[1].first, frame_type::kData);
  EXPECT_TRUE(seen.frames[1].second.empty());
  EXPECT_EQ(seen.frames[2].second, std::vector<uint8_t>(200, 0x42));
  EXPECT_EQ(seen.frames[3].first, frame_type::kGoaway);
}

TEST(FrameReader, SplitAtEveryByteBoundary) {
  const auto wire = sample_wire();
  const auto whole = feed(wire, wire.size());
  for (size_t split = 0; split <= wire.size(); ++split) {
    auto seen = feed(wire, split);
    ASSERT_FALSE(seen.error) << split;
    EXPECT_EQ(seen.frames, whole.frames) << "split at " << split;
  }
}

TEST(FrameReader, OneByteAtATime) {
  const auto wire = sample_wire();
  FrameReader r;
  size_t frames = 0;
  for (size_t i = 0; i < wire.size(); ++i) {
    std::span<const uint8_t> in(&wire[i], 1);
    while (true) {
      auto ev = r.next(in);
      if (ev.kind == FrameEvent::Kind::kNeedMore) break;
      ASSERT_NE(ev.kind, FrameEvent::Kind::kError);
      if (ev.kind == FrameEvent::Kind::kFrame || ev.end) ++frames;
    }
    EXPECT_TRUE(in.empty());
  }
  EXPECT_EQ(frames, 4u);
  EXPECT_TRUE(r.at_boundary());
}

TEST(FrameReader, OversizedFrameIsErrorBeforeAllocation) {
  std::vector<uint8_t> w;
  // HEADERS claiming 2^40 bytes; no payload follows.
  write_frame_header(frame_type::kHeaders, uint64_t{1} << 40, w);
  auto seen = feed(w, w.size(), 1024);
  ASSERT_TRUE(seen.error);
  EXPECT_EQ(*seen.error, error::kExcessiveLoad);
}

TEST(FrameReader, HugeDataAndUnknownFramesAreStreamedNotCapped) {
  std::vector<uint8_t> w;
  write_frame_header(0x21, uint64_t{1} << 40, w);  // GREASE, skipped
  FrameReader r(16);
  std::span<const uint8_t> in(w);
  auto ev = r.next(in);
  EXPECT_EQ(ev.kind, FrameEvent::Kind::kNeedMore);
  EXPECT_FALSE(r.at_boundary());
}

TEST(FrameReader, TruncatedIsNotBoundary) {
  std::vector<uint8_t> w;
  write_frame(frame_type::kHeaders, std::vector<uint8_t>{1, 2, 3}, w);
  for (size_t n = 1; n < w.size(); ++n) {
    FrameReader r;
    std::span<const uint8_t> in(w.data(), n);
    EXPECT_EQ(r.next(in).kind, FrameEvent::Kind::kNeedMore);
    EXPECT_FALSE(r.at_boundary());
  }
}

TEST(UniStreamType, ParsesKnownAndIgnoresGrease) {
  EXPECT_EQ(classify_uni_stream_type(0x00), UniStreamKind::kControl);
  EXPECT_EQ(classify_uni_stream_type(0x02), UniStreamKind::kQpackEncoder);
  EXPECT_EQ(classify_uni_stream_type(0x03), UniStreamKind::kQpackDecoder);
  EXPECT_EQ(classify_uni_stream_type(0x54), UniStreamKind::kWebTransport);
  EXPECT_EQ(classify_uni_stream_type(0x1f * 3 + 0x21), UniStreamKind::kUnknown);
  std::vector<uint8_t> w;
  write_uni_stream_type(0x54, w);  // two bytes: 0x40 0x54
  ASSERT_EQ(w.size(), 2u);
  UniStreamTypeReader r;
  std::span<const uint8_t> a(w.data(), 1), b(w.data() + 1, 1);
  EXPECT_FALSE(r.feed(a));
  EXPECT_TRUE(r.feed(b));
  EXPECT_EQ(r.kind(), UniStreamKind::kWebTransport);
}

TEST(FrameType, Grease) {
  EXPECT_TRUE(is_grease(0x21));
  EXPECT_TRUE(is_grease(0x40));
  EXPECT_FALSE(is_grease(0x41));
  EXPECT_TRUE(is_reserved_http2_frame_type(0x02));
  EXPECT_EQ(error_name(error::kMissingSettings), "H3_MISSING_SETTINGS");
}

TEST(ErrorCode, UnknownCodesAreNotErrors) {
  EXPECT_TRUE(is_known_error(error::kNoError));
  EXPECT_TRUE(is_known_error(error::kQpackDecoderStreamError));
  EXPECT_FALSE(is_known_error(0));     // aioquic's plain close()
  EXPECT_FALSE(is_known_error(0x21));  // reserved (GREASE) codes
}

}  // namespace
}  // namespace moq::h3
