#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "coding/result.h"
#include "media/fourcc.h"

namespace moq::media {

// RFC 6381 "codecs" strings built from the decoder configuration records in a
// sample entry. Each takes the record box's payload (after the 8-byte header).

// avc1.PPCCLL / avc3.PPCCLL (ISO/IEC 14496-15 annex: profile_idc,
// constraint/compatibility byte, level_idc, two lowercase hex digits each).
Result<std::string> avc_codec(FourCC entry, std::span<const uint8_t> avcc);

// hvc1/hev1 per ISO/IEC 14496-15 E.3, e.g. "hvc1.1.6.L93.B0": profile space
// letter + profile_idc, the 32 compatibility flags bit-reversed in hex, tier
// L/H + level_idc, then the constraint bytes in hex with trailing zeros cut.
Result<std::string> hevc_codec(FourCC entry, std::span<const uint8_t> hvcc);

// av01.P.LLT.DD (AV1-ISOBMFF "Codecs Parameter String", short form): profile,
// two-digit level, tier M/H, two-digit bit depth.
Result<std::string> av1_codec(std::span<const uint8_t> av1c);

// vp09.PP.LL.DD from a vpcC full box payload (VP9-ISOBMFF): two-digit
// decimal profile, level and bit depth.
Result<std::string> vp9_codec(std::span<const uint8_t> vpcc);

// What an esds box (MPEG-4 Elementary Stream Descriptor) tells about audio.
struct EsdsInfo {
  uint8_t object_type = 0;        // objectTypeIndication: 0x40 = MPEG-4 audio
  uint8_t audio_object_type = 0;  // from DecoderSpecificInfo; 0 when absent (2 = AAC-LC)
  // From the AudioSpecificConfig; 0 when absent or not stated there. The
  // sample entry's channelcount is often the template value 2, so this wins.
  uint32_t sample_rate = 0;
  uint16_t channel_count = 0;
  uint32_t max_bitrate = 0;
  uint32_t avg_bitrate = 0;
  // The DecoderSpecificInfo bytes (the AudioSpecificConfig), if any.
  std::vector<uint8_t> specific_info;
};

// Parses an esds full box payload (version/flags first).
Result<EsdsInfo> parse_esds(std::span<const uint8_t> esds);

// mp4a.OO[.A]: objectTypeIndication in hex, audio object type in decimal.
std::string mp4a_codec(const EsdsInfo& esds);

}  // namespace moq::media
