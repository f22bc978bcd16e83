#include "wire/object.h"

#include <string>

#include "coding/writer.h"

namespace moq::wire {

Result<void> encode(const ObjectHeader& h, std::vector<uint8_t>& out) {
  Writer w(out);
  w.varint(ObjectHeader::kType);
  w.varint(h.track);
  w.varint(h.sequence);
  w.i32(h.priority);
  w.varint(h.expires);
  if (!w.ok()) return w.error();
  return {};
}

DecodeStatus decode(Reader& r, ObjectHeader& out) {
  uint64_t type = 0;
  if (r.varint(type) && type != ObjectHeader::kType) {
    r.fail(code::kInternal,
           "data stream does not start with OBJECT (type " + std::to_string(type) + ")");
  }
  r.varint(out.track) && r.varint(out.sequence) && r.i32(out.priority) && r.varint(out.expires);
  return r.status();
}

DecodeStatus ObjectStreamDecoder::feed(const Bytes& chunk) {
  if (status_ != DecodeStatus::kNeedMore) return status_;
  const size_t before = pending_.size();
  // Only as many bytes as a header can span are buffered, so a peer cannot
  // make this grow.
  const size_t take = std::min(chunk.size(), kMaxObjectHeaderSize - before);
  pending_.insert(pending_.end(), chunk.data(), chunk.data() + take);
  Reader r(pending_);
  status_ = decode(r, header_);
  if (status_ == DecodeStatus::kOk) {
    payload_ = chunk.slice(r.consumed() - before);
    pending_.clear();
  } else if (status_ == DecodeStatus::kError) {
    error_ = r.error();
  }
  return status_;
}

}  // namespace moq::wire
