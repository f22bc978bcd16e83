#pragma once

// Builds small MP4 boxes byte by byte so tests can make exactly the layout
// (and the exact mistake) they need without a muxer.

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coding/bytes.h"

namespace moq::media::test {

using Buf = std::vector<uint8_t>;

inline void put(Buf& b, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i)
    b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
inline void put(Buf& b, std::string_view s) {
  b.insert(b.end(), s.begin(), s.end());
}
inline void put(Buf& b, const Buf& more) {
  b.insert(b.end(), more.begin(), more.end());
}

inline Buf cat(std::initializer_list<Buf> parts) {
  Buf out;
  for (const Buf& p : parts)
    put(out, p);
  return out;
}

// A box with a 32-bit size.
inline Buf box(std::string_view type, const Buf& payload) {
  Buf b;
  put(b, 8 + payload.size(), 4);
  put(b, type);
  put(b, payload);
  return b;
}
// A box with size field 1 and a 64-bit largesize.
inline Buf box64(std::string_view type, const Buf& payload) {
  Buf b;
  put(b, 1, 4);
  put(b, type);
  put(b, 16 + payload.size(), 8);
  put(b, payload);
  return b;
}
// A box with size field 0: runs to the end of the input.
inline Buf box0(std::string_view type, const Buf& payload) {
  Buf b;
  put(b, 0, 4);
  put(b, type);
  put(b, payload);
  return b;
}
inline Buf full(std::string_view type, uint8_t version, uint32_t flags, const Buf& payload) {
  Buf p;
  put(p, version, 1);
  put(p, flags, 3);
  put(p, payload);
  return box(type, p);
}
inline Buf zeros(size_t n) {
  return Buf(n, 0);
}

inline Buf ftyp() {
  Buf p;
  put(p, "isom");
  put(p, 0x200, 4);
  put(p, "isomiso6mp41");
  return box("ftyp", p);
}

// avc1 sample entry with an avcC of the given profile/compat/level.
inline Buf avc1(uint16_t w, uint16_t h, uint8_t profile, uint8_t compat, uint8_t level) {
  Buf p = zeros(6);
  put(p, 1, 2);  // data_reference_index
  put(p, zeros(16));
  put(p, w, 2);
  put(p, h, 2);
  put(p, 0x00480000, 4);
  put(p, 0x00480000, 4);
  put(p, 0, 4);
  put(p, 1, 2);  // frame_count
  put(p, zeros(32));
  put(p, 0x18, 2);
  put(p, 0xffff, 2);
  put(p, box("avcC", Buf{1, profile, compat, level, 0xff, 0xe0, 0x00}));
  return box("avc1", p);
}

inline Buf trak(uint32_t id, std::string_view handler, uint32_t timescale, const Buf& entry) {
  Buf tkhd;
  put(tkhd, zeros(8));
  put(tkhd, id, 4);
  put(tkhd, zeros(68));
  Buf mdhd;
  put(mdhd, zeros(8));
  put(mdhd, timescale, 4);
  put(mdhd, zeros(8));
  Buf hdlr;
  put(hdlr, 0, 4);
  put(hdlr, handler);
  put(hdlr, zeros(13));
  Buf stsd;
  put(stsd, 1, 4);
  put(stsd, entry);
  Buf stbl = box("stbl", full("stsd", 0, 0, stsd));
  Buf minf = box("minf", stbl);
  Buf mdia = cat({full("mdhd", 0, 0, mdhd), full("hdlr", 0, 0, hdlr), minf});
  return box("trak", cat({full("tkhd", 0, 3, tkhd), box("mdia", mdia)}));
}

inline Buf trex(uint32_t id, uint32_t duration, uint32_t flags) {
  Buf p;
  put(p, id, 4);
  put(p, 1, 4);
  put(p, duration, 4);
  put(p, 0, 4);
  put(p, flags, 4);
  return full("trex", 0, 0, p);
}

// moov with one H.264 video track (id 1, timescale 15360) and trex defaults.
inline Buf video_moov(uint32_t trex_flags = 0x01010000, bool with_mvex = true) {
  Buf t = trak(1, "vide", 15360, avc1(320, 240, 0x64, 0x00, 0x1f));
  if (!with_mvex) return box("moov", t);
  return box("moov", cat({t, box("mvex", trex(1, 512, trex_flags))}));
}

// Sample flags: a keyframe and a dependent (non-sync) frame.
inline constexpr uint32_t kKeyFlags = 0x02000000;
inline constexpr uint32_t kDeltaFlags = 0x01010000;

struct TrunSample {
  uint32_t duration = 512;
  uint32_t size = 100;
  uint32_t flags = kDeltaFlags;
};

// moof with one traf: tfhd (optional default flags), tfdt v1, one trun.
// `first_flags` adds first_sample_flags; `per_sample_flags` writes flags per sample.
inline Buf moof(uint32_t track, uint64_t decode_time, const std::vector<TrunSample>& samples,
                std::optional<uint32_t> tfhd_flags = std::nullopt,
                std::optional<uint32_t> first_flags = std::nullopt, bool per_sample_flags = false,
                uint32_t sequence = 1) {
  Buf mfhd;
  put(mfhd, sequence, 4);
  Buf tfhd;
  put(tfhd, track, 4);
  if (tfhd_flags) put(tfhd, *tfhd_flags, 4);
  const uint32_t tfhd_bits = 0x020000 | (tfhd_flags ? 0x20 : 0);
  Buf tfdt;
  put(tfdt, decode_time, 8);
  uint32_t trun_bits = 0x1 | 0x100 | 0x200;
  if (first_flags) trun_bits |= 0x4;
  if (per_sample_flags) trun_bits |= 0x400;
  Buf trun;
  put(trun, samples.size(), 4);
  put(trun, 0, 4);  // data offset (not checked)
  if (first_flags) put(trun, *first_flags, 4);
  for (const TrunSample& s : samples) {
    put(trun, s.duration, 4);
    put(trun, s.size, 4);
    if (per_sample_flags) put(trun, s.flags, 4);
  }
  Buf traf = box("traf", cat({full("tfhd", 0, tfhd_bits, tfhd), full("tfdt", 1, 0, tfdt),
                              full("trun", 0, trun_bits, trun)}));
  return box("moof", cat({full("mfhd", 0, 0, mfhd), traf}));
}

inline Buf mdat(size_t n) {
  return box("mdat", Buf(n, 0xab));
}

inline Bytes bytes(const Buf& b) {
  return Bytes(Buf(b));
}

}  // namespace moq::media::test
