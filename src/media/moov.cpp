#include "media/moov.h"

#include <bit>

#include "media/be_reader.h"
#include "media/box.h"
#include "media/codec.h"

namespace moq::media {
namespace {

// Sizes of the fixed parts of sample entries (ISO/IEC 14496-12 8.5.2 and
// 12.1.3/12.2.3), after the 8-byte box header.
constexpr size_t kSampleEntryHeader = 8;  // reserved[6] + data_reference_index
constexpr size_t kVisualEntryFixed = kSampleEntryHeader + 70;
constexpr size_t kAudioEntryFixed = kSampleEntryHeader + 20;

Result<void> parse_visual_entry(const BoxView& entry, TrackInfo& t) {
  BeReader r(entry.payload);
  r.skip(kSampleEntryHeader + 16);  // pre_defined/reserved
  t.width = r.u16();
  t.height = r.u16();
  if (!r.ok() || entry.payload.size() < kVisualEntryFixed) {
    return box_error(entry.type, "visual sample entry too short");
  }
  return for_each_child(entry.payload.subspan(kVisualEntryFixed),
                        [&](const BoxView& b) -> Result<void> {
                          Result<std::string> codec = std::string();
                          if (b.type == FourCC("avcC")) {
                            codec = avc_codec(entry.type, b.payload);
                            t.decoder_config.assign(b.payload.begin(), b.payload.end());
                          } else if (b.type == FourCC("hvcC")) {
                            codec = hevc_codec(entry.type, b.payload);
                            t.decoder_config.assign(b.payload.begin(), b.payload.end());
                          } else if (b.type == FourCC("av1C")) {
                            codec = av1_codec(b.payload);
                            t.decoder_config.assign(b.payload.begin(), b.payload.end());
                          } else if (b.type == FourCC("vpcC")) {
                            codec = vp9_codec(b.payload);
                          } else if (b.type == FourCC("btrt")) {
                            BeReader br(b.payload);
                            br.u32();  // bufferSizeDB
                            const uint32_t max = br.u32();
                            const uint32_t avg = br.u32();
                            if (br.ok()) {
                              t.max_bitrate = max;
                              t.avg_bitrate = avg;
                            }
                            return {};
                          } else {
                            return {};
                          }
                          if (!codec) return codec.error();
                          t.codec = std::move(*codec);
                          return {};
                        });
}

Result<void> parse_audio_entry(const BoxView& entry, TrackInfo& t) {
  BeReader r(entry.payload);
  r.skip(kSampleEntryHeader);
  const uint16_t version = r.u16();  // QuickTime sound description version
  r.skip(6);
  t.channel_count = r.u16();
  t.sample_size = r.u16();
  r.skip(4);
  t.sample_rate = r.u32() >> 16;  // 16.16 fixed point
  size_t children = kAudioEntryFixed;
  if (version == 1) {
    children += 16;
  } else if (version == 2) {
    // QuickTime v2 moves the real rate and channel count into the extension.
    r.u32();  // sizeOfStructOnly
    const uint64_t bits = r.u64();
    const double rate = std::bit_cast<double>(bits);
    t.channel_count = static_cast<uint16_t>(r.u32());
    if (rate > 0 && rate < 1e7) t.sample_rate = static_cast<uint32_t>(rate);
    children += 36;
  }
  if (!r.ok() || entry.payload.size() < children) {
    return box_error(entry.type, "audio sample entry too short");
  }
  return for_each_child(entry.payload.subspan(children), [&](const BoxView& b) -> Result<void> {
    if (b.type == FourCC("esds")) {
      auto esds = parse_esds(b.payload);
      if (!esds) return esds.error();
      if (entry.type == FourCC("mp4a")) t.codec = mp4a_codec(*esds);
      t.decoder_config = esds->specific_info;
      if (esds->channel_count != 0) t.channel_count = esds->channel_count;
      if (t.sample_rate == 0) t.sample_rate = esds->sample_rate;
      t.max_bitrate = esds->max_bitrate;
      t.avg_bitrate = esds->avg_bitrate;
    } else if (b.type == FourCC("dOps")) {
      BeReader d(b.payload);
      d.u8();  // version
      const uint8_t channels = d.u8();
      if (!d.ok()) return box_error(b.type, "too short");
      t.channel_count = channels;
      t.codec = "opus";
    } else if (b.type == FourCC("btrt")) {
      BeReader br(b.payload);
      br.u32();
      const uint32_t max = br.u32();
      const uint32_t avg = br.u32();
      if (br.ok()) {
        t.max_bitrate = max;
        t.avg_bitrate = avg;
      }
    }
    return {};
  });
}

Result<void> parse_stsd(const BoxView& stsd, TrackInfo& t) {
  BeReader r(stsd.payload);
  r.u32();  // version + flags
  const uint32_t count = r.u32();
  if (!r.ok()) return box_error(stsd.type, "too short");
  if (count == 0) return box_error(stsd.type, "no sample entry");
  // Only the first entry matters: a live fragment stream uses one.
  bool have = false;
  BoxView entry;
  auto walk = for_each_child(r.rest(), [&](const BoxView& b) -> Result<void> {
    if (!have) {
      entry = b;
      have = true;
    }
    return {};
  });
  if (!walk) return walk;
  if (!have) return box_error(stsd.type, "no sample entry");
  t.sample_entry = entry.type;
  const FourCC e = entry.type;
  if (e == FourCC("avc1") || e == FourCC("avc3") || e == FourCC("hev1") || e == FourCC("hvc1") ||
      e == FourCC("av01") || e == FourCC("vp09")) {
    return parse_visual_entry(entry, t);
  }
  if (e == FourCC("mp4a") || e == FourCC("Opus")) return parse_audio_entry(entry, t);
  return {};  // unknown codec: forwarded, not in the catalog
}

// Walks a container and calls `fn` for the child `type`, failing if absent.
Result<BoxView> require(std::span<const uint8_t> payload, FourCC parent, FourCC type) {
  auto b = find_child(payload, type);
  if (!b) return b.error();
  if (b->type != type) return box_error(parent, "missing '" + type.str() + "'");
  return b;
}

Result<void> parse_trak(const BoxView& trak, TrackInfo& t) {
  auto tkhd = require(trak.payload, trak.type, FourCC("tkhd"));
  if (!tkhd) return tkhd.error();
  {
    BeReader r(tkhd->payload);
    const uint8_t version = r.u8();
    r.u24();
    r.skip(version == 1 ? 16 : 8);  // creation/modification time
    t.id = r.u32();
    if (!r.ok()) return box_error(tkhd->type, "too short");
  }
  auto mdia = require(trak.payload, trak.type, FourCC("mdia"));
  if (!mdia) return mdia.error();
  auto mdhd = require(mdia->payload, mdia->type, FourCC("mdhd"));
  if (!mdhd) return mdhd.error();
  {
    BeReader r(mdhd->payload);
    const uint8_t version = r.u8();
    r.u24();
    r.skip(version == 1 ? 16 : 8);
    t.timescale = r.u32();
    if (!r.ok()) return box_error(mdhd->type, "too short");
    if (t.timescale == 0) return box_error(mdhd->type, "timescale is 0");
  }
  auto hdlr = require(mdia->payload, mdia->type, FourCC("hdlr"));
  if (!hdlr) return hdlr.error();
  {
    BeReader r(hdlr->payload);
    r.u32();  // version + flags
    r.u32();  // pre_defined
    t.handler = FourCC(r.u32());
    if (!r.ok()) return box_error(hdlr->type, "too short");
    if (t.handler == FourCC("vide")) t.kind = TrackKind::kVideo;
    if (t.handler == FourCC("soun")) t.kind = TrackKind::kAudio;
  }
  auto minf = require(mdia->payload, mdia->type, FourCC("minf"));
  if (!minf) return minf.error();
  auto stbl = require(minf->payload, minf->type, FourCC("stbl"));
  if (!stbl) return stbl.error();
  auto stsd = require(stbl->payload, stbl->type, FourCC("stsd"));
  if (!stsd) return stsd.error();
  return parse_stsd(*stsd, t);
}

}  // namespace

const char* to_string(TrackKind kind) {
  switch (kind) {
    case TrackKind::kVideo:
      return "video";
    case TrackKind::kAudio:
      return "audio";
    case TrackKind::kOther:
      break;
  }
  return "other";
}

const TrackInfo* MovieInfo::find(uint32_t track_id) const {
  for (const TrackInfo& t : tracks) {
    if (t.id == track_id) return &t;
  }
  return nullptr;
}

Result<MovieInfo> parse_moov(std::span<const uint8_t> moov_box) {
  BoxHeader h;
  std::string why;
  if (parse_box_header(moov_box, UINT64_MAX, h, why) != HeaderStatus::kOk) {
    return Error::internal(why.empty() ? "moov: truncated header" : why);
  }
  if (h.type != FourCC("moov")) return box_error(h.type, "expected 'moov'");
  const auto payload = moov_box.subspan(h.header_size);

  MovieInfo movie;
  std::vector<std::pair<uint32_t, SampleDefaults>> trex;
  auto r = for_each_child(payload, [&](const BoxView& b) -> Result<void> {
    if (b.type == FourCC("trak")) {
      TrackInfo t;
      if (auto tr = parse_trak(b, t); !tr) return tr;
      if (movie.find(t.id))
        return Error::internal("moov: duplicate track_ID " + std::to_string(t.id));
      movie.tracks.push_back(std::move(t));
    } else if (b.type == FourCC("mvex")) {
      return for_each_child(b.payload, [&](const BoxView& x) -> Result<void> {
        if (x.type != FourCC("trex")) return {};
        BeReader br(x.payload);
        br.u32();  // version + flags
        const uint32_t id = br.u32();
        SampleDefaults d;
        d.description_index = br.u32();
        d.duration = br.u32();
        d.size = br.u32();
        d.flags = br.u32();
        if (!br.ok()) return box_error(x.type, "too short");
        trex.emplace_back(id, d);
        return {};
      });
    }
    return {};
  });
  if (!r) return r.error();
  for (const auto& [id, d] : trex) {
    for (TrackInfo& t : movie.tracks) {
      if (t.id == id) t.trex = d;
    }
  }
  return movie;
}

}  // namespace moq::media
