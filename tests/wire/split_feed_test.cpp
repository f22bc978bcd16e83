// Decoding the same bytes split at every possible point gives the same result.

#include <gtest/gtest.h>

#include "spec_messages.h"
#include "wire/control_decoder.h"

namespace moq::wire {
namespace {

using test::from_hex;

// All control messages of the vector file, back to back, as one stream.
std::pair<std::vector<uint8_t>, std::vector<Message>> spec_stream() {
  std::vector<uint8_t> bytes;
  std::vector<Message> messages;
  const auto vectors = test::load_spec_vectors();  // the loop must not range over a temporary
  for (const auto& v : vectors["messages"]) {
    if (v["message"] == "OBJECT") continue;
    messages.push_back(test::message_from(v["message"], v["fields"]));
    const auto b = from_hex(v["hex"]);
    bytes.insert(bytes.end(), b.begin(), b.end());
  }
  return {bytes, messages};
}

std::vector<Message> drain(ControlDecoder& d) {
  std::vector<Message> out;
  Message m;
  DecodeStatus s;
  while ((s = d.next(m)) == DecodeStatus::kOk)
    out.push_back(m);
  EXPECT_EQ(s, DecodeStatus::kNeedMore) << d.error().reason;
  return out;
}

TEST(SplitFeed, EverySplitPointOfTheWholeStream) {
  const auto [bytes, expected] = spec_stream();
  for (size_t split = 0; split <= bytes.size(); ++split) {
    ControlDecoder d;
    d.feed(std::span(bytes).first(split));
    auto got = drain(d);
    d.feed(std::span(bytes).subspan(split));
    auto rest = drain(d);
    got.insert(got.end(), rest.begin(), rest.end());
    ASSERT_EQ(got, expected) << "split at " << split;
    EXPECT_EQ(d.buffered(), 0u);
  }
}

TEST(SplitFeed, OneByteAtATime) {
  const auto [bytes, expected] = spec_stream();
  ControlDecoder d;
  std::vector<Message> got;
  for (uint8_t b : bytes) {
    d.feed(std::span(&b, 1));
    auto some = drain(d);
    got.insert(got.end(), some.begin(), some.end());
  }
  EXPECT_EQ(got, expected);
}

TEST(SplitFeed, EveryTruncationOfEachMessageNeedsMore) {
  const auto vectors = test::load_spec_vectors();  // the loop must not range over a temporary
  for (const auto& v : vectors["messages"]) {
    if (v["message"] == "OBJECT") continue;
    const auto bytes = from_hex(v["hex"]);
    for (size_t n = 0; n < bytes.size(); ++n) {
      Reader r{std::span(bytes).first(n)};
      Message m;
      EXPECT_EQ(decode(r, m), DecodeStatus::kNeedMore) << v["message"] << " cut at " << n;
    }
  }
}

TEST(SplitFeed, ErrorIsFoundWhateverTheSplit) {
  // A valid SUBSCRIBE followed by an unknown type.
  const auto bytes = from_hex("030000082e636174616c6f6709");
  for (size_t split = 0; split <= bytes.size(); ++split) {
    ControlDecoder d;
    Message m;
    d.feed(std::span(bytes).first(split));
    int ok = 0;
    DecodeStatus s;
    while ((s = d.next(m)) == DecodeStatus::kOk)
      ++ok;
    if (s != DecodeStatus::kError) {
      d.feed(std::span(bytes).subspan(split));
      while ((s = d.next(m)) == DecodeStatus::kOk)
        ++ok;
    }
    EXPECT_EQ(ok, 1) << split;
    EXPECT_EQ(s, DecodeStatus::kError) << split;
  }
}

TEST(SplitFeed, BufferIsBounded) {
  // A string that claims exactly the cap, fed slowly: the decoder waits, and
  // its buffer never exceeds the largest valid message.
  std::vector<uint8_t> head = from_hex("0300");  // SUBSCRIBE id 0, then namespace
  std::vector<uint8_t> len;
  Writer w(len);
  w.varint(kDefaultStringCap);
  ControlDecoder d;
  d.feed(head);
  d.feed(len);
  std::vector<uint8_t> block(4096, 'a');
  Message m;
  for (size_t sent = 0; sent < kDefaultStringCap; sent += block.size()) {
    EXPECT_EQ(d.next(m), DecodeStatus::kNeedMore);
    d.feed(block);
  }
  EXPECT_LE(d.buffered(), ControlDecoder::kMaxBuffered);
}

}  // namespace
}  // namespace moq::wire
