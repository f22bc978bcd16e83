#include "webtransport/capsule.h"

#include <gtest/gtest.h>

#include "h3/capsule.h"
#include "h3/frame.h"

namespace moq::wt {
namespace {

TEST(CloseCapsule, EncodeDecode) {
  const CloseSession c{0xdeadbeef, "going away"};
  const auto capsule = encode_close_capsule(c);
  // type 0x2843 (2-byte varint 0x68 0x43), length 14, u32 code, reason
  ASSERT_EQ(capsule.size(), 2u + 1u + 4u + 10u);
  EXPECT_EQ(capsule[0], 0x68);
  EXPECT_EQ(capsule[1], 0x43);
  EXPECT_EQ(capsule[2], 14);
  EXPECT_EQ(capsule[3], 0xde);
  auto d = decode_close_value(std::span<const uint8_t>(capsule).subspan(3));
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, c);
}

TEST(CloseCapsule, InDataFrame) {
  const auto frame = encode_close_data_frame({7, "x"});
  h3::FrameReader fr;
  std::span<const uint8_t> in(frame);
  auto ev = fr.next(in);
  ASSERT_EQ(ev.kind, h3::FrameEvent::Kind::kData);
  EXPECT_TRUE(ev.end);
  h3::CapsuleReader cr({capsule_type::kCloseSession}, 1028);
  auto payload = ev.payload;
  auto cev = cr.next(payload);
  ASSERT_EQ(cev.kind, h3::CapsuleEvent::Kind::kCapsule);
  EXPECT_EQ(decode_close_value(cev.value), (CloseSession{7, "x"}));
}

TEST(CloseCapsule, ReasonCap) {
  // Encoding truncates to 1024 bytes without splitting UTF-8 ("é" is 2 bytes).
  std::string reason(1023, 'a');
  reason += "\xc3\xa9";
  const auto capsule = encode_close_capsule({1, reason});
  auto d = decode_close_value(std::span<const uint8_t>(capsule).subspan(3 + 0));
  // length varint for 1027 is 2 bytes: type(2) + len(2)
  d = decode_close_value(std::span<const uint8_t>(capsule).subspan(4));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->reason, std::string(1023, 'a'));
  // Decoding refuses > 1024 bytes of reason and < 4 bytes of value.
  std::vector<uint8_t> big(4 + 1025, 'b');
  EXPECT_FALSE(decode_close_value(big));
  std::vector<uint8_t> max(4 + 1024, 'b');
  EXPECT_TRUE(decode_close_value(max));
  EXPECT_FALSE(decode_close_value(std::vector<uint8_t>{0, 0, 0}));
  EXPECT_EQ(truncate_utf8("abc", 10), "abc");
}

}  // namespace
}  // namespace moq::wt
