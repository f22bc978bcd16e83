#include "h3/capsule.h"

#include <gtest/gtest.h>

namespace moq::h3 {
namespace {

TEST(CapsuleReader, SkipsUnknownAndBuffersInterestingAtEverySplit) {
  std::vector<uint8_t> w;
  write_capsule(0x17 + 41 * 3, std::vector<uint8_t>(70, 0x11), w);  // GREASE-like, skipped
  write_capsule(0x2843, std::vector<uint8_t>{0, 0, 0, 7, 'b', 'y', 'e'}, w);
  write_capsule(0x78ae, {}, w);
  for (size_t split = 0; split <= w.size(); ++split) {
    CapsuleReader r({0x2843, 0x78ae}, 1028);
    std::vector<std::pair<uint64_t, std::vector<uint8_t>>> got;
    for (auto part :
         {std::span<const uint8_t>(w).first(split), std::span<const uint8_t>(w).subspan(split)}) {
      while (true) {
        auto ev = r.next(part);
        if (ev.kind == CapsuleEvent::Kind::kNeedMore) break;
        ASSERT_EQ(ev.kind, CapsuleEvent::Kind::kCapsule);
        got.emplace_back(ev.type, std::vector<uint8_t>(ev.value.begin(), ev.value.end()));
      }
    }
    ASSERT_EQ(got.size(), 2u) << split;
    EXPECT_EQ(got[0].first, 0x2843u);
    EXPECT_EQ(got[0].second.size(), 7u);
    EXPECT_EQ(got[1].first, 0x78aeu);
    EXPECT_TRUE(r.at_boundary());
  }
}

TEST(CapsuleReader, OversizedInterestingCapsuleIsError) {
  std::vector<uint8_t> w;
  write_capsule(0x2843, std::vector<uint8_t>(2000, 0), w);
  CapsuleReader r({0x2843}, 1028);
  std::span<const uint8_t> in(w.data(), 4);  // only the header
  EXPECT_EQ(r.next(in).kind, CapsuleEvent::Kind::kError);
}

}  // namespace
}  // namespace moq::h3
