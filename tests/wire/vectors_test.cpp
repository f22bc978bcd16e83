// Byte-exact encodings: the spec's vector file, plus vectors written out by
// hand from the message tables of moq-transport.md.

#include <gtest/gtest.h>

#include <set>

#include "coding/varint.h"
#include "spec_messages.h"
#include "wire/control_decoder.h"

namespace moq::wire {
namespace {

using test::from_hex;
using test::to_hex;

std::string encode_hex(const Message& m) {
  std::vector<uint8_t> out;
  auto r = encode(m, out);
  EXPECT_TRUE(r.ok()) << r.error().reason;
  return to_hex(out);
}

Message decode_all(const std::vector<uint8_t>& bytes) {
  Reader r(bytes);
  Message m;
  EXPECT_EQ(decode(r, m), DecodeStatus::kOk) << r.error().reason;
  EXPECT_EQ(r.consumed(), bytes.size());
  return m;
}

TEST(WireVectors, EveryControlMessageOfTheSpecFile) {
  const auto vectors = test::load_spec_vectors();
  std::set<std::string> seen;
  for (const auto& v : vectors["messages"]) {
    const std::string name = v["message"];
    if (name == "OBJECT") continue;
    SCOPED_TRACE(name + " " + v["hex"].get<std::string>());
    const Message m = test::message_from(name, v["fields"]);
    EXPECT_EQ(name_of(m), name);
    EXPECT_EQ(encode_hex(m), v["hex"].get<std::string>());
    EXPECT_EQ(decode_all(from_hex(v["hex"])), m);
    seen.insert(name);
  }
  // Every message type of the spec's table is covered by the file.
  EXPECT_EQ(seen.size(), std::variant_size_v<Message>);
}

TEST(WireVectors, ObjectHeadersOfTheSpecFile) {
  const auto vectors = test::load_spec_vectors();
  int count = 0;
  for (const auto& v : vectors["messages"]) {
    if (v["message"] != "OBJECT") continue;
    const ObjectHeader h = test::object_from(v["fields"]);
    std::vector<uint8_t> out;
    ASSERT_TRUE(encode(h, out).ok());
    EXPECT_EQ(to_hex(out), v["hex"].get<std::string>());
    Reader r(out);
    ObjectHeader back;
    ASSERT_EQ(decode(r, back), DecodeStatus::kOk);
    EXPECT_EQ(back, h);
    ++count;
  }
  EXPECT_GE(count, 3);
}

// Written out by hand from the spec tables, independent of the vector file.
TEST(WireVectors, HandWritten) {
  EXPECT_EQ(encode_hex(Subscribe{0, "", ".catalog"}), "030000082e636174616c6f67");
  EXPECT_EQ(encode_hex(ClientSetup{{0xbad00}, Role::kSubscriber}), "0101800bad0001");
  EXPECT_EQ(encode_hex(ServerSetup{0xbad00, Role::kPublisher}), "02800bad0000");
  EXPECT_EQ(encode_hex(SubscribeOk{0}), "0400");
  // 206 = 0x40ce as a 2-byte varint; "stop".
  EXPECT_EQ(encode_hex(SubscribeReset{3, 206, "stop"}), "050340ce0473746f70");
  EXPECT_EQ(encode_hex(SubscribeStop{64}), "154040");
  EXPECT_EQ(encode_hex(Announce{""}), "0600");
  EXPECT_EQ(encode_hex(AnnounceOk{"a"}), "070161");
  EXPECT_EQ(encode_hex(AnnounceReset{"", 0, ""}), "08000000");
  EXPECT_EQ(encode_hex(AnnounceStop{"ab"}), "18026162");
  EXPECT_EQ(encode_hex(GoAway{""}), "1000");
  std::vector<uint8_t> out;
  ASSERT_TRUE(encode(ObjectHeader{0, 0, 0, 10}, out).ok());
  EXPECT_EQ(to_hex(out), "000000000000000a");
}

TEST(WireRoundTrip, ArbitraryValuesSurvive) {
  const std::vector<Message> messages = {
      ClientSetup{{0xff00, 0xbad00, 1, varint::kMax}, Role::kBoth},
      ServerSetup{0xbad00, Role::kSubscriber},
      Subscribe{varint::kMax, std::string(300, 'n'), std::string(5000, 'x')},
      SubscribeOk{16384},
      SubscribeReset{1, 504, "upstream \xe2\x9c\x93"},
      SubscribeStop{1u << 30},
      Announce{"live/room"},
      AnnounceOk{"live/room"},
      AnnounceReset{"live", 409, "duplicate"},
      AnnounceStop{"live"},
      GoAway{"https://relay2.example:4443/x"},
  };
  for (const auto& m : messages) {
    std::vector<uint8_t> out;
    ASSERT_TRUE(encode(m, out).ok());
    EXPECT_EQ(decode_all(out), m) << name_of(m);
  }
}

TEST(WireEncode, RefusesUnencodableValues) {
  std::vector<uint8_t> out;
  auto r = encode(SubscribeOk{varint::kMax + 1}, out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, code::kInternal);
}

TEST(WireDecode, BadInputOfTheSpecFile) {
  const auto vectors = test::load_spec_vectors();
  for (const auto& v : vectors["bad_input"]) {
    const std::string why = v["why"];
    SCOPED_TRACE(why);
    ControlDecoder d;
    d.feed(from_hex(v["hex"]));
    Message m;
    const DecodeStatus s = d.next(m);
    if (why.find("need more") != std::string::npos) {
      EXPECT_EQ(s, DecodeStatus::kNeedMore);
    } else {
      EXPECT_EQ(s, DecodeStatus::kError);
      EXPECT_EQ(d.error().code, code::kInternal);
    }
  }
}

TEST(WireDecode, ErrorsSayWhatIsWrong) {
  struct Case {
    const char* hex;
    const char* says;
  } cases[] = {
      {"09", "unknown message type 0x9"},
      {"00", "unknown message type 0x0"},  // OBJECT never travels on the control stream
      {"0101800bad0003", "invalid role 3"},
      {"0300c0ffffffffffffff", "too long"},
  };
  for (const auto& c : cases) {
    ControlDecoder d;
    d.feed(from_hex(c.hex));
    Message m;
    EXPECT_EQ(d.next(m), DecodeStatus::kError) << c.hex;
    EXPECT_NE(d.error().reason.find(c.says), std::string::npos) << d.error().reason;
    // Broken for good: further bytes do not revive it.
    d.feed(from_hex("0400"));
    EXPECT_EQ(d.next(m), DecodeStatus::kError);
  }
}

TEST(WireNames, FromTheOneTable) {
  EXPECT_EQ(message_name(0x3), "SUBSCRIBE");
  EXPECT_EQ(message_name(0x15), "SUBSCRIBE_STOP");
  EXPECT_EQ(message_name(0x18), "ANNOUNCE_STOP");
  EXPECT_EQ(message_name(0x10), "GOAWAY");
  EXPECT_EQ(message_name(0x99), "unknown");
  EXPECT_EQ(type_of(Message{GoAway{}}), 0x10u);
}

}  // namespace
}  // namespace moq::wire
