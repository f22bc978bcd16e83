#include "webtransport/stream_header.h"

#include <gtest/gtest.h>

namespace moq::wt {
namespace {

TEST(StreamHeader, UniAndBidiAtEverySplit) {
  for (bool bidi : {false, true}) {
    for (uint64_t session : {0ull, 4ull, 1000ull, (1ull << 40)}) {
      auto w = bidi ? encode_bidi_stream_header(session) : encode_uni_stream_header(session);
      EXPECT_EQ(w[0], 0x40);  // 0x54 and 0x41 both need a 2-byte varint
      EXPECT_EQ(w[1], bidi ? 0x41 : 0x54);
      w.push_back(0x99);  // payload
      for (size_t split = 0; split <= w.size(); ++split) {
        StreamHeaderReader r(bidi ? kBidiSignal : kUniStreamType);
        std::span<const uint8_t> a = std::span<const uint8_t>(w).first(split);
        std::span<const uint8_t> b = std::span<const uint8_t>(w).subspan(split);
        auto st = r.feed(a);
        if (st != StreamHeaderReader::Status::kDone) {
          ASSERT_TRUE(a.empty());
          st = r.feed(b);
        } else {
          b = std::span<const uint8_t>(w).subspan(split - a.size());
        }
        ASSERT_EQ(st, StreamHeaderReader::Status::kDone);
        EXPECT_EQ(r.session_id(), session);
        ASSERT_EQ(b.size(), 1u);
        EXPECT_EQ(b[0], 0x99);
      }
    }
  }
}

TEST(StreamHeader, NotWebTransport) {
  const std::vector<uint8_t> headers_frame = {0x01, 0x03, 0x00, 0x00, 0xd1};
  StreamHeaderReader r(kBidiSignal);
  std::span<const uint8_t> in(headers_frame);
  EXPECT_EQ(r.feed(in), StreamHeaderReader::Status::kNotWebTransport);
  ASSERT_EQ(r.type_bytes().size(), 1u);
  EXPECT_EQ(r.type_bytes()[0], 0x01);
  EXPECT_EQ(in.size(), 4u);
}

}  // namespace
}  // namespace moq::wt
