// moq-lite messages against bytes captured from the real clients
// (@moq/watch 0.4.6 = @moq/net 0.2.8 speaking moq-lite-05, and @moq/publish
// 0.2.17 = @moq/lite 0.2.2 speaking moq-lite-04, talking to our relay in
// tests/browser/moq_watch.mjs --capture; docs/dialects.md §2.10).
#include <gtest/gtest.h>

#include "support/spec_vectors.h"

#include <string>
#include <vector>

#include "lite/message.h"

namespace moq::lite {
namespace {

// The spec vectors' hex reader (the project's one).
std::vector<uint8_t> hex(const std::string& h) {
  return test::from_hex(h);
}

template <class T>
std::vector<uint8_t> encoded(const T& m, Version v) {
  std::vector<uint8_t> out;
  encode(m, v, out);
  return out;
}

constexpr auto k05 = Version::kLite05;
constexpr auto k04 = Version::kLite04;
constexpr auto k03 = Version::kLite03;

TEST(LiteMessage, ClientSetupCapturedFromMoqWatch) {
  // uni stream: type 1, then SETUP: PROBE level 1, ORIGIN 0x01090119f6cef5.
  auto bytes = hex("010e020101010508c001090119f6cef5");
  auto type = decode_varint(bytes);
  ASSERT_EQ(type.status, DecodeStatus::kOk);
  EXPECT_EQ(type.message, 1u);
  auto setup = decode_setup(std::span(bytes).subspan(type.consumed), k05);
  ASSERT_EQ(setup.status, DecodeStatus::kOk) << setup.error.reason;
  ASSERT_EQ(setup.message.params.size(), 2u);
  EXPECT_EQ(setup.message.params[0].id, setup_param::kProbe);
  EXPECT_EQ(setup.message.params[0].value, hex("01"));
  EXPECT_EQ(setup.message.params[1].id, setup_param::kOrigin);
  EXPECT_EQ(setup.message.params[1].value, hex("c001090119f6cef5"));
  EXPECT_EQ(encoded(setup.message, k05), std::vector<uint8_t>(bytes.begin() + 1, bytes.end()));
}

TEST(LiteMessage, AnnounceRequestCapturedFromMoqWatch) {
  // bidi type 1, prefix "bbb", exclude_hop = the client's origin id.
  auto bytes = hex("0c03626262c001090119f6cef5");
  auto d = decode_announce_request(bytes, k05);
  ASSERT_EQ(d.status, DecodeStatus::kOk) << d.error.reason;
  EXPECT_EQ(d.message.prefix, "bbb");
  EXPECT_EQ(d.message.exclude_hop, 0x01090119f6cef5u);
  EXPECT_EQ(encoded(d.message, k05), bytes);
}

TEST(LiteMessage, AnnounceOkAndAnnounceAsTheRelaySendsThem) {
  // What our relay answered (origin 0x0ac5b94395f3a1, one live broadcast,
  // the prefix itself: suffix "", no hops on 05).
  auto bytes =
      hex("09c00ac5b94395f3a1010301"
          "0000");
  auto ok = decode_announce_ok(bytes, k05);
  ASSERT_EQ(ok.status, DecodeStatus::kOk);
  EXPECT_EQ(ok.message, (AnnounceOk{0x0ac5b94395f3a1, 1}));
  auto a = decode_announce(std::span(bytes).subspan(ok.consumed), k05);
  ASSERT_EQ(a.status, DecodeStatus::kOk) << a.error.reason;
  EXPECT_TRUE(a.message.active);
  EXPECT_EQ(a.message.suffix, "");
  EXPECT_TRUE(a.message.hops.empty());
}

TEST(LiteMessage, TrackAndTrackInfoCaptured) {
  // TRACK "bbb" "catalog.json" and our TRACK_INFO (timescale 1e6 µs).
  auto track = hex("11036262620c636174616c6f672e6a736f6e");
  auto t = decode_track_request(track, k05);
  ASSERT_EQ(t.status, DecodeStatus::kOk);
  EXPECT_EQ(t.message, (TrackRequest{"bbb", "catalog.json"}));
  EXPECT_EQ(encoded(t.message, k05), track);
  auto info = hex("07000000800f4240");
  auto i = decode_track_info(info, k05);
  ASSERT_EQ(i.status, DecodeStatus::kOk);
  EXPECT_EQ(i.message.timescale, 1'000'000u);
  EXPECT_EQ(encoded(i.message, k05), info);
}

TEST(LiteMessage, SubscribeCapturedFromMoqWatch) {
  // id 0, "bbb", "catalog.json", priority 100, unordered, latest, open.
  auto bytes = hex("1700036262620c636174616c6f672e6a736f6e6400000000");
  auto d = decode_subscribe(bytes, k05);
  ASSERT_EQ(d.status, DecodeStatus::kOk) << d.error.reason;
  EXPECT_EQ(d.message.id, 0u);
  EXPECT_EQ(d.message.broadcast, "bbb");
  EXPECT_EQ(d.message.track, "catalog.json");
  EXPECT_EQ(d.message.priority, 100);
  EXPECT_FALSE(d.message.start_group);
  EXPECT_FALSE(d.message.end_group);
  EXPECT_EQ(encoded(d.message, k05), bytes);
  // Video at priority 60 ("1"), audio at 80 ("2").
  auto video = decode_subscribe(hex("0c020362626201313c00000000"), k05);
  ASSERT_EQ(video.status, DecodeStatus::kOk);
  EXPECT_EQ(video.message.priority, 60);
  EXPECT_EQ(video.message.track, "1");
}

TEST(LiteMessage, SubscribeStartAndGroupHeaderAsSent) {
  // SUBSCRIBE_START group 43 (0x2b) after reply type 0; the group stream
  // header (type 0, subscription 1, group 43); the first frame's 05 header
  // as sent: zigzag timestamp 0x0117f2aa (= 9 173 333 µs from 0, the fMP4
  // tfdt), size 0x1d4 (a 468-byte moof+mdat of AAC).
  auto start = decode_subscribe_start(hex("012b"), k05);
  ASSERT_EQ(start.status, DecodeStatus::kOk);
  EXPECT_EQ(start.message.group, 0x2bu);
  auto group = decode_group_header(hex("02012b"), k05);
  ASSERT_EQ(group.status, DecodeStatus::kOk);
  EXPECT_EQ(group.message, (GroupHeader{1, 0x2b}));
  std::vector<uint8_t> frame;
  encode_frame_header(k05, 9173333, 0x1d4, frame);
  EXPECT_EQ(frame, hex("8117f2aa41d4"));
}

TEST(LiteMessage, VersionsDifferWhereTheDraftsSay) {
  Announce a{true, "bbb.hang", 1, {1}};
  EXPECT_EQ(encoded(a, k04), hex("0c0108626262"
                                 "2e68616e670101"));
  EXPECT_EQ(encoded(a, k03), hex("0b0108626262"
                                 "2e68616e6701"));
  EXPECT_EQ(encoded(AnnounceRequest{"", 0x1234}, k05), hex("03005234"));
  EXPECT_EQ(encoded(AnnounceRequest{"", 0x1234}, k03), hex("0100"));
  EXPECT_EQ(encoded(Probe{5, 7}, k03), hex("0105"));
  EXPECT_EQ(encoded(Probe{5, 7}, k04), hex("020507"));
  std::vector<uint8_t> f03, f05;
  encode_frame_header(k03, 100, 3, f03);
  encode_frame_header(k05, -1, 3, f05);
  EXPECT_EQ(f03, hex("03"));
  EXPECT_EQ(f05, hex("0103"));  // zigzag(-1) = 1
}

TEST(LiteMessage, ZigzagRoundTrips) {
  for (int64_t v : {0LL, 1LL, -1LL, 1000000LL, -33333LL, (1LL << 61) - 1, -(1LL << 61)}) {
    EXPECT_EQ(unzigzag(zigzag(v)), v) << v;
  }
  EXPECT_EQ(zigzag(1000000), 2000000u);
}

TEST(LiteMessage, NeedsMoreUntilTheWholeBody) {
  auto bytes = hex("1700036262620c636174616c6f672e6a736f6e6400000000");
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_EQ(decode_subscribe(std::span(bytes).first(n), k05).status, DecodeStatus::kNeedMore)
        << n;
  }
}

TEST(LiteMessage, HostileInputIsAnErrorNotACrash) {
  // A body longer than the cap.
  EXPECT_EQ(decode_subscribe(hex("bfffffff"), k05).status, DecodeStatus::kError);
  // Bytes left over in a message.
  EXPECT_EQ(decode_subscribe_start(hex("020100"), k05).status, DecodeStatus::kError);
  // A body shorter than its fields.
  EXPECT_EQ(decode_subscribe(hex("0100"), k05).status, DecodeStatus::kError);
  // A boolean that is neither 0 nor 1.
  EXPECT_EQ(decode_track_info(hex("0400020040"), k05).status, DecodeStatus::kError);
  // Timescale 0.
  EXPECT_EQ(decode_track_info(hex("0400000000"), k05).status, DecodeStatus::kError);
  // ANNOUNCE_OK from origin 0, a status byte of 3, too many hops.
  EXPECT_EQ(decode_announce_ok(hex("020000"), k05).status, DecodeStatus::kError);
  EXPECT_EQ(decode_announce(hex("03030000"), k05).status, DecodeStatus::kError);
  EXPECT_EQ(decode_announce(hex("03010021"), k05).status, DecodeStatus::kError);
  // A string length beyond the body.
  EXPECT_EQ(decode_goaway(hex("0105"), k05).status, DecodeStatus::kError);
  // Duplicate SETUP parameters.
  EXPECT_EQ(decode_setup(hex("07020101010101"
                             "01"),
                         k05)
                .status,
            DecodeStatus::kError);
  // A path of 33 parts.
  std::string path;
  for (int i = 0; i < 33; ++i)
    path += "a/";
  std::vector<uint8_t> out;
  encode(AnnounceRequest{path, 0}, k05, out);
  EXPECT_EQ(decode_announce_request(out, k05).status, DecodeStatus::kError);
}

TEST(LitePath, NormalizesAndMatchesWholeSegments) {
  EXPECT_EQ(normalize_path("//a///b/"), "a/b");
  EXPECT_EQ(normalize_path("/"), "");
  EXPECT_TRUE(has_prefix("a/b", "a"));
  EXPECT_TRUE(has_prefix("a/b", ""));
  EXPECT_TRUE(has_prefix("a", "a"));
  EXPECT_FALSE(has_prefix("ab", "a"));
  EXPECT_EQ(strip_prefix("a/b", "a"), "b");
  EXPECT_EQ(strip_prefix("a", "a"), "");
  EXPECT_EQ(join_path("", "b"), "b");
  EXPECT_EQ(join_path("a", ""), "a");
  EXPECT_EQ(join_path("a", "b"), "a/b");
}

TEST(LiteVersion, ProtocolNames) {
  EXPECT_EQ(version_from_protocol("moq-lite-05"), Version::kLite05);
  EXPECT_EQ(version_from_protocol("moq-lite-04"), Version::kLite04);
  EXPECT_EQ(version_from_protocol("moq-lite-03"), Version::kLite03);
  EXPECT_FALSE(version_from_protocol("moq-lite-06"));
  EXPECT_FALSE(version_from_protocol("moql"));
  EXPECT_EQ(protocol_name(Version::kLite04), "moq-lite-04");
}

}  // namespace
}  // namespace moq::lite
