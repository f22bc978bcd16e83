#include "media/hang.h"
#include "media/hang_mux.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "media/be_reader.h"
#include "media/moof.h"

namespace moq::media {
namespace {

using nlohmann::ordered_json;

// Largest integer a JavaScript number holds exactly (hang's u53).
constexpr uint64_t kMaxU53 = (uint64_t{1} << 53) - 1;

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<uint8_t>(v >> shift));
}

void append(std::vector<uint8_t>& out, std::span<const uint8_t> bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}

// A container box of `type` holding `payload` (always a 32-bit size: an init
// segment is far below 4 GiB).
Result<void> put_box(std::vector<uint8_t>& out, FourCC type, std::span<const uint8_t> payload) {
  if (payload.size() > UINT32_MAX - 8) return box_error(type, "too large to rewrite");
  put_u32(out, static_cast<uint32_t>(8 + payload.size()));
  put_u32(out, type.value);
  append(out, payload);
  return {};
}

// The top-level ftyp and moov of an init segment (type 0 when absent).
struct InitBoxes {
  BoxView ftyp, moov;
};

Result<InitBoxes> top_level(std::span<const uint8_t> init) {
  InitBoxes out;
  auto r = for_each_child(init, [&](const BoxView& b) -> Result<void> {
    if (b.type == FourCC("ftyp") && out.ftyp.type.value == 0) out.ftyp = b;
    if (b.type == FourCC("moov") && out.moov.type.value == 0) out.moov = b;
    return {};
  });
  if (!r) return Error::internal("init segment: " + r.error().reason);
  if (out.moov.type.value == 0) return Error::internal("init segment: no 'moov' box");
  return out;
}

// WebCodecs spells the Opus codec "opus"; some muxers write the sample entry
// name "Opus".
std::string webcodecs_codec(std::string codec) {
  if (codec == "Opus") return "opus";
  return codec;
}

// A non-negative integral JSON number up to 2^53-1 (zod's u53 accepts 3.0).
std::optional<uint64_t> u53(const ordered_json& j) {
  if (j.is_number_unsigned()) {
    const uint64_t v = j.get<uint64_t>();
    if (v <= kMaxU53) return v;
  } else if (j.is_number_float()) {
    const double d = j.get<double>();
    if (d >= 0 && d <= static_cast<double>(kMaxU53) && d == std::floor(d)) {
      return static_cast<uint64_t>(d);
    }
  }
  return std::nullopt;
}

std::optional<uint64_t> u53_field(const ordered_json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) return std::nullopt;
  return u53(*it);
}

std::optional<uint32_t> u32_field(const ordered_json& obj, const char* key) {
  auto v = u53_field(obj, key);
  if (!v || *v > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(*v);
}

// A frame rate as JSON: an integer when whole, as the KIXEL catalog writes it.
ordered_json rate_json(double fps) {
  if (fps >= 0 && fps <= static_cast<double>(kMaxU53) && fps == std::floor(fps)) {
    return static_cast<uint64_t>(fps);
  }
  return fps;
}

// The trak a KIXEL catalog entry describes: the one whose track_ID is the
// decimal data track name, else the init's only trak.
const TrackInfo* trak_for(const MovieInfo& movie, std::string_view data_track) {
  uint32_t id = 0;
  const char* end = data_track.data() + data_track.size();
  auto [p, ec] = std::from_chars(data_track.data(), end, id);
  if (ec == std::errc() && p == end && !data_track.empty()) {
    if (const TrackInfo* t = movie.find(id)) return t;
  }
  return movie.tracks.size() == 1 ? &movie.tracks[0] : nullptr;
}

Error track_error(std::string_view track, const std::string& why) {
  return Error::internal("track '" + std::string(track) + "': " + why);
}

}  // namespace

// ---------------------------------------------------------------- init segments

Result<MovieInfo> parse_init_segment(std::span<const uint8_t> init_segment) {
  auto boxes = top_level(init_segment);
  if (!boxes) return boxes.error();
  auto movie = parse_moov(boxes->moov.bytes);
  if (!movie) return Error::internal("init segment: " + movie.error().reason);
  return movie;
}

Result<std::vector<uint8_t>> single_track_init(std::span<const uint8_t> init_segment,
                                               uint32_t track_id) {
  auto boxes = top_level(init_segment);
  if (!boxes) return boxes.error();
  auto movie = parse_moov(boxes->moov.bytes);
  if (!movie) return Error::internal("init segment: " + movie.error().reason);
  if (!movie->find(track_id)) {
    return Error::internal("init segment: no trak with track_ID " + std::to_string(track_id));
  }

  // parse_moov lists the traks in box order, so the n-th trak child is
  // movie->tracks[n].
  std::vector<uint8_t> moov;
  size_t trak_index = 0;
  auto r = for_each_child(boxes->moov.payload, [&](const BoxView& b) -> Result<void> {
    if (b.type == FourCC("trak")) {
      if (movie->tracks[trak_index++].id == track_id) append(moov, b.bytes);
      return {};
    }
    if (b.type != FourCC("mvex")) {
      append(moov, b.bytes);
      return {};
    }
    std::vector<uint8_t> mvex;
    auto kept = for_each_child(b.payload, [&](const BoxView& x) -> Result<void> {
      if (x.type == FourCC("trex") || x.type == FourCC("trep")) {
        BeReader br(x.payload);
        br.u32();  // version + flags
        const uint32_t id = br.u32();
        if (!br.ok()) return box_error(x.type, "too short");
        if (id != track_id) return {};
      }
      append(mvex, x.bytes);
      return {};
    });
    if (!kept) return kept;
    return put_box(moov, b.type, mvex);
  });
  if (!r) return Error::internal("init segment: " + r.error().reason);

  // Both headers rewritten: a size-0 or 64-bit ftyp header becomes a plain one.
  std::vector<uint8_t> out;
  if (boxes->ftyp.type.value != 0) {
    if (auto w = put_box(out, FourCC("ftyp"), boxes->ftyp.payload); !w) return w.error();
  }
  if (auto w = put_box(out, FourCC("moov"), moov); !w) return w.error();
  return out;
}

// ---------------------------------------------------------------- base64

std::string base64_encode(std::span<const uint8_t> data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const uint32_t v = (uint32_t(data[i]) << 16) | (uint32_t(data[i + 1]) << 8) | data[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6)
      out += kAlphabet[(v >> shift) & 0x3f];
  }
  const size_t rest = data.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t(data[i]) << 16;
    if (rest == 2) v |= uint32_t(data[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 0x3f];
    out += kAlphabet[(v >> 12) & 0x3f];
    out += rest == 2 ? kAlphabet[(v >> 6) & 0x3f] : '=';
    out += '=';
  }
  return out;
}

Result<std::vector<uint8_t>> base64_decode(std::string_view text) {
  size_t len = text.size();
  size_t pad = 0;
  while (len > 0 && text[len - 1] == '=' && pad < 2) {
    --len;
    ++pad;
  }
  if (len % 4 == 1) return Error::internal("base64: bad length " + std::to_string(text.size()));
  if (pad > 0 && (text.size() % 4 != 0 || pad != 4 - len % 4)) {
    return Error::internal("base64: bad padding");
  }
  std::vector<uint8_t> out;
  out.reserve(len / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < len; ++i) {
    const char c = text[i];
    uint32_t v;
    if (c >= 'A' && c <= 'Z') {
      v = uint32_t(c - 'A');
    } else if (c >= 'a' && c <= 'z') {
      v = uint32_t(c - 'a') + 26;
    } else if (c >= '0' && c <= '9') {
      v = uint32_t(c - '0') + 52;
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else {
      return Error::internal("base64: invalid character at offset " + std::to_string(i));
    }
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
      acc &= (1u << bits) - 1;
    }
  }
  return out;
}

// ---------------------------------------------------------------- KIXEL -> hang

Result<std::string> hang_catalog_from_kixel(std::string_view kixel_catalog_json,
                                            std::span<const uint8_t> init_segment) {
  return hang_catalog_from_kixel(kixel_catalog_json,
                                 [init_segment](std::string_view) { return init_segment; });
}

Result<std::string> hang_catalog_from_kixel(std::string_view kixel_catalog_json,
                                            const InitLookup& init_for) {
  auto catalog = parse_catalog(kixel_catalog_json);
  if (!catalog) return catalog.error();

  std::map<std::string, MovieInfo, std::less<>> movies;  // per init track
  ordered_json video = ordered_json::object(), audio = ordered_json::object();
  uint64_t display_area = 0;
  ordered_json display;

  for (const CatalogTrack& t : catalog->tracks) {
    const bool is_video = t.kind == "video";
    if (!is_video && t.kind != "audio") continue;
    const std::string& name = t.data_track;
    const std::optional<std::span<const uint8_t>> init = init_for(t.init_track);
    if (!init) return track_error(name, "unknown init track '" + t.init_track + "'");
    auto movie = movies.find(t.init_track);
    if (movie == movies.end()) {
      auto parsed = parse_init_segment(*init);
      if (!parsed) return track_error(name, parsed.error().reason);
      movie = movies.emplace(t.init_track, std::move(*parsed)).first;
    }
    const TrackInfo* trak = trak_for(movie->second, name);
    if (!trak) return track_error(name, "no trak for it in init track '" + t.init_track + "'");
    if (trak->kind != (is_video ? TrackKind::kVideo : TrackKind::kAudio)) {
      return track_error(name, "is " + t.kind + " but its trak is " + to_string(trak->kind));
    }
    auto single = single_track_init(*init, trak->id);
    if (!single) return track_error(name, single.error().reason);

    ordered_json r;
    r["codec"] = webcodecs_codec(t.codec.empty() ? trak->codec : t.codec);
    if (r["codec"].get_ref<const std::string&>().empty()) return track_error(name, "no codec");
    r["container"] = {{"kind", "cmaf"}, {"init", base64_encode(*single)}};
    // moq-cli's exporters read an absent description as Annex B H.264.
    // (parse_moov keeps one for avcC/hvcC/av1C and AAC only.)
    if (!trak->decoder_config.empty()) r["description"] = hex_encode(trak->decoder_config);
    if (is_video) {
      std::optional<uint32_t> w = t.width, h = t.height;
      if (!w && trak->width) w = trak->width;
      if (!h && trak->height) h = trak->height;
      if (w) r["codedWidth"] = *w;
      if (h) r["codedHeight"] = *h;
      if (t.frame_rate && std::isfinite(*t.frame_rate)) r["framerate"] = rate_json(*t.frame_rate);
      if (t.bit_rate && *t.bit_rate <= kMaxU53) r["bitrate"] = *t.bit_rate;
      const uint64_t area = w && h ? uint64_t(*w) * *h : 0;
      if (area > display_area) {
        display_area = area;
        display = {{"width", *w}, {"height", *h}};
      }
      if (video.contains(name)) return track_error(name, "listed twice");
      video[name] = std::move(r);
    } else {
      const uint32_t rate = t.sample_rate.value_or(trak->sample_rate);
      const uint32_t channels = t.channel_count.value_or(trak->channel_count);
      if (!t.sample_rate && rate == 0) return track_error(name, "no sample rate");
      if (!t.channel_count && channels == 0) return track_error(name, "no channel count");
      r["sampleRate"] = rate;
      r["numberOfChannels"] = channels;
      if (t.bit_rate && *t.bit_rate <= kMaxU53) r["bitrate"] = *t.bit_rate;
      if (audio.contains(name)) return track_error(name, "listed twice");
      audio[name] = std::move(r);
    }
  }

  ordered_json root = ordered_json::object();
  if (!video.empty()) {
    root["video"]["renditions"] = std::move(video);
    if (!display.is_null()) root["video"]["display"] = std::move(display);
  }
  if (!audio.empty()) root["audio"]["renditions"] = std::move(audio);
  // Strings came from parsed JSON or from our own codec strings, so valid
  // UTF-8; replace rather than throw all the same.
  return root.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

// ---------------------------------------------------------------- hang -> KIXEL

namespace {

HangContainer container_of(std::string_view kind) {
  if (kind == "cmaf") return HangContainer::kCmaf;
  if (kind == "legacy") return HangContainer::kLegacy;
  if (kind == "loc") return HangContainer::kLoc;
  return HangContainer::kUnknown;
}

Result<void> parse_rendition(const std::string& name, const ordered_json& j, bool is_video,
                             HangRendition& out) {
  const std::string where = std::string(is_video ? "video" : "audio") + " rendition '" + name + "'";
  if (!j.is_object()) return Error::internal("catalog: " + where + " is not an object");
  out.name = name;
  CatalogTrack& t = out.track;
  t.kind = is_video ? "video" : "audio";
  t.data_track = name;
  t.init_track = name + ".mp4";
  auto codec = j.find("codec");
  if (codec == j.end() || !codec->is_string()) {
    return Error::internal("catalog: " + where + " has no string \"codec\"");
  }
  t.codec = webcodecs_codec(codec->get<std::string>());
  if (auto d = j.find("description"); d != j.end() && d->is_string()) {
    out.description = d->get<std::string>();
  }

  // The container: {"kind":"legacy"} when absent (hang's default).
  out.container_kind = "legacy";
  const auto container = j.find("container");
  if (container != j.end()) {
    auto kind = container->is_object() ? container->find("kind") : container->end();
    if (!container->is_object() || kind == container->end() || !kind->is_string()) {
      return Error::internal("catalog: " + where + ": \"container\" has no string \"kind\"");
    }
    out.container_kind = kind->get<std::string>();
  }
  out.container = container_of(out.container_kind);

  const TrackInfo* trak = nullptr;
  MovieInfo movie;
  if (out.container == HangContainer::kCmaf) {
    auto init = container->find("init");
    if (init == container->end() || !init->is_string()) {
      return Error::internal("catalog: " + where + ": cmaf container without string \"init\"");
    }
    auto bytes = base64_decode(init->get_ref<const std::string&>());
    if (!bytes) return Error::internal("catalog: " + where + ": init: " + bytes.error().reason);
    auto parsed = parse_init_segment(*bytes);
    if (!parsed) return Error::internal("catalog: " + where + ": " + parsed.error().reason);
    movie = std::move(*parsed);
    if (movie.tracks.empty()) return Error::internal("catalog: " + where + ": init has no trak");
    // hang's decoder reads the first trak it finds.
    trak = &movie.tracks[0];
    if (trak->kind != (is_video ? TrackKind::kVideo : TrackKind::kAudio)) {
      return Error::internal("catalog: " + where + ": init's first trak is " +
                             to_string(trak->kind));
    }
    auto single = single_track_init(*bytes, trak->id);
    if (!single) return Error::internal("catalog: " + where + ": " + single.error().reason);
    out.init = std::move(*single);
    out.track_id = trak->id;
    out.timescale = trak->timescale;
    if (t.codec.empty()) t.codec = webcodecs_codec(trak->codec);
  }
  if (t.codec.empty()) return Error::internal("catalog: " + where + " has an empty codec");

  auto nonzero = [](uint32_t v) { return v ? std::optional<uint32_t>(v) : std::nullopt; };
  t.bit_rate = u53_field(j, "bitrate");
  if (is_video) {
    t.width = u32_field(j, "codedWidth");
    t.height = u32_field(j, "codedHeight");
    if (trak && !t.width) t.width = nonzero(trak->width);
    if (trak && !t.height) t.height = nonzero(trak->height);
    if (auto f = j.find("framerate");
        f != j.end() && f->is_number() && std::isfinite(f->get<double>())) {
      t.frame_rate = f->get<double>();
    }
  } else {
    t.sample_rate = u32_field(j, "sampleRate");
    t.channel_count = u32_field(j, "numberOfChannels");
    if (trak) {
      if (!t.sample_rate) t.sample_rate = nonzero(trak->sample_rate);
      if (!t.channel_count) t.channel_count = nonzero(trak->channel_count);
      t.sample_size = nonzero(trak->sample_size);
    }
    if (!t.sample_rate || !t.channel_count) {
      return Error::internal("catalog: " + where +
                             " needs integer \"sampleRate\" and \"numberOfChannels\"");
    }
  }
  return {};
}

}  // namespace

Result<KixelFromHang> kixel_from_hang_catalog(std::string_view catalog_json) {
  const ordered_json root = ordered_json::parse(catalog_json, nullptr, false);
  if (root.is_discarded()) return Error::internal("catalog: not valid JSON");
  if (!root.is_object()) return Error::internal("catalog: not a JSON object");

  KixelFromHang out;
  std::set<std::string, std::less<>> names{std::string(kCatalogTrack)};
  for (const char* section : {"video", "audio"}) {
    const bool is_video = section[0] == 'v';
    auto s = root.find(section);
    if (s == root.end() || s->is_null()) continue;
    if (s->is_array() || (s->is_object() && s->contains("track") && s->contains("config"))) {
      return Error::internal(std::string("catalog: \"") + section + "\" uses the pre-0.3 " +
                             (is_video ? "array of {track, config}" : "{track, config}") +
                             " form, which is not supported (expected {\"renditions\": {...}})");
    }
    auto renditions = s->is_object() ? s->find("renditions") : s->end();
    if (!s->is_object() || renditions == s->end() || !renditions->is_object()) {
      return Error::internal(std::string("catalog: \"") + section +
                             "\" has no \"renditions\" object");
    }
    for (const auto& [name, config] : renditions->items()) {
      HangRendition r;
      if (auto p = parse_rendition(name, config, is_video, r); !p) return p.error();
      for (const std::string* n : {&r.track.data_track, &r.track.init_track}) {
        if (!names.insert(*n).second) {
          return Error::internal("catalog: track name '" + *n + "' is used twice");
        }
      }
      if (r.container == HangContainer::kCmaf) out.catalog.tracks.push_back(r.track);
      out.renditions.push_back(std::move(r));
    }
  }
  return out;
}

// ---------------------------------------------------------------- splitter

Error FragmentSplitter::fail(std::string why) {
  error_ = Error::internal(std::move(why));
  return *error_;
}

Result<void> FragmentSplitter::on_header() {
  std::string why;
  const HeaderStatus st =
      parse_box_header(std::span<const uint8_t>(head_, head_len_), max_, header_, why);
  if (st == HeaderStatus::kError) return fail(why);
  if (st == HeaderStatus::kNeedMore) return {};  // a 64-bit size follows
  const FourCC type = header_.type;
  if (header_.to_end) {
    return fail("box '" + type.str() + "' has size 0 (to the end of the file): not in a segment");
  }
  const bool skip = type == FourCC("styp") || type == FourCC("sidx") || type == FourCC("prft");
  if (type == FourCC("moof")) {
    if (have_moof_) return fail("'moof' followed by another 'moof' without an 'mdat'");
  } else if (type == FourCC("mdat")) {
    if (!have_moof_) return fail("'mdat' without a preceding 'moof'");
  } else if (skip) {
    if (have_moof_) return fail("'" + type.str() + "' between a 'moof' and its 'mdat'");
  } else {
    return fail("unexpected box '" + type.str() +
                "' in a media segment (expected moof, mdat, styp, sidx or prft)");
  }
  have_header_ = true;
  keep_ = !skip;
  remaining_ = header_.size - header_.header_size;
  if (keep_) pieces_.insert(pieces_.end(), head_pieces_.begin(), head_pieces_.end());
  head_pieces_.clear();
  return {};
}

void FragmentSplitter::on_box_end(std::vector<HangFrame>& out) {
  have_header_ = false;
  head_len_ = 0;
  if (!keep_) {
    ++skipped_;
    return;
  }
  if (header_.type == FourCC("moof")) {
    have_moof_ = true;
    timestamp_us_.reset();
    if (timescale_ == 0) return;
    // The moof is whole in one chunk (the usual case) or gathered once.
    std::vector<uint8_t> scratch;
    std::span<const uint8_t> moof;
    if (pieces_.size() == 1) {
      moof = pieces_[0].chunk.span().subspan(pieces_[0].from, pieces_[0].to - pieces_[0].from);
    } else {
      for (const Piece& p : pieces_)
        append(scratch, p.chunk.span().subspan(p.from, p.to - p.from));
      moof = scratch;
    }
    auto trafs = parse_moof(moof, nullptr);
    if (!trafs) return;  // no timestamp; the bytes still pass
    for (const TrackFragment& f : *trafs) {
      if (!f.has_decode_time) continue;
      const uint64_t secs = f.base_decode_time / timescale_;
      const uint64_t rest = f.base_decode_time % timescale_;
      if (secs <= UINT64_MAX / 1'000'000 - 1) {
        timestamp_us_ = secs * 1'000'000 + rest * 1'000'000 / timescale_;
      }
      break;
    }
    return;
  }
  // The mdat: the frame is complete. Adjacent pieces of one chunk become one
  // slice.
  HangFrame frame;
  frame.timestamp_us = timestamp_us_;
  for (size_t i = 0; i < pieces_.size();) {
    const Piece& first = pieces_[i];
    size_t to = first.to;
    size_t j = i + 1;
    while (j < pieces_.size() && pieces_[j].from == to &&
           pieces_[j].chunk.data() == first.chunk.data() &&
           pieces_[j].chunk.size() == first.chunk.size()) {
      to = pieces_[j++].to;
    }
    frame.parts.push_back(first.chunk.slice(first.from, to - first.from));
    frame.size += to - first.from;
    i = j;
  }
  pieces_.clear();
  have_moof_ = false;
  timestamp_us_.reset();
  ++frames_;
  out.push_back(std::move(frame));
}

Result<void> FragmentSplitter::feed(Bytes chunk, std::vector<HangFrame>& out) {
  if (error_) return *error_;
  if (finished_) return fail("data after the end of the segment");
  size_t pos = 0;
  while (pos < chunk.size()) {
    const size_t left = chunk.size() - pos;
    if (!have_header_) {
      const size_t need = head_len_ < 8 ? 8 : 16;
      const size_t n = std::min(need - head_len_, left);
      std::memcpy(head_ + head_len_, chunk.data() + pos, n);
      head_pieces_.push_back(Piece{chunk, pos, pos + n});
      head_len_ += n;
      pos += n;
      if (head_len_ < need) break;
      if (auto r = on_header(); !r) return r;
      if (!have_header_) continue;
    } else {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, left));
      if (keep_) {
        Piece* last = pieces_.empty() ? nullptr : &pieces_.back();
        if (last && last->to == pos && last->chunk.data() == chunk.data() &&
            last->chunk.size() == chunk.size()) {
          last->to = pos + n;
        } else {
          pieces_.push_back(Piece{chunk, pos, pos + n});
        }
      }
      pos += n;
      remaining_ -= n;
    }
    if (have_header_ && remaining_ == 0) on_box_end(out);
  }
  return {};
}

Result<void> FragmentSplitter::finish() {
  if (error_) return *error_;
  finished_ = true;
  if (have_header_) {
    return fail("segment ended inside box '" + header_.type.str() + "' (" +
                std::to_string(remaining_) + " bytes missing)");
  }
  if (head_len_ > 0) return fail("segment ended inside a box header");
  if (have_moof_) return fail("segment ended between a 'moof' and its 'mdat'");
  return {};
}

}  // namespace moq::media
