#include "h3/qpack.h"

#include <gtest/gtest.h>

#include "h3/error.h"

namespace moq::h3 {
namespace {

const HeaderList kConnect = {
    {":method", "CONNECT"},
    {":protocol", "webtransport"},
    {":scheme", "https"},
    {":authority", "relay.example.com:4443"},
    {":path", "/watch?broadcast=abc"},
    {"origin", "https://example.com"},
    {"sec-webtransport-http3-draft02", "1"},
};

TEST(Qpack, RoundTripConnect) {
  QpackEncoder enc;
  QpackDecoder dec;
  const auto field = enc.encode(0, kConnect);
  ASSERT_FALSE(field.empty());
  // Zero-capacity table: Required Insert Count 0 and Base 0.
  EXPECT_EQ(field[0], 0x00);
  EXPECT_EQ(field[1], 0x00);
  const auto d = dec.decode(0, field);
  ASSERT_TRUE(d.ok) << d.reason;
  EXPECT_EQ(d.headers, kConnect);
}

TEST(Qpack, EncoderUsesHuffmanForLiterals) {
  QpackEncoder enc;
  // :authority (static index 0) with a value that Huffman shortens.
  const auto field = enc.encode(0, {{":authority", "www.example.com"}});
  ASSERT_GE(field.size(), 4u);
  // Literal with static name reference: 01NT xxxx; value string starts with H bit.
  EXPECT_EQ(field[2] & 0xf0, 0x50);
  EXPECT_EQ(field[3] & 0x80, 0x80) << "value should be Huffman-coded";
  EXPECT_EQ(field[3] & 0x7f, 12);  // RFC 7541 C.4.1: 15 chars -> 12 Huffman bytes
}

TEST(Qpack, DecodesHandWrittenHuffmanVector) {
  // Prefix (RIC 0, Base 0), then:
  //  0xcf           indexed static 15  :method CONNECT
  //  0x27 0x02 ...  literal name ":protocol" (9 bytes, 3-bit prefix), value "webtransport"
  //  0xd7           indexed static 23  :scheme https
  //  0x50 0x8c ...  :authority (static 0) value Huffman "www.example.com" (RFC 7541 C.4.1)
  //  0xc1           indexed static 1   :path /
  std::vector<uint8_t> field = {0x00, 0x00, 0xcf, 0x27, 0x02};
  for (char c : std::string(":protocol"))
    field.push_back(static_cast<uint8_t>(c));
  field.push_back(0x0c);
  for (char c : std::string("webtransport"))
    field.push_back(static_cast<uint8_t>(c));
  field.push_back(0xd7);
  const std::vector<uint8_t> huff = {0x50, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5, 0xf2,
                                     0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff};
  field.insert(field.end(), huff.begin(), huff.end());
  field.push_back(0xc1);
  QpackDecoder dec;
  const auto d = dec.decode(4, field);
  ASSERT_TRUE(d.ok) << d.reason;
  const HeaderList expected = {{":method", "CONNECT"},
                               {":protocol", "webtransport"},
                               {":scheme", "https"},
                               {":authority", "www.example.com"},
                               {":path", "/"}};
  EXPECT_EQ(d.headers, expected);
}

TEST(Qpack, RejectsDynamicTableReferenceAndGarbage) {
  QpackDecoder dec;
  // Required Insert Count 1: impossible with a zero-capacity table.
  auto d = dec.decode(0, std::vector<uint8_t>{0x02, 0x00, 0x80});
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.error_code, error::kQpackDecompressionFailed);
  QpackDecoder dec2;
  d = dec2.decode(0, std::vector<uint8_t>{0x00, 0x00, 0x27});  // truncated literal
  EXPECT_FALSE(d.ok);
  QpackDecoder dec3;
  d = dec3.decode(0, std::vector<uint8_t>{0x00, 0x00, 0xff, 0xff, 0xff, 0xff});  // bad static idx
  EXPECT_FALSE(d.ok);
}

TEST(Qpack, FieldSectionSizeCap) {
  QpackEncoder enc;
  QpackDecoder dec(100);
  const auto field = enc.encode(0, {{"x-big", std::string(200, 'a')}});
  const auto d = dec.decode(0, field);
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.error_code, error::kExcessiveLoad);
}

}  // namespace
}  // namespace moq::h3
