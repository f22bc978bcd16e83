#include "webtransport/error.h"

#include <gtest/gtest.h>

namespace moq::wt {
namespace {

TEST(ErrorMapping, RoundTrips) {
  for (uint32_t code : {0u, 1u, 0x1du, 0x1eu, 0x1fu, 0x3cu, 1000u, 0xfffffffeu, 0xffffffffu}) {
    const uint64_t h3 = to_http3(code);
    EXPECT_GE(h3, kFirstMappedCode);
    EXPECT_LE(h3, kLastMappedCode);
    EXPECT_NE((h3 - 0x21) % 0x1f, 0u) << "maps onto a GREASE codepoint: " << code;
    EXPECT_EQ(from_http3(h3), code) << code;
  }
  EXPECT_EQ(to_http3(0), 0x52e4a40fa8dbu);
  EXPECT_EQ(to_http3(0x1d), 0x52e4a40fa8dbu + 0x1d);
  EXPECT_EQ(to_http3(0x1e), 0x52e4a40fa8dbu + 0x1f);  // skips one GREASE slot
  EXPECT_EQ(to_http3(0xffffffff), 0x52e5ac983162u);
}

TEST(ErrorMapping, ReverseRejectsGreaseAndOutOfRange) {
  // The slot skipped between 0x1d and 0x1e is a GREASE codepoint.
  const uint64_t grease = kFirstMappedCode + 0x1e;
  EXPECT_EQ((grease - 0x21) % 0x1f, 0u);
  EXPECT_FALSE(from_http3(grease));
  EXPECT_FALSE(from_http3(kFirstMappedCode - 1));
  EXPECT_FALSE(from_http3(kLastMappedCode + 1));
  EXPECT_FALSE(from_http3(0x100));
  // Every GREASE codepoint in a window is rejected, every other one maps back.
  for (uint64_t h3 = kFirstMappedCode; h3 < kFirstMappedCode + 200; ++h3) {
    auto code = from_http3(h3);
    if ((h3 - 0x21) % 0x1f == 0) {
      EXPECT_FALSE(code);
    } else {
      ASSERT_TRUE(code);
      EXPECT_EQ(to_http3(*code), h3);
    }
  }
}

}  // namespace
}  // namespace moq::wt
