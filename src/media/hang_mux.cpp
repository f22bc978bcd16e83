#include "media/hang_mux.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "coding/varint.h"
#include "media/be_reader.h"
#include "media/box.h"
#include "media/codec.h"
#include "media/moof.h"

namespace moq::media {
namespace {

constexpr uint32_t kVideoTimescale = 1'000'000;
constexpr uint32_t kOpusTimescale = 48'000;
constexpr uint64_t kDefaultVideoDurationUs = 33'333;  // 1/30 s
constexpr uint32_t kOpusDefaultSamples = 960;         // 20 ms, @moq/publish's default
constexpr uint32_t kAacSamples = 1024;
constexpr uint64_t kMaxGapUs = 10'000'000;  // a larger gap is not a frame duration
constexpr uint32_t kSyncFlags = 0x02000000;
constexpr uint32_t kNonSyncFlags = 0x01010000;

// Big-endian writer for boxes: open() and close() bracket a box and patch its
// 32-bit size.
class BoxOut {
 public:
  std::vector<uint8_t> bytes;

  void u8(uint64_t v) { bytes.push_back(static_cast<uint8_t>(v)); }
  void u16(uint64_t v) { be(v, 2); }
  void u24(uint64_t v) { be(v, 3); }
  void u32(uint64_t v) { be(v, 4); }
  void u64(uint64_t v) { be(v, 8); }
  void zeros(size_t n) { bytes.insert(bytes.end(), n, 0); }
  void raw(std::span<const uint8_t> b) { bytes.insert(bytes.end(), b.begin(), b.end()); }
  void fourcc(FourCC type) { u32(type.value); }

  size_t open(FourCC type) {
    const size_t at = bytes.size();
    u32(0);
    fourcc(type);
    return at;
  }
  size_t open_full(FourCC type, uint8_t version, uint32_t flags) {
    const size_t at = open(type);
    u8(version);
    u24(flags);
    return at;
  }
  void close(size_t at) {
    const uint64_t size = bytes.size() - at;
    for (size_t i = 0; i < 4; ++i)
      bytes[at + i] = static_cast<uint8_t>(size >> (24 - 8 * i));
  }
  // A whole box around `payload`.
  void box(FourCC type, std::span<const uint8_t> payload) {
    const size_t at = open(type);
    raw(payload);
    close(at);
  }

 private:
  void be(uint64_t v, int n) {
    for (int shift = 8 * (n - 1); shift >= 0; shift -= 8)
      bytes.push_back(static_cast<uint8_t>(v >> shift));
  }
};

// Microseconds to `timescale` ticks (floor), without overflow.
uint64_t us_to_ticks(uint64_t us, uint32_t timescale) {
  return us / 1'000'000 * timescale + us % 1'000'000 * timescale / 1'000'000;
}

uint16_t clamp16(std::optional<uint32_t> v) {
  return static_cast<uint16_t>(std::min<uint32_t>(v.value_or(0), UINT16_MAX));
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// The dot-separated decimal fields of a codec string after its 4CC
// ("vp09.00.10.08" -> 0, 10, 8); the letter of a field like "08M" is returned
// in `tier`. Fails on a non-numeric field.
Result<std::vector<uint32_t>> codec_fields(std::string_view codec, char* tier = nullptr) {
  std::vector<uint32_t> out;
  size_t pos = codec.find('.');
  while (pos != std::string_view::npos) {
    const size_t next = codec.find('.', pos + 1);
    std::string_view f =
        codec.substr(pos + 1, next == std::string_view::npos ? next : next - pos - 1);
    if (tier && out.size() == 1 && !f.empty() && (f.back() == 'M' || f.back() == 'H')) {
      *tier = f.back();
      f.remove_suffix(1);
    }
    uint32_t v = 0;
    auto [p, ec] = std::from_chars(f.data(), f.data() + f.size(), v);
    if (ec != std::errc() || p != f.data() + f.size() || f.empty()) {
      return Error::internal("codec '" + std::string(codec) + "': bad field '" + std::string(f) +
                             "'");
    }
    out.push_back(v);
    pos = next;
  }
  return out;
}

uint8_t field(const std::vector<uint32_t>& f, size_t i, uint8_t fallback) {
  return i < f.size() ? static_cast<uint8_t>(std::min<uint32_t>(f[i], 255)) : fallback;
}

// vpcC (VP Codec ISO Media File Format Binding) payload from "vp09.PP.LL.DD
// [.CC.cp.tc.mc.FF]" or "vp8"; missing fields take the short form's defaults
// (4:2:0 colocated, BT.709, limited range). Bare "vp09" is vp09.00.10.08.
Result<std::vector<uint8_t>> vpcc_from_codec(std::string_view codec, bool vp8) {
  std::vector<uint32_t> f;
  if (!vp8) {
    auto parsed = codec_fields(codec);
    if (!parsed) return parsed.error();
    f = std::move(*parsed);
  }
  if (f.empty()) f = {0, 10, 8};
  if (f.size() < 3) return Error::internal("codec '" + std::string(codec) + "': too few fields");
  const uint8_t depth = field(f, 2, 8);
  if (depth != 8 && depth != 10 && depth != 12) {
    return Error::internal("codec '" + std::string(codec) + "': bit depth " +
                           std::to_string(depth));
  }
  BoxOut o;
  o.u32(0x01000000);  // version 1, flags 0
  o.u8(field(f, 0, 0));
  o.u8(field(f, 1, 10));
  o.u8(uint32_t(depth) << 4 | uint32_t(field(f, 3, 1) & 7) << 1 | (field(f, 7, 0) & 1));
  o.u8(field(f, 4, 1));
  o.u8(field(f, 5, 1));
  o.u8(field(f, 6, 1));
  o.u16(0);  // codecInitializationDataSize
  return std::move(o.bytes);
}

// av1C payload from "av01.P.LLT.DD[.M.CCC...]" (no configOBUs: the sequence
// header travels in band). Bare "av01" is av01.0.08M.08.
Result<std::vector<uint8_t>> av1c_from_codec(std::string_view codec) {
  char tier = 'M';
  auto parsed = codec_fields(codec, &tier);
  if (!parsed) return parsed.error();
  std::vector<uint32_t> f = std::move(*parsed);
  if (f.empty()) f = {0, 8, 8};
  if (f.size() < 3) return Error::internal("codec '" + std::string(codec) + "': too few fields");
  const uint32_t depth = f[2];
  if ((depth != 8 && depth != 10 && depth != 12) || f[0] > 7 || f[1] > 31) {
    return Error::internal("codec '" + std::string(codec) + "': bad profile, level or depth");
  }
  const uint32_t mono = f.size() > 3 ? f[3] & 1 : 0;
  const uint32_t chroma = f.size() > 4 ? f[4] : 110;  // subsampling x, y, sample position
  const uint32_t sub_x = chroma / 100 % 10 ? 1 : 0, sub_y = chroma / 10 % 10 ? 1 : 0;
  BoxOut o;
  o.u8(0x81);  // marker, version 1
  o.u8(f[0] << 5 | f[1]);
  o.u8(uint32_t(tier == 'H') << 7 | uint32_t(depth > 8) << 6 | uint32_t(depth == 12) << 5 |
       mono << 4 | sub_x << 3 | sub_y << 2 | (chroma % 10 & 3));
  o.u8(0);  // no initial_presentation_delay
  return std::move(o.bytes);
}

// dOps payload from an OpusHead (RFC 7845 5.1, little-endian) or, without
// one, for `channels` (1 or 2) with pre-skip 0 and mapping family 0.
Result<std::vector<uint8_t>> dops(const std::optional<std::vector<uint8_t>>& opus_head,
                                  uint16_t channels, uint32_t input_rate) {
  BoxOut o;
  o.u8(0);  // Version
  if (!opus_head) {
    if (channels == 0 || channels > 2) {
      return Error::internal("Opus with " + std::to_string(channels) +
                             " channels needs an OpusHead description");
    }
    o.u8(channels);
    o.u16(0);  // PreSkip: unknown (live)
    o.u32(input_rate ? input_rate : kOpusTimescale);
    o.u16(0);  // OutputGain
    o.u8(0);   // ChannelMappingFamily
    return std::move(o.bytes);
  }
  const std::vector<uint8_t>& h = *opus_head;
  static constexpr std::string_view kMagic = "OpusHead";
  if (h.size() < 19 || !std::equal(kMagic.begin(), kMagic.end(), h.begin()) || h[9] == 0) {
    return Error::internal("Opus description is not an OpusHead");
  }
  const uint8_t family = h[18];
  const size_t table = family == 0 ? 0 : 2u + h[9];
  if (h.size() < 19 + table) return Error::internal("OpusHead: channel mapping table cut short");
  o.u8(h[9]);
  o.u16(h[10] | h[11] << 8);
  o.u32(uint32_t(h[12]) | uint32_t(h[13]) << 8 | uint32_t(h[14]) << 16 | uint32_t(h[15]) << 24);
  o.u16(h[16] | h[17] << 8);
  o.u8(family);
  o.raw(std::span<const uint8_t>(h).subspan(19, table));
  return std::move(o.bytes);
}

// An MPEG-4 descriptor: tag, size (7 bits a byte, high bit = more), payload.
void descriptor(BoxOut& o, uint8_t tag, std::span<const uint8_t> payload) {
  o.u8(tag);
  const size_t n = payload.size();
  for (int shift = 21; shift > 0; shift -= 7) {
    if (n >> shift) o.u8(0x80 | ((n >> shift) & 0x7f));
  }
  o.u8(n & 0x7f);
  o.raw(payload);
}

// esds payload around an AudioSpecificConfig.
std::vector<uint8_t> esds(std::span<const uint8_t> asc, uint32_t bitrate) {
  BoxOut dsi;
  descriptor(dsi, 0x05, asc);
  BoxOut dcd;
  dcd.u8(0x40);  // objectTypeIndication: MPEG-4 audio
  dcd.u8(0x15);  // streamType 5 (audio) << 2 | reserved 1
  dcd.u24(0);    // bufferSizeDB
  dcd.u32(bitrate);
  dcd.u32(bitrate);
  dcd.raw(dsi.bytes);
  BoxOut es;
  es.u16(0);  // ES_ID
  es.u8(0);   // flags
  descriptor(es, 0x04, dcd.bytes);
  static constexpr uint8_t kSl[] = {0x02};  // SLConfigDescriptor: predefined MP4
  descriptor(es, 0x06, kSl);
  BoxOut o;
  o.u32(0);  // version + flags
  descriptor(o, 0x03, es.bytes);
  return std::move(o.bytes);
}

// A SampleEntry (ISO/IEC 14496-12 8.5.2): `fields` writes what follows
// data_reference_index, then the configuration box.
template <class Fields>
std::vector<uint8_t> sample_entry(FourCC type, FourCC config, std::span<const uint8_t> payload,
                                  const Fields& fields) {
  BoxOut o;
  const size_t at = o.open(type);
  o.zeros(6);
  o.u16(1);  // data_reference_index
  fields(o);
  o.box(config, payload);
  o.close(at);
  return std::move(o.bytes);
}

// VisualSampleEntry (12.1.3).
std::vector<uint8_t> visual_entry(FourCC type, uint16_t width, uint16_t height, FourCC config,
                                  std::span<const uint8_t> payload) {
  return sample_entry(type, config, payload, [&](BoxOut& o) {
    o.zeros(16);
    o.u16(width);
    o.u16(height);
    o.u32(0x00480000);  // 72 dpi
    o.u32(0x00480000);
    o.u32(0);
    o.u16(1);  // frame_count
    o.zeros(32);
    o.u16(0x18);
    o.u16(0xffff);
  });
}

// AudioSampleEntry (12.2.3).
std::vector<uint8_t> audio_entry(FourCC type, uint16_t channels, uint32_t rate, FourCC config,
                                 std::span<const uint8_t> payload) {
  return sample_entry(type, config, payload, [&](BoxOut& o) {
    o.zeros(8);
    o.u16(channels);
    o.u16(16);  // samplesize
    o.u32(0);
    o.u32(rate <= UINT16_MAX ? rate << 16 : 0);
  });
}

void unity_matrix(BoxOut& o) {
  for (uint32_t v : {0x00010000u, 0u, 0u, 0u, 0x00010000u, 0u, 0u, 0u, 0x40000000u})
    o.u32(v);
}

// A trak with empty sample tables around `entry`.
void write_trak(BoxOut& o, const HangMuxTrack& t, uint16_t width, uint16_t height,
                std::span<const uint8_t> entry) {
  const bool video = t.kind == TrackKind::kVideo;
  const size_t trak = o.open(FourCC("trak"));
  size_t at = o.open_full(FourCC("tkhd"), 0, 3);  // enabled, in movie
  o.u32(0);
  o.u32(0);
  o.u32(t.track_id);
  o.u32(0);
  o.u32(0);  // duration: fragments follow
  o.zeros(8);
  o.u16(0);  // layer
  o.u16(0);  // alternate_group
  o.u16(video ? 0 : 0x0100);
  o.u16(0);
  unity_matrix(o);
  o.u32(uint32_t(width) << 16);
  o.u32(uint32_t(height) << 16);
  o.close(at);
  const size_t mdia = o.open(FourCC("mdia"));
  at = o.open_full(FourCC("mdhd"), 0, 0);
  o.u32(0);
  o.u32(0);
  o.u32(t.timescale);
  o.u32(0);
  o.u16(0x55c4);  // 'und'
  o.u16(0);
  o.close(at);
  at = o.open_full(FourCC("hdlr"), 0, 0);
  o.u32(0);
  o.fourcc(FourCC(video ? "vide" : "soun"));
  o.zeros(12);
  static constexpr std::string_view kVideoName = "VideoHandler", kSoundName = "SoundHandler";
  const std::string_view name = video ? kVideoName : kSoundName;
  o.raw(std::span(reinterpret_cast<const uint8_t*>(name.data()), name.size()));
  o.u8(0);
  o.close(at);
  const size_t minf = o.open(FourCC("minf"));
  if (video) {
    at = o.open_full(FourCC("vmhd"), 0, 1);
    o.zeros(8);
  } else {
    at = o.open_full(FourCC("smhd"), 0, 0);
    o.zeros(4);
  }
  o.close(at);
  const size_t dinf = o.open(FourCC("dinf"));
  const size_t dref = o.open_full(FourCC("dref"), 0, 0);
  o.u32(1);
  o.close(o.open_full(FourCC("url "), 0, 1));  // media in this file
  o.close(dref);
  o.close(dinf);
  const size_t stbl = o.open(FourCC("stbl"));
  at = o.open_full(FourCC("stsd"), 0, 0);
  o.u32(1);
  o.raw(entry);
  o.close(at);
  for (FourCC type : {FourCC("stts"), FourCC("stsc"), FourCC("stco")}) {
    at = o.open_full(type, 0, 0);
    o.u32(0);
    o.close(at);
  }
  at = o.open_full(FourCC("stsz"), 0, 0);
  o.u32(0);
  o.u32(0);
  o.close(at);
  o.close(stbl);
  o.close(minf);
  o.close(mdia);
  o.close(trak);
}

// The ISO 14496-15 avcC of a length-prefixed stream: version 1, at least the
// fixed 6 bytes, and the NAL length size it declares.
Result<uint8_t> avcc_length_size(std::span<const uint8_t> avcc) {
  if (avcc.size() < 6 || avcc[0] != 1) return Error::internal("avcC: not a version 1 record");
  const uint8_t size = (avcc[4] & 3) + 1;
  if (size == 3) return Error::internal("avcC: NAL length size 3");
  return size;
}

// Exp-Golomb reader over an SPS's RBSP (emulation prevention bytes removed).
class BitReader {
 public:
  explicit BitReader(std::vector<uint8_t> rbsp) : data_(std::move(rbsp)) {}
  bool ok() const { return ok_; }
  uint32_t bit() {
    if (pos_ >= data_.size() * 8) {
      ok_ = false;
      return 0;
    }
    const uint32_t b = (data_[pos_ / 8] >> (7 - pos_ % 8)) & 1;
    ++pos_;
    return b;
  }
  uint32_t ue() {
    int zeros = 0;
    while (ok_ && bit() == 0) {
      if (++zeros > 31) ok_ = false;
    }
    if (!ok_) return 0;
    uint64_t v = 0;
    for (int i = 0; i < zeros; ++i)
      v = v << 1 | bit();
    return static_cast<uint32_t>((uint64_t{1} << zeros) - 1 + v);
  }

 private:
  std::vector<uint8_t> data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

std::vector<uint8_t> unescape_rbsp(std::span<const uint8_t> nal) {
  std::vector<uint8_t> out;
  out.reserve(nal.size());
  int zeros = 0;
  for (uint8_t b : nal) {
    if (zeros >= 2 && b == 3) {
      zeros = 0;
      continue;
    }
    zeros = b == 0 ? zeros + 1 : 0;
    out.push_back(b);
  }
  return out;
}

bool high_profile(uint8_t profile) {
  switch (profile) {
    case 100:
    case 110:
    case 122:
    case 244:
    case 44:
    case 83:
    case 86:
    case 118:
    case 128:
    case 138:
    case 139:
    case 134:
    case 135:
      return true;
    default:
      return false;
  }
}

// The OBUs of an AV1 temporal unit (low overhead format: every OBU has its
// size field) without its temporal delimiters, which AV1-ISOBMFF 2.4 keeps
// out of samples.
Result<std::vector<std::span<const uint8_t>>> av1_without_temporal_delimiters(
    std::span<const uint8_t> tu) {
  std::vector<std::span<const uint8_t>> out;
  size_t pos = 0;
  while (pos < tu.size()) {
    const size_t start = pos;
    const uint8_t header = tu[pos++];
    if (header & 0x80) return Error::internal("AV1 OBU: forbidden bit set");
    if (!(header & 0x02)) return Error::internal("AV1 OBU without a size field");
    if (header & 0x04) ++pos;  // extension header
    uint64_t size = 0;
    for (int i = 0;; ++i) {
      if (pos >= tu.size() || i == 8) return Error::internal("AV1 OBU: size cut short");
      const uint8_t b = tu[pos++];
      size |= uint64_t(b & 0x7f) << (7 * i);
      if (!(b & 0x80)) break;
    }
    if (size > tu.size() - pos) return Error::internal("AV1 OBU runs past the frame");
    pos += size;
    const uint8_t type = (header >> 3) & 0xf;
    if (type != 2) out.push_back(tu.subspan(start, pos - start));  // 2: temporal delimiter
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------- helpers

std::string hex_encode(std::span<const uint8_t> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

Result<std::vector<uint8_t>> hex_decode(std::string_view text) {
  if (text.size() % 2) return Error::internal("hex: odd length " + std::to_string(text.size()));
  std::vector<uint8_t> out(text.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    const char* p = text.data() + 2 * i;
    auto [end, ec] = std::from_chars(p, p + 2, out[i], 16);
    if (ec != std::errc() || end != p + 2) {
      return Error::internal("hex: invalid digits at " + std::to_string(2 * i));
    }
  }
  return out;
}

Result<std::vector<std::span<const uint8_t>>> annexb_nal_units(std::span<const uint8_t> data) {
  // Start codes: 00 00 01 (a leading 00 of 00 00 00 01 is a trailing zero of
  // the unit before, dropped below).
  std::vector<std::span<const uint8_t>> out;
  size_t i = 0;
  while (i < data.size() && data[i] == 0)
    ++i;
  if (i < 2 || i >= data.size() || data[i] != 1) {
    return Error::internal("H.264 frame does not start with an Annex-B start code");
  }
  size_t start = i + 1;
  for (size_t j = start; j + 2 < data.size(); ++j) {
    if (data[j] != 0 || data[j + 1] != 0 || data[j + 2] != 1) continue;
    size_t end = j;
    while (end > start && data[end - 1] == 0)
      --end;
    if (end > start) out.push_back(data.subspan(start, end - start));
    start = j + 3;
    j += 2;
  }
  size_t end = data.size();
  while (end > start && data[end - 1] == 0)
    --end;
  if (end > start) out.push_back(data.subspan(start, end - start));
  return out;
}

Result<std::optional<std::vector<uint8_t>>> avcc_from_parameter_sets(
    std::span<const std::span<const uint8_t>> nal_units) {
  std::span<const uint8_t> sps, pps;
  for (auto nal : nal_units) {
    if (nal.empty()) continue;
    const uint8_t type = nal[0] & 0x1f;
    if (type == 7 && sps.empty()) sps = nal;
    if (type == 8 && pps.empty()) pps = nal;
  }
  if (sps.empty() || pps.empty()) return std::optional<std::vector<uint8_t>>();
  if (sps.size() < 4) return Error::internal("H.264 SPS too short");
  if (sps.size() > UINT16_MAX || pps.size() > UINT16_MAX) {
    return Error::internal("H.264 parameter set too large");
  }
  const uint8_t profile = sps[1];
  uint32_t chroma = 1, luma_depth = 0, chroma_depth = 0;
  if (high_profile(profile)) {
    BitReader r(unescape_rbsp(sps.subspan(4)));
    r.ue();  // seq_parameter_set_id
    chroma = r.ue();
    if (chroma == 3) r.bit();  // separate_colour_plane_flag
    luma_depth = r.ue();
    chroma_depth = r.ue();
    if (!r.ok() || chroma > 3 || luma_depth > 6 || chroma_depth > 6) {
      return Error::internal("H.264 SPS does not parse");
    }
  }
  BoxOut o;
  o.u8(1);  // configurationVersion
  o.u8(profile);
  o.u8(sps[2]);
  o.u8(sps[3]);
  o.u8(0xff);  // 4-byte NAL lengths
  o.u8(0xe1);  // one SPS
  o.u16(sps.size());
  o.raw(sps);
  o.u8(1);  // one PPS
  o.u16(pps.size());
  o.raw(pps);
  if (profile == 100 || profile == 110 || profile == 122 || profile == 144 || profile == 244) {
    o.u8(0xfc | chroma);
    o.u8(0xf8 | luma_depth);
    o.u8(0xf8 | chroma_depth);
    o.u8(0);  // numOfSequenceParameterSetExt
  }
  return std::optional<std::vector<uint8_t>>(std::move(o.bytes));
}

uint32_t opus_packet_samples(std::span<const uint8_t> packet) {
  if (packet.empty()) return 0;
  const uint8_t toc = packet[0];
  const uint32_t config = toc >> 3;
  static constexpr uint32_t kSilk[] = {480, 960, 1920, 2880};
  static constexpr uint32_t kCelt[] = {120, 240, 480, 960};
  uint32_t frame;
  if (config < 12) {
    frame = kSilk[config & 3];
  } else if (config < 16) {
    frame = config & 1 ? 960 : 480;
  } else {
    frame = kCelt[config & 3];
  }
  uint32_t frames = 1;
  if ((toc & 3) == 1 || (toc & 3) == 2) frames = 2;
  if ((toc & 3) == 3) {
    if (packet.size() < 2) return 0;
    frames = packet[1] & 0x3f;
  }
  const uint32_t total = frame * frames;
  return total > 5760 ? 0 : total;  // 120 ms at most (RFC 6716 3.2.5)
}

std::vector<uint8_t> aac_audio_specific_config(uint8_t object_type, uint32_t sample_rate,
                                               uint8_t channels) {
  static constexpr uint32_t kRates[] = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                        22050, 16000, 12000, 11025, 8000,  7350};
  uint32_t index = 15;
  for (uint32_t i = 0; i < std::size(kRates); ++i) {
    if (kRates[i] == sample_rate) index = i;
  }
  // Bits: object type (5), frequency index (4) [+ 24-bit rate], channel
  // configuration (4), GASpecificConfig 000.
  uint64_t bits = 0;
  int n = 0;
  auto put = [&](uint64_t v, int width) {
    bits = bits << width | (v & ((uint64_t{1} << width) - 1));
    n += width;
  };
  put(object_type, 5);
  put(index, 4);
  if (index == 15) put(sample_rate, 24);
  put(channels, 4);
  put(0, 3);
  const int pad = (8 - n % 8) % 8;
  bits <<= pad;
  n += pad;
  std::vector<uint8_t> out;
  for (int shift = n - 8; shift >= 0; shift -= 8)
    out.push_back(static_cast<uint8_t>(bits >> shift));
  return out;
}

// ---------------------------------------------------------------- HangMuxer

namespace {

std::string rendition_signature(const HangRendition& r) {
  const CatalogTrack& t = r.track;
  std::string s = r.container_kind + '\n' + t.kind + '\n' + t.codec + '\n' +
                  r.description.value_or("-") + '\n' + std::to_string(t.width.value_or(0)) + 'x' +
                  std::to_string(t.height.value_or(0)) + '\n' +
                  std::to_string(t.sample_rate.value_or(0)) + '/' +
                  std::to_string(t.channel_count.value_or(0)) + '\n';
  s.append(r.init.begin(), r.init.end());
  return s;
}

// tkhd track_ID of the trak box `trak` (whole box, a copy) set to `id`.
Result<void> set_trak_id(std::vector<uint8_t>& trak, uint32_t id) {
  auto tkhd = find_child(std::span<const uint8_t>(trak).subspan(8), FourCC("tkhd"));
  if (!tkhd) return tkhd.error();
  if (tkhd->type.value == 0 || tkhd->payload.empty()) return Error::internal("trak without tkhd");
  const size_t at =
      static_cast<size_t>(tkhd->payload.data() - trak.data()) + (tkhd->payload[0] == 1 ? 20 : 12);
  if (at + 4 > static_cast<size_t>(tkhd->payload.data() - trak.data()) + tkhd->payload.size()) {
    return Error::internal("tkhd too short");
  }
  for (size_t i = 0; i < 4; ++i)
    trak[at + i] = static_cast<uint8_t>(id >> (24 - 8 * i));
  return {};
}

// The first trak box of an init segment (ftyp + moov).
Result<std::vector<uint8_t>> first_trak(std::span<const uint8_t> init) {
  auto moov = find_child(init, FourCC("moov"));
  if (!moov) return moov.error();
  if (moov->type.value == 0) return Error::internal("init segment without moov");
  auto trak = find_child(moov->payload, FourCC("trak"));
  if (!trak) return trak.error();
  if (trak->type.value == 0) return Error::internal("moov without trak");
  return std::vector<uint8_t>(trak->bytes.begin(), trak->bytes.end());
}

// A cmaf frame's moof+mdat pairs (styp, sidx, prft dropped) with every tfhd
// track_ID set to `track_id`; `timing`: the first traf of the first moof
// (parsed against the rendition's own init).
Result<std::vector<uint8_t>> rewrite_cmaf_frame(std::span<const uint8_t> frame, uint32_t track_id,
                                                const MovieInfo& movie,
                                                std::optional<TrackFragment>& timing) {
  BoxOut o;
  bool moof = false, mdat = false;
  auto r = for_each_child(frame, [&](const BoxView& b) -> Result<void> {
    if (b.type == FourCC("styp") || b.type == FourCC("sidx") || b.type == FourCC("prft")) {
      return {};
    }
    if (b.type == FourCC("mdat")) {
      if (!moof) return Error::internal("cmaf frame: 'mdat' before any 'moof'");
      mdat = true;
      o.raw(b.bytes);
      return {};
    }
    if (b.type != FourCC("moof")) {
      return Error::internal("cmaf frame: unexpected box '" + b.type.str() + "'");
    }
    moof = true;
    const size_t base = o.bytes.size();
    o.raw(b.bytes);
    if (!timing) {
      auto trafs = parse_moof(b.bytes, &movie);
      if (!trafs) return trafs.error();
      if (!trafs->empty()) timing = trafs->front();
    }
    return for_each_child(b.payload, [&](const BoxView& traf) -> Result<void> {
      if (traf.type != FourCC("traf")) return {};
      auto tfhd = find_child(traf.payload, FourCC("tfhd"));
      if (!tfhd) return tfhd.error();
      if (tfhd->type.value == 0 || tfhd->payload.size() < 8) {
        return Error::internal("cmaf frame: traf without tfhd");
      }
      const size_t at = base + static_cast<size_t>(tfhd->payload.data() - b.bytes.data()) + 4;
      for (size_t i = 0; i < 4; ++i)
        o.bytes[at + i] = static_cast<uint8_t>(track_id >> (24 - 8 * i));
      return {};
    });
  });
  if (!r) return r.error();
  if (!moof || !mdat) return Error::internal("cmaf frame: no moof+mdat");
  return std::move(o.bytes);
}

// One sample as moof (mfhd, traf: tfhd default-base-is-moof, tfdt v1, trun
// with data offset, duration, size, flags) + mdat of `pieces`, each after a
// 4-byte length when `length_prefixed`.
std::vector<uint8_t> legacy_fragment(uint32_t track_id, uint32_t sequence, uint64_t decode_time,
                                     uint32_t duration, uint32_t flags,
                                     std::span<const std::span<const uint8_t>> pieces,
                                     bool length_prefixed) {
  uint64_t size = 0;
  for (auto piece : pieces)
    size += piece.size() + (length_prefixed ? 4 : 0);
  BoxOut o;
  o.bytes.reserve(108 + size);
  const size_t moof = o.open(FourCC("moof"));
  size_t at = o.open_full(FourCC("mfhd"), 0, 0);
  o.u32(sequence);
  o.close(at);
  const size_t traf = o.open(FourCC("traf"));
  at = o.open_full(FourCC("tfhd"), 0, 0x020000);
  o.u32(track_id);
  o.close(at);
  at = o.open_full(FourCC("tfdt"), 1, 0);
  o.u64(decode_time);
  o.close(at);
  at = o.open_full(FourCC("trun"), 0, 0x000701);
  o.u32(1);  // sample_count
  const size_t data_offset = o.bytes.size();
  o.u32(0);
  o.u32(duration);
  o.u32(size);
  o.u32(flags);
  o.close(at);
  o.close(traf);
  o.close(moof);
  const uint64_t offset = o.bytes.size() - moof + 8;  // the mdat's payload
  for (size_t i = 0; i < 4; ++i)
    o.bytes[data_offset + i] = static_cast<uint8_t>(offset >> (24 - 8 * i));
  at = o.open(FourCC("mdat"));
  for (auto piece : pieces) {
    if (length_prefixed) o.u32(piece.size());
    o.raw(piece);
  }
  o.close(at);
  return std::move(o.bytes);
}

// Length-prefixed H.264: the NAL lengths must tile the frame.
Result<void> check_nal_lengths(std::span<const uint8_t> frame, uint8_t length_size) {
  size_t pos = 0;
  while (pos < frame.size()) {
    if (frame.size() - pos < length_size)
      return Error::internal("H.264 frame: NAL length cut short");
    uint64_t n = 0;
    for (size_t i = 0; i < length_size; ++i)
      n = n << 8 | frame[pos + i];
    pos += length_size;
    if (n > frame.size() - pos) return Error::internal("H.264 frame: NAL runs past the end");
    pos += n;
  }
  return {};
}

}  // namespace

Result<void> HangMuxer::setup(const HangRendition& r, HangMuxTrack& t, State& s) {
  t.hang_name = r.name;
  t.container = r.container;
  const bool is_video = r.track.kind == "video";
  t.kind = is_video ? TrackKind::kVideo : TrackKind::kAudio;
  t.entry = r.track;
  s.hang_entry = r.track;
  s.signature = rendition_signature(r);
  s.width = clamp16(r.track.width);
  s.height = clamp16(r.track.height);
  s.channels = clamp16(r.track.channel_count);
  s.sample_rate = r.track.sample_rate.value_or(0);
  const std::string& codec = r.track.codec;

  if (r.container == HangContainer::kCmaf) {
    s.codec = Codec::kCmaf;
    auto movie = parse_init_segment(r.init);
    auto trak = first_trak(r.init);
    if (!movie || !trak) {
      return Error::internal("cmaf init: " + (movie ? trak.error() : movie.error()).reason);
    }
    s.movie = std::move(*movie);
    s.trex = s.movie.tracks[0].trex;
    s.trak = std::move(*trak);
    t.timescale = r.timescale;
    t.configured = true;
    return {};
  }
  if (r.container != HangContainer::kLegacy) {
    return Error::internal("container '" + r.container_kind + "' is not supported");
  }

  std::optional<std::vector<uint8_t>> description;
  if (r.description) {
    auto bytes = hex_decode(*r.description);
    if (!bytes) return Error::internal("description: " + bytes.error().reason);
    description = std::move(*bytes);
  }
  Result<std::vector<uint8_t>> config = std::vector<uint8_t>();
  FourCC entry, config_box;
  if (is_video) {
    t.timescale = kVideoTimescale;
    const double fps = r.track.frame_rate.value_or(0);
    s.default_duration = fps >= 1 && fps <= 1000 && std::isfinite(fps)
                             ? static_cast<uint64_t>(std::llround(1e6 / fps))
                             : kDefaultVideoDurationUs;
  }
  if (starts_with(codec, "avc1") || starts_with(codec, "avc3")) {
    s.codec = Codec::kH264;
    entry = FourCC("avc1");
    config_box = FourCC("avcC");
    s.annexb = !description;
    if (description) {
      auto size = avcc_length_size(*description);
      if (!size) {
        return Error::internal(size.error().reason);
      }
      s.nal_length_size = *size;
      config = std::move(*description);
    }
  } else if (codec == "vp8" || starts_with(codec, "vp09")) {
    s.codec = codec == "vp8" ? Codec::kVp8 : Codec::kVp9;
    entry = FourCC(codec == "vp8" ? "vp08" : "vp09");
    config_box = FourCC("vpcC");
    config = vpcc_from_codec(codec, codec == "vp8");
  } else if (starts_with(codec, "av01")) {
    s.codec = Codec::kAv1;
    entry = FourCC("av01");
    config_box = FourCC("av1C");
    config = description ? Result<std::vector<uint8_t>>(std::move(*description))
                         : av1c_from_codec(codec);
  } else if (codec == "opus") {
    s.codec = Codec::kOpus;
    t.timescale = kOpusTimescale;
    s.default_duration = kOpusDefaultSamples;
    entry = FourCC("Opus");
    config_box = FourCC("dOps");
    config = dops(description, s.channels, s.sample_rate);
    if (config && description) s.channels = (*config)[1];
    t.entry.sample_rate = kOpusTimescale;
  } else if (starts_with(codec, "mp4a")) {
    s.codec = Codec::kAac;
    t.timescale = s.sample_rate;
    s.default_duration = kAacSamples;
    entry = FourCC("mp4a");
    config_box = FourCC("esds");
    if (s.sample_rate == 0) return Error::internal("AAC without a sample rate");
    if (!description) {
      uint32_t aot = 2;
      if (starts_with(codec, "mp4a.40.")) {
        auto f = codec_fields(codec);
        if (f && f->size() == 2) aot = (*f)[1];
      }
      uint8_t layout = static_cast<uint8_t>(s.channels);
      if (s.channels == 8) layout = 7;
      if (aot == 0 || aot >= 31 || s.channels == 0 || s.channels == 7 || s.channels > 8) {
        return Error::internal("AAC config for " + codec + " with " + std::to_string(s.channels) +
                               " channels needs a description");
      }
      description = aac_audio_specific_config(static_cast<uint8_t>(aot), s.sample_rate, layout);
    }
    s.adts = !r.description;
    config =
        esds(*description,
             static_cast<uint32_t>(std::min<uint64_t>(r.track.bit_rate.value_or(0), UINT32_MAX)));
  } else {
    return Error::internal("codec '" + codec + "' is not supported");
  }
  if (!config) return config.error();
  // The KIXEL codec string says what the init says (a bare "vp09" or
  // "av01" becomes a full one); a record it cannot be read from is
  // refused.
  if (s.codec == Codec::kH264 || s.codec == Codec::kVp9 || s.codec == Codec::kAv1) {
    if (config->empty()) {
      // Annex-B H.264: known at the first SPS.
    } else if (auto c = s.codec == Codec::kH264  ? avc_codec(FourCC("avc1"), *config)
                        : s.codec == Codec::kVp9 ? vp9_codec(*config)
                                                 : av1_codec(*config)) {
      t.entry.codec = *c;
    } else {
      return Error::internal("description: " + c.error().reason);
    }
  }
  if (s.codec != Codec::kH264 || !s.annexb) {
    s.config = std::move(*config);
    s.sample_entry = is_video
                         ? visual_entry(entry, s.width, s.height, config_box, *s.config)
                         : audio_entry(entry, s.channels,
                                       s.codec == Codec::kOpus ? kOpusTimescale : s.sample_rate,
                                       config_box, *s.config);
    t.configured = true;
  }
  if (t.timescale == 0) return Error::internal("no timescale");
  return {};
}

Result<HangMuxer> HangMuxer::create(std::string_view hang_catalog_json, HangMuxOptions options) {
  auto parsed = kixel_from_hang_catalog(hang_catalog_json);
  if (!parsed) return parsed.error();
  for (const std::string& name : options.renditions) {
    const bool known = std::any_of(parsed->renditions.begin(), parsed->renditions.end(),
                                   [&](const HangRendition& r) { return r.name == name; });
    if (!known) return Error::internal("catalog: no rendition '" + name + "'");
  }

  HangMuxer mux;
  mux.options_ = std::move(options);
  std::vector<std::pair<HangMuxTrack, State>> video, audio;
  for (const HangRendition& r : parsed->renditions) {
    const auto& only = mux.options_.renditions;
    if (!only.empty() && std::find(only.begin(), only.end(), r.name) == only.end()) continue;
    HangMuxTrack t;
    State s;
    if (auto ok = setup(r, t, s); !ok) {
      mux.skipped_.emplace_back(r.name, ok.error().reason);
      continue;
    }
    const bool is_video = t.kind == TrackKind::kVideo;
    (is_video ? video : audio).emplace_back(std::move(t), std::move(s));
  }

  // The largest video first: players take the first video entry.
  std::stable_sort(video.begin(), video.end(), [](const auto& a, const auto& b) {
    const uint64_t area_a = uint64_t(a.second.width) * a.second.height;
    const uint64_t area_b = uint64_t(b.second.width) * b.second.height;
    return area_a > area_b;
  });
  for (auto* list : {&video, &audio}) {
    for (auto& [t, s] : *list) {
      t.track_id = static_cast<uint32_t>(mux.tracks_.size() + 1);
      if (s.codec == Codec::kCmaf) {
        if (auto r = set_trak_id(s.trak, t.track_id); !r) return r.error();
      }
      mux.tracks_.push_back(std::move(t));
      mux.state_.push_back(std::move(s));
    }
  }
  if (mux.tracks_.empty()) {
    std::string why;
    for (const auto& [name, reason] : mux.skipped_)
      why += "; " + name + ": " + reason;
    return Error::internal("catalog: no rendition can be served to KIXEL viewers" + why);
  }
  mux.refresh_catalog();
  if (auto r = mux.try_finish_init(); !r) return r.error();
  return mux;
}

std::optional<size_t> HangMuxer::find(std::string_view hang_name) const {
  for (size_t i = 0; i < tracks_.size(); ++i) {
    if (tracks_[i].hang_name == hang_name) return i;
  }
  return std::nullopt;
}

void HangMuxer::refresh_catalog() {
  catalog_.tracks.clear();
  for (size_t i = 0; i < tracks_.size(); ++i) {
    HangMuxTrack& t = tracks_[i];
    const State& s = state_[i];
    CatalogTrack& e = t.entry;
    e.container = "mp4";
    e.kind = t.kind == TrackKind::kVideo ? "video" : "audio";
    e.init_track = options_.init_track;
    e.data_track = std::to_string(t.track_id);
    e.bit_rate = s.hang_entry.bit_rate;
    if (t.kind == TrackKind::kVideo) {
      e.frame_rate = s.hang_entry.frame_rate;
    } else if (!e.sample_size) {
      e.sample_size = 16;
    }
    catalog_.tracks.push_back(e);
  }
}

Result<void> HangMuxer::try_finish_init() {
  if (!init_.empty()) return {};
  for (const HangMuxTrack& t : tracks_) {
    if (!t.configured) return {};
  }
  BoxOut o;
  size_t at = o.open(FourCC("ftyp"));
  o.fourcc(FourCC("isom"));
  o.u32(0x200);
  for (FourCC brand : {FourCC("isom"), FourCC("iso6"), FourCC("mp41")})
    o.fourcc(brand);
  o.close(at);
  const size_t moov = o.open(FourCC("moov"));
  at = o.open_full(FourCC("mvhd"), 0, 0);
  o.u32(0);
  o.u32(0);
  o.u32(1000);  // timescale (durations only, all 0)
  o.u32(0);
  o.u32(0x00010000);  // rate 1.0
  o.u16(0x0100);      // volume 1.0
  o.zeros(10);
  unity_matrix(o);
  o.zeros(24);
  o.u32(tracks_.size() + 1);  // next_track_ID
  o.close(at);
  for (size_t i = 0; i < tracks_.size(); ++i) {
    const State& s = state_[i];
    if (s.codec == Codec::kCmaf) {
      o.raw(s.trak);
    } else {
      write_trak(o, tracks_[i], s.width, s.height, s.sample_entry);
    }
  }
  const size_t mvex = o.open(FourCC("mvex"));
  for (size_t i = 0; i < tracks_.size(); ++i) {
    const SampleDefaults& d = state_[i].trex;
    at = o.open_full(FourCC("trex"), 0, 0);
    o.u32(tracks_[i].track_id);
    o.u32(d.description_index ? d.description_index : 1);
    o.u32(d.duration);
    o.u32(d.size);
    o.u32(d.flags);
    o.close(at);
  }
  o.close(mvex);
  o.close(moov);
  init_ = std::move(o.bytes);
  refresh_catalog();
  return {};
}

Result<std::optional<HangFragment>> HangMuxer::frame(size_t index, std::span<const uint8_t> frame,
                                                     bool group_start,
                                                     std::optional<uint64_t> duration_us) {
  using Out = std::optional<HangFragment>;
  if (index >= tracks_.size()) return Error::internal("no track " + std::to_string(index));
  HangMuxTrack& t = tracks_[index];
  State& s = state_[index];
  const bool video = t.kind == TrackKind::kVideo;
  const bool was_ready = ready();
  HangFragment f;
  f.track = index;
  f.keyframe = !video || group_start;
  if (video && !s.started && !group_start) return Out();  // wait for a keyframe

  if (s.codec == Codec::kCmaf) {
    std::optional<TrackFragment> timing;
    auto bytes = rewrite_cmaf_frame(frame, t.track_id, s.movie, timing);
    if (!bytes) return bytes.error();
    f.bytes = std::move(*bytes);
    f.decode_time = timing && timing->has_decode_time ? timing->base_decode_time : 0;
    f.decode_ms = ticks_to_millis(f.decode_time, t.timescale);
  } else {
    auto ts = varint::decode(frame);
    if (!ts) return Error::internal("legacy frame: truncated timestamp");
    const auto payload = frame.subspan(ts->length);
    if (payload.empty()) return Out();  // a marker
    const uint64_t pts_us = ts->value;

    // The sample: pieces of the payload, each with a 4-byte length before it
    // when `length_prefixed` (Annex-B H.264 rewritten); ADTS headers and AV1
    // temporal delimiters left out.
    std::vector<std::span<const uint8_t>> pieces = {payload};
    bool length_prefixed = false;
    if (s.codec == Codec::kH264 && s.annexb) {
      auto units = annexb_nal_units(payload);
      if (!units) return units.error();
      if (units->empty()) return Error::internal("H.264 frame without NAL units");
      pieces = std::move(*units);
      length_prefixed = true;
      if (!t.configured) {
        auto avcc = avcc_from_parameter_sets(pieces);
        if (!avcc) return avcc.error();
        if (*avcc) {
          s.config = std::move(**avcc);
          s.sample_entry =
              visual_entry(FourCC("avc1"), s.width, s.height, FourCC("avcC"), *s.config);
          if (auto c = avc_codec(FourCC("avc1"), *s.config)) {
            t.entry.codec = *c;
          }
          t.configured = true;
          if (auto r = try_finish_init(); !r) return r.error();
        }
      }
    } else if (s.codec == Codec::kH264) {
      if (auto ok = check_nal_lengths(payload, s.nal_length_size); !ok) return ok.error();
    } else if (s.codec == Codec::kAac && s.adts && payload.size() >= 7 && payload[0] == 0xff &&
               (payload[1] & 0xf6) == 0xf0) {
      const size_t header = payload[1] & 1 ? 7 : 9;
      const size_t length =
          (size_t(payload[3] & 3) << 11) | size_t(payload[4]) << 3 | payload[5] >> 5;
      if (length != payload.size() || length <= header) {
        return Error::internal("AAC frame: ADTS length does not match the frame");
      }
      pieces = {payload.subspan(header)};
    } else if (s.codec == Codec::kAv1) {
      auto obus = av1_without_temporal_delimiters(payload);
      if (!obus) return obus.error();
      if (obus->empty()) return Error::internal("AV1 frame without OBUs");
      pieces = std::move(*obus);
    }

    uint64_t sample_size = 0;
    for (auto piece : pieces)
      sample_size += piece.size() + (length_prefixed ? 4 : 0);
    if (sample_size > UINT32_MAX - 8) return Error::internal("frame too large");

    uint64_t duration = s.default_duration;
    if (duration_us) {
      duration = us_to_ticks(*duration_us, t.timescale);
    } else if (s.codec == Codec::kOpus) {
      if (const uint32_t n = opus_packet_samples(payload)) duration = n;
    } else if (video && s.last_pts_us && pts_us > *s.last_pts_us &&
               pts_us - *s.last_pts_us <= kMaxGapUs) {
      duration = us_to_ticks(pts_us - *s.last_pts_us, t.timescale);
    }
    s.last_pts_us = pts_us;
    f.decode_time = us_to_ticks(pts_us, t.timescale);
    f.decode_ms = pts_us / 1000;

    f.bytes = legacy_fragment(t.track_id, ++s.sequence, f.decode_time,
                              static_cast<uint32_t>(std::min<uint64_t>(duration, UINT32_MAX)),
                              f.keyframe ? kSyncFlags : kNonSyncFlags, pieces, length_prefixed);
  }

  f.priority = static_cast<int32_t>(f.decode_ms & 0x7fffffffu);
  if (video || !s.started) {
    f.new_segment = group_start || !s.started;
  } else {
    f.new_segment = group_start && (f.decode_ms < s.segment_start_ms ||
                                    f.decode_ms - s.segment_start_ms >= options_.audio_segment_ms);
  }
  if (f.new_segment) s.segment_start_ms = f.decode_ms;
  s.started = true;
  f.became_ready = !was_ready && ready();
  return Out(std::move(f));
}

Result<HangMuxer::Update> HangMuxer::update(std::string_view hang_catalog_json) {
  auto next = create(hang_catalog_json, options_);
  if (!next) {
    // A valid catalog that cannot be served as this view is a change of view.
    auto parsed = kixel_from_hang_catalog(hang_catalog_json);
    if (!parsed) return parsed.error();
    return Update::kIncompatible;
  }
  if (next->tracks_.size() != tracks_.size()) return Update::kIncompatible;
  for (size_t i = 0; i < tracks_.size(); ++i) {
    if (next->tracks_[i].hang_name != tracks_[i].hang_name ||
        next->state_[i].signature != state_[i].signature) {
      return Update::kIncompatible;
    }
  }
  const std::string before = to_json(catalog_);
  for (size_t i = 0; i < tracks_.size(); ++i) {
    State& s = state_[i];
    s.hang_entry = next->state_[i].hang_entry;
    if (tracks_[i].kind == TrackKind::kVideo) s.default_duration = next->state_[i].default_duration;
  }
  skipped_ = std::move(next->skipped_);
  refresh_catalog();
  return to_json(catalog_) == before ? Update::kSame : Update::kCatalog;
}

}  // namespace moq::media
