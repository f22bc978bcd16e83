// Fuzz target: the OBJECT header decoder at the start of a data stream.
//
// The first byte picks the chunk size; checks that the header is found at the
// same place however the bytes are split and that the payload is passed on
// intact.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "wire/object.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t step = (data[0] % 8) + 1;
  const moq::Bytes stream = moq::Bytes::copy(std::span<const uint8_t>(data + 1, size - 1));

  // Reference: all bytes at once.
  moq::wire::ObjectStreamDecoder whole;
  const moq::DecodeStatus expected = whole.feed(stream);
  const std::string expected_payload(whole.take_payload().view());

  moq::wire::ObjectStreamDecoder split;
  moq::DecodeStatus status = moq::DecodeStatus::kNeedMore;
  std::string payload;
  for (size_t pos = 0; pos < stream.size(); pos += step) {
    const moq::Bytes chunk = stream.slice(pos, step);
    if (status == moq::DecodeStatus::kOk) {
      payload += chunk.view();
      continue;
    }
    status = split.feed(chunk);
    if (status == moq::DecodeStatus::kOk) payload += split.take_payload().view();
    if (status == moq::DecodeStatus::kError) break;
  }
  if (status != expected) std::abort();
  if (status == moq::DecodeStatus::kOk) {
    if (!(split.header() == whole.header()) || payload != expected_payload) std::abort();
    std::vector<uint8_t> again;
    if (!moq::wire::encode(split.header(), again).ok()) std::abort();
  }
  return 0;
}
