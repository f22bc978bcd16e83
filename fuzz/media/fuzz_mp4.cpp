// Fuzz target: the fragmented-MP4 input path of moq-pub (box reader +
// segmenter, moov/moof parsing, codec strings) and moq-sub's fMP4 writer.
//
// The first byte picks the chunk size. Checks that splitting the input never
// changes the outcome (same events, same bytes, same error) and that the
// writer accepts whatever the segmenter produced.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <variant>
#include <vector>

#include "media/fmp4_writer.h"
#include "media/moof.h"
#include "media/moov.h"
#include "media/segmenter.h"

namespace {

struct Outcome {
  std::vector<moq::media::SegmenterEvent> events;
  std::string error;
};

moq::media::SegmenterOptions options() {
  moq::media::SegmenterOptions o;
  o.max_box_size = 1 << 20;  // keeps memory small; the limit path is what matters
  o.detect_min_ms = 100;
  o.detect_max_ms = 500;
  return o;
}

Outcome run(const moq::Bytes& input, size_t step) {
  moq::media::Mp4Ingest ingest(options());
  Outcome out;
  for (size_t pos = 0; pos < input.size(); pos += step) {
    if (auto r = ingest.feed(input.slice(pos, step), out.events); !r) {
      out.error = r.error().reason;
      return out;
    }
  }
  if (auto r = ingest.finish(out.events); !r) out.error = r.error().reason;
  return out;
}

std::string summary(const moq::media::SegmenterEvent& e) {
  using namespace moq::media;
  if (auto* i = std::get_if<InitSegment>(&e)) return "init " + std::string(i->bytes.view());
  if (auto* c = std::get_if<CatalogReady>(&e)) return "catalog " + c->json;
  const auto& f = std::get<FragmentReady>(e);
  return "frag " + f.track + " " + std::to_string(f.sequence) + " " +
         std::to_string(f.new_segment) + " " + std::to_string(f.priority) + " " +
         std::string(f.moof.view()) + std::string(f.mdat.view());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t step = (data[0] % 16) * 7 + 1;
  const moq::Bytes input = moq::Bytes::copy(std::span<const uint8_t>(data + 1, size - 1));

  const Outcome whole = run(input, SIZE_MAX);
  const Outcome split = run(input, step);
  if (whole.error != split.error || whole.events.size() != split.events.size()) std::abort();
  for (size_t i = 0; i < whole.events.size(); ++i) {
    if (summary(whole.events[i]) != summary(split.events[i])) std::abort();
  }

  // Whatever the publisher emits, the subscriber side must take.
  moq::media::Fmp4Writer writer(1 << 20);
  std::vector<moq::Bytes> out;
  for (const auto& e : split.events) {
    if (auto* init = std::get_if<moq::media::InitSegment>(&e)) {
      if (!writer.init(init->bytes, out)) std::abort();
    } else if (auto* f = std::get_if<moq::media::FragmentReady>(&e)) {
      if (!writer.data(f->track, f->sequence, f->moof, out)) std::abort();
      if (!writer.data(f->track, f->sequence, f->mdat, out)) std::abort();
    }
  }

  // The box parsers on the raw input too (as if it were a moov / moof), and
  // the writer on arbitrary segment bytes: errors are fine, crashes are not.
  (void)moq::media::parse_moov(input.span());
  (void)moq::media::parse_moof(input.span(), nullptr);
  moq::media::Fmp4Writer raw(1 << 20);
  (void)raw.data("1", 0, input, out);
  (void)raw.end("1", 0);
  return 0;
}
