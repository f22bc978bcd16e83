#include <gtest/gtest.h>

#include "coding/bytes.h"
#include "coding/reader.h"
#include "coding/varint.h"
#include "coding/writer.h"
#include "support/spec_vectors.h"

namespace moq {
namespace {

using test::from_hex;
using test::to_hex;

TEST(Varint, SpecVectorsEncodeMinimally) {
  const auto vectors = test::load_spec_vectors();
  ASSERT_FALSE(vectors["varints"].empty());
  for (const auto& v : vectors["varints"]) {
    const uint64_t value = v["value"].get<uint64_t>();
    std::vector<uint8_t> out;
    Writer w(out);
    ASSERT_TRUE(w.varint(value)) << value;
    EXPECT_EQ(to_hex(out), v["hex"].get<std::string>()) << value;
    EXPECT_EQ(out.size(), varint::encoded_size(value));
  }
}

TEST(Varint, SpecVectorsDecode) {
  const auto vectors = test::load_spec_vectors();
  for (const char* group : {"varints", "varints_non_minimal_accepted"}) {
    for (const auto& v : vectors[group]) {
      const auto bytes = from_hex(v["hex"].get<std::string>());
      auto d = varint::decode(bytes);
      ASSERT_TRUE(d.has_value()) << v["hex"];
      EXPECT_EQ(d->value, v["value"].get<uint64_t>());
      EXPECT_EQ(d->length, bytes.size());
      // Every strict prefix asks for more bytes.
      for (size_t n = 0; n < bytes.size(); ++n) {
        EXPECT_FALSE(varint::decode(std::span(bytes).first(n)).has_value());
      }
    }
  }
}

TEST(Varint, AllFourLengthsAtTheirBoundaries) {
  const std::pair<uint64_t, size_t> cases[] = {{0, 1},        {63, 1},          {64, 2},
                                               {16383, 2},    {16384, 4},       {(1u << 30) - 1, 4},
                                               {1u << 30, 8}, {varint::kMax, 8}};
  for (auto [value, len] : cases) {
    std::vector<uint8_t> out;
    Writer w(out);
    ASSERT_TRUE(w.varint(value));
    EXPECT_EQ(out.size(), len) << value;
    auto d = varint::decode(out);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->value, value);
  }
}

TEST(Varint, RefusesValuesOf2To62AndAbove) {
  for (uint64_t value : {varint::kMax + 1, uint64_t{1} << 63, ~uint64_t{0}}) {
    std::vector<uint8_t> out;
    Writer w(out);
    EXPECT_FALSE(w.varint(value));
    EXPECT_FALSE(w.ok());
    EXPECT_EQ(w.error().code, code::kInternal);
    EXPECT_TRUE(out.empty());
    uint8_t buf[8];
    EXPECT_EQ(varint::encode(value, buf), 0u);
  }
}

TEST(I32, BigEndianTwosComplement) {
  std::vector<uint8_t> out;
  Writer w(out);
  w.i32(-1);
  w.i32(0x7fffffff);
  w.i32(-2147483647 - 1);
  w.i32(123456);
  EXPECT_EQ(to_hex(out), "ffffffff7fffffff800000000001e240");
  Reader r(out);
  int32_t a = 0, b = 0, c = 0, d = 0;
  ASSERT_TRUE(r.i32(a) && r.i32(b) && r.i32(c) && r.i32(d));
  EXPECT_EQ(a, -1);
  EXPECT_EQ(b, 0x7fffffff);
  EXPECT_EQ(c, -2147483647 - 1);
  EXPECT_EQ(d, 123456);
  EXPECT_FALSE(r.i32(a));
  EXPECT_EQ(r.status(), DecodeStatus::kNeedMore);
}

TEST(String, RoundTripAndNeedMore) {
  std::vector<uint8_t> out;
  Writer w(out);
  ASSERT_TRUE(w.string(".catalog"));
  EXPECT_EQ(to_hex(out), "082e636174616c6f67");
  for (size_t n = 0; n < out.size(); ++n) {
    Reader r{std::span(out).first(n)};
    std::string s;
    EXPECT_FALSE(r.string(s));
    EXPECT_EQ(r.status(), DecodeStatus::kNeedMore) << n;
  }
  Reader r(out);
  std::string s;
  ASSERT_TRUE(r.string(s));
  EXPECT_EQ(s, ".catalog");
  EXPECT_EQ(r.consumed(), out.size());
}

TEST(String, LengthOverCapIsAnErrorBeforeTheBytesArrive) {
  // Claims 2^62-1 bytes: must fail at once, not allocate, not wait.
  const auto bytes = from_hex("ffffffffffffffff");
  Reader r(bytes);
  std::string s;
  EXPECT_FALSE(r.string(s));
  EXPECT_EQ(r.status(), DecodeStatus::kError);
  EXPECT_EQ(r.error().code, code::kInternal);
  EXPECT_NE(r.error().reason.find("too long"), std::string::npos);

  // The cap is configurable; exactly the cap is fine.
  std::vector<uint8_t> out;
  Writer w(out);
  ASSERT_TRUE(w.string(std::string(10, 'x')));
  Reader exact(out, 10);
  EXPECT_TRUE(exact.string(s));
  Reader smaller(out, 9);
  EXPECT_FALSE(smaller.string(s));
  EXPECT_EQ(smaller.status(), DecodeStatus::kError);
}

TEST(Reader, StatusIsSticky) {
  const auto bytes = from_hex("05");
  Reader r(bytes);
  uint64_t a = 0, b = 0;
  EXPECT_TRUE(r.varint(a));
  EXPECT_FALSE(r.varint(b));
  EXPECT_EQ(r.status(), DecodeStatus::kNeedMore);
  EXPECT_FALSE(r.fail(code::kInternal, "ignored after need-more? no: error wins"));
  EXPECT_EQ(r.status(), DecodeStatus::kError);
  EXPECT_FALSE(r.varint(a));
}

TEST(Bytes, SlicesShareStorage) {
  Bytes whole = Bytes::copy(std::string_view("hello world"));
  Bytes hello = whole.slice(0, 5);
  Bytes world = whole.slice(6);
  EXPECT_EQ(hello.view(), "hello");
  EXPECT_EQ(world.view(), "world");
  EXPECT_TRUE(hello.shares_storage_with(whole));
  EXPECT_TRUE(world.shares_storage_with(hello));
  EXPECT_EQ(whole.slice(100).size(), 0u);
  EXPECT_EQ(whole.slice(6, 100).view(), "world");
  Bytes copy = whole;
  EXPECT_EQ(copy.data(), whole.data());
  EXPECT_FALSE(Bytes::copy(whole.span()).shares_storage_with(whole));
}

}  // namespace
}  // namespace moq
