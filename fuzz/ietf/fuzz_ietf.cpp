// The IETF draft-14 decoders (control messages, subgroup headers, object
// headers) on arbitrary bytes: no crash, no leak, a consumed count within
// the input, and what decodes re-encodes to bytes that decode to an equal
// message.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "ietf/message.h"

namespace {

using namespace moq::ietf;
using moq::DecodeStatus;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void control(std::span<const uint8_t> in) {
  // A stream of messages, as the control loop reads them.
  while (!in.empty()) {
    DecodedControl d = decode_control(in);
    if (d.status != DecodeStatus::kOk) return;
    check(d.consumed > 0 && d.consumed <= in.size());
    (void)control_name(d.message);
    std::vector<uint8_t> out;
    // Everything decoded fits: its payload was at most 65535 bytes, and a
    // re-encoding is never longer (varints are written minimally).
    check(encode(d.message, out));
    check(out.size() <= d.consumed);
    DecodedControl again = decode_control(out);
    check(again.status == DecodeStatus::kOk && again.consumed == out.size() &&
          again.message == d.message);
    // Canonical bytes re-encode to themselves.
    std::vector<uint8_t> twice;
    check(encode(again.message, twice) && twice == out);
    in = in.subspan(d.consumed);
  }
}

void subgroup(std::span<const uint8_t> in) {
  DecodedSubgroupHeader d = decode_subgroup_header(in);
  if (d.status != DecodeStatus::kOk) return;
  check(d.consumed > 0 && d.consumed <= in.size() && is_subgroup_type(d.header.type));
  std::vector<uint8_t> out;
  encode(d.header, out);
  DecodedSubgroupHeader again = decode_subgroup_header(out);
  check(again.status == DecodeStatus::kOk && again.consumed == out.size() &&
        again.header == d.header);
  // Then the objects of the stream, skipping each payload.
  in = in.subspan(d.consumed);
  while (!in.empty()) {
    DecodedObjectHeader o = decode_object_header(in, d.header.has_extensions());
    if (o.status != DecodeStatus::kOk) return;
    check(o.consumed > 0 && o.consumed <= in.size() && o.header.payload_length <= kMaxObjectSize);
    std::vector<uint8_t> bytes;
    encode(o.header, d.header.has_extensions(), bytes);
    DecodedObjectHeader back = decode_object_header(bytes, d.header.has_extensions());
    check(back.status == DecodeStatus::kOk && back.consumed == bytes.size() &&
          back.header == o.header);
    in = in.subspan(o.consumed);
    if (in.size() < o.header.payload_length) return;
    in = in.subspan(static_cast<size_t>(o.header.payload_length));
  }
}

void object(std::span<const uint8_t> in, bool with_extensions) {
  DecodedObjectHeader d = decode_object_header(in, with_extensions);
  if (d.status != DecodeStatus::kOk) return;
  check(d.consumed > 0 && d.consumed <= in.size());
  std::vector<uint8_t> out;
  encode(d.header, with_extensions, out);
  DecodedObjectHeader again = decode_object_header(out, with_extensions);
  check(again.status == DecodeStatus::kOk && again.consumed == out.size() &&
        again.header == d.header);
}

void paths(std::span<const uint8_t> in) {
  std::string_view text(reinterpret_cast<const char*>(in.data()), in.size());
  Namespace ns = namespace_of(text);
  for (const auto& part : ns)
    check(!part.empty() && part.find('/') == std::string::npos);
  // A path round-trips once normalized.
  const std::string path = path_of(ns);
  check(namespace_of(path) == ns && path_of(namespace_of(path)) == path);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::span<const uint8_t> in(data + 1, size - 1);
  switch (data[0] % 5) {
    case 0:
      control(in);
      break;
    case 1:
      subgroup(in);
      break;
    case 2:
      object(in, false);
      break;
    case 3:
      object(in, true);
      break;
    default:
      paths(in);
  }
  return 0;
}
