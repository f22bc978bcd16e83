#include "media/moof.h"

#include <optional>

#include "media/be_reader.h"
#include "media/box.h"

namespace moq::media {
namespace {

uint64_t sat_add(uint64_t a, uint64_t b) {
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

uint64_t sat_mul(uint64_t a, uint64_t b) {
  if (a != 0 && b > UINT64_MAX / a) return UINT64_MAX;
  return a * b;
}

// tfhd values that override the trex defaults for this traf only.
struct TfhdDefaults {
  std::optional<uint32_t> duration, size, flags;
};

Result<void> parse_trun(const BoxView& trun, const TfhdDefaults& tfhd, const SampleDefaults& trex,
                        bool first_trun, TrackFragment& out) {
  BeReader r(trun.payload);
  r.u8();  // version: only changes the sign of composition offsets
  const uint32_t flags = r.u24();
  const uint32_t count = r.u32();
  if (flags & 0x1) r.u32();  // data_offset
  std::optional<uint32_t> first_flags;
  if (flags & 0x4) first_flags = r.u32();
  if (!r.ok()) return box_error(trun.type, "too short");

  const bool has_duration = flags & 0x100, has_size = flags & 0x200, has_flags = flags & 0x400,
             has_cto = flags & 0x800;
  const uint32_t default_duration = tfhd.duration.value_or(trex.duration);
  const uint32_t default_size = tfhd.size.value_or(trex.size);
  const uint32_t default_flags = tfhd.flags.value_or(trex.flags);
  const size_t record = 4u * (has_duration + has_size + has_flags + has_cto);

  auto resolve_first = [&](std::optional<uint32_t> per_sample) {
    if (!first_trun || count == 0) return;
    const uint32_t f = first_flags ? *first_flags : per_sample.value_or(default_flags);
    out.first_sample_flags = f;
    out.first_is_keyframe = is_keyframe(f);
  };

  if (record == 0) {
    // No per-sample fields: the totals follow from the defaults, so a huge
    // sample_count costs nothing.
    out.duration = sat_add(out.duration, sat_mul(count, default_duration));
    out.sample_bytes = sat_add(out.sample_bytes, sat_mul(count, default_size));
    resolve_first(std::nullopt);
  } else {
    if (uint64_t(count) * record > r.remaining()) {
      return box_error(trun.type, std::to_string(count) + " samples need " +
                                      std::to_string(uint64_t(count) * record) + " bytes, " +
                                      std::to_string(r.remaining()) + " present");
    }
    for (uint32_t i = 0; i < count; ++i) {
      const uint32_t duration = has_duration ? r.u32() : default_duration;
      const uint32_t size = has_size ? r.u32() : default_size;
      std::optional<uint32_t> sample_flags;
      if (has_flags) sample_flags = r.u32();
      if (has_cto) r.u32();
      out.duration = sat_add(out.duration, duration);
      out.sample_bytes = sat_add(out.sample_bytes, size);
      if (i == 0) resolve_first(sample_flags);
    }
  }
  out.sample_count += count;
  return {};
}

Result<TrackFragment> parse_traf(const BoxView& traf, const MovieInfo* movie) {
  TrackFragment out;
  auto tfhd_box = find_child(traf.payload, FourCC("tfhd"));
  if (!tfhd_box) return tfhd_box.error();
  if (tfhd_box->type != FourCC("tfhd")) return box_error(traf.type, "missing 'tfhd'");

  TfhdDefaults tfhd;
  {
    BeReader r(tfhd_box->payload);
    r.u8();
    const uint32_t flags = r.u24();
    out.track_id = r.u32();
    if (flags & 0x1) r.u64();  // base_data_offset
    if (flags & 0x2) r.u32();  // sample_description_index
    if (flags & 0x8) tfhd.duration = r.u32();
    if (flags & 0x10) tfhd.size = r.u32();
    if (flags & 0x20) tfhd.flags = r.u32();
    if (!r.ok()) return box_error(tfhd_box->type, "too short for its flags");
  }
  SampleDefaults trex;
  if (movie) {
    if (const TrackInfo* t = movie->find(out.track_id)) trex = t->trex;
  }

  bool first_trun = true;
  auto r = for_each_child(traf.payload, [&](const BoxView& b) -> Result<void> {
    if (b.type == FourCC("tfdt")) {
      BeReader br(b.payload);
      const uint8_t version = br.u8();
      br.u24();
      out.base_decode_time = version == 1 ? br.u64() : br.u32();
      if (!br.ok()) return box_error(b.type, "too short");
      out.has_decode_time = true;
    } else if (b.type == FourCC("trun")) {
      if (auto tr = parse_trun(b, tfhd, trex, first_trun, out); !tr) return tr;
      first_trun = false;
    }
    return {};
  });
  if (!r) return r.error();
  return out;
}

}  // namespace

uint64_t ticks_to_millis(uint64_t ticks, uint32_t timescale) {
  if (timescale == 0) return 0;
  return sat_add(sat_mul(ticks / timescale, 1000), (ticks % timescale) * 1000 / timescale);
}

Result<std::vector<TrackFragment>> parse_moof(std::span<const uint8_t> moof_box,
                                              const MovieInfo* movie) {
  BoxHeader h;
  std::string why;
  if (parse_box_header(moof_box, UINT64_MAX, h, why) != HeaderStatus::kOk) {
    return Error::internal(why.empty() ? "moof: truncated header" : why);
  }
  if (h.type != FourCC("moof")) return box_error(h.type, "expected 'moof'");
  std::vector<TrackFragment> out;
  auto r = for_each_child(moof_box.subspan(h.header_size), [&](const BoxView& b) -> Result<void> {
    if (b.type != FourCC("traf")) return {};
    auto traf = parse_traf(b, movie);
    if (!traf) return traf.error();
    out.push_back(*traf);
    return {};
  });
  if (!r) return r.error();
  return out;
}

}  // namespace moq::media
