#include "media/codec.h"

#include <algorithm>
#include <cstdio>
#include <iterator>

#include "media/be_reader.h"

namespace moq::media {
namespace {

std::string hex2(unsigned v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02x", v & 0xffu);
  return buf;
}

std::string dec2(unsigned v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02u", v);
  return buf;
}

// MPEG-4 descriptor length: up to four bytes of 7 bits, high bit = more.
bool descriptor_length(BeReader& r, uint32_t& out) {
  out = 0;
  for (int i = 0; i < 4; ++i) {
    const uint8_t b = r.u8();
    if (!r.ok()) return false;
    out = (out << 7) | (b & 0x7f);
    if (!(b & 0x80)) return true;
  }
  return true;
}

// MSB-first bit reader for the AudioSpecificConfig.
class BitReader {
 public:
  explicit BitReader(std::span<const uint8_t> data) : data_(data) {}
  uint32_t read(unsigned n) {
    uint32_t v = 0;
    for (unsigned i = 0; i < n; ++i) {
      if (pos_ >= data_.size() * 8) {
        ok_ = false;
        return 0;
      }
      v = (v << 1) | ((data_[pos_ / 8] >> (7 - pos_ % 8)) & 1u);
      ++pos_;
    }
    return v;
  }
  bool ok() const { return ok_; }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

uint32_t sampling_frequency(unsigned index) {
  static constexpr uint32_t kRates[] = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                        22050, 16000, 12000, 11025, 8000,  7350};
  return index < std::size(kRates) ? kRates[index] : 0;
}

}  // namespace

Result<std::string> avc_codec(FourCC entry, std::span<const uint8_t> avcc) {
  BeReader r(avcc);
  const uint8_t version = r.u8();
  const uint8_t profile = r.u8();
  const uint8_t compat = r.u8();
  const uint8_t level = r.u8();
  if (!r.ok()) return Error::internal("avcC too short (" + std::to_string(avcc.size()) + " bytes)");
  if (version != 1) return Error::internal("avcC version " + std::to_string(version) + " != 1");
  return entry.str() + "." + hex2(profile) + hex2(compat) + hex2(level);
}

Result<std::string> hevc_codec(FourCC entry, std::span<const uint8_t> hvcc) {
  BeReader r(hvcc);
  r.u8();  // configurationVersion (0 in some early files, so not checked)
  const uint8_t b = r.u8();
  const uint32_t compat = r.u32();
  const auto constraints = r.bytes(6);
  const uint8_t level = r.u8();
  if (!r.ok()) return Error::internal("hvcC too short (" + std::to_string(hvcc.size()) + " bytes)");

  const unsigned space = b >> 6;
  const bool high_tier = (b >> 5) & 1;
  const unsigned profile = b & 0x1f;

  uint32_t reversed = 0;
  for (int i = 0; i < 32; ++i)
    reversed |= ((compat >> i) & 1u) << (31 - i);

  std::string out = entry.str() + ".";
  if (space > 0) out += static_cast<char>('A' + space - 1);
  out += std::to_string(profile);
  char buf[16];
  std::snprintf(buf, sizeof buf, ".%X.", reversed);
  out += buf;
  out += high_tier ? 'H' : 'L';
  out += std::to_string(level);
  size_t last = 6;  // one past the last non-zero constraint byte
  while (last > 0 && constraints[last - 1] == 0)
    --last;
  for (size_t i = 0; i < last; ++i) {
    std::snprintf(buf, sizeof buf, ".%02X", constraints[i]);
    out += buf;
  }
  return out;
}

Result<std::string> av1_codec(std::span<const uint8_t> av1c) {
  BeReader r(av1c);
  const uint8_t marker_version = r.u8();
  const uint8_t b1 = r.u8();
  const uint8_t b2 = r.u8();
  if (!r.ok()) return Error::internal("av1C too short (" + std::to_string(av1c.size()) + " bytes)");
  if (marker_version != 0x81) {
    return Error::internal("av1C marker/version byte " + hex2(marker_version) + " != 81");
  }
  const unsigned profile = b1 >> 5;
  const unsigned level = b1 & 0x1f;
  const bool tier = (b2 >> 7) & 1;
  const bool high_bitdepth = (b2 >> 6) & 1;
  const bool twelve_bit = (b2 >> 5) & 1;
  const unsigned depth = high_bitdepth ? (twelve_bit ? 12 : 10) : 8;
  return "av01." + std::to_string(profile) + "." + dec2(level) + (tier ? "H" : "M") + "." +
         dec2(depth);
}

Result<std::string> vp9_codec(std::span<const uint8_t> vpcc) {
  BeReader r(vpcc);
  r.u32();  // version + flags
  const uint8_t profile = r.u8();
  const uint8_t level = r.u8();
  const uint8_t depth = r.u8() >> 4;
  if (!r.ok()) return Error::internal("vpcC too short (" + std::to_string(vpcc.size()) + " bytes)");
  return "vp09." + dec2(profile) + "." + dec2(level) + "." + dec2(depth);
}

Result<EsdsInfo> parse_esds(std::span<const uint8_t> esds) {
  BeReader r(esds);
  r.u32();  // version + flags
  EsdsInfo info;
  uint32_t len = 0;
  if (r.u8() != 0x03 || !descriptor_length(r, len)) {
    return Error::internal("esds: missing ES_Descriptor");
  }
  r.u16();  // ES_ID
  const uint8_t flags = r.u8();
  if (flags & 0x80) r.u16();         // dependsOn_ES_ID
  if (flags & 0x40) r.skip(r.u8());  // URL
  if (flags & 0x20) r.u16();         // OCR_ES_Id
  if (r.u8() != 0x04 || !descriptor_length(r, len) || !r.ok()) {
    return Error::internal("esds: missing DecoderConfigDescriptor");
  }
  info.object_type = r.u8();
  r.u8();   // streamType, upStream
  r.u24();  // bufferSizeDB
  info.max_bitrate = r.u32();
  info.avg_bitrate = r.u32();
  if (!r.ok()) return Error::internal("esds: truncated DecoderConfigDescriptor");
  // DecoderSpecificInfo (AudioSpecificConfig, ISO/IEC 14496-3 1.6.2.1) is optional.
  if (r.remaining() > 0 && r.u8() == 0x05 && descriptor_length(r, len) && len > 0) {
    auto specific = r.bytes(std::min<size_t>(len, r.remaining()));
    info.specific_info.assign(specific.begin(), specific.end());
    BitReader bits(specific);
    unsigned aot = bits.read(5);
    if (aot == 31) aot = 32 + bits.read(6);  // escape value
    if (bits.ok()) info.audio_object_type = static_cast<uint8_t>(aot);
    const unsigned freq_index = bits.read(4);
    const uint32_t rate = freq_index == 0xf ? bits.read(24) : sampling_frequency(freq_index);
    const unsigned config = bits.read(4);
    if (bits.ok()) {
      info.sample_rate = rate;
      if (config >= 1 && config <= 6) info.channel_count = static_cast<uint16_t>(config);
      if (config == 7) info.channel_count = 8;
    }
  }
  return info;
}

std::string mp4a_codec(const EsdsInfo& esds) {
  std::string out = "mp4a." + hex2(esds.object_type);
  if (esds.audio_object_type != 0) out += "." + std::to_string(esds.audio_object_type);
  return out;
}

}  // namespace moq::media
