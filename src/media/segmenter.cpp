#include "media/segmenter.h"

#include <cmath>

namespace moq::media {
namespace {

constexpr FourCC kFtyp("ftyp"), kMoov("moov"), kMoof("moof"), kMdat("mdat");

double round3(double v) {
  return std::round(v * 1000.0) / 1000.0;
}

}  // namespace

Segmenter::Segmenter(SegmenterOptions options) : options_(std::move(options)) {}

Result<void> Segmenter::fail(std::string why) {
  error_ = Error::internal(std::move(why));
  return *error_;
}

Result<void> Segmenter::push(const Box& box, std::vector<SegmenterEvent>& out) {
  if (error_) return *error_;
  if (first_box_) {
    first_box_ = false;
    if (box.type != kFtyp) {
      return fail("not an MP4 stream: first box is '" + box.type.str() + "', expected 'ftyp'");
    }
    ftyp_ = box.bytes;
    return {};
  }
  if (box.type == kFtyp) return fail("duplicate 'ftyp' box");
  if (box.type == kMoov) return on_moov(box, out);
  if (box.type == kMoof) return on_moof(box);
  if (box.type == kMdat) return on_mdat(box, out);
  // styp, sidx, free, skip, prft, emsg, mfra, ...: not needed by a player
  // that reads the init segment and then moof+mdat pairs.
  return {};
}

Result<void> Segmenter::on_moov(const Box& box, std::vector<SegmenterEvent>& out) {
  if (moov_seen_) return fail("duplicate 'moov' box");
  auto movie = parse_moov(box.bytes.span());
  if (!movie) return fail("bad moov: " + movie.error().reason);
  bool fragmented = false;
  (void)for_each_child(box.payload(), [&](const BoxView& b) -> Result<void> {
    if (b.type == FourCC("mvex")) fragmented = true;
    return {};
  });
  if (!fragmented) {
    return fail(
        "moov has no mvex: not a fragmented MP4 (ffmpeg: -movflags "
        "empty_moov+frag_every_frame+separate_moof+omit_tfhd_offset)");
  }
  movie_ = std::move(*movie);
  moov_seen_ = true;

  bool usable = false;
  for (size_t i = 0; i < movie_.tracks.size(); ++i) {
    const TrackInfo& info = movie_.tracks[i];
    TrackState& t = tracks_[info.id];
    t.index = i;
    t.name = std::to_string(info.id);
    usable = usable || (info.kind != TrackKind::kOther && !info.codec.empty());
  }
  if (!usable) {
    std::string found;
    for (const TrackInfo& info : movie_.tracks) {
      found += (found.empty() ? "" : ", ") + std::string(to_string(info.kind)) + " '" +
               info.sample_entry.str() + "'";
    }
    return fail("moov has no video or audio track with a supported codec (found: " +
                (found.empty() ? std::string("no tracks") : found) + ")");
  }

  // The init segment is ftyp+moov: one small copy, once per broadcast.
  std::vector<uint8_t> init;
  init.reserve(ftyp_.size() + box.bytes.size());
  init.insert(init.end(), ftyp_.data(), ftyp_.data() + ftyp_.size());
  init.insert(init.end(), box.bytes.data(), box.bytes.data() + box.bytes.size());
  out.push_back(InitSegment{options_.init_track, Bytes(std::move(init))});

  emit_catalog(out, !catalog_waiting());
  return {};
}

Result<void> Segmenter::on_moof(const Box& box) {
  if (!moov_seen_) return fail("'moof' before 'moov': the init segment must come first");
  if (pending_moof_) return fail("'moof' followed by another 'moof' without an 'mdat'");
  auto trafs = parse_moof(box.bytes.span(), &movie_);
  if (!trafs) return fail("bad moof: " + trafs.error().reason);
  if (trafs->size() != 1) {
    return fail("moof with " + std::to_string(trafs->size()) +
                " track fragments (need exactly one: ffmpeg -movflags separate_moof)");
  }
  const TrackFragment& f = trafs->front();
  if (!tracks_.count(f.track_id)) {
    return fail("moof for unknown track " + std::to_string(f.track_id));
  }
  pending_moof_ = box;
  pending_info_ = f;
  return {};
}

Result<void> Segmenter::on_mdat(const Box& box, std::vector<SegmenterEvent>& out) {
  if (!moov_seen_) {
    return fail(
        "'mdat' before 'moov': not a fragmented MP4 (ffmpeg: -movflags "
        "empty_moov+frag_every_frame+separate_moof+omit_tfhd_offset)");
  }
  if (!pending_moof_) return fail("'mdat' without a preceding 'moof'");
  TrackState& t = tracks_.at(pending_info_.track_id);
  const TrackInfo& info = movie_.tracks[t.index];

  FragmentReady f;
  f.track_id = info.id;
  f.track = t.name;
  f.info = pending_info_;
  const uint64_t decode = f.info.has_decode_time ? f.info.base_decode_time : t.next_decode;
  t.next_decode = decode + f.info.duration;
  f.decode_ms = ticks_to_millis(decode, info.timescale);
  f.priority = static_cast<int32_t>(f.decode_ms & 0x7fffffffu);
  f.expires_seconds = options_.expires_seconds;
  // A segment starts at each keyframe fragment (audio: the first one at
  // least audio_segment_ms into the open segment); the first fragment of a
  // track opens one even if it is not a keyframe, so no data is dropped.
  bool boundary = f.info.first_is_keyframe;
  if (info.kind == TrackKind::kAudio && t.started) {
    boundary = boundary && f.decode_ms >= t.segment_start_ms + options_.audio_segment_ms;
  }
  f.new_segment = !t.started || boundary;
  if (f.new_segment) {
    ++t.next_sequence;
    t.segment_start_ms = f.decode_ms;
  }
  t.started = true;
  f.sequence = t.next_sequence - 1;
  f.moof = pending_moof_->bytes;
  f.mdat = box.bytes;
  pending_moof_.reset();

  if (!catalog_final_) {
    measure(t, f.info, f.moof.size() + f.mdat.size());
    if (!catalog_waiting()) emit_catalog(out, true);
  }
  out.push_back(std::move(f));
  return {};
}

void Segmenter::measure(TrackState& t, const TrackFragment& f, uint64_t bytes) {
  Measure& m = t.measure;
  if (m.complete) return;
  const uint32_t timescale = movie_.tracks[t.index].timescale;
  if (f.first_is_keyframe && m.ticks > 0 &&
      ticks_to_millis(m.ticks, timescale) >= options_.detect_min_ms) {
    m.complete = true;  // a whole number of GOPs, at least detect_min_ms long
    return;
  }
  m.bytes += bytes;
  m.samples += f.sample_count;
  m.ticks += f.duration;
  if (ticks_to_millis(m.ticks, timescale) >= options_.detect_max_ms) m.complete = true;
}

bool Segmenter::catalog_waiting() const {
  if (options_.frame_rate && options_.bit_rate) return false;
  for (const auto& [id, t] : tracks_) {
    const TrackInfo& info = movie_.tracks[t.index];
    if (info.kind != TrackKind::kVideo || info.codec.empty()) continue;
    if (!t.measure.complete) return true;
  }
  return false;
}

void Segmenter::emit_catalog(std::vector<SegmenterEvent>& out, bool final) {
  CatalogReady ready;
  for (const TrackInfo& info : movie_.tracks) {
    if (info.kind == TrackKind::kOther || info.codec.empty()) continue;
    const Measure& m = tracks_.at(info.id).measure;
    std::optional<uint64_t> measured_rate;
    if (m.ticks > 0) measured_rate = m.bytes * 8 * info.timescale / m.ticks;

    CatalogTrack c;
    c.kind = to_string(info.kind);
    c.init_track = options_.init_track;
    c.data_track = std::to_string(info.id);
    c.codec = info.codec;
    if (info.kind == TrackKind::kVideo) {
      c.width = info.width;
      c.height = info.height;
      if (options_.frame_rate) {
        c.frame_rate = *options_.frame_rate;
      } else if (m.ticks > 0 && m.samples > 0) {
        c.frame_rate = round3(double(m.samples) * info.timescale / double(m.ticks));
      } else {
        c.frame_rate = options_.fallback_frame_rate;
      }
      if (options_.bit_rate) {
        c.bit_rate = *options_.bit_rate;
      } else if (info.avg_bitrate > 0) {
        c.bit_rate = info.avg_bitrate;
      } else {
        c.bit_rate = measured_rate;
      }
    } else {
      c.channel_count = info.channel_count;
      c.sample_rate = info.sample_rate;
      c.sample_size = info.sample_size;
      c.bit_rate = info.avg_bitrate > 0 ? std::optional<uint64_t>(info.avg_bitrate) : measured_rate;
    }
    ready.catalog.tracks.push_back(std::move(c));
  }
  ready.json = to_json(ready.catalog);
  catalog_final_ = catalog_final_ || final;
  if (catalog_sequence_ > 0 && ready.json == last_catalog_json_) return;  // nothing new
  ready.sequence = catalog_sequence_++;
  ready.provisional = !final;
  last_catalog_json_ = ready.json;
  out.push_back(std::move(ready));
}

Result<void> Segmenter::finish(std::vector<SegmenterEvent>& out) {
  if (error_) return *error_;
  if (first_box_) return fail("empty input: not an MP4 stream");
  if (!moov_seen_) return fail("end of input before the 'moov' box");
  if (pending_moof_) return fail("end of input between a 'moof' and its 'mdat'");
  if (!catalog_final_) emit_catalog(out, true);
  return {};
}

Mp4Ingest::Mp4Ingest(SegmenterOptions options)
    : reader_(options.max_box_size), segmenter_(std::move(options)) {}

Error Mp4Ingest::explain(const Error& e) const {
  // Garbage at the very start fails in the box reader (a huge or tiny size)
  // before the segmenter sees a box: say what is actually wrong.
  if (reader_.boxes_read() > 0) return e;
  const auto type = reader_.peek_type();
  if (type && *type == kFtyp) return e;
  if (!type) {
    return Error::internal("not an MP4 stream: input ends after " +
                           std::to_string(reader_.buffered()) + " bytes");
  }
  return Error::internal("not an MP4 stream: expected an 'ftyp' box first, found '" + type->str() +
                         "' (" + e.reason + ")");
}

Result<void> Mp4Ingest::drain(std::vector<SegmenterEvent>& out) {
  for (;;) {
    auto box = reader_.next();
    if (!box) return explain(box.error());
    if (!*box) return {};
    if (auto r = segmenter_.push(**box, out); !r) return r;
  }
}

Result<void> Mp4Ingest::feed(Bytes chunk, std::vector<SegmenterEvent>& out) {
  reader_.feed(std::move(chunk));
  return drain(out);
}

Result<void> Mp4Ingest::finish(std::vector<SegmenterEvent>& out) {
  reader_.finish();
  if (auto r = drain(out); !r) return r;
  return segmenter_.finish(out);
}

}  // namespace moq::media
