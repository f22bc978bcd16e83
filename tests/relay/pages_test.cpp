// The relay's web pages (issue 11): the index's data (/api/broadcasts) from a
// real publisher's catalog and real viewers, the HTML pages with their
// config, and the embedded static files with their caching headers.
#include <nlohmann/json.hpp>

#include "api/process.h"
#include "pages.h"
#include "relay/relay_fixture.h"

namespace moq::relay_test {
namespace {

struct HttpResult {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
};

// One GET (or `method`) with curl; `headers` are extra -H arguments.
HttpResult http(int port, const std::string& path, const std::string& extra = "") {
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + path;
  const auto out = test::run_command("curl -s -i --max-time 5 " + extra + " '" + url + "'").out;
  HttpResult result;
  const size_t split = out.find("\r\n\r\n");
  result.head = out.substr(0, split);
  result.body = split == std::string::npos ? "" : out.substr(split + 4);
  if (out.size() > 12) result.status = std::atoi(out.substr(9, 3).c_str());
  return result;
}

nlohmann::json broadcasts(int port) {
  auto parsed = nlohmann::json::parse(http(port, "/api/broadcasts").body, nullptr, false);
  return parsed.is_discarded() ? nlohmann::json() : parsed["broadcasts"];
}

// The config a page carries: the JSON inside <script id="moq-config">.
nlohmann::json page_config(const std::string& html) {
  const std::string open = "<script id=\"moq-config\" type=\"application/json\">";
  const size_t start = html.find(open);
  if (start == std::string::npos) return nullptr;
  const size_t end = html.find("</script>", start);
  return nlohmann::json::parse(html.substr(start + open.size(), end - start - open.size()), nullptr,
                               false);
}

constexpr const char* kCatalog =
    R"({"tracks":[{"container":"mp4","kind":"video","init_track":"1.mp4","data_track":"1",)"
    R"("codec":"avc1.64001f","width":1280,"height":720,"frame_rate":30,"bit_rate":1500000}]})";

TEST_F(RelayTest, IndexListsABroadcastWithItsCatalogAndViewersUntilItEnds) {
  auto pub = publish("show");
  ASSERT_TRUE(pub);
  auto catalog = pub->writer.create_track(".catalog");
  ASSERT_TRUE(catalog);
  const int port = relay_->port();

  // Listed as soon as it is published; its catalog once the relay read it.
  nlohmann::json list;
  ASSERT_TRUE(run_until([&] { return (list = broadcasts(port)).size() == 1; })) << list;
  EXPECT_EQ(list[0]["name"], "show");
  write_segment(*catalog, 0, INT32_MAX, std::nullopt, kCatalog);
  ASSERT_TRUE(run_until([&] {
    list = broadcasts(port);
    return list.size() == 1 && !list[0]["catalog"].is_null();
  })) << list;
  EXPECT_EQ(list[0]["catalog"]["tracks"][0]["codec"], "avc1.64001f");
  EXPECT_EQ(list[0]["viewers"], 0);
  EXPECT_GE(list[0]["uptime_seconds"].get<int>(), 0);
  EXPECT_TRUE(list[0]["started"].is_string());

  // Two viewers, then one.
  auto first = subscriber("show");
  auto second = subscriber("show");
  ASSERT_TRUE(first && second);
  ASSERT_TRUE(run_until([&] { return broadcasts(port)[0]["viewers"] == 2; }));
  second->session->close(Error::closed());
  ASSERT_TRUE(run_until([&] { return broadcasts(port)[0]["viewers"] == 1; })) << broadcasts(port);

  // A corrected catalog (a newer segment of .catalog) replaces the listed one.
  std::string corrected = kCatalog;
  corrected.replace(corrected.find("1500000"), 7, "2500000");
  write_segment(*catalog, 1, INT32_MAX, std::nullopt, corrected);
  ASSERT_TRUE(run_until([&] {
    return broadcasts(port)[0]["catalog"]["tracks"][0]["bit_rate"] == 2500000;
  })) << broadcasts(port);

  // The publisher leaves: the broadcast is no longer listed.
  pub->session->close(Error::closed());
  ASSERT_TRUE(run_until([&] { return broadcasts(port).empty(); })) << broadcasts(port);
}

TEST_F(RelayTest, PagesCarryTheRelaysUrlAndCertificateHash) {
  const int port = relay_->port();
  for (const std::string path : {"/", "/watch/show", "/watch/live/cam", "/publish/show"}) {
    const HttpResult page = http(port, path, "-H 'Host: localhost:" + std::to_string(port) + "'");
    EXPECT_EQ(page.status, 200) << path << "\n" << page.head;
    EXPECT_NE(page.head.find("Content-Type: text/html; charset=utf-8"), std::string::npos);
    EXPECT_NE(page.head.find("Cache-Control: no-store"), std::string::npos);
    const nlohmann::json config = page_config(page.body);
    ASSERT_TRUE(config.is_object()) << page.body;
    EXPECT_EQ(config["url"], "https://localhost:" + std::to_string(port));
    EXPECT_EQ(config["fingerprint"], relay_->fingerprint());
    if (path != "/") {
      EXPECT_EQ(config["name"], path.substr(path.find('/', 1) + 1));
    }
  }
  // The WebTransport URL follows the host the browser used.
  const HttpResult by_ip = http(port, "/watch/show", "-H 'Host: 127.0.0.1:9999'");
  EXPECT_EQ(page_config(by_ip.body)["url"], "https://127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(http(port, "/watch/").status, 404);
  EXPECT_EQ(http(port, "/watch/show", "-X POST").status, 405);
}

TEST_F(RelayTest, StaticFilesHaveTypesAndRevalidate) {
  const int port = relay_->port();
  const HttpResult script = http(port, "/static/index.js");
  EXPECT_EQ(script.status, 200);
  EXPECT_NE(script.head.find("Content-Type: text/javascript; charset=utf-8"), std::string::npos);
  EXPECT_NE(script.head.find("Cache-Control: no-cache"), std::string::npos);
  const size_t at = script.head.find("ETag: ");
  ASSERT_NE(at, std::string::npos) << script.head;
  const std::string etag = script.head.substr(at + 6, script.head.find("\r\n", at) - at - 6);
  EXPECT_EQ(etag.size(), 66u) << etag;  // a quoted SHA-256
  EXPECT_EQ(http(port, "/static/index.js", "-H 'If-None-Match: " + etag + "'").status, 304);
  EXPECT_EQ(http(port, "/static/index.js", "-H 'If-None-Match: \"other\"'").status, 200);
  EXPECT_NE(http(port, "/static/index.css").head.find("Content-Type: text/css"), std::string::npos);
  EXPECT_EQ(http(port, "/static/missing.js").status, 404);
  EXPECT_EQ(http(port, "/static/../CMakeLists.txt", "--path-as-is").status, 404);
}

TEST(PageConfig, HostileHostsAndNamesStayInsideTheirJsonStrings) {
  relay::PagesConfig config;
  config.port = 4443;
  config.fingerprint = "ab";
  auto url_for = [&](const std::string& host) {
    return nlohmann::json::parse(relay::page_config_json(host, config, ""))["url"];
  };
  EXPECT_EQ(url_for("example.com:80"), "https://example.com:4443");
  EXPECT_EQ(url_for("[::1]:80"), "https://[::1]:4443");
  EXPECT_EQ(url_for(""), "https://localhost:4443");
  EXPECT_EQ(url_for("evil\"/><script>"), "https://localhost:4443");
  // A name that tries to end the <script> element.
  const std::string json = relay::page_config_json("x", config, "a</script><b>");
  EXPECT_EQ(json.find('<'), std::string::npos) << json;
  EXPECT_EQ(nlohmann::json::parse(json)["name"], "a</script><b>");
  config.fingerprint.reset();
  EXPECT_TRUE(
      nlohmann::json::parse(relay::page_config_json("x", config, ""))["fingerprint"].is_null());
}

}  // namespace
}  // namespace moq::relay_test
