// OBJECT headers on data streams: split feeding and zero-copy payload.

#include <gtest/gtest.h>

#include "coding/varint.h"
#include "spec_messages.h"

namespace moq::wire {
namespace {

using test::from_hex;

TEST(ObjectStream, HeaderSplitAtEveryPointThenPayloadSlices) {
  const ObjectHeader header{2, 70000, 123456, 10};
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(encode(header, bytes).ok());
  const std::string payload = "moof+mdat bytes";
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  const Bytes stream = Bytes(std::vector<uint8_t>(bytes));

  for (size_t split = 0; split <= stream.size(); ++split) {
    ObjectStreamDecoder d;
    std::string got;
    DecodeStatus s = d.feed(stream.slice(0, split));
    if (s == DecodeStatus::kOk) {
      got += d.take_payload().view();
      got += stream.slice(split).view();
    } else {
      ASSERT_EQ(s, DecodeStatus::kNeedMore) << split;
      ASSERT_EQ(d.feed(stream.slice(split)), DecodeStatus::kOk) << split;
      Bytes rest = d.take_payload();
      EXPECT_TRUE(rest.empty() || rest.shares_storage_with(stream));
      got += rest.view();
    }
    EXPECT_EQ(d.header(), header) << split;
    EXPECT_EQ(got, payload) << split;
  }
}

TEST(ObjectStream, ByteAtATime) {
  const auto bytes = from_hex(
      "000005ffffffff1e"
      "6869");
  ObjectStreamDecoder d;
  size_t i = 0;
  for (; i < bytes.size(); ++i) {
    if (d.feed(Bytes::copy(std::span(bytes).subspan(i, 1))) == DecodeStatus::kOk) break;
  }
  EXPECT_EQ(i, 7u);  // the header ends at the 8th byte
  EXPECT_EQ(d.header().priority, -1);
  EXPECT_EQ(d.header().expires, 30u);
  EXPECT_TRUE(d.take_payload().empty());
}

TEST(ObjectStream, WrongTypeIsAnError) {
  ObjectStreamDecoder d;
  EXPECT_EQ(d.feed(Bytes::copy(from_hex("030000"))), DecodeStatus::kError);
  EXPECT_EQ(d.error().code, code::kInternal);
  EXPECT_NE(d.error().reason.find("OBJECT"), std::string::npos);
  EXPECT_EQ(d.feed(Bytes::copy(from_hex("00"))), DecodeStatus::kError);
}

TEST(ObjectStream, LongestHeaderFits) {
  const ObjectHeader h{varint::kMax, varint::kMax, -2147483647 - 1, varint::kMax};
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(encode(h, bytes).ok());
  EXPECT_EQ(bytes.size(), kMaxObjectHeaderSize);
  ObjectStreamDecoder d;
  for (uint8_t b : bytes)
    d.feed(Bytes::copy(std::span(&b, 1)));
  EXPECT_EQ(d.header(), h);
}

}  // namespace
}  // namespace moq::wire
