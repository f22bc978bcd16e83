#include "webtransport/connect.h"

#include <gtest/gtest.h>

namespace moq::wt {
namespace {

using Kind = RequestCheck::Kind;

TEST(ConnectRequest, BuildsBrowserShape) {
  auto h = connect_request_headers("relay:4443", "/live", "https://a.example");
  ASSERT_EQ(h.size(), 7u);
  EXPECT_EQ(h[0], (h3::Header{":method", "CONNECT"}));
  EXPECT_EQ(h[1], (h3::Header{":protocol", "webtransport"}));
  EXPECT_EQ(h.back(), (h3::Header{"sec-webtransport-http3-draft02", "1"}));
  auto c = check_request(h);
  ASSERT_EQ(c.kind, Kind::kWebTransport) << c.why;
  EXPECT_EQ(c.request.authority, "relay:4443");
  EXPECT_EQ(c.request.path, "/live");
  EXPECT_EQ(c.request.origin, "https://a.example");
  EXPECT_EQ(connect_request_headers("a", "/").size(), 6u);  // no origin
}

TEST(ConnectRequest, Classification) {
  auto base = connect_request_headers("a", "/x");
  auto with = [&](std::string name, std::string value) {
    auto h = base;
    for (auto& f : h) {
      if (f.name == name) f.value = value;
    }
    return check_request(h);
  };
  EXPECT_EQ(with(":protocol", "websocket").kind, Kind::kWrongProtocol);
  EXPECT_EQ(with(":protocol", "websocket").status(), 400u);
  EXPECT_EQ(with(":scheme", "http").kind, Kind::kWrongProtocol);
  EXPECT_EQ(with(":path", "").kind, Kind::kMalformed);
  EXPECT_EQ(with(":authority", "").kind, Kind::kMalformed);

  auto get = check_request(
      {{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"}});
  EXPECT_EQ(get.kind, Kind::kNotConnect);
  EXPECT_EQ(get.status(), 405u);
  EXPECT_EQ(check_request({{":method", "CONNECT"}, {":authority", "a:443"}}).kind,
            Kind::kPlainConnect);

  EXPECT_EQ(check_request({{":method", "GET"}, {":path", "/"}}).kind, Kind::kMalformed);
  EXPECT_EQ(check_request({{"x", "1"}, {":method", "GET"}}).kind, Kind::kMalformed);  // late pseudo
  auto dup = base;
  dup.insert(dup.begin(), {":method", "CONNECT"});
  EXPECT_EQ(check_request(dup).kind, Kind::kMalformed);
  auto upper = base;
  upper.push_back({"Origin", "x"});
  EXPECT_EQ(check_request(upper).kind, Kind::kMalformed);
  auto conn = base;
  conn.push_back({"connection", "close"});
  EXPECT_EQ(check_request(conn).kind, Kind::kMalformed);
  auto unknown = base;
  unknown.insert(unknown.begin(), {":foo", "x"});
  EXPECT_EQ(check_request(unknown).kind, Kind::kMalformed);
  auto crlf = base;
  crlf.push_back({"x", "a\r\nb"});
  EXPECT_EQ(check_request(crlf).kind, Kind::kMalformed);
  EXPECT_EQ(check_request({}).kind, Kind::kMalformed);
}

TEST(ConnectResponse, Check) {
  auto ok = check_response(response_headers(200, true));
  EXPECT_TRUE(ok.ok && ok.success());
  EXPECT_EQ(response_headers(200, true)[1],
            (h3::Header{"sec-webtransport-http3-draft", "draft02"}));
  auto nf = check_response(response_headers(404, false));
  EXPECT_TRUE(nf.ok);
  EXPECT_FALSE(nf.success());
  EXPECT_EQ(nf.status, 404u);
  EXPECT_TRUE(check_response({{":status", "103"}}).interim());
  EXPECT_FALSE(check_response({{":status", "101"}}).ok);
  EXPECT_FALSE(check_response({{":status", "2x0"}}).ok);
  EXPECT_FALSE(check_response({{"server", "x"}}).ok);
  EXPECT_FALSE(check_response({{":status", "200"}, {":path", "/"}}).ok);
  EXPECT_FALSE(check_response({{":status", "200"}, {":status", "200"}}).ok);
}

// The original Rust relay sends its response headers in hash-map order: the
// :status pseudo-header is not always first (issue 9).
TEST(ConnectResponse, StatusAcceptedInAnyPosition) {
  const std::vector<h3::HeaderList> orders = {
      {{":status", "200"}, {"sec-webtransport-http3-draft", "draft02"}},
      {{"sec-webtransport-http3-draft", "draft02"}, {":status", "200"}},
      {{"server", "moq-relay"}, {":status", "200"}, {"sec-webtransport-http3-draft", "draft02"}},
      {{"date", "x"}, {"sec-webtransport-http3-draft", "draft02"}, {":status", "200"}},
      {{":status", "200"}},
  };
  for (const auto& h : orders) {
    auto r = check_response(h);
    EXPECT_TRUE(r.ok) << r.why;
    EXPECT_EQ(r.status, 200u);
    EXPECT_TRUE(r.success());
  }
  auto nf = check_response({{"sec-webtransport-http3-draft", "draft02"}, {":status", "404"}});
  EXPECT_TRUE(nf.ok);
  EXPECT_EQ(nf.status, 404u);
  EXPECT_FALSE(check_response({{"sec-webtransport-http3-draft", "draft02"}, {":path", "/"}}).ok);
}

}  // namespace
}  // namespace moq::wt
