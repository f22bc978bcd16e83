#include "h3/control.h"

#include <gtest/gtest.h>

#include "h3/error.h"
#include "h3/stream_type.h"

namespace moq::h3 {
namespace {

std::vector<ControlEvent> run(ControlStreamParser& p, std::span<const uint8_t> in) {
  std::vector<ControlEvent> out;
  while (true) {
    auto ev = p.next(in);
    if (ev.kind == ControlEvent::Kind::kNeedMore) break;
    out.push_back(ev);
    if (ev.kind == ControlEvent::Kind::kError) break;
  }
  return out;
}

TEST(ControlStream, PrefaceThenGoaway) {
  auto w = encode_control_stream_preface(server_settings());
  ASSERT_EQ(w[0], 0x00);  // stream type
  auto goaway = encode_goaway(8);
  w.insert(w.end(), goaway.begin(), goaway.end());
  ControlStreamParser p(/*is_server=*/false);
  auto events = run(p, std::span<const uint8_t>(w).subspan(1));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, ControlEvent::Kind::kSettings);
  EXPECT_EQ(events[0].settings, server_settings());
  EXPECT_EQ(events[1].kind, ControlEvent::Kind::kGoaway);
  EXPECT_EQ(events[1].id, 8u);
}

TEST(ControlStream, MissingSettings) {
  auto w = encode_goaway(0);
  ControlStreamParser p(true);
  auto events = run(p, w);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].error_code, error::kMissingSettings);
}

TEST(ControlStream, SecondSettingsAndDataAreUnexpected) {
  std::vector<uint8_t> w;
  write_frame(frame_type::kSettings, encode_settings(client_settings()), w);
  auto twice = w;
  twice.insert(twice.end(), w.begin(), w.end());
  ControlStreamParser p(true);
  auto events = run(p, twice);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].error_code, error::kFrameUnexpected);

  auto with_data = w;
  write_frame(frame_type::kData, std::vector<uint8_t>{1}, with_data);
  ControlStreamParser p2(true);
  events = run(p2, with_data);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].error_code, error::kFrameUnexpected);
}

}  // namespace
}  // namespace moq::h3
