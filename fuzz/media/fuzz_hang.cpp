// Fuzz target: the hang translation's parsers of network input. The first
// byte picks the mode (low 2 bits) and, for the splitter, the chunk size:
//  0: a hang catalog.json (kixel_from_hang_catalog); one that parses must go
//     to hang and back to the same KIXEL catalog and init segments;
//  1: a KIXEL data segment through FragmentSplitter: splitting the input
//     never changes the outcome, and frames are slices of the input;
//  2: an init segment through single_track_init (idempotent, one trak);
//  3: a KIXEL `.catalog`, a NUL byte, an init segment (hang_catalog_from_kixel);
//  7 (3 with bit 2 set): the hang -> KIXEL muxer: a hang catalog.json, a NUL
//     byte, then frames, each `track u8 | flags u8 | size u16 | bytes` (flag
//     1: group start, flag 2: a u16 duration hint in ms follows the size).
//     The view's catalog and init must parse back with the same tracks and
//     every fragment must be a moof+mdat of its track.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "media/hang.h"
#include "media/hang_mux.h"
#include "media/moof.h"

namespace {

using namespace moq::media;

void catalog(std::string_view text) {
  auto parsed = kixel_from_hang_catalog(text);
  if (!parsed) return;
  auto hang = hang_catalog_from_kixel(
      to_json(parsed->catalog),
      [&](std::string_view name) -> std::optional<std::span<const uint8_t>> {
        for (const HangRendition& r : parsed->renditions) {
          if (r.track.init_track == name && r.container == HangContainer::kCmaf) return r.init;
        }
        return std::nullopt;
      });
  if (!hang) std::abort();
  auto again = kixel_from_hang_catalog(*hang);
  if (!again || !(again->catalog == parsed->catalog)) std::abort();
  size_t i = 0;
  for (const HangRendition& r : parsed->renditions) {
    if (r.container != HangContainer::kCmaf) continue;
    if (i >= again->renditions.size() || again->renditions[i++].init != r.init) std::abort();
  }
}

struct Outcome {
  std::vector<HangFrame> frames;
  std::string error;
};

Outcome split(const moq::Bytes& input, size_t step) {
  FragmentSplitter splitter(90000, 1 << 20);
  Outcome out;
  for (size_t pos = 0; pos < input.size(); pos += step) {
    if (auto r = splitter.feed(input.slice(pos, step), out.frames); !r) {
      out.error = r.error().reason;
      return out;
    }
  }
  if (auto r = splitter.finish(); !r) out.error = r.error().reason;
  return out;
}

std::string joined(const HangFrame& f, const moq::Bytes& input) {
  std::string s;
  uint64_t size = 0;
  for (const moq::Bytes& b : f.parts) {
    if (!b.shares_storage_with(input)) std::abort();  // zero-copy
    s += b.view();
    size += b.size();
  }
  if (size != f.size) std::abort();
  return s;
}

void segment(const moq::Bytes& input, size_t step) {
  const Outcome whole = split(input, SIZE_MAX);
  const Outcome pieces = split(input, step);
  if (whole.error != pieces.error || whole.frames.size() != pieces.frames.size()) std::abort();
  for (size_t i = 0; i < whole.frames.size(); ++i) {
    if (joined(whole.frames[i], input) != joined(pieces.frames[i], input)) std::abort();
    if (whole.frames[i].timestamp_us != pieces.frames[i].timestamp_us) std::abort();
  }
}

void init(std::span<const uint8_t> input) {
  (void)parse_init_segment(input);
  auto movie = parse_init_segment(input);
  const uint32_t id = movie && !movie->tracks.empty() ? movie->tracks.back().id : 1;
  auto single = single_track_init(input, id);
  if (!single) return;
  auto one = parse_init_segment(*single);
  if (!one || one->tracks.size() != 1 || one->tracks[0].id != id) std::abort();
  auto again = single_track_init(*single, id);
  if (!again || *again != *single) std::abort();
}

void kixel(std::string_view input) {
  const size_t nul = input.find('\0');
  if (nul == std::string_view::npos) return;
  const std::string_view text = input.substr(0, nul);
  const auto* p = reinterpret_cast<const uint8_t*>(input.data()) + nul + 1;
  auto hang = hang_catalog_from_kixel(text, std::span<const uint8_t>(p, input.size() - nul - 1));
  if (!hang) return;
  // The result is a valid hang catalog, unless KIXEL names clash in the
  // one-init-track-per-rendition naming of the way back.
  auto back = kixel_from_hang_catalog(*hang);
  if (!back && back.error().reason.find("used twice") == std::string::npos) std::abort();
}

// The fragment is a moof then an mdat holding the rest; for legacy tracks the
// moof has one traf of `track_id`.
void check_fragment(const HangFragment& f, const HangMuxTrack& t, const MovieInfo* movie) {
  std::vector<BoxView> boxes;
  auto r = for_each_child(f.bytes, [&](const BoxView& b) -> moq::Result<void> {
    boxes.push_back(b);
    return {};
  });
  if (!r || boxes.size() < 2 || boxes[0].type != FourCC("moof")) std::abort();
  if (t.container != HangContainer::kLegacy) return;
  if (boxes.size() != 2 || boxes[1].type != FourCC("mdat")) std::abort();
  auto trafs = parse_moof(boxes[0].bytes, movie);
  if (!trafs || trafs->size() != 1 || (*trafs)[0].track_id != t.track_id) std::abort();
  if ((*trafs)[0].sample_bytes != boxes[1].payload.size()) std::abort();
  if ((*trafs)[0].base_decode_time != f.decode_time) std::abort();
}

void check_view(const HangMuxer& mux) {
  auto catalog = parse_catalog(to_json(mux.catalog()));
  if (!catalog || catalog->tracks.size() != mux.tracks().size()) std::abort();
  if (!mux.ready()) return;
  auto movie = parse_init_segment(mux.init());
  if (!movie || movie->tracks.size() != mux.tracks().size()) std::abort();
  for (size_t i = 0; i < mux.tracks().size(); ++i) {
    if (movie->tracks[i].id != mux.tracks()[i].track_id) std::abort();
    if (movie->tracks[i].timescale != mux.tracks()[i].timescale) std::abort();
  }
}

void mux(std::string_view input) {
  const size_t nul = input.find('\0');
  if (nul == std::string_view::npos) return;
  const std::string_view catalog = input.substr(0, nul);
  auto created = HangMuxer::create(catalog);
  if (!created) return;
  HangMuxer& m = *created;
  if (m.tracks().empty()) std::abort();
  check_view(m);
  auto same = m.update(catalog);
  if (!same || *same != HangMuxer::Update::kSame) std::abort();
  const auto* p = reinterpret_cast<const uint8_t*>(input.data());
  size_t pos = nul + 1;
  while (pos + 4 <= input.size()) {
    const size_t track = p[pos] % m.tracks().size();
    const uint8_t flags = p[pos + 1];
    size_t size = size_t(p[pos + 2]) << 8 | p[pos + 3];
    pos += 4;
    std::optional<uint64_t> duration;
    if (flags & 2) {
      if (pos + 2 > input.size()) return;
      duration = (uint64_t(p[pos]) << 8 | p[pos + 1]) * 1000;
      pos += 2;
    }
    size = std::min(size, input.size() - pos);
    const bool was_ready = m.ready();
    auto f = m.frame(track, std::span<const uint8_t>(p + pos, size), flags & 1, duration);
    pos += size;
    if (!f || !*f) continue;
    if ((*f)->became_ready != (!was_ready && m.ready())) std::abort();
    if ((*f)->became_ready) check_view(m);
    auto movie = m.ready() ? parse_init_segment(m.init()) : moq::Result<MovieInfo>(MovieInfo{});
    if (!movie) std::abort();
    check_fragment(**f, m.tracks()[track], m.ready() ? &*movie : nullptr);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::span<const uint8_t> rest(data + 1, size - 1);
  const std::string_view text(reinterpret_cast<const char*>(rest.data()), rest.size());
  switch (data[0] & 3) {
    case 0:
      catalog(text);
      break;
    case 1:
      segment(moq::Bytes::copy(rest), (data[0] >> 2) * 7 + 1);
      break;
    case 2:
      init(rest);
      break;
    default:
      if (data[0] & 4) {
        mux(text);
      } else {
        kixel(text);
      }
      break;
  }
  return 0;
}
