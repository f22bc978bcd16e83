// The Origin model: JSON parsing, validation and the name <-> path encoding.
#include <gtest/gtest.h>

#include "api/origin.h"
#include "api/path.h"

namespace moq::api {
namespace {

TEST(OriginJson, ParsesTheSeedFormat) {
  auto origin = parse_origin(R"({"url": "https://relay.example:4443/demo"})");
  ASSERT_TRUE(origin.ok()) << origin.error().reason;
  EXPECT_EQ(origin->url, "https://relay.example:4443/demo");
}

TEST(OriginJson, RoundTripsThroughToJson) {
  Origin origin{"https://[::1]:4443/a%20b?x=1"};
  EXPECT_EQ(to_json(origin), R"({"url":"https://[::1]:4443/a%20b?x=1"})");
  auto back = parse_origin(to_json(origin));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, origin);
}

TEST(OriginJson, IgnoresUnknownMembersAndNormalisesTheScheme) {
  auto origin = parse_origin(R"({"next": 1, "url": "HtTpS://relay/x", "z": {"a": []}})");
  ASSERT_TRUE(origin.ok()) << origin.error().reason;
  EXPECT_EQ(origin->url, "https://relay/x");
}

struct BadCase {
  const char* json;
  const char* reason_part;
};

TEST(OriginJson, RejectsMalformedInputWithAReason) {
  const BadCase cases[] = {
      {"", "not valid JSON"},
      {"{", "not valid JSON"},
      {R"({"url": "https://a/"} x)", "not valid JSON"},
      {"\xff", "not valid JSON"},
      {R"({"url": "https://a/\xff"})", "not valid JSON"},  // invalid UTF-8
      {"[]", "JSON object"},
      {"\"https://a/\"", "JSON object"},
      {"{}", "no \"url\""},
      {R"({"url": null})", "must be a string"},
      {R"({"url": ["https://a/"]})", "must be a string"},
      {R"({"url": ""})", "empty"},
      {R"({"url": "http://relay/x"})", "https://"},
      {R"({"url": "wss://relay/x"})", "https://"},
      {R"({"url": "https:/relay"})", "https://"},
      {R"({"url": "https://"})", "no host"},
      {R"({"url": "https://:4443/x"})", "no host"},
      {R"({"url": "https://user@/x"})", "no host"},
      {R"({"url": "https://[/x"})", "IPv6"},
      {R"({"url": "https://[]:1/x"})", "no host"},
      {R"({"url": "https://relay/a b"})", "space"},
      {R"({"url": "https://relay/\u0000"})", "control"},
      {R"({"url": "https://relay/caf\u00e9"})", "non-ASCII"},
  };
  for (const auto& c : cases) {
    auto origin = parse_origin(c.json);
    ASSERT_FALSE(origin.ok()) << c.json;
    EXPECT_EQ(origin.error().code, 400u) << c.json;
    EXPECT_NE(origin.error().reason.find(c.reason_part), std::string::npos)
        << c.json << " -> " << origin.error().reason;
  }
}

TEST(OriginJson, BoundsTheUrlLength) {
  std::string url = "https://relay/" + std::string(kMaxUrlLength, 'x');
  EXPECT_FALSE(validate_url(url).ok());
  EXPECT_TRUE(validate_url(url.substr(0, kMaxUrlLength)).ok());
}

TEST(OriginJson, SurvivesDeepNesting) {
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_FALSE(parse_origin(deep).ok());
}

TEST(OriginPath, PercentEncodesEverythingButUnreserved) {
  EXPECT_EQ(origin_path("demo-1.x_y~z"), "/origin/demo-1.x_y~z");
  EXPECT_EQ(origin_path("a/b c"), "/origin/a%2Fb%20c");
  EXPECT_EQ(origin_path(std::string("\0\xff", 2)), "/origin/%00%FF");
}

TEST(OriginPath, NameIsTheRestOfTheDecodedPath) {
  EXPECT_EQ(origin_name("/origin/a/b c"), "a/b c");
  EXPECT_EQ(origin_name("/origin/x"), "x");
  EXPECT_EQ(origin_name("/origin/"), std::nullopt);
  EXPECT_EQ(origin_name("/origins/x"), std::nullopt);
  EXPECT_EQ(origin_name("/"), std::nullopt);
}

}  // namespace
}  // namespace moq::api
