#include "h3/settings.h"

#include <gtest/gtest.h>

#include "h3/error.h"

namespace moq::h3 {
namespace {

TEST(Settings, ServerTableIsExactlyTheSpec) {
  const Settings s = server_settings(4);
  const std::vector<std::pair<uint64_t, uint64_t>> expected = {
      {0x01, 0},       {0x07, 0},       {0x08, 1},       {0x33, 1},       {0xffd277, 1},
      {0x2b603742, 1}, {0x2b603743, 4}, {0xc671706a, 4}, {0x14e9cd29, 4}, {0x2c7cf000, 1},
  };
  EXPECT_EQ(s.entries, expected);
  EXPECT_TRUE(supports_webtransport(s));
  EXPECT_FALSE(client_settings().get(setting::kEnableConnectProtocol));
}

TEST(Settings, RoundTripEverySetting) {
  Settings s = server_settings(1);
  s.set(setting::kMaxFieldSectionSize, 16384);
  s.set(0x1f * 5 + 0x21, 77);  // GREASE setting: kept, ignored by users
  const auto payload = encode_settings(s);
  const auto d = decode_settings(payload);
  ASSERT_TRUE(d.ok) << d.reason;
  EXPECT_EQ(d.settings, s);
  EXPECT_EQ(d.settings.get(setting::kWtMaxSessions), 1u);
}

TEST(Settings, Errors) {
  EXPECT_EQ(decode_settings(std::vector<uint8_t>{0x01}).error_code, error::kFrameError);
  EXPECT_EQ(decode_settings(std::vector<uint8_t>{0x01, 0x00, 0x01, 0x00}).error_code,
            error::kSettingsError);  // duplicate
  EXPECT_EQ(decode_settings(std::vector<uint8_t>{0x02, 0x00}).error_code,
            error::kSettingsError);  // h2
  EXPECT_TRUE(decode_settings({}).ok);
}

TEST(Settings, SupportsWebTransportDialects) {
  Settings s;
  s.set(setting::kEnableConnectProtocol, 1);
  s.set(setting::kH3Datagram, 1);
  EXPECT_FALSE(supports_webtransport(s));
  s.set(setting::kWtMaxSessions, 1);  // Safari-era server
  EXPECT_TRUE(supports_webtransport(s));
  s.set(setting::kEnableConnectProtocol, 0);
  EXPECT_FALSE(supports_webtransport(s));
}

}  // namespace
}  // namespace moq::h3
