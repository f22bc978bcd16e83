#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "coding/result.h"
#include "media/catalog.h"
#include "media/hang.h"
#include "media/moov.h"

// hang -> KIXEL_00 muxing: the KIXEL view of a broadcast published in the hang
// format, for the KIXEL viewers (moq-sub, the watch page). They want a
// `.catalog`, ONE init track ("1.mp4") whose moov holds every track, and data
// tracks of moof+mdat fragments whose tfhd track_ID names a trak of that init.
// Sans-IO: catalog text and frames in, JSON and MP4 bytes out.
//
// What @moq/publish 0.2.17 (with @moq/hang 0.2.16, the versions in
// tests/browser/package.json) publishes, read from its dist JS
// (source-*.js, hang/container/legacy.js, hang/catalog/*.js):
//  - tracks "catalog.json", "video/hd", "video/sd" (the same codec, scaled to
//    3/16 of the pixels, 16-pixel multiples), "audio/data";
//  - catalog.json: a new group per change, one frame holding the whole JSON
//    (json Snapshot producer with deltaRatio 0). It changes whenever the
//    encoder bitrate is re-derived from the connection's send bandwidth, and
//    at start as audio and video come up. Every rendition has container
//    {"kind":"legacy"}. kPublishCatalogExample below is one;
//  - legacy frames: QUIC varint timestamp (microseconds of the page's
//    performance.now() clock, shared by audio and video) + the raw
//    EncodedVideoChunk / EncodedAudioChunk bytes;
//  - video: a new group per keyframe (every 2 s by default). The codec is the
//    first one VideoEncoder.isConfigSupported accepts, hardware first:
//    vp09.00.10.08, vp09, avc1.640028, avc1.4D401F, avc1.42E01E, avc1,
//    av01.0.08M.08, av01, hev1.1.6.L93.B0, hev1, vp8; then the same in software
//    in the order avc1.*, vp8, vp09, hev1, av01. H.264 is encoded with
//    avc: {format: "annexb"} and the catalog has NO "description": frames are
//    Annex-B, with SPS and PPS in band in keyframes (what the WebCodecs AVC
//    registration asks of an "annexb" encoder; not captured from Chromium).
//    No description for VP8/VP9/AV1/HEVC either (Firefox skips the hardware
//    list);
//  - audio: Opus by default ("opus", no description, 20 ms frames, each
//    frame its own group), or AAC ("mp4a.40.2", raw frames, "description" =
//    hex AudioSpecificConfig).
//
// Mapping (legacy container):
//  - one KIXEL track per selected rendition, track_ID 1..n: video renditions
//    first, largest codedWidth x codedHeight first (the watch page plays the
//    first video entry), then audio in catalog order. Data tracks are named
//    by the decimal track_ID, as in moq-pub's output (the watch page finds the
//    trak by Number(data_track)); init_track is options.init_track for all;
//  - sample entries: avc1+avcC for H.264 (the avcC is the "description", or is
//    built from the first SPS and PPS seen in band; Annex-B frames are
//    rewritten with 4-byte NAL lengths, parameter sets kept in band, as ffmpeg
//    does); Opus+dOps (from an OpusHead "description" if any, else pre-skip 0,
//    mapping family 0, so at most 2 channels); mp4a+esds for "mp4a.40.*"
//    (AudioSpecificConfig from "description" or built from sampleRate and
//    numberOfChannels; ADTS headers stripped when there is no description);
//    vp09/vp08+vpcC from the codec string; av01+av1C (the "description", or
//    built from the codec string; temporal delimiter OBUs dropped from
//    samples). Other codecs (hev1/hvc1, pcm, ...) are left out (skipped()).
//    The KIXEL codec string of H.264, VP9 and AV1 is the one of the built
//    record, so a bare "vp09" or "av01" becomes a full one;
//  - timescale: 1000000 for video (hang timestamps are microseconds, so tfdt
//    is exact), 48000 for Opus, sampleRate for AAC. Absolute timestamps are
//    kept (no rebasing: renditions stay in sync across catalog changes). The
//    hang timestamp is written as the decode time with no composition
//    offset: fine for the realtime encoders (no B-frames), wrong for a
//    publisher that reorders frames;
//  - one fragment per hang frame: moof (mfhd sequence counting from 1 per
//    track, tfhd default-base-is-moof, tfdt v1, one trun sample with data
//    offset, duration, size and flags) + mdat. Sample flags: sync for a video
//    group's first frame and for every audio frame, non-sync otherwise.
//    Durations: the caller's hint; else Opus from its TOC byte, AAC 1024;
//    video the gap from the previous frame of the track, else
//    1/framerate, else 1/30 s.
// cmaf renditions keep their bytes: the trak of their init (track_ID
// rewritten) goes into the shared moov with a trex from the init's defaults,
// and each frame's moof+mdat is copied with every tfhd track_ID rewritten
// (styp/sidx/prft dropped). Timing is the publisher's.
// loc and unknown containers are skipped.

namespace moq::media {

// A catalog.json as @moq/publish 0.2.17 writes it for a 1280x720 camera at
// 30 fps where Chromium picked software H.264, with stereo Opus at 48 kHz
// (keys in the zod schema order JSON.stringify keeps; derived from the source,
// not captured).
inline constexpr std::string_view kPublishCatalogExample =
    R"({"video":{"renditions":{"video/hd":{"codec":"avc1.640028","container":{"kind":"legacy"},)"
    R"("codedWidth":1280,"codedHeight":720,"framerate":30,"bitrate":1935360,)"
    R"("optimizeForLatency":true,"jitter":34},"video/sd":{"codec":"avc1.640028",)"
    R"("container":{"kind":"legacy"},"codedWidth":544,"codedHeight":304,"framerate":30,)"
    R"("bitrate":347290,"optimizeForLatency":true,"jitter":34}},)"
    R"("display":{"width":1280,"height":720},"flip":false},)"
    R"("audio":{"renditions":{"audio/data":{"codec":"opus","container":{"kind":"legacy"},)"
    R"("sampleRate":48000,"numberOfChannels":2,"bitrate":64000,"jitter":20}}}})";

struct HangMuxOptions {
  std::string init_track = std::string(kInitTrack);
  // Hang renditions to serve, by track name; empty: every supported one. A
  // name that is not in the catalog is an error.
  std::vector<std::string> renditions;
  // KIXEL segments: a video segment starts at each hang group (keyframe). An
  // audio frame starts a new segment when it is at least this long after the
  // open segment's start (0: every audio group), because @moq/publish sends
  // each audio frame as its own group and a segment is a QUIC stream per
  // viewer (moq-pub's SegmenterOptions::audio_segment_ms does the same).
  uint64_t audio_segment_ms = 200;
};

// One KIXEL track of the view.
struct HangMuxTrack {
  std::string hang_name;  // the hang track to subscribe
  uint32_t track_id = 0;  // 1..n
  TrackKind kind = TrackKind::kOther;
  HangContainer container = HangContainer::kLegacy;
  uint32_t timescale = 0;  // of tfdt and durations
  // The `.catalog` entry: data_track = decimal track_id. For legacy H.264
  // without a description, codec is the hang codec string until the SPS is
  // seen, then the avcC's (profile, constraints, level as encoded).
  CatalogTrack entry;
  bool configured = false;  // the sample entry is known
};

// One moof+mdat for a KIXEL data track.
struct HangFragment {
  size_t track = 0;  // index into HangMuxer::tracks()
  std::vector<uint8_t> bytes;
  // Finish the track's open segment and start a new one with this fragment.
  bool new_segment = false;
  bool keyframe = false;
  uint64_t decode_time = 0;  // tfdt, in the track's timescale
  uint64_t decode_ms = 0;
  int32_t priority = 0;  // KIXEL segment priority: decode_ms modulo 2^31
  // This frame completed the view: init() and catalog() are now available
  // (publish them before this fragment's segment, ideally).
  bool became_ready = false;
};

class HangMuxer {
 public:
  // Builds the view from a hang catalog.json (network input: parsed with
  // kixel_from_hang_catalog, so its errors apply). Unsupported renditions are
  // left out and listed in skipped(); a catalog with nothing left is an
  // error.
  static Result<HangMuxer> create(std::string_view hang_catalog_json, HangMuxOptions options = {});

  const std::vector<HangMuxTrack>& tracks() const { return tracks_; }
  // The index of the track serving hang track `hang_name`.
  std::optional<size_t> find(std::string_view hang_name) const;
  // Renditions left out: (hang name, why).
  const std::vector<std::pair<std::string, std::string>>& skipped() const { return skipped_; }

  // Every track's sample entry is known. Until then init() is empty: legacy
  // H.264 without a description waits for a frame carrying SPS and PPS (the
  // first keyframe @moq/publish sends on each subscription).
  bool ready() const { return !init_.empty(); }
  // ftyp + moov (mvhd, one trak per track with empty sample tables, mvex with
  // a trex per track): the one segment of the init track. Empty until ready.
  const std::vector<uint8_t>& init() const { return init_; }
  // The `.catalog` (to_json()): complete once ready.
  const Catalog& catalog() const { return catalog_; }

  // One hang frame of tracks()[track]. `group_start`: the first frame of its
  // hang group (a keyframe). `duration_us`: the sample's duration when the
  // caller knows it. nullopt: nothing to publish (an empty legacy marker
  // frame, or a video frame before the track's first keyframe). An error
  // drops this frame only (malformed payload); the muxer goes on.
  Result<std::optional<HangFragment>> frame(size_t track, std::span<const uint8_t> frame,
                                            bool group_start,
                                            std::optional<uint64_t> duration_us = std::nullopt);

  enum class Update {
    kSame,          // nothing KIXEL viewers see changed
    kCatalog,       // only catalog values (bit_rate, frame_rate): republish catalog()
    kIncompatible,  // renditions, codecs, sizes or configs changed: build a new muxer
  };
  // A newer catalog.json of the same broadcast. On kIncompatible (or an error)
  // this muxer is unchanged.
  Result<Update> update(std::string_view hang_catalog_json);

 private:
  enum class Codec { kH264, kOpus, kAac, kVp8, kVp9, kAv1, kCmaf };
  // What frame() and the init need beyond HangMuxTrack.
  struct State {
    Codec codec = Codec::kH264;
    // Signature of the catalog values the sample entry and the timing come
    // from: a catalog that changes it is kIncompatible.
    std::string signature;
    CatalogTrack hang_entry;                     // from the hang catalog (bit_rate, frame_rate)
    std::vector<uint8_t> sample_entry;           // the stsd entry box, once known
    std::vector<uint8_t> trak;                   // cmaf: the rendition's trak, track_ID rewritten
    SampleDefaults trex;                         // cmaf: its trex defaults
    MovieInfo movie;                             // cmaf: the rendition's init, for parse_moof
    bool annexb = false;                         // H.264 frames are Annex-B
    bool adts = false;                           // AAC without description: strip ADTS headers
    uint8_t nal_length_size = 4;                 // H.264 length-prefixed frames
    std::optional<std::vector<uint8_t>> config;  // avcC / esds ASC / dOps / av1C / vpcC payload
    uint64_t default_duration = 0;               // ticks
    uint16_t width = 0, height = 0, channels = 0;
    uint32_t sample_rate = 0;
    uint32_t sequence = 0;  // last mfhd sequence_number
    bool started = false;   // a fragment was produced
    std::optional<uint64_t> last_pts_us;
    uint64_t segment_start_ms = 0;
  };
  HangMuxer() = default;
  // Sets up the track of one rendition (all but its id); an error says why
  // it is skipped.
  static Result<void> setup(const HangRendition& r, HangMuxTrack& t, State& s);
  void refresh_catalog();
  Result<void> try_finish_init();

  HangMuxOptions options_;
  std::vector<HangMuxTrack> tracks_;
  std::vector<State> state_;
  std::vector<std::pair<std::string, std::string>> skipped_;
  std::vector<uint8_t> init_;
  Catalog catalog_;
};

// ---------------------------------------------------------------- helpers
// (exposed for tests and the fuzz target)

// Hex text (either case) to bytes; the hang catalog's "description".
Result<std::vector<uint8_t>> hex_decode(std::string_view text);
// Bytes to lowercase hex, as moq-cli writes "description".
std::string hex_encode(std::span<const uint8_t> bytes);

// The NAL units of an Annex-B byte stream (3- or 4-byte start codes; trailing
// zero bytes of a unit dropped). Fails when the data does not start with a
// start code.
Result<std::vector<std::span<const uint8_t>>> annexb_nal_units(std::span<const uint8_t> data);

// An AVCDecoderConfigurationRecord (avcC payload) with 4-byte NAL lengths
// from the first SPS and PPS among `nal_units` (with the high-profile
// chroma/bit-depth extension for profiles 100, 110, 122, 144); nullopt when
// either is missing. Fails on an SPS that does not parse.
Result<std::optional<std::vector<uint8_t>>> avcc_from_parameter_sets(
    std::span<const std::span<const uint8_t>> nal_units);

// Samples (at 48 kHz) in an Opus packet, from its TOC (RFC 6716 3.1); 0 for
// a malformed packet.
uint32_t opus_packet_samples(std::span<const uint8_t> packet);

// An AAC AudioSpecificConfig: object type, sampling frequency (index, or the
// 24-bit escape for a rate not in the table), channel configuration.
std::vector<uint8_t> aac_audio_specific_config(uint8_t object_type, uint32_t sample_rate,
                                               uint8_t channels);

}  // namespace moq::media
