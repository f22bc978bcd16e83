#include "media/fmp4_writer.h"

namespace moq::media {

Result<void> Fmp4Writer::init(Bytes init_segment, std::vector<Bytes>& out) {
  if (!init_.empty()) {
    if (init_segment == init_) return {};
    return Error::internal(
        "a second, different init segment: several init tracks are not supported (their moov "
        "boxes would have to be merged)");
  }
  BoxReader reader(max_);
  reader.feed(init_segment);
  reader.finish();
  bool first = true, moov = false;
  for (;;) {
    auto box = reader.next();
    if (!box) return Error::internal("bad init segment: " + box.error().reason);
    if (!*box) break;
    if (first && (*box)->type != FourCC("ftyp")) {
      return Error::internal("bad init segment: starts with '" + (*box)->type.str() +
                             "', expected 'ftyp'");
    }
    first = false;
    moov = moov || (*box)->type == FourCC("moov");
  }
  if (first) return Error::internal("bad init segment: empty");
  if (!moov) return Error::internal("bad init segment: no 'moov' box");
  init_ = init_segment;
  out.push_back(std::move(init_segment));
  return {};
}

Result<void> Fmp4Writer::pull(const Key& key, Segment& s, std::vector<Bytes>& out) {
  for (;;) {
    auto box = s.reader.next();
    if (!box) return box.error();
    if (!*box) return {};
    Box& b = **box;
    if (b.type == FourCC("moof")) {
      if (s.moof) return Error::internal("'moof' followed by another 'moof' without an 'mdat'");
      s.moof = std::move(b);
    } else if (b.type == FourCC("mdat")) {
      if (!s.moof) return Error::internal("'mdat' without a preceding 'moof'");
      auto newest = newest_written_.find(key.first);
      const bool stale = newest != newest_written_.end() && key.second < newest->second;
      if (init_.empty() || stale) {
        ++dropped_;
      } else {
        newest_written_[key.first] = key.second;
        out.push_back(std::move(s.moof->bytes));
        out.push_back(std::move(b.bytes));
        ++written_;
      }
      s.moof.reset();
    }
    // Other boxes (styp, sidx, prft, ...) are not needed after the init.
  }
}

Result<void> Fmp4Writer::data(std::string_view track, uint64_t sequence, Bytes chunk,
                              std::vector<Bytes>& out) {
  Key key{std::string(track), sequence};
  auto it = segments_.find(key);
  if (it == segments_.end()) it = segments_.emplace(key, Segment(max_)).first;
  it->second.reader.feed(std::move(chunk));
  auto r = pull(key, it->second, out);
  if (!r) {
    segments_.erase(it);
    return Error::internal("track " + key.first + " segment " + std::to_string(sequence) + ": " +
                           r.error().reason);
  }
  return {};
}

Result<void> Fmp4Writer::end(std::string_view track, uint64_t sequence) {
  auto it = segments_.find(Key{std::string(track), sequence});
  if (it == segments_.end()) return {};  // empty segment
  Segment& s = it->second;
  s.reader.finish();
  auto r = s.reader.next();  // anything left is a truncated box
  const bool partial_box = !r || r->has_value();
  const bool dangling_moof = s.moof.has_value();
  segments_.erase(it);
  if (partial_box) {
    return Error::internal("track " + std::string(track) + " segment " + std::to_string(sequence) +
                           " ended inside a box" + (r ? "" : ": " + r.error().reason));
  }
  if (dangling_moof) {
    return Error::internal("track " + std::string(track) + " segment " + std::to_string(sequence) +
                           " ended between a 'moof' and its 'mdat'");
  }
  return {};
}

void Fmp4Writer::abort(std::string_view track, uint64_t sequence) {
  segments_.erase(Key{std::string(track), sequence});
}

}  // namespace moq::media
