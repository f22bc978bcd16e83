#include "webtransport/capsule.h"

#include "h3/capsule.h"
#include "h3/frame.h"

namespace moq::wt {

std::string_view truncate_utf8(std::string_view reason, size_t max) {
  if (reason.size() <= max) return reason;
  size_t end = max;
  // Step back over continuation bytes (10xxxxxx) so we cut before a lead byte.
  while (end > 0 && (static_cast<uint8_t>(reason[end]) & 0xc0) == 0x80)
    --end;
  return reason.substr(0, end);
}

std::vector<uint8_t> encode_close_capsule(const CloseSession& close) {
  const std::string_view reason = truncate_utf8(close.reason, kMaxCloseReason);
  std::vector<uint8_t> value;
  value.reserve(4 + reason.size());
  for (int shift = 24; shift >= 0; shift -= 8)
    value.push_back(static_cast<uint8_t>(close.code >> shift));
  value.insert(value.end(), reason.begin(), reason.end());
  std::vector<uint8_t> out;
  h3::write_capsule(capsule_type::kCloseSession, value, out);
  return out;
}

std::vector<uint8_t> encode_close_data_frame(const CloseSession& close) {
  std::vector<uint8_t> out;
  h3::write_frame(h3::frame_type::kData, encode_close_capsule(close), out);
  return out;
}

std::vector<uint8_t> encode_drain_data_frame() {
  std::vector<uint8_t> capsule;
  h3::write_capsule(capsule_type::kDrainSession, {}, capsule);
  std::vector<uint8_t> out;
  h3::write_frame(h3::frame_type::kData, capsule, out);
  return out;
}

std::optional<CloseSession> decode_close_value(std::span<const uint8_t> value) {
  if (value.size() < 4 || value.size() - 4 > kMaxCloseReason) return std::nullopt;
  CloseSession c;
  c.code = (uint32_t{value[0]} << 24) | (uint32_t{value[1]} << 16) | (uint32_t{value[2]} << 8) |
           uint32_t{value[3]};
  c.reason.assign(reinterpret_cast<const char*>(value.data() + 4), value.size() - 4);
  return c;
}

}  // namespace moq::wt
