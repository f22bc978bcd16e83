// Every moq-lite message decoder (03, 04, 05) and the WebTransport protocol
// list parser on arbitrary bytes: no crash, no leak, and what decodes
// re-encodes to bytes that decode to the same message.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "lite/message.h"
#include "webtransport/protocols.h"

namespace {

using namespace moq::lite;

template <class T>
void round_trip(Decoded<T> (*decode)(std::span<const uint8_t>, Version),
                std::span<const uint8_t> in, Version v) {
  Decoded<T> d = decode(in, v);
  if (d.status != moq::DecodeStatus::kOk) return;
  std::vector<uint8_t> out;
  encode(d.message, v, out);
  Decoded<T> again = decode(out, v);
  if (again.status != moq::DecodeStatus::kOk || !(again.message == d.message)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const Version v = data[0] % 3 == 0   ? Version::kLite03
                    : data[0] % 3 == 1 ? Version::kLite04
                                       : Version::kLite05;
  const uint8_t which = data[1];
  std::span<const uint8_t> in(data + 2, size - 2);
  switch (which % 16) {
    case 0:
      round_trip(&decode_setup, in, v);
      break;
    case 1:
      round_trip(&decode_announce_request, in, v);
      break;
    case 2:
      round_trip(&decode_announce_ok, in, v);
      break;
    case 3:
      round_trip(&decode_announce, in, v);
      break;
    case 4:
      round_trip(&decode_subscribe, in, v);
      break;
    case 5:
      round_trip(&decode_subscribe_update, in, v);
      break;
    case 6:
      round_trip(&decode_subscribe_start, in, v);
      break;
    case 7:
      round_trip(&decode_subscribe_end, in, v);
      break;
    case 8:
      round_trip(&decode_subscribe_drop, in, v);
      break;
    case 9:
      round_trip(&decode_track_request, in, v);
      break;
    case 10:
      round_trip(&decode_track_info, in, v);
      break;
    case 11:
      round_trip(&decode_fetch, in, v);
      break;
    case 12:
      round_trip(&decode_probe, in, v);
      break;
    case 13:
      round_trip(&decode_goaway, in, v);
      break;
    case 14:
      round_trip(&decode_group_header, in, v);
      break;
    default: {
      std::string_view text(reinterpret_cast<const char*>(in.data()), in.size());
      auto list = moq::wt::parse_protocol_list(text);
      if (list) {
        auto again = moq::wt::parse_protocol_list(moq::wt::serialize_protocol_list(*list));
        if (!again || *again != *list) __builtin_trap();
      }
      (void)moq::wt::parse_protocol_item(text);
    }
  }
  return 0;
}
