#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "coding/bytes.h"
#include "coding/result.h"
#include "media/box.h"
#include "media/catalog.h"
#include "media/moov.h"

// Translation between the KIXEL_00 media conventions (`.catalog`, one
// ftyp+moov init track, data segments of moof+mdat fragments) and the "hang"
// format of @moq/hang 0.3.5 / @moq/watch (docs/dialects.md section 4), for the
// `cmaf` container: no remuxing, fragments pass through as they are. Sans-IO.

namespace moq::media {

// Name of the hang catalog track.
inline constexpr std::string_view kHangCatalogTrack = "catalog.json";

// The moov of an init segment (ftyp+moov, other top-level boxes ignored),
// parsed. Fails when there is no moov or it does not parse.
Result<MovieInfo> parse_init_segment(std::span<const uint8_t> init_segment);

// ftyp + a moov rewritten to describe only track `track_id`: mvhd and every
// other non-trak child kept, only the trak with that tkhd track_ID, and an mvex
// (when present) whose trex/trep children for other tracks are dropped. Other
// top-level boxes are dropped; the ftyp and moov headers are rewritten (32-bit
// sizes), every other box is copied as it is. The hang CMAF decoder reads the
// FIRST tkhd, mdhd and stsd it finds (checked with @moq/hang 0.3.5: given the
// two-track 1.mp4 it decodes audio fragments with the video's timescale), so
// each hang rendition needs such an init of its own.
Result<std::vector<uint8_t>> single_track_init(std::span<const uint8_t> init_segment,
                                               uint32_t track_id);

// The hang catalog.json for a KIXEL broadcast: one rendition per video/audio
// entry of the `.catalog` (other kinds are left out), named by its data track,
// with container {"kind":"cmaf","init": base64(single_track_init)}. The trak of
// an entry is the one whose track_ID is the decimal data track name, or else
// the only trak of its init. Values missing from the `.catalog` (codec,
// dimensions, sample rate, channels) come from the init; "Opus" is written
// "opus" (WebCodecs; @moq/watch compares with "opus"). "description" is the
// trak's avcC/hvcC/av1C payload or AAC AudioSpecificConfig in lowercase hex,
// as moq-cli writes it (its exporters take a missing one for Annex B). "display" is the largest
// video rendition's size. Integers are JSON integers (u53), a whole frame rate too. Fails on an
// entry whose trak is missing or of the other kind, or an audio entry without
// sample rate or channel count.
Result<std::string> hang_catalog_from_kixel(std::string_view kixel_catalog_json,
                                            std::span<const uint8_t> init_segment);
// The same when entries name different init tracks: `init_for(init_track)`
// returns that track's segment, or nullopt when it is not known (an error).
using InitLookup =
    std::function<std::optional<std::span<const uint8_t>>(std::string_view init_track)>;
Result<std::string> hang_catalog_from_kixel(std::string_view kixel_catalog_json,
                                            const InitLookup& init_for);

// hang container kinds (H035 catalog/container.js).
enum class HangContainer { kCmaf, kLegacy, kLoc, kUnknown };

// One rendition of a hang catalog.
struct HangRendition {
  std::string name;  // the hang track name
  HangContainer container = HangContainer::kLegacy;
  std::string container_kind;  // as written ("cmaf", "legacy", "loc", or unknown)
  // The KIXEL catalog entry for it: data_track = name, init_track = name +
  // ".mp4", codec and sizes from the hang config. For cmaf, missing values come
  // from the init and sample_size is the init's.
  CatalogTrack track;
  std::optional<std::string> description;  // hex codec config, as given (legacy muxing needs it)
  // cmaf only: the init segment to publish as `track.init_track`, reduced to
  // the trak the hang decoder uses (the first one) with single_track_init, and
  // that trak's track_ID and mdhd timescale (frame timestamps).
  std::vector<uint8_t> init;
  uint32_t track_id = 0;
  uint32_t timescale = 0;
};

struct KixelFromHang {
  // The KIXEL `.catalog`: one entry per cmaf rendition (video, then audio, in
  // catalog order). Other containers need a real mux and are left out here.
  Catalog catalog;
  // Every rendition, in the same order, cmaf or not.
  std::vector<HangRendition> renditions;
};

// Parses a hang catalog.json (network input). Unknown keys are ignored, as are
// optional fields of the wrong type; the pre-0.3 array forms of "video" and
// "audio" are refused with a message saying so. Fails on invalid JSON, a
// rendition without a string codec, an audio rendition without sampleRate and
// numberOfChannels (required by hang; for cmaf the init's values are used),
// and a cmaf container whose init is not base64 of a parsable ftyp+moov with
// a trak of the rendition's kind.
Result<KixelFromHang> kixel_from_hang_catalog(std::string_view catalog_json);

// Standard base64 with padding (what hang's zod `z.base64()` requires), and
// its decoder, which also takes input without padding.
std::string base64_encode(std::span<const uint8_t> data);
Result<std::vector<uint8_t>> base64_decode(std::string_view text);

// One hang cmaf frame: a moof box and the mdat box after it.
struct HangFrame {
  std::vector<Bytes> parts;  // slices of the fed chunks, in order; concatenated = moof+mdat
  uint64_t size = 0;         // total bytes of `parts`
  // The first tfdt's baseMediaDecodeTime in microseconds, when the splitter
  // knows the timescale and the moof parses and has a tfdt.
  std::optional<uint64_t> timestamp_us;
};

// Splits ONE KIXEL data segment, fed in order as chunks of any size, into hang
// frames (moof+mdat pairs), without copying: every frame is a list of slices of
// the input. A box header split across chunks is kept as its pieces; a moof
// that straddles chunks is gathered into a scratch buffer only to read its
// tfdt. (BoxReader is not used because it gathers straddling boxes, mdat
// payloads included, into a copy.)
//
// styp, sidx and prft boxes before a moof are skipped (a hang frame is exactly
// moof+mdat). Errors, all final: any other box type, a moof not followed
// directly by its mdat, an mdat without a moof, a size below the header, a box
// above `max_box_size`, a size-0 ("to end of file") box, and the segment
// ending inside a box or between a moof and its mdat (finish()).
class FragmentSplitter {
 public:
  // `timescale`: the track's mdhd timescale, for timestamp_us (0: no timestamps).
  explicit FragmentSplitter(uint32_t timescale = 0, uint64_t max_box_size = kDefaultMaxBoxSize)
      : timescale_(timescale), max_(max_box_size) {}

  // Appends the frames completed by `chunk` to `out`.
  Result<void> feed(Bytes chunk, std::vector<HangFrame>& out);
  // The segment ended (FIN).
  Result<void> finish();

  uint64_t frames() const { return frames_; }
  uint64_t skipped_boxes() const { return skipped_; }

 private:
  // Bytes [from, to) of a fed chunk.
  struct Piece {
    Bytes chunk;
    size_t from = 0, to = 0;
  };

  Error fail(std::string why);
  Result<void> on_header();
  void on_box_end(std::vector<HangFrame>& out);

  uint32_t timescale_;
  uint64_t max_;
  // The box being read: its header bytes so far (up to 16, copied to parse
  // them, and kept as pieces) and, once the header is known, whether its bytes
  // are kept and how many are still to come.
  uint8_t head_[16] = {};
  size_t head_len_ = 0;
  std::vector<Piece> head_pieces_;
  bool have_header_ = false;
  BoxHeader header_;
  bool keep_ = false;
  uint64_t remaining_ = 0;
  // The frame being built: a moof's pieces, then its mdat's.
  std::vector<Piece> pieces_;
  bool have_moof_ = false;
  std::optional<uint64_t> timestamp_us_;
  uint64_t frames_ = 0;
  uint64_t skipped_ = 0;
  bool finished_ = false;
  std::optional<Error> error_;
};

}  // namespace moq::media
