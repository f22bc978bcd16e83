// Headless Chromium subscribes through the real relay: a small KIXEL_00
// subscriber written in JS (tests/browser/moq_subscribe.mjs) reads the
// .catalog track that this test publishes, and must get exactly its bytes.

#include <nlohmann/json.hpp>

#include <filesystem>

#include "relay/relay_fixture.h"

namespace moq::relay_test {
namespace {

std::string hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

TEST_F(RelayTest, ChromiumSubscribesToTheCatalogThroughTheRelay) {
  const std::string browser_dir = std::string(MOQ_SOURCE_DIR) + "/tests/browser";
  if (!std::filesystem::exists(browser_dir + "/node_modules/playwright-core")) {
    GTEST_SKIP() << "tests/browser/node_modules missing: run dev/setup (npm ci in tests/browser)";
  }
  if (!std::filesystem::exists("/usr/bin/node") || !std::filesystem::exists("/usr/bin/chromium")) {
    GTEST_SKIP() << "node or /usr/bin/chromium missing: run dev/setup";
  }

  auto pub = publish("browser/show");
  ASSERT_TRUE(pub);
  auto catalog = pub->writer.create_track(".catalog");
  ASSERT_TRUE(catalog);
  // UTF-8 JSON as moq-pub writes it, with non-ASCII bytes to check exactness.
  const std::string expected =
      R"({"tracks":[{"container":"mp4","kind":"video","init_track":"1.mp4","data_track":"1",)"
      R"("codec":"avc1.64001f","width":1280,"height":720,"frame_rate":24,"bit_rate":1500000,)"
      "\"name\":\"caf\xc3\xa9 \xe2\x9c\x93\"}]}";
  write_segment(*catalog, 0, std::numeric_limits<int32_t>::max(), std::nullopt, expected);

  const std::string out_path = "/tmp/moq-relay-browser-" + std::to_string(relay_->port()) + ".out";
  const std::string err_path = "/tmp/moq-relay-browser-" + std::to_string(relay_->port()) + ".err";
  test::Child::Options options;
  options.stdout_path = out_path;
  options.stderr_path = err_path;
  test::Child node({"/usr/bin/node", browser_dir + "/moq_subscribe.mjs",
                    relay_->url("browser/show"), relay_->fingerprint(), ".catalog"},
                   options);
  // The publisher lives in this process: keep its event loop going meanwhile.
  const bool exited = run_until([&] { return !node.running(); }, std::chrono::seconds(90));
  const auto status = node.stop(SIGKILL, std::chrono::seconds(1));
  const std::string output = test::read_file(out_path);
  const std::string errors = test::read_file(err_path);
  std::remove(out_path.c_str());
  std::remove(err_path.c_str());
  ASSERT_TRUE(exited) << "node did not finish\n" << output << errors;
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 0) << output << "\n" << errors;

  const auto line = output.substr(0, output.find('\n'));
  auto seen = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(seen.is_discarded()) << output << errors;
  EXPECT_EQ(seen.value("fingerprint", ""), relay_->fingerprint());
  EXPECT_EQ(seen.value("cors", ""), "*");
  ASSERT_TRUE(seen.contains("object")) << output << errors;
  EXPECT_EQ(seen["object"].value("sequence", -1), 0);
  EXPECT_EQ(seen["object"].value("priority", 0), std::numeric_limits<int32_t>::max());
  EXPECT_EQ(seen["object"].value("expires", -1), 0);
  EXPECT_EQ(seen["object"].value("payloadHex", ""), hex(expected));
  // `.catalog` once for Chromium and the relay's index together, and the
  // init track it names, which the relay reads to derive the hang
  // catalog.json (issue 12).
  EXPECT_EQ(pub->session->publisher_stats().subscriptions, 2u);
}

}  // namespace
}  // namespace moq::relay_test
