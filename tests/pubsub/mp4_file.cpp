#include "pubsub/mp4_file.h"

#include <optional>

#include "coding/bytes.h"
#include "media/box_reader.h"
#include "media/moof.h"
#include "media/moov.h"

namespace moq::pubsub_test {

std::map<uint32_t, std::vector<std::string>> Mp4File::per_track() const {
  std::map<uint32_t, std::vector<std::string>> out;
  for (const auto& f : fragments)
    out[f.track_id].push_back(f.bytes);
  return out;
}

Mp4File parse_mp4(const std::string& bytes) {
  Mp4File file;
  media::BoxReader reader;
  reader.feed(Bytes::copy(std::string_view(bytes)));
  reader.finish();
  std::optional<media::MovieInfo> movie;
  std::optional<media::Box> moof;
  std::vector<media::TrackFragment> trafs;
  for (;;) {
    auto box = reader.next();
    if (!box) {
      file.error = box.error().reason;
      return file;
    }
    if (!*box) break;
    const media::Box& b = **box;
    const std::string type = b.type.str();
    if (type == "ftyp") {
      file.init += std::string(b.bytes.view());
    } else if (type == "moov") {
      file.init += std::string(b.bytes.view());
      auto parsed = media::parse_moov(b.bytes.span());
      if (!parsed) {
        file.error = parsed.error().reason;
        return file;
      }
      movie = *parsed;
    } else if (type == "moof") {
      auto parsed = media::parse_moof(b.bytes.span(), movie ? &*movie : nullptr);
      if (!parsed || parsed->size() != 1) {
        file.error = "moof: " + (parsed ? std::string("not one traf") : parsed.error().reason);
        return file;
      }
      trafs = *parsed;
      moof = b;
    } else if (type == "mdat") {
      if (!moof || !movie) {
        file.error = "mdat without moof";
        return file;
      }
      const auto& t = trafs.front();
      const media::TrackInfo* info = movie->find(t.track_id);
      Mp4File::Fragment f;
      f.track_id = t.track_id;
      f.decode_ms = info ? media::ticks_to_millis(t.base_decode_time, info->timescale) : 0;
      f.keyframe = t.first_is_keyframe;
      f.bytes = std::string(moof->bytes.view()) + std::string(b.bytes.view());
      file.fragments.push_back(std::move(f));
      moof.reset();
    }
  }
  return file;
}

}  // namespace moq::pubsub_test
