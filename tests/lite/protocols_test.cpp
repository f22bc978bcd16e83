#include <gtest/gtest.h>

#include "webtransport/connect.h"
#include "webtransport/protocols.h"

namespace moq::wt {
namespace {

TEST(WtProtocols, ParsesTheListTodaysClientsSend) {
  // As @moq/watch 0.4.6 offers it (Chromium sends the SF list).
  auto list = parse_protocol_list(
      R"("moq-lite-05", "moq-lite-04", "moq-lite-03", "moql", "moqt-19", "moqt-15")");
  ASSERT_TRUE(list);
  EXPECT_EQ(*list, (std::vector<std::string>{"moq-lite-05", "moq-lite-04", "moq-lite-03", "moql",
                                             "moqt-19", "moqt-15"}));
}

TEST(WtProtocols, LiberalInTokensParametersAndSpaces) {
  auto list = parse_protocol_list(R"(  "a";q=1,b ,	"c\"d")");
  ASSERT_TRUE(list);
  EXPECT_EQ(*list, (std::vector<std::string>{"a", "b", "c\"d"}));
  EXPECT_EQ(parse_protocol_list(""), std::vector<std::string>{});
}

TEST(WtProtocols, MalformedListsAreRefused) {
  EXPECT_FALSE(parse_protocol_list(R"("a",)"));
  EXPECT_FALSE(parse_protocol_list(R"("a)"));
  EXPECT_FALSE(parse_protocol_list(R"(("a" "b"))"));
  EXPECT_FALSE(parse_protocol_list(R"("a" "b")"));
  EXPECT_FALSE(parse_protocol_item(R"("a", "b")"));
}

TEST(WtProtocols, SerializesAndRoundTrips) {
  EXPECT_EQ(serialize_protocol_item("moq-lite-05"), "\"moq-lite-05\"");
  EXPECT_EQ(serialize_protocol_list({"a", "b"}), "\"a\", \"b\"");
  EXPECT_EQ(parse_protocol_item(serialize_protocol_item("x\\y\"z")), "x\\y\"z");
}

TEST(WtProtocols, ConnectCarriesTheOfferAndTheAnswer) {
  auto request = connect_request_headers("localhost:4443", "/", "", {"moq-lite-05", "moql"});
  auto check = check_request(request);
  ASSERT_EQ(check.kind, RequestCheck::Kind::kWebTransport);
  EXPECT_EQ(check.request.protocols, (std::vector<std::string>{"moq-lite-05", "moql"}));
  auto response = response_headers(200, true, "moq-lite-05");
  const std::string* chosen = h3::find_header(response, kProtocolHeader);
  ASSERT_TRUE(chosen);
  EXPECT_EQ(*chosen, "\"moq-lite-05\"");
  EXPECT_FALSE(h3::find_header(response_headers(200, true), kProtocolHeader));
}

}  // namespace
}  // namespace moq::wt
