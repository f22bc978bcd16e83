// Fuzz target: the control-stream decoder.
//
// The first byte picks how the input is split into feeds, so the incremental
// paths are exercised too. Invariants checked: no crash, no unbounded buffer,
// and every decoded message re-encodes to bytes that decode to the same value.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "wire/control_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t step = (data[0] % 16) + 1;
  std::span<const uint8_t> input(data + 1, size - 1);

  moq::wire::ControlDecoder decoder;
  moq::wire::Message message;
  for (size_t pos = 0; pos < input.size(); pos += step) {
    decoder.feed(input.subspan(pos, std::min(step, input.size() - pos)));
    moq::DecodeStatus status;
    while ((status = decoder.next(message)) == moq::DecodeStatus::kOk) {
      std::vector<uint8_t> again;
      if (!moq::wire::encode(message, again).ok()) std::abort();
      moq::Reader reader(again);
      moq::wire::Message round;
      if (moq::wire::decode(reader, round) != moq::DecodeStatus::kOk) std::abort();
      if (!(round == message) || reader.consumed() != again.size()) std::abort();
    }
    if (status == moq::DecodeStatus::kError) {
      if (decoder.error().reason.empty()) std::abort();
      return 0;
    }
    if (decoder.buffered() > moq::wire::ControlDecoder::kMaxBuffered + step) std::abort();
  }
  return 0;
}
